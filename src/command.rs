//! What each subcommand does.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use crate::Error;
use crate::app::App;
use crate::cli::{Cli, ClockArg, Command, RunArgs, Switch};
use crate::error::EXIT_FAILED;
use crate::export::{AtomicFile, Outputs};
use crate::runner::RunOptions;
use crate::scenario::{self, Clock, Scenario, bundled};

/// Quiet for panics inside scenario tasks (a `fail` step is a lesson, and
/// its message is reported as the task's outcome); one line for anything
/// else, never a backtrace.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if crate::probe::in_task() {
            return;
        }
        let message = crate::probe::panic_message(info.payload());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("taskscope: internal error{at}: {message}");
    }));
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
            headless: true,
            json: false,
            events: None,
            console: None,
            trace: None,
            svg: None,
            clock: None,
            speed: None,
            paused: false,
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

/// Prints to stdout, ignoring a closed pipe (`taskscope list | head -1`).
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn list(json: bool) -> Result<u8, Error> {
    let scenarios: Vec<Scenario> = bundled::all()
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Failed(format!("a bundled scenario is broken: {e}")))?;
    if json {
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
        out(&format!("{}\n", serde_json::Value::Array(items)));
    } else {
        let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
        let mut text = String::new();
        for s in &scenarios {
            let line: String = s
                .description
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            text.push_str(&format!("{:<width$}  {}\n", s.name, line));
        }
        out(&text);
    }
    Ok(0)
}

/// A scenario named on the command line: a path to a file, or a bundled name.
pub fn load(arg: &str) -> Result<Scenario, Error> {
    let path = Path::new(arg);
    let looks_like_path = arg.ends_with(".toml") || arg.contains(std::path::MAIN_SEPARATOR);
    if looks_like_path || path.is_file() {
        let bytes =
            std::fs::read(path).map_err(|e| Error::Input(format!("{arg}: cannot read: {e}")))?;
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
                "{arg}: ok ({}, {} task kinds)\n",
                s.name,
                s.tasks.len()
            )),
            Err(e) => {
                eprintln!("{e}");
                failed = Some(e.exit_code());
            }
        }
    }
    Ok(failed.unwrap_or(0))
}

fn run(args: RunArgs) -> Result<u8, Error> {
    let mut scenario = load(&args.scenario)?;
    if let Some(clock) = args.clock {
        let clock = match clock {
            ClockArg::Virtual => Clock::Virtual,
            ClockArg::Real => Clock::Real,
        };
        scenario = scenario
            .with_clock(clock)
            .map_err(|why| Error::Input(format!("--clock {}: {why}", clock.as_str())))?;
    }
    // Opened before the run, so an unwritable path costs nothing.
    let create = |flag: &str, path: Option<&Path>| {
        path.map(|p| {
            AtomicFile::create(p).map_err(|e| {
                Error::Input(format!("{flag} {}: cannot write there: {e}", p.display()))
            })
        })
        .transpose()
    };
    let events = create("--events", args.events.as_deref())?;
    let trace = create("--trace", args.trace.as_deref())?;
    let svg = create("--svg", args.svg.as_deref())?;
    let scenario = Arc::new(scenario);
    let info = crate::headless::run_info(&scenario);
    let outputs = Outputs::new(info, Some(scenario.clone()), events, trace, svg)
        .map_err(|e| Error::Input(format!("could not write an output file: {e}")))?;
    let outputs = (!outputs.is_empty()).then_some(outputs);
    let options = RunOptions {
        probe: args.probe == Switch::On,
        ..RunOptions::default()
    };
    let console = match args.console.as_deref() {
        Some(text) => {
            let addr = crate::console::parse_addr(text)?;
            crate::console::start(addr)?;
            Some(addr)
        }
        None => None,
    };
    if !args.headless && !args.json && options.probe && interactive() {
        let mut app = App::running(scenario, options, args.paused, args.speed)
            .map_err(|e| Error::Failed(e.to_string()))?;
        if let (Some(outputs), Some(session)) = (outputs, app.session.as_mut()) {
            session.record_to(outputs);
        }
        app.console = console.map(crate::console::attach_command);
        return dashboard(app);
    }
    let mut options = options;
    // Headless on the real clock, `--speed` is slow (or fast) motion.
    options.time_scale = args.speed.unwrap_or(1.0);
    if let Some(addr) = console {
        eprintln!(
            "taskscope: serving tokio-console; attach with: {}",
            crate::console::attach_command(addr)
        );
        // tokio-console measures wall time: pace the virtual clock to it.
        if scenario.runtime.clock == Clock::Virtual {
            options.control = Some(crate::runner::control::Control::new(
                true,
                false,
                args.speed.unwrap_or(1.0),
            ));
        }
    }
    // SIGINT and SIGTERM stop the run cleanly (files complete, children
    // gone); a second one ends the process at once.
    let interrupt = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as the previous signal left it.
        let _ =
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, seen.clone());
        let _ = signal_hook::flag::register(signal, seen.clone());
        let _ = signal_hook::flag::register_usize(signal, interrupt.clone(), signal as usize);
    }
    let finished = crate::headless::run_until(scenario, options, outputs, Some(&interrupt))?;
    if let Some(signal) = finished.interrupted {
        eprintln!(
            "taskscope: stopped by signal {signal}; the output files hold what ran until then"
        );
        return Ok((128 + signal) as u8);
    }
    if console.is_some() {
        // Attached consoles get the final state before the process ends.
        std::thread::sleep(crate::console::PUBLISH_EVERY * 5);
    }
    let summary = finished.summary();
    if args.json {
        let text =
            serde_json::to_string_pretty(&summary).map_err(|e| Error::Failed(e.to_string()))?;
        out(&format!("{text}\n"));
    } else {
        out(&summary.table(40));
    }
    if let Some(why) = &finished.end.stalled {
        eprintln!("taskscope: {why}");
        return Ok(EXIT_FAILED);
    }
    Ok(0)
}

