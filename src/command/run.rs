//! `taskscope run`, and your own program under `taskscope::watch`: the
//! same options, the same screen, the same exit codes, whichever driver
//! runs the target.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use super::{create_output, dashboard, interactive, load, print_summary, say, scenario_file};
use crate::Error;
use crate::app::App;
use crate::cli::{ClockArg, RunArgs, RunOpts, Switch};
use crate::error::EXIT_FAILED;
use crate::export::Outputs;
use crate::runtime::RunOptions;
use crate::runtime::control::Control;
use crate::scenario::{self, Clock, RuntimeSpec};
use crate::speed::Speed;
use crate::target::{Program, RootFuture, Target};

/// `taskscope run SCENARIO`.
pub(super) fn run(args: RunArgs) -> Result<u8, Error> {
    let scenario = load(&args.scenario)?;
    let inputs: Vec<(&str, &Path)> = scenario_file(&args.scenario)
        .map(|p| ("the scenario file", p))
        .into_iter()
        .collect();
    let target = Target::Scenario(Arc::new(scenario));
    run_target(
        target,
        &inputs,
        args.opts,
        args.probe == Switch::On,
        Mode::Scenario,
    )
}

/// Runs your own code (a program under `taskscope::watch`) as `run` runs a
/// scenario: same options, same screen, same exit codes.
pub fn program(
    name: &str,
    runtime: RuntimeSpec,
    pace: Option<f64>,
    future: RootFuture,
    opts: RunOpts,
    service: bool,
) -> Result<u8, Error> {
    let pace = match pace {
        Some(p) => Some(Speed::new(p).ok_or_else(|| {
            Error::Input(format!(
                "Watch::pace({p}): expected a speed from 0.01 (slow motion) to 100"
            ))
        })?),
        None => None,
    };
    if runtime.flavor == scenario::Flavor::MultiThread
        && !(1..=scenario::MAX_WORKERS).contains(&runtime.workers)
    {
        return Err(Error::Input(format!(
            "Watch::multi_thread({}): expected 1 to {} workers",
            runtime.workers,
            scenario::MAX_WORKERS
        )));
    }
    let real = match opts.clock {
        Some(ClockArg::Real) => true,
        Some(ClockArg::Virtual) => false,
        None => runtime.clock == Clock::Real,
    };
    // The pace the dashboard opens at: the virtual clock's only.
    let program = Program::new(name, runtime, pace.filter(|_| !real), future);
    let target = Target::Program(Arc::new(program));
    if runtime.clock == Clock::Virtual && opts.clock.is_none() {
        // Checked as --clock virtual would be.
        target
            .scenario()
            .with_clock(Clock::Virtual)
            .map_err(|why| Error::Input(format!("Watch::virtual_clock: {why}")))?;
    }
    if real && opts.speed.is_some_and(|s| !s.is_real_time()) {
        return Err(Error::Input(
            "--speed: on the real clock your code runs at its own pace (taskscope cannot \
             stretch its work); with --clock virtual it plays slower or faster"
                .into(),
        ));
    }
    let mode = if service { Mode::Service } else { Mode::Own };
    run_target(target, &[], opts, true, mode)
}

/// Whose run it is, for what taskscope may take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A scenario: taskscope's own.
    Scenario,
    /// Your code under `taskscope::watch`: taskscope's command line, its
    /// tracing subscriber and its Ctrl-C.
    Own,
    /// Your program under `#[taskscope::main]`: its command line, its
    /// subscriber, its Ctrl-C stay its own.
    Service,
}

/// How long a program under `#[taskscope::main]` has to end after Ctrl-C
/// (its own graceful shutdown) before taskscope stops the run.
const GRACE: std::time::Duration = std::time::Duration::from_secs(3);

fn run_target(
    target: Target,
    inputs: &[(&str, &Path)],
    args: RunOpts,
    probe: bool,
    mode: Mode,
) -> Result<u8, Error> {
    let target = match args.clock {
        Some(clock) => {
            let clock = match clock {
                ClockArg::Virtual => Clock::Virtual,
                ClockArg::Real => Clock::Real,
            };
            target
                .with_clock(clock)
                .map_err(|why| Error::Input(format!("--clock {}: {why}", clock.as_str())))?
        }
        None => target,
    };
    // The real clock stretches every duration at a slower speed, however
    // the speed is asked for: the limits count it so.
    let scenario = target.scenario();
    if scenario.runtime.clock == Clock::Real
        && !scenario.playback
        && let Some(speed) = args.speed.or(scenario.speed.map(Speed::clamped))
    {
        scenario
            .cost
            .check_at(speed.get())
            .map_err(|why| Error::Input(format!("--speed {speed}: {why}")))?;
    }
    // Checked and opened before the run, so a bad path costs nothing.
    let outputs = open_outputs(&target, inputs, &args)?;
    let (console, thread_tracing) = serve_console(&target, &args, mode)?;
    let options = RunOptions {
        probe,
        thread_tracing,
        ..RunOptions::default()
    };
    if !args.headless && !args.json && options.probe && interactive() {
        let mut app = App::running(target, options, args.paused, args.speed)
            .map_err(|e| Error::Failed(e.to_string()))?;
        let temps = outputs
            .as_ref()
            .map(Outputs::temp_paths)
            .unwrap_or_default();
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
        let code = dashboard(app, temps, (mode == Mode::Service).then_some(GRACE))?;
        return Ok(code);
    }
    headless(target, options, outputs, console, &args, mode)
}

