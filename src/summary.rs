//! The end-of-run summary: the JSON shape of the design, and the table a
//! person reads. Both are computed from the [`Model`] alone.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::probe::{Outcome, Wait};
use crate::text;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    pub runtime: RuntimeSummary,
    /// Scenario time when the last task finished.
    pub wall_ms: f64,
    /// Polls that started on a worker whose previous poll was another task.
    pub switches: u64,
    pub events_dropped: u64,
    /// Set when the run had to cancel tasks that waited forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<String>,
    pub tasks: Vec<TaskSummary>,
    /// Tasks of the run not in `tasks` (a summary made for a table of its
    /// first rows; not part of the JSON).
    #[serde(skip)]
    pub left_out: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeSummary {
    pub flavor: String,
    pub workers: usize,
    pub clock: String,
    /// tokio-metrics' `RuntimeMonitor` over the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<RuntimeMetricsSummary>,
}

/// Worker figures from tokio-metrics; busy time is wall-clock time even on
/// the virtual clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeMetricsSummary {
    pub polls: u64,
    pub busy_wall_ms: f64,
    pub steals: u64,
    pub parks: u64,
    pub remote_schedules: u64,
    pub budget_forced_yields: u64,
    pub io_driver_ready: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// Shared with the model (no copy per task).
    pub name: Arc<str>,
    /// tokio's task id (the OS's process id for a child process).
    pub id: u64,
    /// `task`, or `thread`, `blocking`, `process` for the rows the OS
    /// schedules.
    #[serde(default = "task_kind")]
    pub kind: Cow<'static, str>,
    /// ok, panicked, cancelled, or running (the log ended first).
    pub outcome: Cow<'static, str>,
    /// The panic message of a panicked task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub spawned_ms: f64,
    pub done_ms: Option<f64>,
    /// Counted as tokio-metrics' `TaskMonitor` counts: polls, time polled,
    /// time ready but not polled, time between a poll and the next wake,
    /// polls over 50 µs.
    pub polls: u64,
    pub busy_ms: f64,
    pub scheduled_ms: f64,
    pub idle_ms: f64,
    pub slow_polls: u64,
    /// From spawn to the first poll.
    pub first_poll_delay_ms: f64,
    /// Longest single poll, from the events.
    pub max_poll_ms: f64,
    /// Wake-ups that came after their timer or reply was due, and the worst.
    pub late_wakes: u64,
    pub max_late_ms: f64,
    /// Time spent waiting, per reason.
    pub waits: Waits,
    /// Threads and processes, from the OS: time on a CPU, time runnable
    /// but waiting for a CPU, and how many time slices it got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runqueue_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<u64>,
}