fn replay(path: &Path, json: bool, headless: bool) -> Result<u8, Error> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| Error::Input(format!("{origin}: cannot read: {e}")))?;
    let log = crate::export::jsonl::read(&origin, std::io::BufReader::new(file))?;
    if json || headless || !interactive() {
        let summary = crate::summary::Summary::from_model(&log.model());
        if json {
            let text =
                serde_json::to_string_pretty(&summary).map_err(|e| Error::Failed(e.to_string()))?;
            out(&format!("{text}\n"));
        } else {
            out(&summary.table(40));
        }
        return Ok(0);
    }
    // Step labels and notes come from the scenario, when it is a bundled one.
    let scenario = bundled::get(&log.info.scenario)
        .and_then(Result::ok)
        .unwrap_or_else(|| Scenario::unknown(&log.info.scenario));
    let session = crate::app::Session::replay(Arc::new(scenario), log);
    dashboard(App::with_session(session))
}

fn compare(args: &[String], json: bool) -> Result<u8, Error> {
    let names: Vec<String> = args
        .iter()
        .flat_map(|a| crate::compare::expand(a))
        .collect();
    let scenarios = names
        .iter()
        .map(|n| load(n).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = crate::compare::measure(&scenarios, &RunOptions::default())?;
    if json {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "rows": rows }))
            .map_err(|e| Error::Failed(e.to_string()))?;
        out(&format!("{text}\n"));
    } else {
        out(&crate::compare::table(&rows));
    }
    Ok(0)
}

/// The run screen at one moment, drawn into an SVG picture.
fn screenshot(arg: &str, at_ms: f64, out: &Path, width: u16, height: u16) -> Result<u8, Error> {
    let scenario = Arc::new(load(arg)?);
    let mut file = AtomicFile::create(out)
        .map_err(|e| Error::Input(format!("{}: cannot write there: {e}", out.display())))?;
    let log = crate::headless::record(scenario.clone(), RunOptions::default())?;
    let mut session = crate::app::Session::replay(scenario, log);
    session.show_at(std::time::Duration::from_secs_f64(at_ms.max(0.0) / 1000.0));
    session.looks_live = true;
    let app = App::with_session(session);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .map_err(|e| Error::Failed(e.to_string()))?;
    terminal
        .draw(|f| f.render_widget(&app, f.area()))
        .map_err(|e| Error::Failed(e.to_string()))?;
    file.writer()
        .write_all(crate::ui::svg::from_buffer(terminal.backend().buffer()).as_bytes())
        .and_then(|()| file.commit())
        .map_err(|e| Error::Failed(format!("{}: {e}", out.display())))?;
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
            eprintln!("taskscope: {e}");
            code = EXIT_FAILED;
        }
        if session.ending == Some(crate::runner::Ending::Deadlock) {
            if let Some(note) = &session.end_note {
                eprintln!("taskscope: {note}");
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
                out(&format!("{}\n", s.to_line()));
            }
            Ok(0)
        }
        other => Err(Error::Input(format!("unknown worker job `{other}`"))),
    }
}
