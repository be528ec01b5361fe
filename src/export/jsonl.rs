//! Events as JSON lines: one line per transition, a header line first and
//! an end line last, so a log can be replayed into the same model.
//!
//! Event line: `{"t_ms","task","id","state","wait","worker","step"}` plus
//! `"idx"` (the run's own task number), `"parent"` on spawned, `"by"`,
//! `"late_ms"` and `"waited"` (what an `other` wait turned out to be) on
//! ready, and the outcome and the task's figures on done.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Model, RunInfo, RuntimeFigures};
use crate::probe::{
    Change, Event, Kind, ON_CPU, OsStats, Outcome, TaskIdx, TaskStats, Wait, WakeBy,
};
use crate::scenario::MAX_WORKERS;

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
    /// On ready: what the wait it ends turned out to be (first recorded as
    /// `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    waited: Option<String>,
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
    workers: u64,
    clock: String,
}

/// Exact milliseconds (to the nanosecond) for the log.
fn exact_ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1_000_000.0
}

/// Milliseconds from a log (already range-checked) as a duration.
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
                workers: info.workers as u64,
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
            Change::Ready { by, late, waited } => {
                line.waited = waited.map(|w| w.as_str().into());
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
    let mut buf = Vec::with_capacity(256);
    crate::text::write_json(&mut buf, line)?;
    buf.push(b'\n');
    out.write_all(&buf)
}

/// Largest events file replayed (checked before reading, and reading
/// stops there): room for [`MAX_LOG_EVENTS`] lines as this program writes
/// them (about 110 bytes each; 1 GiB held only 9.7 million).
pub const MAX_LOG_BYTES: u64 = 2 << 30;
/// Longest line of an events file.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Most events one log may hold (as many as the dashboard's history keeps).
pub const MAX_LOG_EVENTS: usize = crate::model::history::REPLAY_LIMIT;
/// Most tasks a replayed file may spawn (as many as a run may start).
pub const MAX_LOG_TASKS: u64 = crate::scenario::MAX_TASKS;
/// Latest time an event may have: a week of scenario time, in ms.
pub const MAX_LOG_MS: f64 = 7.0 * 24.0 * 3600.0 * 1000.0;

/// A recorded run, read back.
#[derive(Debug)]
pub struct Log {
    pub info: RunInfo,
    pub events: Vec<Event>,
    pub dropped: u64,
    pub stalled: Option<String>,
    pub runtime: Option<RuntimeFigures>,
    /// false: the file ended without its end line (the run was cut short).
    pub complete: bool,
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

    /// What to tell a viewer about a log without its end line.
    pub fn incomplete_note(&self) -> Option<&'static str> {
        (!self.complete).then_some(
            "incomplete recording: the file ends without its end line (the run was cut \
             short), so it is replayed up to its last event and the run's own end figures \
             are missing",
        )
    }
}

/// What is wrong with an events file, and on which line.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {}", crate::text::visible(.origin), crate::text::visible(.message))]
pub struct LogError {
    pub origin: String,
    pub line: usize,
    pub message: String,
}

/// Reads a JSON-lines log written by [`LineWriter`], checking every line as
/// `check` checks a scenario: the header first and in range, times that
/// never go back, one spawn per task, every task and worker known. Reading
/// stops at [`MAX_LOG_BYTES`]; no line or count from the file sizes an
/// allocation (task numbers are mapped to dense indices in spawn order).
pub fn read(origin: &str, input: impl BufRead) -> Result<Log, LogError> {
    let mut events = Vec::new();
    let mut log = read_into(origin, input, &mut |_, e| events.push(e))?;
    log.events = events;
    Ok(log)
}

/// [`read`], handing each event to `sink` (with the run's header) as it is
/// read instead of keeping them: a large recording is never held twice.
/// The returned log's `events` is empty.
pub fn read_into(
    origin: &str,
    input: impl BufRead,
    sink: &mut dyn FnMut(&RunInfo, Event),
) -> Result<Log, LogError> {
    let mut input = input.take(MAX_LOG_BYTES + 1);
    let mut reader = Reader::new(origin, sink);
    let mut text = Vec::new();
    for n in 1.. {
        text.clear();
        let got = (&mut input)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut text)
            .map_err(|e| reader.err(n, format!("could not read: {e}")))?;
        if got == 0 {
            break;
        }
        if input.limit() == 0 {
            return Err(reader.err(
                n,
                format!("the file is larger than {MAX_LOG_BYTES} bytes, the most that is replayed"),
            ));
        }
        if text.len() > MAX_LINE_BYTES {
            return Err(reader.err(
                n,
                format!(
                    "the line is longer than {MAX_LINE_BYTES} bytes; expected one event per line"
                ),
            ));
        }
        reader.line(n, &text)?;
    }
    reader.finish()
}