fn task_kind() -> Cow<'static, str> {
    "task".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waits {
    pub timer: f64,
    pub io: f64,
    pub channel: f64,
    pub lock: f64,
    pub join: f64,
    pub blocking: f64,
    pub process: f64,
    #[serde(rename = "yield")]
    pub yield_: f64,
    /// Your own code: waits tokio does not say what they are for.
    pub other: f64,
    /// Your own code: waits on a signal (its Ctrl-C, say); only when some.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub signal: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

pub use crate::format::ms;
use crate::format::ms_cell;

impl Summary {
    pub fn from_model(model: &Model) -> Summary {
        Summary::first_rows(model, usize::MAX)
    }

    /// The summary with only the first `rows` tasks' figures (a table
    /// shows no more: 100,000 tasks' would be built for nothing).
    pub fn first_rows(model: &Model, rows: usize) -> Summary {
        let tasks: Vec<TaskSummary> = model
            .tasks
            .iter()
            .take(rows)
            .map(|t| {
                let stats = t.stats.clone().unwrap_or_default();
                let w = |wait: Wait| ms(t.waited(wait));
                TaskSummary {
                    name: t.name.clone(),
                    id: t.id,
                    kind: t.kind.as_str().into(),
                    outcome: t.outcome().map_or("running", Outcome::as_str).into(),
                    message: match t.outcome() {
                        Some(Outcome::Panicked(m)) => Some(m.clone()),
                        _ => None,
                    },
                    spawned_ms: ms(t.spawned_at()),
                    done_ms: t.done_at().map(ms),
                    polls: stats.polls,
                    busy_ms: ms(stats.busy),
                    scheduled_ms: ms(stats.scheduled),
                    idle_ms: ms(stats.idle),
                    slow_polls: stats.slow_polls,
                    first_poll_delay_ms: ms(stats.first_poll_delay),
                    max_poll_ms: ms(t.max_poll()),
                    late_wakes: t.late_wakes,
                    max_late_ms: ms(t.max_late()),
                    waits: Waits {
                        timer: w(Wait::Timer),
                        io: w(Wait::Io),
                        channel: w(Wait::Channel),
                        lock: w(Wait::Lock),
                        join: w(Wait::Join),
                        blocking: w(Wait::Blocking),
                        process: w(Wait::Process),
                        yield_: w(Wait::Yield),
                        other: w(Wait::Other),
                        signal: w(Wait::Signal),
                    },
                    cpu_ms: stats.os.map(|o| ms(o.cpu)),
                    runqueue_ms: stats.os.map(|o| ms(o.runqueue)),
                    slices: stats.os.map(|o| o.slices),
                }
            })
            .collect();
        Summary {
            scenario: model.info.scenario.clone(),
            runtime: RuntimeSummary {
                flavor: model.info.flavor.clone(),
                workers: model.info.workers,
                clock: model.info.clock.clone(),
                metrics: model.runtime.as_ref().map(|r| RuntimeMetricsSummary {
                    polls: r.polls,
                    busy_wall_ms: ms(r.busy),
                    steals: r.steals,
                    parks: r.parks,
                    remote_schedules: r.remote_schedules,
                    budget_forced_yields: r.forced_yields,
                    io_driver_ready: r.io_ready,
                }),
            },
            wall_ms: ms(model.wall()),
            switches: model.switches,
            events_dropped: model.dropped,
            stalled: model.stalled.clone(),
            left_out: model.tasks.len() - tasks.len(),
            tasks,
        }
    }

    pub fn task(&self, name: &str) -> Option<&TaskSummary> {
        self.tasks.iter().find(|t| &*t.name == name)
    }

    /// The human summary printed by `run --headless`.
    pub fn table(&self, max_rows: usize) -> String {
        let mut out = String::new();
        // Names, messages and (from a replayed log) the runtime's words come
        // from files: shown through the sanitizer, cut by terminal columns.
        let _ = writeln!(
            out,
            "{}: {} ({} worker{}, {} clock)",
            text::visible(&self.scenario),
            text::visible(&self.runtime.flavor),
            self.runtime.workers,
            if self.runtime.workers == 1 { "" } else { "s" },
            text::visible(&self.runtime.clock)
        );
        let _ = writeln!(
            out,
            "finished in {} ms of scenario time, {}, {}",
            ms_cell(self.wall_ms),
            crate::format::count(self.switches, "task switch", "task switches"),
            crate::format::count((self.tasks.len() + self.left_out) as u64, "task", "tasks")
        );
        if let Some(m) = &self.runtime.metrics {
            let _ = writeln!(
                out,
                "workers (tokio-metrics): {}, busy {} ms of wall time, {}, {}",
                crate::format::count(m.polls, "poll", "polls"),
                ms_cell(m.busy_wall_ms),
                crate::format::count(m.steals, "steal", "steals"),
                crate::format::count(m.parks, "park", "parks")
            );
        }
        out.push('\n');
        if self.tasks.is_empty() {
            out.push_str(
                "no task figures: no task was recorded (a run with --probe off, or a \
                 recording cut before its first task), so there is only the run's length \
                 and tokio's runtime figures\n",
            );
            return out;
        }
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6}  {:<10} waited on",
            "task", "done ms", "busy ms", "polls", "sched ms", "1st poll", "slow", "outcome"
        );
        for t in self.tasks.iter().take(max_rows) {
            let row = task_row(t);
            let _ = writeln!(out, "{}", row.trim_end());
            if let Some(m) = &t.message {
                let _ = writeln!(out, "{:<16} panic: {}", "", text::visible(m));
            }
        }
        let more = self.tasks.len().saturating_sub(max_rows) + self.left_out;
        if more > 0 {
            let _ = writeln!(
                out,
                "... and {} more",
                crate::format::count(more as u64, "task", "tasks")
            );
        }
        if self.events_dropped > 0 {
            let _ = writeln!(
                out,
                "\nnote: {} dropped (the consumer fell behind)",
                crate::format::count(self.events_dropped, "event was", "events were")
            );
        }
        if let Some(s) = &self.stalled {
            let _ = writeln!(out, "\nstopped early: {}", text::visible(s));
        }
        out
    }
}

/// One task's row of the human summary: its figures, then what it waited
/// on, longest first, and how late it was woken.
fn task_row(t: &TaskSummary) -> String {
    let mut waits: Vec<(f64, &str)> = [
        (t.waits.timer, "timer"),
        (t.waits.io, "io"),
        (t.waits.channel, "channel"),
        (t.waits.lock, "lock"),
        (t.waits.join, "join"),
        (t.waits.blocking, "blocking"),
        (t.waits.process, "process"),
        (t.waits.yield_, "yield"),
        (t.waits.other, "other"),
        (t.waits.signal, "signal"),
    ]
    .into_iter()
    .filter(|(v, _)| *v > 0.0)
    .collect();
    waits.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut waited: Vec<String> = waits
        .iter()
        .map(|(v, k)| format!("{k} {}ms", ms_cell(*v)))
        .collect();
    if t.late_wakes > 0 {
        waited.push(format!("(woken up to {} ms late)", ms_cell(t.max_late_ms)));
    }
    let row = format!(
        "{} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6}  {:<10} {}",
        text::cell(&t.name, 16),
        t.done_ms.map_or("-".into(), ms_cell),
        ms_cell(t.busy_ms),
        t.polls,
        ms_cell(t.scheduled_ms),
        ms_cell(t.first_poll_delay_ms),
        t.slow_polls,
        text::visible(&t.outcome),
        waited.join(", ")
    );
    row
}