/// The output files asked for, each checked and created before the run.
fn open_outputs(
    target: &Target,
    inputs: &[(&str, &Path)],
    args: &RunOpts,
) -> Result<Option<Outputs>, Error> {
    let wanted = [
        ("--events", args.events.as_deref()),
        ("--trace", args.trace.as_deref()),
        ("--svg", args.svg.as_deref()),
    ];
    let paths: Vec<(&str, &Path)> = wanted
        .iter()
        .filter_map(|(flag, p)| p.map(|p| (*flag, p)))
        .collect();
    crate::export::check_paths(&paths, inputs).map_err(Error::Input)?;
    let dashboard = !args.headless && !args.json && interactive();
    let create = |flag: &str, path: Option<&Path>| {
        let Some(path) = path else { return Ok(None) };
        let file = create_output(flag, path)?;
        // The dashboard draws on the terminal: lines written to it would
        // land in the middle of the screen.
        if dashboard && file.is_terminal() {
            return Err(Error::Input(format!(
                "{flag} {}: that is the terminal the dashboard draws on; write to a file, \
                 or add --headless",
                path.display()
            )));
        }
        Ok(Some(file))
    };
    let events = create("--events", args.events.as_deref())?;
    let trace = create("--trace", args.trace.as_deref())?;
    let svg = create("--svg", args.svg.as_deref())?;
    let scenario = target.scenario();
    let info = crate::headless::run_info(scenario);
    let outputs = Outputs::new(info, Some(scenario.clone()), events, trace, svg)
        .map_err(|e| Error::Input(format!("could not write an output file: {e}")))?;
    Ok((!outputs.is_empty()).then_some(outputs))
}

/// Serves tokio-console when `--console` asks, and sets up the tracing
/// the run needs: your own code is seen through tokio's own
/// instrumentation, console or not, through the global subscriber (under
/// `taskscope::watch`) or the runtime's threads' own (under
/// `#[taskscope::main]`: the global one is your program's). Returns the
/// address served and the threads' subscriber.
fn serve_console(
    target: &Target,
    args: &RunOpts,
    mode: Mode,
) -> Result<(Option<SocketAddr>, Option<tracing::Dispatch>), Error> {
    let program = matches!(target, Target::Program(_));
    let tracing_for = |console: Option<console_subscriber::ConsoleLayer>| match mode {
        Mode::Service => Ok(Some(crate::console::thread_dispatch(
            console,
            crate::runtime::hooks::TokioLayer,
        ))),
        _ if program || console.is_some() => {
            let tokio_layer = program.then(crate::runtime::hooks::TokioLayer::default);
            crate::console::install(console, tokio_layer).map(|()| None)
        }
        _ => Ok(None),
    };
    let Some(text) = args.console.as_deref() else {
        return Ok((None, tracing_for(None)?));
    };
    let addr = crate::console::parse_addr(text)?;
    let cost = target.scenario().cost;
    if cost.console_bytes() > scenario::MAX_CONSOLE_MEMORY {
        return Err(Error::Input(format!(
            "--console: tokio-console's subscriber keeps about {} KB for each task \
             (its figures and histograms); this run makes {} rows, about {} MB: at most {} \
             with --console",
            scenario::MEMORY_PER_CONSOLE_TASK >> 10,
            cost.tasks,
            cost.console_bytes() >> 20,
            scenario::MAX_CONSOLE_MEMORY / scenario::MEMORY_PER_CONSOLE_TASK
        )));
    }
    // Said before binding, so it is said even if binding fails.
    if let Some(warning) = crate::console::exposure_warning(addr) {
        say(&warning);
    }
    let (bound, layer) = crate::console::serve(addr)?;
    Ok((Some(bound), tracing_for(Some(layer))?))
}

/// A run without a screen: to its end (or a signal), then the summary.
fn headless(
    target: Target,
    mut options: RunOptions,
    outputs: Option<Outputs>,
    console: Option<SocketAddr>,
    args: &RunOpts,
    mode: Mode,
) -> Result<u8, Error> {
    // Headless on the real clock, `--speed` is slow (or fast) motion.
    options.time_scale = args.speed.unwrap_or_default();
    let virtual_clock = target.scenario().runtime.clock == Clock::Virtual;
    let program = matches!(target, Target::Program(_));
    if let Some(addr) = console {
        say(&format!(
            "serving tokio-console; attach with: {}",
            crate::console::attach_command(addr)
        ));
    }
    // tokio-console measures wall time, and your code's timers are tokio's
    // own: the virtual clock is paced to the wall for them.
    if virtual_clock && (console.is_some() || (program && args.speed.is_some())) {
        options.control = Some(Control::new(true, false, args.speed.unwrap_or_default()));
    }
    let temps = outputs
        .as_ref()
        .map(Outputs::temp_paths)
        .unwrap_or_default();
    let signals = crate::process::watch_signals(temps, false);
    // Your program's Ctrl-C is its own: it has a while to end by itself.
    let grace = (mode == Mode::Service).then_some(GRACE);
    let interrupt = crate::headless::Interrupt {
        signal: &signals.stop,
        grace,
    };
    let finished = crate::headless::run_until(target, options, outputs, Some(interrupt))?;
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
