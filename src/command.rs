//! What each subcommand does.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Error;
use crate::app::App;
use crate::cli::{Cli, ClockArg, Command, RunArgs, RunOpts, Switch};
use crate::error::EXIT_FAILED;
use crate::export::{AtomicFile, Outputs};
use crate::runner::RunOptions;
use crate::scenario::{self, Clock, Scenario, bundled};
use crate::speed::Speed;
use crate::text;

/// Quiet for panics inside scenario tasks (a `fail` step is a lesson, and
/// its message is reported as the task's outcome); one line for anything
/// else, never a backtrace.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = crate::probe::panic_message(info.payload());
        if crate::probe::in_task() {
            // Your own code's task: the message is its outcome.
            crate::watch::note_panic(&message);
            return;
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        say(&format!("internal error{at}: {message}"));
    }));
}

/// Keeps the process's address space small: glibc gives each thread that
/// allocates its own malloc arena, up to 8 per core, each reserving 64 MiB,
/// so a run with its 64 helper threads could reserve gigabytes it never
/// uses. Two arenas are plenty: the runtime does little in parallel.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning value; called before other threads.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Runs one command; returns the exit code.
pub fn dispatch(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        None if interactive() => {
            let app = App::picker(RunOptions::default(), false, None);
            dashboard(app)
        }
        None => run(RunArgs {
            scenario: bundled::DEFAULT.into(),
            opts: RunOpts {
                headless: true,
                ..RunOpts::default()
            },
            probe: Switch::On,
        }),
        Some(Command::List { json }) => list(json),
        Some(Command::Check { scenarios }) => check(&scenarios),
        Some(Command::Run(args)) => run(args),
        Some(Command::Worker { job, nanos }) => worker(&job, nanos),
        Some(Command::Replay {
            events,
            json,
            headless,
        }) => replay(&events, json, headless),
        Some(Command::Compare { scenarios, json }) => compare(&scenarios, json),
        Some(Command::Screenshot {
            scenario,
            at_ms,
            out,
            width,
            height,
        }) => screenshot(&scenario, at_ms, &out, width, height),
    }
}

/// Prints to stdout. A closed pipe (`taskscope list | head -1`) is not an
/// error: the reader has what it wanted, so it stays quiet. Anything else (a
/// full disk, /dev/full) is, so no output is lost without a word.
fn out(text: &str) -> Result<(), Error> {
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

/// One line on stderr, `taskscope: ` first, sanitized. A failing stderr
/// is ignored: there is nowhere left to say so.
pub fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "taskscope: {}", text::visible(message));
}

/// JSON for stdout, indented, with no raw control character.
fn json(value: &impl serde::Serialize) -> Result<String, Error> {
    text::pretty_json(value)
        .map(|t| t + "\n")
        .map_err(|e| Error::Failed(e.to_string()))
}

fn list(as_json: bool) -> Result<u8, Error> {
    let scenarios: Vec<Scenario> = bundled::all()
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Failed(format!("a bundled scenario is broken: {e}")))?;
    if as_json {
        let items: Vec<_> = scenarios
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "description": s.description,
                    "flavor": s.runtime.flavor.as_str(),
                    "workers": s.runtime.workers,
                    "clock": s.runtime.clock.as_str(),
                    "tasks": s.tasks.iter().map(|t| u64::from(t.count)).sum::<u64>(),
                })
            })
            .collect();
        out(&json(&items)?)?;
    } else {
        let width = scenarios
            .iter()
            .map(|s| text::width(&s.name))
            .max()
            .unwrap_or(0);
        let mut lines = String::new();
        for s in &scenarios {
            lines.push_str(&format!(
                "{}  {}\n",
                text::cell(&s.name, width),
                text::one_line(&s.description)
            ));
        }
        out(&lines)?;
    }
    Ok(0)
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
        let file = std::fs::File::open(path)
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

fn check(args: &[String]) -> Result<u8, Error> {
    let mut failed = None;
    for arg in args {
        match load(arg) {
            Ok(s) => out(&format!(
                "{}: ok ({}, {} task kinds)\n",
                text::visible(arg),
                text::visible(&s.name),
                s.tasks.len()
            ))?,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "{e}");
                failed = Some(e.exit_code());
            }
        }
    }
    Ok(failed.unwrap_or(0))
}

fn run(args: RunArgs) -> Result<u8, Error> {
    let scenario = load(&args.scenario)?;
    let inputs: Vec<(&str, &Path)> = scenario_file(&args.scenario)
        .map(|p| ("the scenario file", p))
        .into_iter()
        .collect();
    run_target(scenario, &inputs, args.opts, args.probe == Switch::On)
}

