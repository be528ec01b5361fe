//! The probe: turns scheduling into [`Event`]s without touching tokio's
//! internals.
//!
//! Each task's future is wrapped in [`Probed`] (outside tokio-metrics'
//! `Instrumented`), which records a poll's start and end and hands the inner
//! future a waker of its own, so every wake-up is seen with who caused it.
//! The step interpreter tells the probe what the task is about to wait for
//! ([`TaskProbe::set_wait`]); the probe records what really happened.
//!
//! Events go into a [`Recorder`]: a buffer that a consumer drains while the
//! run goes on. Transitions are recorded under the recorder's lock, so the log
//! is in time order and a task's events never cross each other, even with
//! several workers.

pub mod event;

use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use tokio_metrics::{Instrumented, TaskMonitor};

pub use event::{Change, Event, Kind, ON_CPU, OsStats, Outcome, TaskIdx, TaskStats, Wait, WakeBy};

/// Events the buffer holds before the producer waits (lossless) or drops.
pub const DEFAULT_CAPACITY: usize = 1 << 22;

/// The event buffer between the runtime (producer) and a consumer.
pub struct Recorder {
    buf: Mutex<Buffer>,
    /// Signalled when events arrive (for the consumer) or are drained (for a
    /// producer waiting on a full buffer).
    signal: Condvar,
    capacity: usize,
    /// The run is on the virtual clock: wait for room instead of dropping
    /// (real waiting is free there), and read tokio's paused clock.
    lossless: bool,
    /// Distinguishes runs, so thread-local worker numbers are never stale.
    run: u64,
    next_worker: AtomicU16,
    /// Virtual clock only: scenario time (ns) as of the newest clock read,
    /// plus what `cpu` and `block` steps charged since. Inside a poll the
    /// paused clock moves only by such charges, so events there are timed
    /// from this without reading tokio's clock (a lock) again.
    cursor: AtomicU64,
    /// The newest live figures from the runner's sampler.
    sample: Mutex<Option<Arc<Sample>>>,
    /// Real clock: scenario time per wall time (f64 bits): below 1 the run
    /// plays in slow motion, every duration stretched by the runner.
    scale: AtomicU64,
}

/// Live tokio-metrics figures, sampled by the runner while a run goes on.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Scenario time it was taken at.
    pub at: Duration,
    pub runtime: RuntimeSample,
    /// Figures of tasks not yet done.
    pub tasks: Vec<(TaskIdx, TaskStats)>,
}

/// From tokio-metrics' `RuntimeMonitor`, over the last sampling interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RuntimeSample {
    pub workers: usize,
    /// Share of the interval the workers were busy (0..=1).
    pub busy_ratio: f64,
    pub global_queue: usize,
    pub local_queues: usize,
    pub blocking_queue: usize,
    pub blocking_threads: usize,
    pub polls: u64,
    pub steals: u64,
    pub parks: u64,
}

struct Buffer {
    events: Vec<Event>,
    dropped: u64,
    finished: bool,
    start: Option<Start>,
    /// Time of the newest event, for events recorded off the runtime.
    last: Duration,
}

/// Scenario time zero, on the clock the run uses.
#[derive(Clone, Copy)]
enum Start {
    /// tokio's clock: the paused (virtual) clock, read under its lock.
    Tokio(tokio::time::Instant),
    /// The real clock, read cheaply (the CPU's time-stamp counter where it
    /// is reliable): the probe reads the clock three times a poll.
    Real(quanta::Instant),
}

/// What one drain handed over.
pub struct Drained {
    pub dropped: u64,
    pub finished: bool,
}

static RUNS: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The task being polled on this thread, for "who woke whom".
    static CURRENT: Cell<Option<TaskIdx>> = const { Cell::new(None) };
    /// (run, worker number) of this thread.
    static WORKER: Cell<(u64, u16)> = const { Cell::new((0, 0)) };
}

/// Whether the current thread is polling a scenario task (for panic hooks).
pub fn in_task() -> bool {
    CURRENT.with(Cell::get).is_some()
}

