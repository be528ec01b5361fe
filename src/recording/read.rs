//! Reading an events file back, as hostile input: it may come from anyone.
//! Every size is bounded before anything is allocated for it, every number
//! is range-checked, and every refusal names the file and the line.

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::sync::Arc;
use std::time::Duration;

use super::format::{
    FORMAT, Line, MAX_LINE_BYTES, MAX_LOG_BYTES, MAX_LOG_EVENTS, MAX_LOG_MS, MAX_LOG_TASKS,
    MAX_NAME_CHARS, exact_ms, from_ms,
};
use crate::event::{
    Change, Event, Kind, MAX_CPUS, ON_CPU, OsStats, Outcome, TaskIdx, TaskStats, Wait, WakeBy,
    on_cpu,
};
use crate::model::{Model, RunInfo, RuntimeFigures};
use crate::scenario::MAX_WORKERS;

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

/// Reads a JSON-lines log written by [`LineWriter`](super::LineWriter),
/// checking every line as `check` checks a scenario: the header first and
/// in range, times that never go back, one spawn per task, every task and
/// worker known. Reading stops at [`MAX_LOG_BYTES`]; no line or count from
/// the file sizes an allocation (task numbers are mapped to dense indices
/// in spawn order).
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
        // A last line without its newline that is not whole JSON: the
        // writer was cut mid-line. The events before it are replayed.
        if !text.ends_with(b"\n")
            && serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_err_and(|e| e.is_eof())
        {
            break;
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

    /// One line of the file: blank, the header, an event or the end line.
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
        let t = self.advance(n, line.t_ms)?;
        let idx = line.idx.ok_or_else(|| {
            self.err(
                n,
                "the line has no \"idx\"; expected the task's number".into(),
            )
        });
        let step = line.step.unwrap_or(0);
        // Each kind checks its own fields first; a missing "idx" is told
        // only after them (spawned: before them).
        let change = match line.state.as_str() {
            "end" => return self.end_line(n, line),
            "spawned" => return self.spawned(n, t, idx?, line),
            "ready" => self.ready(n, &line)?,
            "running" => self.running(n, workers, idx.as_ref().ok(), &line)?,
            "waiting" => self.waiting(n, &line)?,
            "done" => self.done(n, line)?,
            "off_cpu" => Change::OffCpu {
                gone: match line.gone_ms {
                    Some(v) => self.ms(n, "gone_ms", v)?,
                    None => {
                        return Err(self.err(
                            n,
                            "the off_cpu line has no \"gone_ms\"; expected how long the OS held \
                             the worker's thread"
                                .into(),
                        ));
                    }
                },
            },
            other => {
                return Err(self.err(
                    n,
                    format!("unknown state {other:?}; expected run, spawned, ready, running, waiting, off_cpu, done or end"),
                ));
            }
        };
        self.transition(n, t, idx?, step, change)
    }

    /// An event's time: in range, and never before the one above it.
    fn advance(&mut self, n: usize, t_ms: f64) -> Result<Duration, LogError> {
        let t = self.ms(n, "t_ms", t_ms)?;
        if t < self.last {
            return Err(self.err(
                n,
                format!(
                    "time goes back: t_ms {} comes after {} (line {}); expected times that never decrease",
                    t_ms,
                    exact_ms(self.last),
                    self.last_line
                ),
            ));
        }
        self.last = t;
        self.last_line = n;
        Ok(t)
    }

    /// The end line: what the run said at its end.
    fn end_line(&mut self, n: usize, line: Line) -> Result<(), LogError> {
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
        Ok(())
    }

    /// A spawned line: the task's file number `idx` gets the next dense
    /// index.
    fn spawned(&mut self, n: usize, t: Duration, idx: TaskIdx, line: Line) -> Result<(), LogError> {
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
        // Room for what a row's name gains (`/blocking-12`, `/process-3`).
        if name.chars().count() > MAX_NAME_CHARS + 32 {
            return Err(self.err(
                n,
                format!(
                    "the task's name is longer than {} characters, the most a recording holds",
                    MAX_NAME_CHARS + 32
                ),
            ));
        }
        let parent = match line.parent_idx {
            Some(p) => self.task(n, "its parent is", p),
            None => None,
        };
        let kind = self.kind(n, line.kind.as_deref())?;
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
        )
    }

    /// A spawned line's "kind" (none: a tokio task).
    fn kind(&self, n: usize, kind: Option<&str>) -> Result<Kind, LogError> {
        match kind {
            None => Ok(Kind::Task),
            Some(k) => Kind::parse(k).ok_or_else(|| {
                self.err(
                    n,
                    format!("kind {k:?}; expected task, thread, blocking or process"),
                )
            }),
        }
    }

    fn ready(&mut self, n: usize, line: &Line) -> Result<Change, LogError> {
        Ok(Change::Ready {
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
        })
    }

    /// A running line: on one of the header's workers, or (a thread or
    /// process, `worker` left out) on a CPU.
    fn running(
        &self,
        n: usize,
        workers: usize,
        idx: Option<&TaskIdx>,
        line: &Line,
    ) -> Result<Change, LogError> {
        let worker = line.worker;
        // A thread or process runs on a CPU, not on a worker.
        let os = idx
            .and_then(|i| self.tasks.get(i))
            .is_some_and(|(_, _, kind)| kind.is_os());
        let on = match (worker, line.cpu) {
            (None, Some(cpu)) if os && cpu < MAX_CPUS => on_cpu(cpu),
            (_, Some(cpu)) => {
                return Err(self.err(
                    n,
                    format!(
                        "\"cpu\": {cpu} on this running line; expected a CPU below {MAX_CPUS}, \
                         and only on a thread's or process's line (with no \"worker\")"
                    ),
                ));
            }
            (None, None) if os => ON_CPU,
            (None, None) => {
                return Err(self.err(
                    n,
                    "the running line has no \"worker\"; expected the worker that polls the task"
                        .into(),
                ));
            }
            (Some(w), None) => w,
        };
        if worker.is_some() && usize::from(on) >= workers {
            return Err(self.err(
                n,
                format!("worker {on} on a runtime of {workers} worker(s) (the header says so); expected 0 to {}", workers - 1),
            ));
        }
        Ok(Change::Running { worker: on })
    }

    fn waiting(&self, n: usize, line: &Line) -> Result<Change, LogError> {
        Ok(Change::Waiting {
            wait: line.wait.as_deref().and_then(Wait::parse).ok_or_else(|| {
                let found = match &line.wait {
                    None => "the waiting line has no \"wait\"".to_string(),
                    Some(w) => format!("unknown wait reason {w:?}"),
                };
                let all: Vec<&str> = Wait::ALL.iter().map(|w| w.as_str()).collect();
                self.err(n, format!("{found}; expected one of: {}", all.join(", ")))
            })?,
            due: self.opt_ms(n, "due_ms", line.due_ms)?,
        })
    }

    /// A done line: the outcome, then the task's figures.
    fn done(&self, n: usize, line: Line) -> Result<Change, LogError> {
        if let Some(m) = &line.message
            && m.chars().count() > MAX_NAME_CHARS
        {
            return Err(self.err(
                n,
                format!(
                    "the panic message is longer than {MAX_NAME_CHARS} characters, the most a \
                     recording holds"
                ),
            ));
        }
        let outcome = match line.outcome.as_deref() {
            Some("ok") => Outcome::Ok,
            Some("panicked") => Outcome::Panicked(line.message.unwrap_or_default()),
            Some("cancelled") => Outcome::Cancelled,
            other => {
                let found = match other {
                    None => "the done line has no \"outcome\"".to_string(),
                    Some(o) => format!("unknown outcome {o:?}"),
                };
                return Err(self.err(n, format!("{found}; expected ok, panicked or cancelled")));
            }
        };
        Ok(Change::Done {
            outcome,
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
        })
    }

    /// A ready, running, waiting or done line, once checked: handed on
    /// unless its task is done already.
    fn transition(
        &mut self,
        n: usize,
        t: Duration,
        idx: TaskIdx,
        step: u32,
        change: Change,
    ) -> Result<(), LogError> {
        // A line about a task never spawned is left out (see `unknown`).
        let Some(task) = self.task(n, "the line is about", idx) else {
            return Ok(());
        };
        let slot = task as usize;
        if self.ended.len() <= slot {
            self.ended.resize(slot + 1, 0);
        }
        if self.ended[slot] != 0 {
            return Err(self.err(
                n,
                format!(
                    "task idx {idx} is {} after it was done (line {}); expected nothing after a task's \"done\"",
                    change.state(),
                    self.ended[slot]
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
                step,
                change,
            },
        )
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
        if rt.worker_cpus.len() > rt.workers as usize
            || rt.worker_cpus.iter().any(|c| *c >= MAX_CPUS)
        {
            return Err(self.err(
                n,
                format!(
                    "worker_cpus {:?}; expected at most one CPU per worker, each below {MAX_CPUS}",
                    rt.worker_cpus
                ),
            ));
        }
        self.info = Some(RunInfo {
            scenario: line.scenario.unwrap_or_default(),
            flavor: rt.flavor,
            workers: rt.workers as usize,
            clock: rt.clock,
            worker_cpus: rt.worker_cpus,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::LineWriter;

    const HEADER: &str = r#"{"t_ms":0,"state":"run","format":1,"scenario":"x","runtime":{"flavor":"current_thread","workers":1,"clock":"virtual"}}"#;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1000.0)
    }

    fn ev(t: f64, task: TaskIdx, step: u32, change: Change) -> Event {
        Event {
            t: ms(t),
            task,
            step,
            change,
        }
    }

    fn spawned(name: &str, id: u64, spec: u32, parent: Option<TaskIdx>, kind: Kind) -> Change {
        Change::Spawned {
            name: name.into(),
            id,
            spec,
            parent,
            kind,
        }
    }

    fn done(outcome: Outcome, os: Option<OsStats>) -> Change {
        Change::Done {
            outcome,
            stats: Arc::new(TaskStats {
                polls: 7,
                busy: Duration::from_nanos(1_234_567),
                scheduled: Duration::from_nanos(89_001),
                idle: Duration::from_nanos(40_000_003),
                slow_polls: 2,
                first_poll_delay: Duration::from_nanos(999),
                os,
            }),
        }
    }

    /// A run with every kind of change: tasks of each kind spawned (with
    /// and without a parent), woken by each waker, late or not, with an
    /// `other` wait refined; running on a worker and on a CPU; waiting
    /// with and without a due time; done ok, panicked and cancelled, with
    /// and without the OS's figures.
    fn every_change() -> Vec<Event> {
        let os = OsStats {
            cpu: Duration::from_nanos(3_000_001),
            runqueue: Duration::from_nanos(250_000),
            slices: 11,
        };
        vec![
            ev(0.0, 0, 0, spawned("main", 1, 0, None, Kind::Task)),
            ev(0.0, 0, 0, Change::Running { worker: 1 }),
            ev(
                0.25,
                1,
                0,
                spawned("child \"one\"", 2, 1, Some(0), Kind::Task),
            ),
            ev(
                0.25,
                2,
                0,
                spawned("cruncher", 4242, 2, Some(0), Kind::Thread),
            ),
            ev(
                0.5,
                3,
                0,
                spawned("pool job", 3, 3, Some(1), Kind::Blocking),
            ),
            ev(0.5, 4, 0, spawned("sh", 4343, 4, None, Kind::Process)),
            ev(
                0.75,
                0,
                1,
                Change::Waiting {
                    wait: Wait::Other,
                    due: None,
                },
            ),
            ev(1.0, 1, 0, Change::Running { worker: 0 }),
            ev(1.0, 2, 0, Change::Running { worker: ON_CPU }),
            ev(
                1.5,
                1,
                2,
                Change::Waiting {
                    wait: Wait::Timer,
                    due: Some(ms(12.345678)),
                },
            ),
            ev(
                2.0,
                2,
                0,
                Change::Ready {
                    by: WakeBy::Os,
                    late: None,
                    waited: None,
                },
            ),
            ev(2.0, 3, 0, Change::Running { worker: ON_CPU }),
            ev(
                12.5,
                1,
                2,
                Change::Ready {
                    by: WakeBy::Timer,
                    late: Some(ms(0.154322)),
                    waited: None,
                },
            ),
            ev(13.0, 1, 2, Change::Running { worker: 1 }),
            ev(
                13.0,
                1,
                3,
                Change::Waiting {
                    wait: Wait::Io,
                    due: None,
                },
            ),
            ev(
                14.0,
                1,
                3,
                Change::Ready {
                    by: WakeBy::Io,
                    late: None,
                    waited: None,
                },
            ),
            ev(
                14.0,
                1,
                4,
                Change::Waiting {
                    wait: Wait::Yield,
                    due: None,
                },
            ),
            ev(
                14.0,
                1,
                4,
                Change::Ready {
                    by: WakeBy::Runtime,
                    late: None,
                    waited: None,
                },
            ),
            ev(15.0, 1, 5, done(Outcome::Ok, None)),
            ev(
                15.0,
                0,
                1,
                Change::Ready {
                    by: WakeBy::Task(1),
                    late: None,
                    waited: Some(Wait::Join),
                },
            ),
            ev(16.0, 2, 0, done(Outcome::Ok, Some(os))),
            ev(
                16.5,
                3,
                0,
                done(
                    Outcome::Panicked("boom at \"x\"\nsecond line".into()),
                    Some(os),
                ),
            ),
            ev(17.0, 4, 0, done(Outcome::Cancelled, Some(os))),
            ev(17.0, 0, 1, Change::Running { worker: 0 }),
            ev(17.000001, 0, 1, done(Outcome::Ok, None)),
        ]
    }

    /// The file the writer makes of `events`, with an end line from the
    /// model they make, finished with `end`'s figures (none: the file is
    /// cut short).
    fn written(
        info: &RunInfo,
        events: &[Event],
        end: Option<(u64, Option<String>, Option<RuntimeFigures>)>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = LineWriter::default();
        writer.header(&mut out, info).unwrap();
        let mut model = Model::new(info.clone());
        for e in events {
            writer.event(&mut out, e).unwrap();
            model.apply(e);
        }
        if let Some((dropped, stalled, runtime)) = end {
            model.finish(dropped, stalled, runtime);
            writer.end(&mut out, &model).unwrap();
        }
        out
    }

    fn info(flavor: &str, workers: usize) -> RunInfo {
        RunInfo {
            scenario: "round trip".into(),
            flavor: flavor.into(),
            workers,
            clock: "virtual".into(),
            worker_cpus: Vec::new(),
        }
    }

    #[test]
    fn every_change_written_reads_back_the_same_with_the_end_figures() {
        let _limit = crate::test_limit::limit();
        let info = info("multi_thread", 2);
        let events = every_change();
        let runtime = RuntimeFigures {
            polls: 31,
            busy: Duration::from_nanos(123_456_789),
            steals: 4,
            parks: 9,
            remote_schedules: 5,
            forced_yields: 1,
            io_ready: 2,
        };
        let stalled = Some("main waited on a lock that was never released".to_string());
        let file = written(
            &info,
            &events,
            Some((3, stalled.clone(), Some(runtime.clone()))),
        );
        let log = read("run.jsonl", &file[..]).unwrap();
        assert_eq!(log.info, info);
        assert_eq!(log.events.len(), events.len());
        for (got, wrote) in log.events.iter().zip(&events) {
            assert_eq!(got, wrote);
        }
        assert_eq!(log.dropped, 3);
        assert_eq!(log.stalled, stalled);
        assert_eq!(log.runtime, Some(runtime));
        assert!(log.complete);
        assert_eq!(log.incomplete_note(), None);
    }

    #[test]
    fn a_run_without_figures_or_without_its_end_line_reads_back_as_such() {
        let _limit = crate::test_limit::limit();
        let info = info("current_thread", 1);
        let events = vec![
            ev(0.0, 0, 0, spawned("only", 1, 0, None, Kind::Task)),
            ev(1.0, 0, 0, Change::Running { worker: 0 }),
            ev(2.0, 0, 0, done(Outcome::Ok, None)),
        ];
        let log = read(
            "a.jsonl",
            &written(&info, &events, Some((0, None, None)))[..],
        )
        .unwrap();
        assert_eq!(log.events, events);
        assert_eq!((log.dropped, log.stalled, log.runtime), (0, None, None));
        assert!(log.complete);
        let cut = read("b.jsonl", &written(&info, &events, None)[..]).unwrap();
        assert_eq!(cut.events, events);
        assert!(!cut.complete);
        assert!(cut.incomplete_note().is_some());
        // Cut mid-line: the events before the cut, as a recording cut short.
        let whole = written(&info, &events, None);
        let last = whole[..whole.len() - 1].iter().rposition(|b| *b == b'\n');
        let mid_line = &whole[..last.unwrap() + 10];
        let cut = read("c.jsonl", mid_line).unwrap();
        assert_eq!(cut.events, events[..2]);
        assert!(!cut.complete);
        // A broken line that ends in its newline is still refused.
        let mut broken = mid_line.to_vec();
        broken.push(b'\n');
        let e = read("d.jsonl", &broken[..]).unwrap_err();
        assert!(e.message.contains("not a taskscope event line"), "{e}");
    }

    /// The refusal of a file of these lines: (line number, message).
    fn refusal(lines: &[&str]) -> (usize, String) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let e = read("bad.jsonl", text.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("bad.jsonl:{}: {}", e.line, e.message)
        );
        (e.line, e.message)
    }

    const SPAWNED: &str = r#"{"t_ms":0,"task":"a","id":1,"state":"spawned","idx":0,"step":0}"#;

    #[test]
    fn a_name_past_the_longest_a_recording_holds_is_refused_on_its_line() {
        let _limit = crate::test_limit::limit();
        let named = |n: usize| {
            format!(
                r#"{{"t_ms":0,"task":"{}","id":1,"state":"spawned","idx":0,"step":0}}"#,
                "é".repeat(n)
            )
        };
        let longest = named(MAX_NAME_CHARS + 32);
        let text = format!("{HEADER}\n{longest}\n");
        assert!(read("ok.jsonl", text.as_bytes()).is_ok());
        let (line, message) = refusal(&[HEADER, &named(MAX_NAME_CHARS + 33)]);
        assert_eq!(line, 2);
        assert!(message.contains("longer than 1056 characters"), "{message}");
        let panicked = |n: usize| {
            format!(
                r#"{{"t_ms":1,"task":"a","state":"done","idx":0,"step":0,"outcome":"panicked","message":"{}"}}"#,
                "x".repeat(n)
            )
        };
        let text = format!("{HEADER}\n{SPAWNED}\n{}\n", panicked(MAX_NAME_CHARS));
        assert!(read("ok.jsonl", text.as_bytes()).is_ok());
        let (line, message) = refusal(&[HEADER, SPAWNED, &panicked(MAX_NAME_CHARS + 1)]);
        assert_eq!(line, 3);
        assert!(message.contains("panic message is longer"), "{message}");
    }

    #[test]
    fn a_line_past_the_longest_is_refused_on_its_line() {
        let _limit = crate::test_limit::limit();
        let long = format!(
            r#"{{"t_ms":0,"state":"ready","idx":0,"by":"{}"}}"#,
            "x".repeat(MAX_LINE_BYTES)
        );
        assert_eq!(
            refusal(&[HEADER, SPAWNED, &long]),
            (
                3,
                "the line is longer than 1048576 bytes; expected one event per line".into()
            )
        );
    }

    #[test]
    fn an_unknown_state_is_refused_naming_the_known_ones() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            refusal(&[HEADER, SPAWNED, r#"{"t_ms":1,"state":"paused","idx":0}"#]),
            (
                3,
                "unknown state \"paused\"; expected run, spawned, ready, running, waiting, off_cpu, done or end".into()
            )
        );
    }

    #[test]
    fn a_task_idx_out_of_range_is_refused_on_the_first_line_naming_it() {
        let _limit = crate::test_limit::limit();
        // Never spawned: told at the end, on the first line that named it.
        let lines = [
            HEADER,
            SPAWNED,
            r#"{"t_ms":1,"state":"running","idx":7,"worker":0}"#,
            r#"{"t_ms":2,"state":"running","idx":8,"worker":0}"#,
        ];
        assert_eq!(
            refusal(&lines),
            (
                3,
                "the line is about task idx 7, which no earlier line spawned; expected the idx of a \"spawned\" line above".into()
            )
        );
        // Forgiven when the run says it dropped events (the spawn may be one).
        let dropped = r#"{"t_ms":3,"state":"end","events_dropped":1}"#;
        let log = read(
            "ok.jsonl",
            [&lines[..], &[dropped]].concat().join("\n").as_bytes(),
        )
        .unwrap();
        assert_eq!(log.events.len(), 1);
        // Past a task number's range: refused as it is read.
        assert_eq!(
            refusal(&[HEADER, r#"{"t_ms":0,"task":"a","state":"spawned","idx":4294967296}"#]),
            (
                2,
                "not a taskscope event line: invalid value: integer `4294967296`, expected u32 at line 1 column 55".into()
            )
        );
        // A worker past the header's: refused on its line.
        assert_eq!(
            refusal(&[
                HEADER,
                SPAWNED,
                r#"{"t_ms":1,"state":"running","idx":0,"worker":1}"#
            ]),
            (
                3,
                "worker 1 on a runtime of 1 worker(s) (the header says so); expected 0 to 0".into()
            )
        );
    }

    #[test]
    fn a_transition_after_its_task_is_done_is_refused_naming_the_done_line() {
        let _limit = crate::test_limit::limit();
        let lines = [
            HEADER,
            SPAWNED,
            r#"{"t_ms":1,"state":"done","outcome":"ok","idx":0}"#,
            "",
            r#"{"t_ms":2,"state":"waiting","wait":"timer","idx":0}"#,
        ];
        assert_eq!(
            refusal(&lines),
            (
                5,
                "task idx 0 is waiting after it was done (line 3); expected nothing after a task's \"done\"".into()
            )
        );
    }
}