/// Runs your own code (a program under `taskscope::watch`) as `run` runs a
/// scenario: same options, same screen, same exit codes.
pub fn run_code(
    name: String,
    runtime: scenario::RuntimeSpec,
    pace: Option<f64>,
    program: Arc<crate::watch::Program>,
    opts: RunOpts,
) -> Result<u8, Error> {
    if let Some(p) = pace.filter(|p| Speed::new(*p).is_none()) {
        return Err(Error::Input(format!(
            "Watch::pace({p}): expected a speed from 0.01 (slow motion) to 100"
        )));
    }
    if runtime.flavor == scenario::Flavor::MultiThread
        && !(1..=scenario::MAX_WORKERS).contains(&runtime.workers)
    {
        return Err(Error::Input(format!(
            "Watch::multi_thread({}): expected 1 to {} workers",
            runtime.workers,
            scenario::MAX_WORKERS
        )));
    }
    let mut scenario = crate::watch::scenario(name, runtime, program);
    if scenario.runtime.clock == Clock::Virtual && opts.clock.is_none() {
        // Checked as --clock virtual would be.
        scenario
            .with_clock(Clock::Virtual)
            .map_err(|why| Error::Input(format!("Watch::virtual_clock: {why}")))?;
    }
    let real = match opts.clock {
        Some(ClockArg::Real) => true,
        Some(ClockArg::Virtual) => false,
        None => scenario.runtime.clock == Clock::Real,
    };
    // The pace the dashboard opens at: the virtual clock's only.
    scenario.speed = pace.filter(|_| !real);
    if real && opts.speed.is_some_and(|s| !s.is_real_time()) {
        return Err(Error::Input(
            "--speed: on the real clock your code runs at its own pace (taskscope cannot \
             stretch its work); use --clock virtual to play it slower or faster"
                .into(),
        ));
    }
    run_target(scenario, &[], opts, true)
}

