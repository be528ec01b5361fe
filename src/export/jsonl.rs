//! Events as JSON lines: one line per transition, a header line first and
//! an end line last, so a log can be replayed into the same model.
//!
//! Event line: `{"t_ms","task","id","state","wait","worker","step"}` plus
//! `"idx"` (the run's own task number), `"parent"` on spawned, `"by"` and
//! `"late_ms"` on ready, and the outcome and tokio-metrics figures on done.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Model, RunInfo, RuntimeFigures};
use crate::probe::{
    Change, Event, Kind, ON_CPU, OsStats, Outcome, TaskIdx, TaskStats, Wait, WakeBy,
};

/// The version of this format, in the header line.
pub const FORMAT: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Line {
    t_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    state: String,
    #[serde(default)]
    wait: Option<String>,
    #[serde(default)]
    worker: Option<u16>,
    #[serde(default)]
    step: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idx: Option<TaskIdx>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_idx: Option<TaskIdx>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by_idx: Option<TaskIdx>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    late_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    polls: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    busy_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheduled_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idle_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slow_polls: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_poll_delay_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cpu_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runqueue_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slices: Option<u64>,
    // Header and end lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime: Option<RuntimeLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    events_dropped: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stalled: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime_metrics: Option<RuntimeMetricsLine>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RuntimeMetricsLine {
    polls: u64,
    busy_ms: f64,
    steals: u64,
    parks: u64,
    remote_schedules: u64,
    forced_yields: u64,
    io_ready: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct RuntimeLine {
    flavor: String,
    workers: usize,
    clock: String,
}

/// Exact milliseconds (to the nanosecond) for the log.
fn exact_ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1_000_000.0
}

fn from_ms(v: f64) -> Duration {
    Duration::from_nanos((v * 1_000_000.0).round().max(0.0) as u64)
}

/// Writes events as JSON lines; knows task names from their spawn events.
#[derive(Default)]
pub struct LineWriter {
    names: Vec<(Arc<str>, u64)>,
}

impl LineWriter {
    pub fn header(&mut self, out: &mut impl Write, info: &RunInfo) -> std::io::Result<()> {
        let line = Line {
            state: "run".into(),
            format: Some(FORMAT),
            scenario: Some(info.scenario.clone()),
            runtime: Some(RuntimeLine {
                flavor: info.flavor.clone(),
                workers: info.workers,
                clock: info.clock.clone(),
            }),
            ..Line::default()
        };
        write_line(out, &line)
    }

    /// The last line: what the run said at its end.
    pub fn end(&mut self, out: &mut impl Write, model: &Model) -> std::io::Result<()> {
        let line = Line {
            t_ms: exact_ms(model.now),
            state: "end".into(),
            events_dropped: Some(model.dropped),
            stalled: model.stalled.clone(),
            runtime_metrics: model.runtime.as_ref().map(|r| RuntimeMetricsLine {
                polls: r.polls,
                busy_ms: exact_ms(r.busy),
                steals: r.steals,
                parks: r.parks,
                remote_schedules: r.remote_schedules,
                forced_yields: r.forced_yields,
                io_ready: r.io_ready,
            }),
            ..Line::default()
        };
        write_line(out, &line)
    }

    fn name(&self, idx: TaskIdx) -> String {
        self.names
            .get(idx as usize)
            .map_or_else(|| format!("task-{idx}"), |(n, _)| n.to_string())
    }

