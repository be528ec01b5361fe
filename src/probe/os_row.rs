//! Threads, blocking-pool jobs and child processes as rows of their own:
//! the OS schedules them, so their transitions are what the OS says.

use std::sync::Arc;
use std::time::Duration;

use super::Recorder;
use crate::event::{Change, Kind, ON_CPU, OsStats, Outcome, TaskIdx, TaskStats, WakeBy, on_cpu};

/// A thread, blocking-pool job or child process as a row of its own: the
/// OS schedules it, so its transitions are what the OS says (see
/// `runtime::os`), recorded from the thread that runs it (or, a child
/// process's, reads what it reports).
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

    /// The OS put it on CPU `cpu` at `t` (ns of scenario time; `cpu` None:
    /// some CPU, not known which). Recorded from one thread only, in time
    /// order, under a [`Hold`](super::Hold) of that thread's.
    pub fn on_cpu_at(&self, cpu: Option<u16>, t: u64) {
        let worker = cpu.map_or(ON_CPU, on_cpu);
        self.recorder
            .record_at(self.idx, self.step, t, Change::Running { worker });
    }

    /// The OS took the CPU away at `t`: runnable, waiting for one.
    pub fn off_cpu_at(&self, t: u64) {
        self.recorder.record_at(
            self.idx,
            self.step,
            t,
            Change::Ready {
                by: WakeBy::Os,
                late: None,
                waited: None,
            },
        );
    }

    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// It ended; `os` is what the OS measured of it, if it could.
    pub fn done(&self, outcome: Outcome, os: Option<OsStats>) {
        self.recorder
            .record(self.idx, self.step, Self::done_change(outcome, os));
    }

    /// It ended at `t` (ns): its work's end, told by the work itself.
    pub fn done_at(&self, outcome: Outcome, os: Option<OsStats>, t: u64) {
        self.recorder
            .record_at(self.idx, self.step, t, Self::done_change(outcome, os));
    }

    fn done_change(outcome: Outcome, os: Option<OsStats>) -> Change {
        Change::Done {
            outcome,
            stats: Arc::new(TaskStats {
                busy: os.map_or(Duration::ZERO, |o| o.cpu),
                scheduled: os.map_or(Duration::ZERO, |o| o.runqueue),
                os,
                ..TaskStats::default()
            }),
        }
    }
}