impl Recorder {
    pub fn new(capacity: usize, lossless: bool) -> Arc<Recorder> {
        Arc::new(Recorder {
            buf: Mutex::new(Buffer {
                events: Vec::with_capacity(capacity.min(1 << 16)),
                dropped: 0,
                finished: false,
                start: None,
                last: Duration::ZERO,
            }),
            signal: Condvar::new(),
            capacity,
            lossless,
            run: RUNS.fetch_add(1, Ordering::Relaxed),
            next_worker: AtomicU16::new(0),
            cursor: AtomicU64::new(0),
            sample: Mutex::new(None),
            scale: AtomicU64::new(1.0f64.to_bits()),
        })
    }

    /// Real clock: scenario time runs at `scale` times the wall's (set
    /// before the run starts).
    pub fn set_time_scale(&self, scale: f64) {
        self.scale.store(scale.to_bits(), Ordering::Relaxed);
    }

    /// Scenario time per wall time.
    pub fn time_scale(&self) -> f64 {
        f64::from_bits(self.scale.load(Ordering::Relaxed))
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A panic while holding this lock cannot leave the buffer invalid.
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks scenario time zero; call inside the runtime before any task.
    pub fn start_clock(&self) {
        self.lock().start = Some(if self.lossless {
            Start::Tokio(tokio::time::Instant::now())
        } else {
            Start::Real(quanta::Instant::now())
        });
    }

    /// Scenario time now (the runtime's clock: virtual or real).
    fn now(&self, buf: &Buffer) -> Duration {
        let Some(start) = buf.start else {
            return Duration::ZERO;
        };
        // Never go back in time, whichever thread asks.
        let now = match start {
            // The virtual clock only moves on the runtime's thread, where
            // every wake-up happens (no helper threads run on it).
            Start::Tokio(start) => tokio::time::Instant::now().saturating_duration_since(start),
            Start::Real(start) => {
                let wall = quanta::Instant::now().saturating_duration_since(start);
                match self.time_scale() {
                    1.0 => wall,
                    scale => wall.mul_f64(scale),
                }
            }
        };
        now.max(buf.last)
    }

    /// Records one event, timed now, with the lock held for `f`.
    fn record(&self, f: impl FnOnce(Duration) -> Option<Event>) {
        let mut buf = self.lock();
        if buf.events.len() >= self.capacity {
            if self.lossless {
                while buf.events.len() >= self.capacity && !buf.finished {
                    buf = self.signal.wait(buf).unwrap_or_else(|e| e.into_inner());
                }
            } else {
                buf.dropped += 1;
                return;
            }
        }
        let now = if self.lossless && CURRENT.with(Cell::get).is_some() {
            Duration::from_nanos(self.cursor.load(Ordering::Relaxed)).max(buf.last)
        } else {
            let now = self.now(&buf);
            if self.lossless {
                self.cursor.store(now.as_nanos() as u64, Ordering::Relaxed);
            }
            now
        };
        if let Some(event) = f(now) {
            buf.last = now;
            buf.events.push(event);
            if buf.events.len() == self.capacity / 2 {
                self.signal.notify_all();
            }
        }
    }

    /// Scenario time now, as the probe would stamp an event.
    pub fn elapsed(&self) -> Duration {
        self.now(&self.lock())
    }

    /// Scenario time as seen from off the runtime (a sampler thread): the
    /// real clock, or on the virtual clock the newest event's time (tokio's
    /// paused clock can only be read on the runtime's thread).
    pub fn time_off_runtime(&self) -> Duration {
        let buf = self.lock();
        if self.lossless {
            buf.last
        } else {
            self.now(&buf)
        }
    }

    /// Moves all buffered events into `into`, waiting up to `wait` for some.
    pub fn drain(&self, into: &mut Vec<Event>, wait: Duration) -> Drained {
        let mut buf = self.lock();
        if buf.events.is_empty() && !buf.finished && !wait.is_zero() {
            buf = self
                .signal
                .wait_timeout(buf, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if into.is_empty() {
            // Hand over the whole buffer (and take the consumer's empty one,
            // keeping its capacity): no copying, no allocation.
            std::mem::swap(into, &mut buf.events);
        } else {
            into.append(&mut buf.events);
        }
        self.signal.notify_all();
        Drained {
            dropped: buf.dropped,
            finished: buf.finished,
        }
    }

    /// No more events will come; wakes the consumer.
    pub fn finish(&self) {
        self.lock().finished = true;
        self.signal.notify_all();
    }

    /// Publishes the newest live figures.
    pub fn publish(&self, sample: Sample) {
        *self.sample.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(sample));
    }

    /// The newest live figures, if any were sampled.
    pub fn sample(&self) -> Option<Arc<Sample>> {
        self.sample
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn is_finished(&self) -> bool {
        self.lock().finished
    }

    /// This thread's worker number in this run (assigned on first poll).
    fn worker(&self) -> u16 {
        WORKER.with(|w| {
            let (run, n) = w.get();
            if run == self.run {
                n
            } else {
                let n = self.next_worker.fetch_add(1, Ordering::Relaxed);
                w.set((self.run, n));
                n
            }
        })
    }

    /// Records a task's creation. `id` is tokio's task id.
    pub fn spawned(&self, probe: &TaskProbe, name: Arc<str>, id: u64, parent: Option<TaskIdx>) {
        self.record(|t| {
            Some(Event {
                t,
                task: probe.idx,
                step: 0,
                change: Change::Spawned {
                    name,
                    id,
                    spec: probe.spec,
                    parent,
                    kind: Kind::Task,
                },
            })
        });
    }
}

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
        self.record(|t| {
            Some(Event {
                t,
                task: idx,
                step,
                change: Change::Spawned {
                    name,
                    id,
                    spec,
                    parent: Some(parent),
                    kind,
                },
            })
        });
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

    fn record(&self, change: Change) {
        self.recorder.record(|t| {
            Some(Event {
                t,
                task: self.idx,
                step: self.step,
                change,
            })
        });
    }

    /// The OS put it on a CPU.
    pub fn on_cpu(&self) {
        self.record(Change::Running { worker: ON_CPU });
    }

    /// The OS took the CPU away: runnable, waiting for one.
    pub fn runnable(&self) {
        self.record(Change::Ready {
            by: WakeBy::Os,
            late: None,
        });
    }

    /// It ended; `os` is what the OS measured of it, if it could.
    pub fn done(&self, outcome: Outcome, os: Option<OsStats>) {
        self.record(Change::Done {
            outcome,
            stats: Box::new(TaskStats {
                busy: os.map_or(Duration::ZERO, |o| o.cpu),
                scheduled: os.map_or(Duration::ZERO, |o| o.runqueue),
                os,
                ..TaskStats::default()
            }),
        });
    }
}

const READY: u8 = 0;
const RUNNING: u8 = 1;
const WAITING: u8 = 2;
const DONE: u8 = 3;
/// Woken while being polled: ready again as soon as the poll ends.
const RUNNING_WOKEN: u8 = 4;
const NO_DUE: u64 = u64::MAX;
/// tokio's timer wheel ticks in milliseconds: a wake within one tick of its
/// due time is on time.
const ON_TIME: Duration = Duration::from_millis(1);

/// One task's probe: its state, what it waits for, and its tokio-metrics.
pub struct TaskProbe {
    idx: TaskIdx,
    spec: u32,
    recorder: Arc<Recorder>,
    state: AtomicU8,
    step: AtomicU32,
    /// Step of the newest Running event (to see a step change mid-poll).
    shown_step: AtomicU32,
    wait: AtomicU8,
    /// When the awaited timer or reply is due (ns of scenario time).
    due: AtomicU64,
    /// Who woke the task while it was running (encoded `WakeBy`).
    woken_by: AtomicU64,
    inner_waker: AtomicWaker,
    monitor: TaskMonitor,
}

impl TaskProbe {
    pub fn new(idx: TaskIdx, spec: u32, recorder: Arc<Recorder>) -> Arc<TaskProbe> {
        Arc::new(TaskProbe {
            idx,
            spec,
            recorder,
            state: AtomicU8::new(READY),
            step: AtomicU32::new(0),
            shown_step: AtomicU32::new(0),
            wait: AtomicU8::new(Wait::Yield as u8),
            due: AtomicU64::new(NO_DUE),
            woken_by: AtomicU64::new(0),
            inner_waker: AtomicWaker::new(),
            monitor: TaskMonitor::new(),
        })
    }

    pub fn idx(&self) -> TaskIdx {
        self.idx
    }

    /// Wraps a task's future so its polls and wakes are recorded.
    pub fn instrument<F: Future>(self: &Arc<Self>, future: F) -> Probed<F> {
        Probed {
            inner: self.monitor.instrument(future),
            waker: Waker::from(self.clone()),
            probe: self.clone(),
            finished: false,
        }
    }

    /// The interpreter starts step `step`; shown as a Running event when the
    /// step changes in the middle of a poll.
    pub fn begin_step(&self, step: u32) {
        self.step.store(step, Ordering::Relaxed);
        if self.shown_step.load(Ordering::Relaxed) == step {
            return;
        }
        let worker = self.recorder.worker();
        self.recorder.record(|t| {
            if self.state.load(Ordering::Relaxed) != RUNNING {
                return None;
            }
            self.shown_step.store(step, Ordering::Relaxed);
            Some(self.event(t, Change::Running { worker }))
        });
    }

    /// The interpreter is about to await `wait`, due at `due` (scenario time).
    pub fn set_wait(&self, wait: Wait, due: Option<Duration>) {
        self.wait.store(wait as u8, Ordering::Relaxed);
        self.due.store(
            due.map_or(NO_DUE, |d| d.as_nanos() as u64),
            Ordering::Relaxed,
        );
    }

    /// Scenario time now.
    pub fn now(&self) -> Duration {
        self.recorder.elapsed()
    }

    /// The interpreter charged `d` to the virtual clock inside this poll.
    pub fn charged(&self, d: Duration) {
        self.recorder
            .cursor
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    fn event(&self, t: Duration, change: Change) -> Event {
        Event {
            t,
            task: self.idx,
            step: self.step.load(Ordering::Relaxed),
            change,
        }
    }

    fn poll_started(&self, waker: &Waker) {
        // Clones the waker only when it changed.
        self.inner_waker.register(waker);
        let worker = self.recorder.worker();
        self.recorder.record(|t| {
            self.state.store(RUNNING, Ordering::Relaxed);
            self.shown_step
                .store(self.step.load(Ordering::Relaxed), Ordering::Relaxed);
            Some(self.event(t, Change::Running { worker }))
        });
    }

    fn poll_pending(&self) {
        self.recorder.record(|t| {
            if self.state.load(Ordering::Relaxed) == RUNNING_WOKEN {
                self.state.store(READY, Ordering::Relaxed);
                let by = decode_by(self.woken_by.load(Ordering::Relaxed));
                Some(self.event(t, Change::Ready { by, late: None }))
            } else {
                self.state.store(WAITING, Ordering::Relaxed);
                let wait = Wait::from_u8(self.wait.load(Ordering::Relaxed));
                let due = self.due.load(Ordering::Relaxed);
                let due = (due != NO_DUE).then(|| Duration::from_nanos(due));
                Some(self.event(t, Change::Waiting { wait, due }))
            }
        });
    }

    /// The task's tokio-metrics figures so far.
    /// In scenario time: on a slowed-down real clock tokio-metrics' wall
    /// times are scaled back.
    pub fn stats(&self) -> TaskStats {
        let m = self.monitor.cumulative();
        let scale = self.recorder.time_scale();
        let t = |d: Duration| if scale == 1.0 { d } else { d.mul_f64(scale) };
        TaskStats {
            polls: m.total_poll_count,
            busy: t(m.total_poll_duration),
            scheduled: t(m.total_scheduled_duration),
            idle: t(m.total_idle_duration),
            slow_polls: m.total_slow_poll_count,
            first_poll_delay: t(m.total_first_poll_delay),
            os: None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state.load(Ordering::Relaxed) == DONE
    }

    fn finished(&self, outcome: Outcome) {
        let stats = Box::new(self.stats());
        self.recorder.record(|t| {
            self.state.store(DONE, Ordering::Relaxed);
            Some(self.event(t, Change::Done { outcome, stats }))
        });
    }

    fn woken(&self) {
        let current = CURRENT.with(Cell::get);
        let wait = Wait::from_u8(self.wait.load(Ordering::Relaxed));
        let by = match current {
            Some(task) if task != self.idx => WakeBy::Task(task),
            Some(_) => WakeBy::Runtime,
            None => match wait {
                Wait::Timer => WakeBy::Timer,
                Wait::Io => WakeBy::Io,
                _ => WakeBy::Runtime,
            },
        };
        self.recorder
            .record(|t| match self.state.load(Ordering::Relaxed) {
                WAITING => {
                    self.state.store(READY, Ordering::Relaxed);
                    let due = self.due.load(Ordering::Relaxed);
                    let late = (due != NO_DUE)
                        .then(|| t.saturating_sub(Duration::from_nanos(due)))
                        .filter(|l| *l > ON_TIME);
                    Some(self.event(t, Change::Ready { by, late }))
                }
                RUNNING => {
                    self.state.store(RUNNING_WOKEN, Ordering::Relaxed);
                    self.woken_by.store(encode_by(by), Ordering::Relaxed);
                    None
                }
                _ => None,
            });
        // Once woken, the task will be polled, and its poll registers again.
        self.inner_waker.wake();
    }
}

fn encode_by(by: WakeBy) -> u64 {
    match by {
        WakeBy::Task(t) => u64::from(t) + 4,
        WakeBy::Timer => 0,
        WakeBy::Io => 1,
        WakeBy::Runtime => 2,
        WakeBy::Os => 3,
    }
}

fn decode_by(v: u64) -> WakeBy {
    match v {
        0 => WakeBy::Timer,
        1 => WakeBy::Io,
        2 => WakeBy::Runtime,
        3 => WakeBy::Os,
        t => WakeBy::Task((t - 4) as TaskIdx),
    }
}

impl Wake for TaskProbe {
    fn wake(self: Arc<Self>) {
        self.woken();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken();
    }
}

pin_project_lite::pin_project! {
    /// A task's future, observed: see the module docs.
    pub struct Probed<F> {
        #[pin]
        inner: Instrumented<F>,
        waker: Waker,
        probe: Arc<TaskProbe>,
        finished: bool,
    }

    impl<F> PinnedDrop for Probed<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.finished {
                this.probe.finished(Outcome::Cancelled);
            }
        }
    }
}

impl<F: Future> Future for Probed<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let probe: &TaskProbe = this.probe;
        probe.poll_started(cx.waker());
        let outer = CURRENT.with(|c| c.replace(Some(probe.idx)));
        let mut inner_cx = Context::from_waker(this.waker);
        let inner = this.inner;
        let result = catch_unwind(AssertUnwindSafe(|| inner.poll(&mut inner_cx)));
        // The poll's end is still recorded as inside the poll (for its time).
        let result = match result {
            Ok(Poll::Pending) => {
                probe.poll_pending();
                Ok(Poll::Pending)
            }
            Ok(Poll::Ready(v)) => {
                *this.finished = true;
                probe.finished(Outcome::Ok);
                Ok(Poll::Ready(v))
            }
            Err(payload) => {
                *this.finished = true;
                probe.finished(Outcome::Panicked(panic_message(payload.as_ref())));
                Err(payload)
            }
        };
        CURRENT.with(|c| c.set(outer));
        result.unwrap_or_else(|payload| resume_unwind(payload))
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked".to_string()
    }
}