    pub fn event(&mut self, out: &mut impl Write, e: &Event) -> std::io::Result<()> {
        if let Change::Spawned { name, id, .. } = &e.change {
            let i = e.task as usize;
            if self.names.len() <= i {
                self.names.resize(i + 1, (Arc::from("?"), 0));
            }
            self.names[i] = (name.clone(), *id);
        }
        let (name, id) = self
            .names
            .get(e.task as usize)
            .cloned()
            .unwrap_or_else(|| (Arc::from("?"), 0));
        let mut line = Line {
            t_ms: exact_ms(e.t),
            task: Some(name.to_string()),
            id: Some(id),
            state: e.change.state().into(),
            step: Some(e.step),
            idx: Some(e.task),
            ..Line::default()
        };
        match &e.change {
            Change::Spawned {
                spec, parent, kind, ..
            } => {
                line.spec = Some(*spec);
                line.kind = kind.is_os().then(|| kind.as_str().to_string());
                line.parent = parent.map(|p| self.name(p));
                line.parent_idx = *parent;
            }
            Change::Ready { by, late } => {
                line.by = Some(by.describe(|t| self.name(t)));
                if let WakeBy::Task(t) = by {
                    line.by_idx = Some(*t);
                }
                line.late_ms = late.map(exact_ms);
            }
            Change::Running { worker } => line.worker = (*worker != ON_CPU).then_some(*worker),
            Change::Waiting { wait, due } => {
                line.wait = Some(wait.as_str().into());
                line.due_ms = due.map(exact_ms);
            }
            Change::Done { outcome, stats } => {
                line.outcome = Some(outcome.as_str().into());
                if let Outcome::Panicked(m) = outcome {
                    line.message = Some(m.clone());
                }
                line.polls = Some(stats.polls);
                line.busy_ms = Some(exact_ms(stats.busy));
                line.scheduled_ms = Some(exact_ms(stats.scheduled));
                line.idle_ms = Some(exact_ms(stats.idle));
                line.slow_polls = Some(stats.slow_polls);
                line.first_poll_delay_ms = Some(exact_ms(stats.first_poll_delay));
                if let Some(os) = stats.os {
                    line.cpu_ms = Some(exact_ms(os.cpu));
                    line.runqueue_ms = Some(exact_ms(os.runqueue));
                    line.slices = Some(os.slices);
                }
            }
        }
        write_line(out, &line)
    }
}

fn write_line(out: &mut impl Write, line: &Line) -> std::io::Result<()> {
    // One write per whole line, so a reader never sees half of one.
    let mut buf = serde_json::to_vec(line).map_err(std::io::Error::other)?;
    buf.push(b'\n');
    out.write_all(&buf)
}

/// A recorded run, read back.
#[derive(Debug)]
pub struct Log {
    pub info: RunInfo,
    pub events: Vec<Event>,
    pub dropped: u64,
    pub stalled: Option<String>,
    pub runtime: Option<RuntimeFigures>,
}

impl Log {
    /// The model this log describes, as the run that wrote it had it.
    pub fn model(&self) -> Model {
        let mut model = Model::new(self.info.clone());
        for e in &self.events {
            model.apply(e);
        }
        model.finish(self.dropped, self.stalled.clone(), self.runtime.clone());
        model
    }
}

/// What is wrong with an events file, and on which line.
#[derive(Debug, thiserror::Error)]
#[error("{origin}:{line}: {message}")]
pub struct LogError {
    pub origin: String,
    pub line: usize,
    pub message: String,
}

