//! Threads, blocking-pool jobs and child processes as rows of their own:
//! the OS schedules them, so their transitions are what the OS says.

use std::sync::Arc;
use std::time::Duration;

use super::Recorder;
use crate::event::{Change, Kind, ON_CPU, OsStats, Outcome, TaskIdx, TaskStats, WakeBy};

/// A thread, blocking-pool job or child process as a row of its own: the
/// OS schedules it, so its transitions are what the OS says (see
/// `runner::os`), recorded from whichever thread sees them.
pub struct OsRow {
    idx: TaskIdx,
    /// The step of the task that started it.
    step: u32,
    recorder: Arc<Recorder>,
}

impl Recorder {
    /// Records the start of a thread, job or process (`kind`) by task
    /// `parent` at its step `step`; `id` is the OS's thread or process id.
    #[allow(clippy::too_many_arguments)]
    pub fn os_row(
        self: &Arc<Self>,
        idx: TaskIdx,
        name: Arc<str>,
        id: u64,
        spec: u32,
        step: u32,
        parent: TaskIdx,
        kind: Kind,
    ) -> Arc<OsRow> {
        self.record(
            idx,
            step,
            Change::Spawned {
                name,
                id,
                spec,
                parent: Some(parent),
                kind,
            },
        );
        Arc::new(OsRow {
            idx,
            step,
            recorder: self.clone(),
        })
    }
}

impl OsRow {
    pub fn idx(&self) -> TaskIdx {
        self.idx
    }

    /// The OS put it on a CPU.
    pub fn on_cpu(&self) {
        self.recorder
            .record(self.idx, self.step, Change::Running { worker: ON_CPU });
    }

    /// The OS took the CPU away: runnable, waiting for one.
    pub fn runnable(&self) {
        self.recorder.record(
            self.idx,
            self.step,
            Change::Ready {
                by: WakeBy::Os,
                late: None,
                waited: None,
            },
        );
    }

    /// It ended; `os` is what the OS measured of it, if it could.
    pub fn done(&self, outcome: Outcome, os: Option<OsStats>) {
        self.recorder.record(
            self.idx,
            self.step,
            Change::Done {
                outcome,
                stats: Arc::new(TaskStats {
                    busy: os.map_or(Duration::ZERO, |o| o.cpu),
                    scheduled: os.map_or(Duration::ZERO, |o| o.runqueue),
                    os,
                    ..TaskStats::default()
                }),
            },
        );
    }
}