/// The checks and the state of one [`read`].
struct Reader<'a> {
    origin: &'a str,
    sink: &'a mut dyn FnMut(&RunInfo, Event),
    /// Events handed to the sink.
    count: usize,
    info: Option<RunInfo>,
    /// The file's task numbers -> (dense index, line of the spawn, kind).
    tasks: HashMap<TaskIdx, (TaskIdx, usize, Kind)>,
    /// By dense index: the line of the task's "done" (0: not done).
    ended: Vec<usize>,
    last: Duration,
    last_line: usize,
    end: Option<usize>,
    dropped: u64,
    stalled: Option<String>,
    runtime: Option<RuntimeFigures>,
    /// The first reference to a task never spawned: forgiven only when the
    /// end line says the run dropped events (its spawn may be one of them).
    unknown: Option<LogError>,
}

impl<'a> Reader<'a> {
    fn new(origin: &'a str, sink: &'a mut dyn FnMut(&RunInfo, Event)) -> Self {
        Reader {
            origin,
            sink,
            count: 0,
            info: None,
            tasks: HashMap::new(),
            ended: Vec::new(),
            last: Duration::ZERO,
            last_line: 0,
            end: None,
            dropped: 0,
            stalled: None,
            runtime: None,
            unknown: None,
        }
    }

    fn err(&self, line: usize, message: String) -> LogError {
        LogError {
            origin: self.origin.to_string(),
            line,
            message,
        }
    }

    /// A time field: finite, not negative, at most [`MAX_LOG_MS`].
    fn ms(&self, n: usize, key: &str, v: f64) -> Result<Duration, LogError> {
        if v.is_finite() && (0.0..=MAX_LOG_MS).contains(&v) {
            Ok(from_ms(v))
        } else {
            Err(self.err(
                n,
                format!("\"{key}\" is {v:?}; expected milliseconds from 0 to {MAX_LOG_MS}"),
            ))
        }
    }

    fn opt_ms(&self, n: usize, key: &str, v: Option<f64>) -> Result<Option<Duration>, LogError> {
        v.map(|v| self.ms(n, key, v)).transpose()
    }

    /// The dense index of a task the file names, if it was spawned.
    fn task(&mut self, n: usize, what: &str, idx: TaskIdx) -> Option<TaskIdx> {
        let known = self.tasks.get(&idx).map(|(dense, _, _)| *dense);
        if known.is_none() && self.unknown.is_none() {
            self.unknown = Some(self.err(
                n,
                format!("{what} task idx {idx}, which no earlier line spawned; expected the idx of a \"spawned\" line above"),
            ));
        }
        known
    }