/// Reads a JSON-lines log written by [`LineWriter`].
pub fn read(origin: &str, input: impl BufRead) -> Result<Log, LogError> {
    let err = |line: usize, message: String| LogError {
        origin: origin.to_string(),
        line,
        message,
    };
    let mut info = None;
    let mut events = Vec::new();
    let mut dropped = 0;
    let mut stalled = None;
    let mut runtime = None;
    let mut names: Vec<Arc<str>> = Vec::new();
    for (i, text) in input.split(b'\n').enumerate() {
        let n = i + 1;
        let text = text.map_err(|e| err(n, format!("could not read: {e}")))?;
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: Line = serde_json::from_slice(&text)
            .map_err(|e| err(n, format!("not a taskscope event line: {e}")))?;
        let need = |v: Option<TaskIdx>| v.ok_or_else(|| err(n, "the line has no \"idx\"".into()));
        let t = from_ms(line.t_ms);
        let change = match line.state.as_str() {
            "run" => {
                let rt = line
                    .runtime
                    .ok_or_else(|| err(n, "the header line has no \"runtime\"".into()))?;
                info = Some(RunInfo {
                    scenario: line.scenario.unwrap_or_default(),
                    flavor: rt.flavor,
                    workers: rt.workers,
                    clock: rt.clock,
                });
                continue;
            }
            "end" => {
                dropped = line.events_dropped.unwrap_or(0);
                stalled = line.stalled;
                runtime = line.runtime_metrics.map(|r| RuntimeFigures {
                    polls: r.polls,
                    busy: from_ms(r.busy_ms),
                    steals: r.steals,
                    parks: r.parks,
                    remote_schedules: r.remote_schedules,
                    forced_yields: r.forced_yields,
                    io_ready: r.io_ready,
                });
                continue;
            }
            "spawned" => {
                let name: Arc<str> = line.task.unwrap_or_default().into();
                let idx = need(line.idx)? as usize;
                if names.len() <= idx {
                    names.resize(idx + 1, Arc::from("?"));
                }
                names[idx] = name.clone();
                Change::Spawned {
                    name,
                    id: line.id.unwrap_or(0),
                    spec: line.spec.unwrap_or(0),
                    parent: line.parent_idx,
                    kind: line
                        .kind
                        .as_deref()
                        .and_then(Kind::parse)
                        .unwrap_or_default(),
                }
            }
            "ready" => Change::Ready {
                by: match (line.by.as_deref(), line.by_idx) {
                    (_, Some(t)) => WakeBy::Task(t),
                    (Some("timer"), _) => WakeBy::Timer,
                    (Some("io"), _) => WakeBy::Io,
                    (Some("os"), _) => WakeBy::Os,
                    _ => WakeBy::Runtime,
                },
                late: line.late_ms.map(from_ms),
            },
            "running" => Change::Running {
                // A thread or process runs on a CPU, not on a worker.
                worker: line.worker.unwrap_or(ON_CPU),
            },
            "waiting" => Change::Waiting {
                wait: line
                    .wait
                    .as_deref()
                    .and_then(Wait::parse)
                    .ok_or_else(|| err(n, format!("unknown wait reason {:?}", line.wait)))?,
                due: line.due_ms.map(from_ms),
            },
            "done" => Change::Done {
                outcome: match line.outcome.as_deref() {
                    Some("ok") => Outcome::Ok,
                    Some("panicked") => Outcome::Panicked(line.message.unwrap_or_default()),
                    Some("cancelled") => Outcome::Cancelled,
                    other => return Err(err(n, format!("unknown outcome {other:?}"))),
                },
                stats: Box::new(TaskStats {
                    polls: line.polls.unwrap_or(0),
                    busy: from_ms(line.busy_ms.unwrap_or(0.0)),
                    scheduled: from_ms(line.scheduled_ms.unwrap_or(0.0)),
                    idle: from_ms(line.idle_ms.unwrap_or(0.0)),
                    slow_polls: line.slow_polls.unwrap_or(0),
                    first_poll_delay: from_ms(line.first_poll_delay_ms.unwrap_or(0.0)),
                    os: line.cpu_ms.map(|cpu| OsStats {
                        cpu: from_ms(cpu),
                        runqueue: from_ms(line.runqueue_ms.unwrap_or(0.0)),
                        slices: line.slices.unwrap_or(0),
                    }),
                }),
            },
            other => return Err(err(n, format!("unknown state {other:?}"))),
        };
        events.push(Event {
            t,
            task: need(line.idx)?,
            step: line.step.unwrap_or(0),
            change,
        });
    }
    let info = info.ok_or_else(|| {
        err(
            1,
            "no header line: this is not a taskscope events file".into(),
        )
    })?;
    Ok(Log {
        info,
        events,
        dropped,
        stalled,
        runtime,
    })
}
