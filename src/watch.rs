//! Your own code under the scope: [`watch`] runs any async Rust future as
//! the root task of an instrumented runtime, with taskscope's command line,
//! screen and outputs.
//!
//! Nothing of your code is wrapped. What taskscope shows comes from tokio
//! itself: its runtime hooks (spawn, the start and end of every poll, the
//! end of a task), where pause and step hold a poll too, and its own
//! tracing instrumentation (`tokio_unstable` with tokio's `tracing`
//! feature), read by [`Scope`]: the spans of tasks and resources, wakes,
//! and the poll of every tokio resource (a sleep, a lock, a channel's
//! permit). The events are the ones scenarios make: every screen, export
//! and replay reads them the same way.
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     taskscope::watch(async {
//!         let eggs = tokio::task::Builder::new()
//!             .name("eggs")
//!             .spawn(tokio::time::sleep(std::time::Duration::from_millis(300)))
//!             .unwrap();
//!         eggs.await.unwrap();
//!     })
//! }
//! ```

mod scope;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use tokio::sync::Notify;

use crate::probe::Recorder;
use crate::runner::{Ending, Run, RunEnd, RunError, RunOptions};
use crate::scenario::{Clock, Flavor, RuntimeSpec, Scenario};

pub use scope::Scope;
pub(crate) use scope::{Watcher, active, hinted, note_panic};

/// Your code's tasks have no steps: step 0 is its code, and this step is
/// a lesson helper's work holding its worker ([`crate::lesson::cpu`],
/// [`crate::lesson::block`]), drawn as a scenario's `cpu` and `block` are.
pub(crate) const HOLDING_STEP: u32 = 1;

/// Runs `future` as the root task (`main`) of a runtime taskscope watches,
/// with taskscope's run options read from the command line (`--headless`,
/// `--json`, `--events FILE`, `--paused`, `--clock virtual`, ...: try
/// `--help`). The runtime is current_thread on the real clock; see
/// [`Watch`] for another.
pub fn watch<F>(future: F) -> ExitCode
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Watch::new().run(future)
}

/// The runtime your code runs on: flavor, workers, clock.
#[derive(Debug, Clone)]
pub struct Watch {
    runtime: RuntimeSpec,
    name: Option<String>,
    pace: Option<f64>,
}

impl Default for Watch {
    fn default() -> Self {
        Watch::new()
    }
}

impl Watch {
    /// current_thread, real clock.
    pub fn new() -> Watch {
        Watch {
            runtime: RuntimeSpec {
                flavor: Flavor::CurrentThread,
                workers: 1,
                clock: Clock::Real,
                cpus: None,
            },
            name: None,
            pace: None,
        }
    }

    /// One thread runs every task (`#[tokio::main(flavor = "current_thread")]`).
    pub fn current_thread(mut self) -> Watch {
        self.runtime.flavor = Flavor::CurrentThread;
        self.runtime.workers = 1;
        self
    }

    /// `workers` threads share the tasks, stealing from each other.
    pub fn multi_thread(mut self, workers: usize) -> Watch {
        self.runtime.flavor = Flavor::MultiThread;
        self.runtime.workers = workers;
        self
    }

    /// tokio's paused clock: time moves only when every task waits, straight
    /// to the next timer (work in a poll takes no time unless it is
    /// [`crate::lesson::cpu`]). Runs are exact and repeatable. current_thread
    /// only.
    pub fn virtual_clock(mut self) -> Watch {
        self.runtime.clock = Clock::Virtual;
        self
    }

    /// The wall clock (the default).
    pub fn real_clock(mut self) -> Watch {
        self.runtime.clock = Clock::Real;
        self
    }

    /// The run's name on screen and in the outputs (default: the program's).
    pub fn name(mut self, name: &str) -> Watch {
        self.name = Some(name.to_string());
        self
    }

    /// The speed the dashboard opens at on the virtual clock (0.1: ten
    /// times slower than real time), as a lesson's own pace, so a run of a
    /// few hundred milliseconds can be watched; `--speed` overrides it.
    /// 0.01 to 100. The real clock always runs at your code's own pace.
    pub fn pace(mut self, speed: f64) -> Watch {
        self.pace = Some(speed);
        self
    }

    /// Runs `future` as the root task `main`, as [`watch`] does.
    pub fn run<F>(self, future: F) -> ExitCode
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // A `process` helper's child: do its work and nothing else.
        if let Some(code) = crate::lesson::child_job() {
            return code;
        }
        crate::command::limit_malloc_arenas();
        crate::command::install_panic_hook();
        let cli = match crate::cli::parse::<CodeCli>() {
            Ok(cli) => cli,
            Err(code) => return ExitCode::from(code),
        };
        let name = self.name.clone().unwrap_or_else(program_name);
        let program = Program {
            future: Mutex::new(Some(Box::pin(async move {
                let _ = future.await;
            }))),
        };
        let program = Arc::new(program);
        match crate::command::run_code(name, self.runtime, self.pace, program, cli.options) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                crate::command::say(&e.to_string());
                ExitCode::from(e.exit_code())
            }
        }
    }
}