    fn line(&mut self, n: usize, text: &[u8]) -> Result<(), LogError> {
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        if let Some(end) = self.end {
            return Err(self.err(
                n,
                format!("a line after the end line (line {end}); expected nothing more"),
            ));
        }
        let line: Line = serde_json::from_slice(text)
            .map_err(|e| self.err(n, format!("not a taskscope event line: {e}")))?;
        if line.state == "run" {
            return self.header(n, line);
        }
        let Some(info) = &self.info else {
            return Err(self.err(
                n,
                "expected the header line ({\"state\":\"run\", ...}) first: this is not a taskscope events file".into(),
            ));
        };
        let workers = info.workers;
        let t = self.ms(n, "t_ms", line.t_ms)?;
        if t < self.last {
            return Err(self.err(
                n,
                format!(
                    "time goes back: t_ms {} comes after {} (line {}); expected times that never decrease",
                    line.t_ms,
                    exact_ms(self.last),
                    self.last_line
                ),
            ));
        }
        self.last = t;
        self.last_line = n;
        let need = |v: Option<TaskIdx>| {
            v.ok_or_else(|| {
                self.err(
                    n,
                    "the line has no \"idx\"; expected the task's number".into(),
                )
            })
        };
        let idx = need(line.idx);
        let change = match line.state.as_str() {
            "end" => {
                self.end = Some(n);
                self.dropped = line.events_dropped.unwrap_or(0);
                self.stalled = line.stalled;
                self.runtime = match line.runtime_metrics {
                    Some(r) => Some(RuntimeFigures {
                        polls: r.polls,
                        busy: self.ms(n, "busy_ms", r.busy_ms)?,
                        steals: r.steals,
                        parks: r.parks,
                        remote_schedules: r.remote_schedules,
                        forced_yields: r.forced_yields,
                        io_ready: r.io_ready,
                    }),
                    None => None,
                };
                return Ok(());
            }
            "spawned" => {
                let idx = idx?;
                if let Some((_, first, _)) = self.tasks.get(&idx) {
                    return Err(self.err(
                        n,
                        format!("task idx {idx} is spawned twice (first on line {first}); expected one \"spawned\" line per task"),
                    ));
                }
                let name: Arc<str> = line
                    .task
                    .ok_or_else(|| self.err(n, "the spawned line has no \"task\" name".into()))?
                    .into();
                let parent = match line.parent_idx {
                    Some(p) => self.task(n, "its parent is", p),
                    None => None,
                };
                let kind = match line.kind.as_deref() {
                    None => Kind::Task,
                    Some(k) => Kind::parse(k).ok_or_else(|| {
                        self.err(
                            n,
                            format!("kind {k:?}; expected task, thread, blocking or process"),
                        )
                    })?,
                };
                if self.tasks.len() as u64 >= MAX_LOG_TASKS {
                    return Err(self.err(
                        n,
                        format!("more than {MAX_LOG_TASKS} tasks; a run starts at most that many"),
                    ));
                }
                let dense = self.tasks.len() as TaskIdx;
                self.tasks.insert(idx, (dense, n, kind));
                self.push(
                    n,
                    Event {
                        t,
                        task: dense,
                        step: line.step.unwrap_or(0),
                        change: Change::Spawned {
                            name,
                            id: line.id.unwrap_or(0),
                            spec: line.spec.unwrap_or(0),
                            parent,
                            kind,
                        },
                    },
                )?;
                return Ok(());
            }
            "ready" => Change::Ready {
                by: match (line.by.as_deref(), line.by_idx) {
                    (_, Some(by)) => match self.task(n, "it is woken by", by) {
                        Some(by) => WakeBy::Task(by),
                        None => WakeBy::Runtime,
                    },
                    (Some("timer"), _) => WakeBy::Timer,
                    (Some("io"), _) => WakeBy::Io,
                    (Some("os"), _) => WakeBy::Os,
                    _ => WakeBy::Runtime,
                },
                late: self.opt_ms(n, "late_ms", line.late_ms)?,
                waited: match line.waited.as_deref() {
                    None => None,
                    Some(w) => Some(Wait::parse(w).ok_or_else(|| {
                        self.err(n, format!("waited {w:?}; expected one of the wait kinds"))
                    })?),
                },
            },
            "running" => {
                // A thread or process runs on a CPU, not on a worker.
                let os = idx
                    .as_ref()
                    .ok()
                    .and_then(|i| self.tasks.get(i))
                    .is_some_and(|(_, _, kind)| kind.is_os());
                let worker = match line.worker {
                    None if os => ON_CPU,
                    None => {
                        return Err(self.err(
                            n,
                            "the running line has no \"worker\"; expected the worker that polls the task".into(),
                        ));
                    }
                    Some(w) => w,
                };
                if line.worker.is_some() && usize::from(worker) >= workers {
                    return Err(self.err(
                        n,
                        format!("worker {worker} on a runtime of {workers} worker(s) (the header says so); expected 0 to {}", workers - 1),
                    ));
                }
                Change::Running { worker }
            }
            "waiting" => Change::Waiting {
                wait: line.wait.as_deref().and_then(Wait::parse).ok_or_else(|| {
                    let found = match &line.wait {
                        None => "the waiting line has no \"wait\"".to_string(),
                        Some(w) => format!("unknown wait reason {w:?}"),
                    };
                    let all: Vec<&str> = Wait::ALL.iter().map(|w| w.as_str()).collect();
                    self.err(n, format!("{found}; expected one of: {}", all.join(", ")))
                })?,
                due: self.opt_ms(n, "due_ms", line.due_ms)?,
            },
            "done" => Change::Done {
                outcome: match line.outcome.as_deref() {
                    Some("ok") => Outcome::Ok,
                    Some("panicked") => Outcome::Panicked(line.message.unwrap_or_default()),
                    Some("cancelled") => Outcome::Cancelled,
                    other => {
                        let found = match other {
                            None => "the done line has no \"outcome\"".to_string(),
                            Some(o) => format!("unknown outcome {o:?}"),
                        };
                        return Err(
                            self.err(n, format!("{found}; expected ok, panicked or cancelled"))
                        );
                    }
                },
                stats: Arc::new(TaskStats {
                    polls: line.polls.unwrap_or(0),
                    busy: self.ms(n, "busy_ms", line.busy_ms.unwrap_or(0.0))?,
                    scheduled: self.ms(n, "scheduled_ms", line.scheduled_ms.unwrap_or(0.0))?,
                    idle: self.ms(n, "idle_ms", line.idle_ms.unwrap_or(0.0))?,
                    slow_polls: line.slow_polls.unwrap_or(0),
                    first_poll_delay: self.ms(
                        n,
                        "first_poll_delay_ms",
                        line.first_poll_delay_ms.unwrap_or(0.0),
                    )?,
                    os: match line.cpu_ms {
                        Some(cpu) => Some(OsStats {
                            cpu: self.ms(n, "cpu_ms", cpu)?,
                            runqueue: self.ms(n, "runqueue_ms", line.runqueue_ms.unwrap_or(0.0))?,
                            slices: line.slices.unwrap_or(0),
                        }),
                        None => None,
                    },
                }),
            },
            other => {
                return Err(self.err(
                    n,
                    format!("unknown state {other:?}; expected run, spawned, ready, running, waiting, done or end"),
                ));
            }
        };
        let idx = idx?;
        // A line about a task never spawned is left out (see `unknown`).
        if let Some(task) = self.task(n, "the line is about", idx) {
            let slot = task as usize;
            if self.ended.len() <= slot {
                self.ended.resize(slot + 1, 0);
            }
            if self.ended[slot] != 0 {
                return Err(self.err(
                    n,
                    format!(
                        "task idx {idx} is {} after it was done (line {}); expected nothing after a task's \"done\"",
                        line.state, self.ended[slot]
                    ),
                ));
            }
            if matches!(change, Change::Done { .. }) {
                self.ended[slot] = n;
            }
            self.push(
                n,
                Event {
                    t,
                    task,
                    step: line.step.unwrap_or(0),
                    change,
                },
            )?;
        }
        Ok(())
    }

