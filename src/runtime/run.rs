//! A run in progress: the runtime on a thread of its own, the driver's
//! main future on it, how the run ended, and how it is stopped.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::Notify;

use super::build::{Hooks, build, runtime_thread_started};
use super::control::Control;
use super::os;
use crate::event::RuntimeFigures;
use crate::probe::Recorder;
use crate::scenario::RuntimeSpec;

/// A run in progress.
pub struct Run {
    pub recorder: Arc<Recorder>,
    stop: Stop,
    thread: JoinHandle<Result<RunEnd, String>>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// Scenario time when the last task finished (or was cancelled).
    pub elapsed: Duration,
    /// Why the run ended early, if it did.
    pub stalled: Option<String>,
    pub ending: Ending,
    /// tokio-metrics' runtime figures over the whole run.
    pub runtime: RuntimeFigures,
}

/// How a run came to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every task finished.
    Complete,
    /// Tasks waited forever on each other and were cancelled.
    Deadlock,
    /// Stopped from outside (quit, a signal): the rest was cancelled.
    Stopped,
}

/// Errors that stop a run from starting or finishing.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not start the runtime: {0}")]
    Start(String),
    /// Not started: past a limit at the speed asked for.
    #[error("not started: {0}")]
    Refused(String),
    #[error("the runtime failed: {0}")]
    Failed(String),
}

/// The run's stop request, as the driver's main future sees it.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    notify: Arc<Notify>,
    /// Set on stop: tasks end their step early and wait to be cancelled.
    stopping: Arc<AtomicBool>,
}

impl Stop {
    /// Resolves once the run is asked to stop.
    pub async fn requested(&self) {
        self.notify.notified().await;
    }

    /// The flag a task that never yields looks at (a long cpu step would
    /// keep the cancel from running).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.stopping.clone()
    }
}

/// The sentence a stopped run ends with (the screen's, the summary's and
/// the events file's).
pub fn stopped_note(at: Duration, cancelled: usize) -> String {
    format!(
        "the run was stopped at {}; {} cancelled",
        crate::format::ms_tenths(at),
        crate::format::count(
            cancelled as u64,
            "unfinished task was",
            "unfinished tasks were"
        )
    )
}

impl Run {
    /// Asks the run to cancel its tasks and end soon.
    pub fn stop(&self) {
        self.stop.stopping.store(true, Ordering::SeqCst);
        self.stop.notify.notify_one();
    }

    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the runtime thread to end.
    pub fn wait(self) -> Result<RunEnd, RunError> {
        match self.thread.join() {
            Ok(Ok(end)) => Ok(end),
            Ok(Err(e)) => Err(RunError::Failed(e)),
            Err(p) => Err(RunError::Failed(crate::probe::panic_message(p.as_ref()))),
        }
    }
}

/// Builds the runtime for `spec` and runs `main` on it, on a thread of its
/// own (the run thread, which runs current_thread's tasks); events flow
/// into `recorder` until the run is finished. `main` returns how the run
/// ended; the runtime's figures are added once it is shut down.
pub fn start<F, Fut>(
    spec: &RuntimeSpec,
    recorder: Arc<Recorder>,
    control: Option<Arc<Control>>,
    hooks: Arc<dyn Hooks>,
    main: F,
) -> Result<Run, RunError>
where
    F: FnOnce(Stop) -> Fut + Send + 'static,
    Fut: Future<Output = Result<RunEnd, String>>,
{
    let thread_hooks = hooks.clone();
    let runtime =
        build(spec, &recorder, control, hooks).map_err(|e| RunError::Start(e.to_string()))?;
    let stop = Stop::default();
    let stop_rx = stop.clone();
    let rec = recorder.clone();
    let cpus = os::RunCpus::of_this_thread(spec.cpus);
    // The run's own thread runs current_thread's tasks: its worker.
    let pin = match (spec.pin_workers, spec.flavor) {
        (true, crate::scenario::Flavor::CurrentThread) => Some(Some(0)),
        _ if spec.cpus.is_some() => Some(None),
        _ => None,
    };
    let thread = std::thread::Builder::new()
        .name("taskscope-runtime".into())
        .spawn(move || {
            runtime_thread_started();
            thread_hooks.thread_started();
            if let Some(nth) = pin {
                cpus.pin(nth);
            }
            let mut metrics = tokio_metrics::RuntimeMonitor::new(runtime.handle()).intervals();
            let result = runtime.block_on(main(stop_rx));
            // Tasks still alive are cancelled as the runtime shuts down: at
            // the moment the main future ended.
            rec.hold_clock();
            runtime.shutdown_timeout(Duration::from_secs(2));
            // Workers hand in their counts when they park or stop, so the
            // figures are complete only once the runtime is shut down.
            let m = metrics.next().unwrap_or_default();
            rec.finish();
            result.map(|end| RunEnd {
                runtime: RuntimeFigures {
                    polls: m.total_polls_count,
                    busy: m.total_busy_duration,
                    steals: m.total_steal_count,
                    parks: m.total_park_count,
                    remote_schedules: m.num_remote_schedules,
                    forced_yields: m.budget_forced_yield_count,
                    io_ready: m.io_driver_ready_count,
                },
                ..end
            })
        })
        .map_err(|e| RunError::Start(e.to_string()))?;
    Ok(Run {
        recorder,
        stop,
        thread,
    })
}