/// The command line of a program under `taskscope::watch`.
#[derive(Debug, Parser)]
#[command(
    about = "Your async Rust, watched by taskscope: every task's state as it changes, which \
             worker runs what, who woke whom."
)]
struct CodeCli {
    #[command(flatten)]
    options: crate::cli::RunOpts,
}

fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "your code".into())
}

type RootFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Your code's root future, until its run takes it (it runs once).
pub struct Program {
    future: Mutex<Option<RootFuture>>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Program")
    }
}

impl Program {
    fn take(&self) -> Option<RootFuture> {
        self.future.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The scenario standing for your code: its name and runtime, no steps.
pub fn scenario(name: String, runtime: RuntimeSpec, program: Arc<Program>) -> Scenario {
    let mut s = Scenario::unknown(&name);
    s.description = "Your own code, watched: each task's state from tokio's own hooks and \
                     instrumentation."
        .into();
    s.runtime = runtime;
    s.code = Some(program);
    s
}

/// Starts your code's run on its own thread (the runner's counterpart for
/// a scenario, [`crate::runner::start`]).
pub(crate) fn start(
    scenario: Arc<Scenario>,
    program: &Program,
    options: RunOptions,
) -> Result<Run, RunError> {
    let future = program.take().ok_or_else(|| {
        RunError::Start(
            "your own code runs once a process: start the program again to watch it again".into(),
        )
    })?;
    let clock = scenario.runtime.clock;
    let recorder = Recorder::new(options.capacity.max(16), clock == Clock::Virtual);
    let watcher = Watcher::install(recorder.clone(), options.control.clone(), clock)
        .ok_or_else(|| RunError::Start("taskscope::watch runs once a process".into()))?;
    let runtime =
        scope::build_runtime(&scenario, &watcher).map_err(|e| RunError::Start(e.to_string()))?;
    let stop = Arc::new(Notify::new());
    let stop_rx = stop.clone();
    let stopping = Arc::new(AtomicBool::new(false));
    let rec = recorder.clone();
    let thread = std::thread::Builder::new()
        .name("taskscope-runtime".into())
        .spawn(move || {
            scope::runtime_thread_started();
            let mut metrics = tokio_metrics::RuntimeMonitor::new(runtime.handle()).intervals();
            let result = runtime.block_on(root(future, &watcher, &options, stop_rx));
            // Tasks still alive are cancelled as the runtime shuts down: at
            // the moment the root ended.
            let elapsed = rec.elapsed();
            rec.hold_clock();
            runtime.shutdown_timeout(Duration::from_secs(2));
            let m = metrics.next().unwrap_or_default();
            rec.finish();
            result.map(|(ending, stalled)| RunEnd {
                elapsed,
                stalled,
                ending,
                runtime: crate::model::RuntimeFigures {
                    polls: m.total_polls_count,
                    busy: m.total_busy_duration,
                    steals: m.total_steal_count,
                    parks: m.total_park_count,
                    remote_schedules: m.num_remote_schedules,
                    forced_yields: m.budget_forced_yield_count,
                    io_ready: m.io_driver_ready_count,
                },
            })
        })
        .map_err(|e| RunError::Start(e.to_string()))?;
    Ok(Run::from_parts(recorder, stop, stopping, thread))
}

/// The runtime's main future: your code as the task `main`, until it ends
/// or the viewer stops the run.
async fn root(
    future: RootFuture,
    watcher: &Arc<Watcher>,
    options: &RunOptions,
    stop: Arc<Notify>,
) -> Result<(Ending, Option<String>), String> {
    watcher.start_clock();
    if let Some(every) = options.sample_every {
        let w = watcher.clone();
        crate::runner::start_sampler(
            watcher.recorder().clone(),
            every,
            Box::new(move || w.live_stats()),
        );
    }
    let main = tokio::task::Builder::new()
        .name("main")
        .spawn(future)
        .map_err(|e| format!("could not start your code: {e}"))?;
    tokio::select! {
        joined = main => Ok(match joined {
            Ok(()) => (Ending::Complete, None),
            Err(e) if e.is_panic() => (
                Ending::Complete,
                Some(format!(
                    "main panicked: {}",
                    crate::probe::panic_message(e.into_panic().as_ref())
                )),
            ),
            Err(_) => (Ending::Complete, Some("main was cancelled".into())),
        }),
        _ = stop.notified() => {
            if let Some(c) = options.control.as_ref() {
                c.open();
            }
            let at = watcher.recorder().elapsed();
            Ok((
                Ending::Stopped,
                Some(format!(
                    "the run was stopped at {:.1} ms; {} unfinished task(s) were cancelled",
                    at.as_secs_f64() * 1000.0,
                    watcher.live()
                )),
            ))
        }
    }
}
