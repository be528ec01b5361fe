//! Your own code under the scope: [`watch`] runs any async Rust future as
//! the root task of an instrumented runtime, with taskscope's command line,
//! screen and outputs.
//!
//! Nothing of your code is wrapped. What taskscope shows comes from tokio
//! itself: its runtime hooks (spawn, the start and end of every poll, the
//! end of a task), where pause and step hold a poll too, and its own
//! tracing instrumentation (`tokio_unstable` with tokio's `tracing`
//! feature), read by its tracing layer: the spans of tasks and resources, wakes,
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

use std::future::Future;
use std::process::ExitCode;

use clap::Parser;

use crate::scenario::{Clock, Flavor, RuntimeSpec};

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
                pin_workers: false,
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
        crate::process::limit_malloc_arenas();
        crate::process::install_panic_hook();
        let cli = match crate::cli::parse::<CodeCli>() {
            Ok(cli) => cli,
            Err(code) => return ExitCode::from(code),
        };
        let future = async move {
            let _ = future.await;
            Ok(())
        };
        self.run_program(future, cli.options, false)
    }

    /// Runs `main` (its result said as tokio says it) with taskscope's
    /// `options`; `service`: the program keeps its Ctrl-C.
    fn run_program<F>(self, main: F, options: crate::cli::RunOpts, service: bool) -> ExitCode
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        let name = self.name.clone().unwrap_or_else(program_name);
        match crate::command::run::program(
            &name,
            self.runtime,
            self.pace,
            Box::pin(main),
            options,
            service,
        ) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                crate::command::say(&e.to_string());
                ExitCode::from(e.exit_code())
            }
        }
    }
}

impl Watch {
    /// The runtime `#[tokio::main]` builds when told nothing: multi_thread,
    /// a worker per CPU.
    pub fn multi_thread_like_tokio(self) -> Watch {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.multi_thread(cpus.min(crate::scenario::MAX_WORKERS))
    }

    /// Runs `main`'s body as `#[taskscope::main]` does (use the attribute):
    /// taskscope's options from the `TASKSCOPE` environment variable (the
    /// command line is the program's), the program's own tracing subscriber
    /// and Ctrl-C left to it, and `main`'s result handled as tokio's is.
    #[doc(hidden)]
    pub fn run_service<F>(self, main: F) -> ExitCode
    where
        F: Future + Send + 'static,
        F::Output: MainOutput + Send + 'static,
    {
        if let Some(code) = crate::lesson::child_job() {
            return code;
        }
        crate::process::limit_malloc_arenas();
        crate::process::install_panic_hook();
        let words = match crate::cli::words(&std::env::var("TASKSCOPE").unwrap_or_default()) {
            Ok(w) => w,
            Err(why) => {
                crate::command::say(&format!("TASKSCOPE: {why}"));
                return ExitCode::from(crate::error::EXIT_INVALID);
            }
        };
        let args = std::iter::once("TASKSCOPE".into())
            .chain(words.into_iter().map(Into::into))
            .collect();
        let cli = match crate::cli::parse_from::<CodeCli>(args) {
            Ok(cli) => cli,
            Err(code) => return ExitCode::from(code),
        };
        self.run_program(async move { main.await.into_result() }, cli.options, true)
    }
}

/// What an `async fn main` may return: nothing, or a `Result` whose error
/// is said as tokio's main says it (`Error: {e:?}`) and fails the run.
pub trait MainOutput {
    fn into_result(self) -> Result<(), String>;
}

impl MainOutput for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<T, E: std::fmt::Debug> MainOutput for Result<T, E> {
    fn into_result(self) -> Result<(), String> {
        self.map(|_| ()).map_err(|e| format!("{e:?}"))
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