fn run_target(
    mut scenario: Scenario,
    inputs: &[(&str, &Path)],
    args: RunOpts,
    probe: bool,
) -> Result<u8, Error> {
    if let Some(clock) = args.clock {
        let clock = match clock {
            ClockArg::Virtual => Clock::Virtual,
            ClockArg::Real => Clock::Real,
        };
        scenario = scenario
            .with_clock(clock)
            .map_err(|why| Error::Input(format!("--clock {}: {why}", clock.as_str())))?;
    }
    let code = scenario.code.is_some();
    // Checked and opened before the run, so a bad path costs nothing.
    let wanted = [
        ("--events", args.events.as_deref()),
        ("--trace", args.trace.as_deref()),
        ("--svg", args.svg.as_deref()),
    ];
    let outputs: Vec<(&str, &Path)> = wanted
        .iter()
        .filter_map(|(flag, p)| p.map(|p| (*flag, p)))
        .collect();
    crate::export::check_paths(&outputs, inputs).map_err(Error::Input)?;
    let create = |flag: &str, path: Option<&Path>| path.map(|p| create_output(flag, p)).transpose();
    let events = create("--events", args.events.as_deref())?;
    let trace = create("--trace", args.trace.as_deref())?;
    let svg = create("--svg", args.svg.as_deref())?;
    let scenario = Arc::new(scenario);
    let info = crate::headless::run_info(&scenario);
    let outputs = Outputs::new(info, Some(scenario.clone()), events, trace, svg)
        .map_err(|e| Error::Input(format!("could not write an output file: {e}")))?;
    let outputs = (!outputs.is_empty()).then_some(outputs);
    let options = RunOptions {
        probe,
        ..RunOptions::default()
    };
    let console = match args.console.as_deref() {
        Some(text) => {
            let addr = crate::console::parse_addr(text)?;
            // Said before binding, so it is said even if binding fails.
            if let Some(warning) = crate::console::exposure_warning(addr) {
                say(&warning);
            }
            if code {
                let (bound, layer) = crate::console::serve(addr)?;
                crate::console::install(Some(layer), Some(crate::watch::Scope))?;
                Some(bound)
            } else {
                Some(crate::console::start(addr)?)
            }
        }
        None => None,
    };
    if code && console.is_none() {
        // Your code's tasks are seen through tokio's own instrumentation.
        crate::console::install(None, Some(crate::watch::Scope))?;
    }
    if !args.headless && !args.json && options.probe && interactive() {
        let mut app = App::running(scenario, options, args.paused, args.speed)
            .map_err(|e| Error::Failed(e.to_string()))?;
        if let (Some(outputs), Some(session)) = (outputs, app.session.as_mut()) {
            session.record_to(outputs);
        }
        app.console = console.map(|addr| {
            let attach = crate::console::attach_command(addr);
            match crate::console::exposure_warning(addr) {
                Some(_) => format!("{attach} (reachable from the network)"),
                None => attach,
            }
        });
        return dashboard(app);
    }
    let mut options = options;
    // Headless on the real clock, `--speed` is slow (or fast) motion.
    options.time_scale = args.speed.unwrap_or_default();
    if let Some(addr) = console {
        say(&format!(
            "serving tokio-console; attach with: {}",
            crate::console::attach_command(addr)
        ));
        // tokio-console measures wall time: pace the virtual clock to it.
        if scenario.runtime.clock == Clock::Virtual {
            options.control = Some(crate::runner::control::Control::new(
                true,
                false,
                args.speed.unwrap_or_default(),
            ));
        }
    } else if code && scenario.runtime.clock == Clock::Virtual && args.speed.is_some() {
        // Your code's timers are tokio's own: paced like a console run.
        options.control = Some(crate::runner::control::Control::new(
            true,
            false,
            args.speed.unwrap_or_default(),
        ));
    }
    let temps = outputs
        .as_ref()
        .map(Outputs::temp_paths)
        .unwrap_or_default();
    let interrupt = watch_signals(temps);
    let finished = crate::headless::run_until(scenario, options, outputs, Some(&interrupt))?;
    if let Some(signal) = finished.interrupted {
        say(&format!(
            "stopped by signal {signal}; the output files hold what ran until then"
        ));
        return Ok((128 + signal) as u8);
    }
    if console.is_some() {
        // Attached consoles get the final state before the process ends.
        std::thread::sleep(crate::console::PUBLISH_EVERY * 5);
    }
    let summary = print_summary(args.json, |rows| finished.summary_rows(rows))?;
    let code = match &finished.end.stalled {
        Some(why) => {
            say(why);
            EXIT_FAILED
        }
        None => 0,
    };
    // The process ends next: freeing a hundred thousand tasks one by one
    // would only make it end later.
    std::mem::forget((finished, summary));
    Ok(code)
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
        out(&json(&summary)?)?;
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

/// SIGINT and SIGTERM stop the run cleanly (files complete, children
/// gone): the returned flag holds the signal. A second one ends the
/// process at once, removing the temporary files first, so nothing
/// half-written stays behind.
fn watch_signals(temps: Vec<PathBuf>) -> Arc<AtomicUsize> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let interrupt = Arc::new(AtomicUsize::new(0));
    // SIGHUP: the terminal it ran in was closed.
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return interrupt;
    };
    let flag = interrupt.clone();
    let _ = std::thread::Builder::new()
        .name("taskscope-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if flag.swap(signal as usize, Ordering::SeqCst) == 0 {
                    continue;
                }
                for temp in &temps {
                    let _ = std::fs::remove_file(temp);
                }
                std::process::exit(128 + signal);
            }
        });
    interrupt
}

fn replay(path: &Path, as_json: bool, headless: bool) -> Result<u8, Error> {
    use crate::export::jsonl::{self, LogError, MAX_LOG_BYTES};
    let origin = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| Error::Input(format!("{origin}: cannot read: {e}")))?;
    // Refused before reading a byte when the size is known; the reader
    // stops at the limit whatever the file is (a pipe, /dev/zero).
    if let Ok(m) = file.metadata()
        && m.is_file()
        && m.len() > MAX_LOG_BYTES
    {
        return Err(Error::Log(LogError {
            origin,
            line: 1,
            message: format!(
                "the file is {} bytes; at most {MAX_LOG_BYTES} are replayed",
                m.len()
            ),
        }));
    }
    let reader = std::io::BufReader::new(file);
    if as_json || headless || !interactive() {
        // Folded as it is read: nothing of the recording is kept.
        let mut model: Option<crate::model::Model> = None;
        let log = jsonl::read_into(&origin, reader, &mut |info, e| {
            model
                .get_or_insert_with(|| crate::model::Model::new(info.clone()))
                .apply(&e)
        })?;
        if let Some(note) = log.incomplete_note() {
            say(&format!("{origin}: {note}"));
        }
        let mut model = model.unwrap_or_else(|| crate::model::Model::new(log.info.clone()));
        model.finish(log.dropped, log.stalled.clone(), log.runtime.clone());
        print_summary(as_json, |rows| {
            crate::summary::Summary::first_rows(&model, rows)
        })?;
        return Ok(0);
    }
    // Read straight into the dashboard's packed history.
    let mut history: Option<crate::model::history::History> = None;
    let log = jsonl::read_into(&origin, reader, &mut |info, e| {
        history
            .get_or_insert_with(|| {
                crate::model::history::History::new(
                    info.clone(),
                    crate::model::history::REPLAY_LIMIT,
                )
            })
            .push(e)
    })?;
    let history = history.unwrap_or_else(|| {
        crate::model::history::History::new(log.info.clone(), crate::model::history::REPLAY_LIMIT)
    });
    // Step labels and notes come from the scenario, when it is a bundled one.
    let scenario = bundled::get(&log.info.scenario)
        .and_then(Result::ok)
        .unwrap_or_else(|| Scenario::unknown(&log.info.scenario));
    let session = crate::app::Session::replay_history(Arc::new(scenario), history, log);
    dashboard(App::with_session(session))
}

