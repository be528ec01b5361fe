//! What each subcommand does: this module dispatches and holds what they
//! share (output, loading a scenario, the dashboard); each subcommand has a
//! file of its own.

mod check;
mod compare;
mod list;
mod replay;
pub mod run;
mod screenshot;
mod worker;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::app::App;
use crate::cli::{Cli, Command, RunArgs, RunOpts, Switch};
use crate::error::EXIT_FAILED;
pub use crate::error::say;
use crate::export::AtomicFile;
use crate::runtime::{Ending, RunOptions};
use crate::scenario::{self, Scenario, bundled};
use crate::text;

/// Runs one command; returns the exit code.
pub fn dispatch(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        None if interactive() => {
            let app = App::picker(RunOptions::default(), false, None);
            dashboard(app, Vec::new(), None)
        }
        None => run::run(RunArgs {
            scenario: bundled::DEFAULT.into(),
            opts: RunOpts {
                headless: true,
                ..RunOpts::default()
            },
            probe: Switch::On,
        }),
        Some(Command::List { json }) => list::list(json),
        Some(Command::Check { scenarios }) => check::check(&scenarios),
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Worker { job, nanos }) => worker::worker(&job, nanos),
        Some(Command::Replay {
            events,
            json,
            headless,
        }) => replay::replay(&events, json, headless),
        Some(Command::Compare { scenarios, json }) => compare::compare(&scenarios, json),
        Some(Command::Screenshot {
            scenario,
            at_ms,
            out,
            width,
            height,
        }) => screenshot::screenshot(&scenario, at_ms, &out, width, height),
    }
}

/// Prints to stdout. A closed pipe (`taskscope list | head -1`) is not an
/// error: the reader has what it wanted, so it stays quiet. Anything else (a
/// full disk, /dev/full) is, so no output is lost without a word.
pub(crate) fn out(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Failed(format!("could not write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Prints JSON to stdout, indented, with no raw control character, as it
/// is made; a reader that went away is no error (as for [`out`]).
fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match text::write_pretty_json(&mut stdout, value)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Failed(format!("could not write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// The file a scenario argument names, if it names one (else it is a
/// bundled name).
fn scenario_file(arg: &str) -> Option<&Path> {
    let path = Path::new(arg);
    let looks_like_path = arg.ends_with(".toml") || arg.contains(std::path::MAIN_SEPARATOR);
    (looks_like_path || path.is_file()).then_some(path)
}

/// A scenario named on the command line: a path to a file, or a bundled name.
pub fn load(arg: &str) -> Result<Scenario, Error> {
    if let Some(path) = scenario_file(arg) {
        let file = crate::export::open_to_read(path)
            .map_err(|e| Error::Input(format!("{arg}: cannot read: {e}")))?;
        // One byte past the limit is enough to tell the file is too large.
        let mut bytes = Vec::new();
        file.take(scenario::MAX_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Input(format!("{arg}: cannot read: {e}")))?;
        return Ok(scenario::parse(arg, &bytes)?);
    }
    match bundled::get(arg) {
        Some(parsed) => Ok(parsed?),
        None => {
            let names: Vec<&str> = bundled::ALL.iter().map(|(n, _)| *n).collect();
            Err(Error::Input(format!(
                "no scenario called `{arg}`: expected a path to a .toml file or one of: {}",
                names.join(", ")
            )))
        }
    }
}

/// Tasks a headless summary table shows.
const ROWS: usize = 40;

/// Prints a run's summary as JSON (every task) or as the table (its first
/// [`ROWS`] tasks, so only those are summarized); returns it.
fn print_summary(
    as_json: bool,
    summary: impl FnOnce(usize) -> crate::summary::Summary,
) -> Result<crate::summary::Summary, Error> {
    let summary = summary(if as_json { usize::MAX } else { ROWS });
    if as_json {
        print_json(&summary)?;
    } else {
        out(&summary.table(ROWS))?;
    }
    Ok(summary)
}

/// An output file opened before the run; `flag` names it in messages.
fn create_output(flag: &str, path: &Path) -> Result<AtomicFile, Error> {
    AtomicFile::create(path).map_err(|e| {
        Error::Input(format!(
            "{flag} {}: cannot write there: {e}",
            path.display()
        ))
    })
}

/// Whether a person is at a terminal (both ends are TTYs).
fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// Runs the dashboard; exits like a headless run would: 128 + the signal
/// that ended it, 1 after a deadlock, a failed `main` or an output file
/// that failed. A second signal ends the process at once, removing
/// `temps`. With a `grace` (your program under `#[taskscope::main]`), the
/// program is asked to stop as Ctrl-C asks it, and has that long to end by
/// itself before its run is stopped.
fn dashboard(
    app: App,
    temps: Vec<PathBuf>,
    grace: Option<std::time::Duration>,
) -> Result<u8, Error> {
    let signals = crate::process::watch_signals(temps, true);
    let closed = crate::tui::run(app, &signals.stop, &signals.suspend)
        .map_err(|e| Error::Failed(format!("the terminal failed: {e}")))?;
    let mut code = 0;
    let mut signal = closed.signal;
    if let Some(session) = closed.app.session {
        let mut session = session;
        if let Some(grace) = grace.filter(|_| !session.ended) {
            say("asking your program to stop, as Ctrl-C does");
            if signal.is_none() {
                // SAFETY: raise only sends this process a signal.
                #[allow(unsafe_code)]
                unsafe {
                    libc::raise(libc::SIGINT);
                }
            }
            if session.wait_for_end(grace) {
                // It stopped by itself: its run ended as any run does.
                signal = None;
            }
        }
        // Ends the run and its files (unfinished tasks cancelled).
        session.close();
        if let Some(e) = &session.output_error {
            say(e);
            code = EXIT_FAILED;
        }
        let failed = session.ending == Some(Ending::Deadlock)
            || (session.ending == Some(Ending::Complete) && session.end_note.is_some());
        if failed {
            if let Some(note) = &session.end_note {
                say(note);
            }
            code = EXIT_FAILED;
        }
    }
    Ok(signal.map_or(code, |s| (128 + s) as u8))
}
