//! The line format shared by the writer and the reader: the fields of a
//! line, the JSON shapes of the header and end lines, milliseconds as the
//! file writes them, and the limits a file must keep to.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::probe::TaskIdx;

/// The version of this format, in the header line.
pub const FORMAT: u32 = 1;

/// Largest events file replayed (checked before reading, and reading
/// stops there): room for [`MAX_LOG_EVENTS`] lines as this program writes
/// them (about 110 bytes each; 1 GiB held only 9.7 million).
pub const MAX_LOG_BYTES: u64 = 2 << 30;
/// Longest line of an events file.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Most events one log may hold (as many as the dashboard's history keeps).
pub const MAX_LOG_EVENTS: usize = crate::model::history::REPLAY_LIMIT;
/// Longest name of a task your program names, and longest panic message
/// (see [`crate::text::MAX_NAME_CHARS`]).
pub use crate::text::MAX_NAME_CHARS;
/// Most tasks a replayed file may spawn (as many as a run may start).
pub const MAX_LOG_TASKS: u64 = crate::scenario::MAX_TASKS;
/// Latest time an event may have: a week of scenario time, in ms.
pub const MAX_LOG_MS: f64 = 7.0 * 24.0 * 3600.0 * 1000.0;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Line {
    pub(super) t_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<u64>,
    pub(super) state: String,
    #[serde(default)]
    pub(super) wait: Option<String>,
    #[serde(default)]
    pub(super) worker: Option<u16>,
    /// On off_cpu: how long the OS held the worker's thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) gone_ms: Option<f64>,
    /// On running, a thread's or process's: the CPU it ran on, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) cpu: Option<u16>,
    #[serde(default)]
    pub(super) step: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) idx: Option<TaskIdx>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) spec: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) parent_idx: Option<TaskIdx>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) by_idx: Option<TaskIdx>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) late_ms: Option<f64>,
    /// On ready: what the wait it ends turned out to be (first recorded as
    /// `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) waited: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) due_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) polls: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) busy_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) scheduled_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) idle_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) slow_polls: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) first_poll_delay_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) cpu_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) runqueue_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) slices: Option<u64>,
    // Header and end lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) format: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) runtime: Option<RuntimeLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) events_dropped: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) stalled: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) runtime_metrics: Option<RuntimeMetricsLine>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RuntimeMetricsLine {
    pub(super) polls: u64,
    pub(super) busy_ms: f64,
    pub(super) steals: u64,
    pub(super) parks: u64,
    pub(super) remote_schedules: u64,
    pub(super) forced_yields: u64,
    pub(super) io_ready: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RuntimeLine {
    pub(super) flavor: String,
    pub(super) workers: u64,
    pub(super) clock: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) worker_cpus: Vec<u16>,
}

/// Exact milliseconds (to the nanosecond) for the log.
pub(super) fn exact_ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1_000_000.0
}

/// Milliseconds from a log (already range-checked) as a duration.
pub(super) fn from_ms(v: f64) -> Duration {
    Duration::from_nanos((v * 1_000_000.0).round().max(0.0) as u64)
}