fn compare(args: &[String], as_json: bool) -> Result<u8, Error> {
    let names: Vec<String> = args
        .iter()
        .flat_map(|a| crate::compare::expand(a))
        .collect();
    let scenarios = names
        .iter()
        .map(|n| load(n).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = crate::compare::measure(&scenarios, &RunOptions::default())?;
    if as_json {
        out(&json(&serde_json::json!({ "rows": rows }))?)?;
    } else {
        out(&crate::compare::table(&rows))?;
    }
    Ok(0)
}

/// The run screen at one moment, drawn into an SVG picture.
fn screenshot(arg: &str, at_ms: f64, out: &Path, width: u16, height: u16) -> Result<u8, Error> {
    let inputs: Vec<(&str, &Path)> = scenario_file(arg)
        .map(|p| ("the scenario file", p))
        .into_iter()
        .collect();
    crate::export::check_paths(&[("the picture", out)], &inputs).map_err(Error::Input)?;
    let scenario = Arc::new(load(arg)?);
    let mut file = create_output("the picture", out)?;
    let log = crate::headless::record(scenario.clone(), RunOptions::default())?;
    let mut session = crate::app::Session::replay(scenario, log);
    // at_ms is checked finite and in range by the command line.
    session.show_at(std::time::Duration::from_secs_f64(at_ms / 1000.0));
    session.looks_live = true;
    let app = App::with_session(session);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .map_err(|e| Error::Failed(e.to_string()))?;
    terminal
        .draw(|f| f.render_widget(&app, f.area()))
        .map_err(|e| Error::Failed(e.to_string()))?;
    let picture = crate::ui::svg::from_buffer(terminal.backend().buffer());
    file.writer()
        .write_all(picture.as_bytes())
        .map_err(|e| file.context(e))
        .and_then(|()| file.commit())
        .map_err(|e| Error::Failed(e.to_string()))?;
    Ok(0)
}

/// Whether a person is at a terminal (both ends are TTYs).
fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// Runs the dashboard; exits like a headless run would: 128 + the signal
/// that ended it, 1 after a deadlock or an output file that failed.
fn dashboard(app: App) -> Result<u8, Error> {
    let closed =
        crate::tui::run(app).map_err(|e| Error::Failed(format!("the terminal failed: {e}")))?;
    let mut code = 0;
    if let Some(session) = closed.app.session {
        let mut session = session;
        // Ends the run and its files (unfinished tasks cancelled).
        session.close();
        if let Some(e) = &session.output_error {
            say(e);
            code = EXIT_FAILED;
        }
        if session.ending == Some(crate::runner::Ending::Deadlock) {
            if let Some(note) = &session.end_note {
                say(note);
            }
            code = EXIT_FAILED;
        }
    }
    Ok(closed.signal.map_or(code, |s| (128 + s) as u8))
}

/// The child side of a `process` step: burn CPU, then exit.
fn worker(job: &str, nanos: u64) -> Result<u8, Error> {
    match job {
        "cpu" => {
            crate::runner::work::burn_cpu(std::time::Duration::from_nanos(nanos));
            // What the OS measured of this process, for the parent's row.
            if let Some(s) = crate::runner::os::Schedstat::own() {
                out(&format!("{}\n", s.to_line()))?;
            }
            Ok(0)
        }
        other => Err(Error::Input(format!("unknown worker job `{other}`"))),
    }
}