    fn header(&mut self, n: usize, line: Line) -> Result<(), LogError> {
        if self.info.is_some() || self.count > 0 {
            return Err(self.err(
                n,
                "a second header line; expected it only once, as the first line".into(),
            ));
        }
        if let Some(format) = line.format
            && format != FORMAT
        {
            return Err(self.err(
                n,
                format!("format {format}; this taskscope reads format {FORMAT}"),
            ));
        }
        let rt = line
            .runtime
            .ok_or_else(|| self.err(n, "the header line has no \"runtime\"".into()))?;
        let max_workers = match rt.flavor.as_str() {
            "current_thread" => 1,
            "multi_thread" => MAX_WORKERS,
            other => {
                return Err(self.err(
                    n,
                    format!("flavor {other:?}; expected \"current_thread\" or \"multi_thread\""),
                ));
            }
        };
        if !(1..=max_workers as u64).contains(&rt.workers) {
            return Err(self.err(
                n,
                format!(
                    "\"workers\" is {} on {}; expected 1 to {max_workers}",
                    rt.workers, rt.flavor
                ),
            ));
        }
        if !matches!(rt.clock.as_str(), "virtual" | "real") {
            return Err(self.err(
                n,
                format!("clock {:?}; expected \"virtual\" or \"real\"", rt.clock),
            ));
        }
        self.info = Some(RunInfo {
            scenario: line.scenario.unwrap_or_default(),
            flavor: rt.flavor,
            workers: rt.workers as usize,
            clock: rt.clock,
        });
        Ok(())
    }

    fn push(&mut self, n: usize, e: Event) -> Result<(), LogError> {
        if self.count >= MAX_LOG_EVENTS {
            return Err(self.err(
                n,
                format!("more than {MAX_LOG_EVENTS} events; at most that many are replayed"),
            ));
        }
        let Some(info) = &self.info else {
            return Err(self.err(
                n,
                "an event before the header line; expected the header first".into(),
            ));
        };
        (self.sink)(info, e);
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<Log, LogError> {
        let Some(info) = self.info else {
            return Err(self.err(
                1,
                "no header line: this is not a taskscope events file".into(),
            ));
        };
        if let Some(e) = self.unknown
            && self.dropped == 0
        {
            return Err(e);
        }
        Ok(Log {
            info,
            events: Vec::new(),
            dropped: self.dropped,
            stalled: self.stalled,
            runtime: self.runtime,
            complete: self.end.is_some(),
        })
    }
}
