//! The one instrumented runtime both drivers run on: a scenario's steps
//! (`runner/`) and your own future (`program/`).
//!
//! It owns the tokio runtime and everything around it: the builder with
//! tokio's hooks ([`build`]), the run's own thread, its end and the stop
//! message ([`run`]), pause, step and pacing ([`control`]), the loopback
//! server of `io` work (`io`), the OS's view of threads and processes
//! ([`os`]), CPU work that holds a thread ([`work`]), the live figures
//! (`sampler`), and the instrumentation of code taskscope did not write
//! ([`hooks`]). A driver says what to spawn and how its tasks are seen;
//! it builds no runtime of its own.

pub mod build;
pub mod control;
pub mod hooks;
pub(crate) mod io;
pub mod os;
pub mod run;
pub(crate) mod sampler;
pub mod work;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::speed::Speed;
use control::Control;

pub use run::{Ending, Run, RunEnd, RunError};

/// How to run a target.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// false: the same tasks without the probe (a baseline).
    pub probe: bool,
    /// The binary started for `process` steps (`taskscope __worker ...`):
    /// this program, when it can be found (see `os::own_executable`).
    pub worker_exe: Option<PathBuf>,
    /// Events buffered between the runtime and the consumer.
    pub capacity: usize,
    /// Pause, step and pacing (the dashboard's controls, and `--console`).
    pub control: Option<Arc<Control>>,
    /// Publish live figures (tokio-metrics' runtime ones, the tasks') this
    /// often (the dashboard's panels).
    pub sample_every: Option<Duration>,
    /// Real clock: scenario time per wall time. 0.1 plays the run in 10x
    /// slow motion: every step's duration is stretched tenfold and the
    /// clock reads a tenth of the wall's. (The virtual clock is paced by
    /// `control` instead.)
    pub time_scale: Speed,
    /// The tracing default of the runtime's threads, when taskscope must
    /// not take the global one (your program under `#[taskscope::main]`
    /// installs its own: see `hooks::fanout`).
    pub thread_tracing: Option<tracing::Dispatch>,
    /// Each scenario task also counted by a tokio-metrics `TaskMonitor` of
    /// its own, around the probe: the tests compare the probe's figures
    /// with the real thing (a monitor per task costs more than the probe,
    /// so runs leave it off).
    #[doc(hidden)]
    pub task_monitors: Option<Arc<TaskMonitors>>,
}

/// A tokio-metrics `TaskMonitor` per task, by the task's name, in spawn
/// order (see [`RunOptions::task_monitors`]).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct TaskMonitors(std::sync::Mutex<Vec<(Arc<str>, tokio_metrics::TaskMonitor)>>);

impl TaskMonitors {
    /// A new monitor for the task `name`.
    pub fn monitor(&self, name: &Arc<str>) -> tokio_metrics::TaskMonitor {
        let monitor = tokio_metrics::TaskMonitor::new();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.clone(), monitor.clone()));
        monitor
    }

    /// Every task's figures as its monitor counted them, in spawn order.
    pub fn figures(&self) -> Vec<(Arc<str>, tokio_metrics::TaskMetrics)> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, m)| (name.clone(), m.cumulative()))
            .collect()
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            probe: true,
            worker_exe: os::own_executable(),
            capacity: crate::probe::DEFAULT_CAPACITY,
            control: None,
            sample_every: None,
            time_scale: Speed::REAL_TIME,
            thread_tracing: None,
            task_monitors: None,
        }
    }
}
