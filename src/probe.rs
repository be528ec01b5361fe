//! The probe: turns scheduling into [`Event`]s without touching tokio's
//! internals.
//!
//! Each task's future is wrapped in [`Probed`], which records a poll's start
//! and end and hands the inner future a waker of its own, so every wake-up
//! is seen with who caused it. A task's figures (polls, busy, scheduled,
//! idle) are counted as tokio-metrics' `TaskMonitor` counts them, from the
//! same clock reads ([`Times`]).
//! The step interpreter tells the probe what the task is about to wait for
//! ([`TaskProbe::set_wait`]); the probe records what really happened.
//!
//! Events go into a [`Recorder`]: a buffer per thread (a poll is one entry)
//! that a consumer drains, in time order, while the run goes on. A task's
//! state changes with compare-and-swap, so a wake from another thread and
//! the end of its poll never record the same change twice.

mod recorder;

/// The event types live at the bottom of the crate ([`crate::event`]).
pub use crate::event;

use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use atomic_waker::AtomicWaker;

pub use event::{Change, Event, Kind, ON_CPU, OsStats, Outcome, TaskIdx, TaskStats, Wait, WakeBy};

use event::nanos as ns;
pub(crate) use recorder::PollEnd;
pub use recorder::{DASHBOARD_CAPACITY, DEFAULT_CAPACITY, Drained, Recorder};

/// Live tokio-metrics figures, sampled by the runner while a run goes on.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Scenario time it was taken at.
    pub at: Duration,
    pub runtime: RuntimeSample,
    /// Figures of tasks not yet done.
    pub tasks: Vec<(TaskIdx, TaskStats)>,
}

impl Sample {
    /// The same sample without the tasks' figures.
    pub fn runtime_only(&self) -> Sample {
        Sample {
            at: self.at,
            runtime: self.runtime,
            tasks: Vec::new(),
        }
    }
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
    /// Steals so far in the run (a busy worker hands its count in when it
    /// next parks).
    pub steals: u64,
    pub parks: u64,
}

thread_local! {
    /// The task being polled on this thread, for "who woke whom".
    pub(crate) static CURRENT: Cell<Option<TaskIdx>> = const { Cell::new(None) };
}

/// Whether the current thread is polling a scenario task (for panic hooks).
pub fn in_task() -> bool {
    CURRENT.with(Cell::get).is_some()
}

impl Recorder {
    /// Records a task's creation. `id` is tokio's task id.
    pub fn spawned(&self, probe: &TaskProbe, name: Arc<str>, id: u64, parent: Option<TaskIdx>) {
        let t = self.record_with(probe.idx, 0, |_| Change::Spawned {
            name,
            id,
            spec: probe.spec,
            parent,
            kind: Kind::Task,
        });
        probe.times.set_spawned(t);
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

/// tokio's timer wheel ticks in milliseconds: a wake within one tick of its
/// due time is on time.
const ON_TIME: Duration = Duration::from_millis(1);

/// A task's figures, counted as tokio-metrics' `TaskMonitor` counts them,
/// from the times the probe stamps its transitions with (so in scenario
/// time, with no clock read of their own). Shared by scenario tasks and
/// your own code's (`crate::watch`).
#[derive(Debug)]
pub(crate) struct Times {
    /// When the current state began (ns of scenario time): until the
    /// first poll, the spawn.
    since: AtomicU64,
    polls: AtomicU64,
    busy: AtomicU64,
    scheduled: AtomicU64,
    idle: AtomicU64,
    slow_polls: AtomicU64,
    /// NO_DUE until the first poll starts.
    first_poll_delay: AtomicU64,
}

/// A poll longer than this is slow (tokio-metrics' default threshold).
pub const SLOW_POLL: Duration = tokio_metrics::TaskMonitor::DEFAULT_SLOW_POLL_THRESHOLD;

/// Adds to a figure only its task's poll or wake changes (no lock: one
/// change at a time, as the task's state allows).
fn add(figure: &AtomicU64, d: u64) {
    figure.store(
        figure.load(Ordering::Relaxed).saturating_add(d),
        Ordering::Relaxed,
    );
}

impl Times {
    pub(crate) fn stats(&self) -> TaskStats {
        let d = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
        let first = self.first_poll_delay.load(Ordering::Relaxed);
        TaskStats {
            polls: self.polls.load(Ordering::Relaxed),
            busy: d(&self.busy),
            scheduled: d(&self.scheduled),
            idle: d(&self.idle),
            slow_polls: self.slow_polls.load(Ordering::Relaxed),
            first_poll_delay: Duration::from_nanos(if first == NO_DUE { 0 } else { first }),
            os: None,
        }
    }

    /// A task spawned at `now`.
    pub(crate) fn spawned_at(now: Duration) -> Times {
        let now = ns(now);
        Times {
            since: AtomicU64::new(now),
            polls: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            scheduled: AtomicU64::new(0),
            idle: AtomicU64::new(0),
            slow_polls: AtomicU64::new(0),
            first_poll_delay: AtomicU64::new(NO_DUE),
        }
    }

    /// Spawned at `now` (for a probe made before its spawn was recorded).
    pub(crate) fn set_spawned(&self, now: Duration) {
        self.since.store(ns(now), Ordering::Relaxed);
    }

    /// Its first poll has started.
    pub(crate) fn has_started(&self) -> bool {
        self.first_poll_delay.load(Ordering::Relaxed) != NO_DUE
    }

    /// The time since the current state began, and `now` begins the next.
    fn lap(&self, now: Duration) -> u64 {
        let now = ns(now);
        // A load and a store, not a swap (a locked instruction): one change
        // at a time, as for the figures.
        let since = self.since.load(Ordering::Relaxed);
        self.since.store(now, Ordering::Relaxed);
        now.saturating_sub(since)
    }

    pub(crate) fn poll_start(&self, now: Duration) {
        let waited = self.lap(now);
        // As tokio-metrics counts: the wait for the first poll is its own.
        if self.has_started() {
            add(&self.scheduled, waited);
        } else {
            self.first_poll_delay.store(waited, Ordering::Relaxed);
        }
    }

    /// As tokio-metrics counts: a poll counts once it has ended.
    pub(crate) fn poll_end(&self, now: Duration) {
        let poll = self.lap(now);
        add(&self.polls, 1);
        add(&self.busy, poll);
        add(&self.slow_polls, u64::from(poll > ns(SLOW_POLL)));
    }

    pub(crate) fn woken(&self, now: Duration) {
        add(&self.idle, self.lap(now));
    }
}

impl Default for Times {
    fn default() -> Times {
        Times::spawned_at(Duration::ZERO)
    }
}

/// One task's probe: its state, what it waits for, and its figures.
pub struct TaskProbe {
    idx: TaskIdx,
    spec: u32,
    recorder: Arc<Recorder>,
    state: TaskState,
    step: AtomicU32,
    /// Step of the newest Running event (to see a step change mid-poll).
    shown_step: AtomicU32,
    inner_waker: Forward,
    times: Times,
}

/// The waker of the task's own poll, which the probe's waker passes wakes
/// on to. tokio hands a task the same waker on every poll, so it is kept
/// from the first poll and woken by reference: no clone per poll and none
/// taken per wake. A poll with another waker (not tokio's) falls back to
/// an [`AtomicWaker`].
#[derive(Default)]
struct Forward {
    first: OnceLock<Waker>,
    /// A poll came with a waker other than the first.
    moved: AtomicBool,
    other: AtomicWaker,
}

impl Forward {
    fn register(&self, waker: &Waker) {
        if !self.moved.load(Ordering::Acquire) {
            match self.first.get() {
                Some(first) if first.will_wake(waker) => return,
                Some(_) => {}
                None => {
                    if self.first.set(waker.clone()).is_ok() {
                        return;
                    }
                }
            }
        }
        self.other.register(waker);
        self.moved.store(true, Ordering::Release);
    }

    fn wake(&self) {
        if !self.moved.load(Ordering::Acquire) {
            if let Some(first) = self.first.get() {
                first.wake_by_ref();
            }
            // Still the first: done (a poll switching wakers meanwhile is
            // woken below).
            if !self.moved.load(Ordering::Acquire) {
                return;
            }
        }
        self.other.wake();
    }
}

const READY: u8 = 0;
const RUNNING: u8 = 1;
const WAITING: u8 = 2;
const DONE: u8 = 3;
/// Woken while being polled: ready again as soon as the poll ends.
const RUNNING_WOKEN: u8 = 4;
const NO_DUE: u64 = event::NO_TIME;

/// A task's state as the probe changes it: with compare-and-swap, since a
/// wake from another thread may race the end of its poll, and whoever
/// changes the state first decides what is recorded. Shared by scenario
/// tasks ([`TaskProbe`]) and your own code's (`crate::watch`).
pub(crate) struct TaskState {
    state: AtomicU8,
    wait: AtomicU8,
    /// When the awaited timer or reply is due (ns of scenario time).
    due: AtomicU64,
    /// Who woke the task while it was running (encoded `WakeBy`).
    woken_by: AtomicU64,
}

/// What a wake changed.
pub(crate) enum Woken {
    /// It was waiting: record it ready; `due` was its wait's due time.
    Ready { due: Option<Duration> },
    /// It was running: its poll's end records it ready.
    InPoll,
    /// Already ready or done: nothing to record.
    Nothing,
}

impl TaskState {
    pub(crate) fn new() -> TaskState {
        TaskState {
            state: AtomicU8::new(READY),
            wait: AtomicU8::new(Wait::Yield as u8),
            due: AtomicU64::new(NO_DUE),
            woken_by: AtomicU64::new(0),
        }
    }

    /// What the task is about to await, due at `due` (scenario time).
    pub(crate) fn set_wait(&self, wait: Wait, due: Option<Duration>) {
        self.wait.store(wait as u8, Ordering::Relaxed);
        self.due.store(event::opt_nanos(due), Ordering::Relaxed);
    }

    pub(crate) fn wait(&self) -> Wait {
        Wait::from_u8(self.wait.load(Ordering::Relaxed))
    }

    pub(crate) fn is_running(&self) -> bool {
        self.state.load(Ordering::Relaxed) == RUNNING
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state.load(Ordering::Relaxed) == DONE
    }

    pub(crate) fn poll_started(&self) {
        self.state.store(RUNNING, Ordering::Release);
    }

    pub(crate) fn set_done(&self) {
        self.state.store(DONE, Ordering::Release);
    }

    /// The poll returned Pending: how it ended (None: it is done).
    pub(crate) fn poll_pending(&self) -> Option<PollEnd> {
        loop {
            match self
                .state
                .compare_exchange(RUNNING, WAITING, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    let due = self.due.load(Ordering::Relaxed);
                    let due = event::from_opt_nanos(due);
                    return Some(PollEnd::Waiting {
                        wait: self.wait(),
                        due,
                    });
                }
                Err(RUNNING_WOKEN) => {
                    if self
                        .state
                        .compare_exchange(RUNNING_WOKEN, READY, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        let by = WakeBy::decode(self.woken_by.load(Ordering::Acquire));
                        return Some(PollEnd::Ready { by });
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// A wake by `by`.
    pub(crate) fn woken(&self, by: WakeBy) -> Woken {
        loop {
            match self.state.load(Ordering::Acquire) {
                WAITING => {
                    if self
                        .state
                        .compare_exchange(WAITING, READY, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        let due = self.due.load(Ordering::Relaxed);
                        return Woken::Ready {
                            due: event::from_opt_nanos(due),
                        };
                    }
                }
                RUNNING => {
                    // Said before the state changes, so the poll's end reads it.
                    self.woken_by.store(by.encode(), Ordering::Release);
                    if self
                        .state
                        .compare_exchange(
                            RUNNING,
                            RUNNING_WOKEN,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        )
                        .is_ok()
                    {
                        return Woken::InPoll;
                    }
                }
                _ => return Woken::Nothing,
            }
        }
    }
}

/// Where a wake came from, as the thread that wakes the task sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WakeSource {
    /// In the poll of task `by` (maybe the woken task itself); `sent`: the
    /// poll got a bounded channel's permit.
    Poll { by: TaskIdx, sent: bool },
    /// After task `by`'s future returned: its end, waking whoever joins it
    /// (`blocking`: a blocking job's end).
    End { by: TaskIdx, blocking: bool },
    /// Off any poll, on one of the runtime's threads: its drivers (timers,
    /// I/O), or a `yield_now` handed back in the turn it began (`same_turn`).
    Driver { same_turn: bool },
    /// Anywhere else: a thread of its own.
    Outside,
}

/// The one wake classification: who woke task `me`, which waited on
/// `wait`, from `source`; and, for a wait tokio did not name (`Other`),
/// what it turned out to be.
pub(crate) fn classify_wake(me: TaskIdx, wait: Wait, source: WakeSource) -> (WakeBy, Option<Wait>) {
    let (by, learnt) = match source {
        WakeSource::Poll { by, .. } | WakeSource::End { by, .. } if by == me => {
            (WakeBy::Runtime, None)
        }
        WakeSource::Poll { by, sent } => (WakeBy::Task(by), sent.then_some(Wait::Channel)),
        WakeSource::End { by, blocking } => (
            WakeBy::Task(by),
            Some(if blocking { Wait::Blocking } else { Wait::Join }),
        ),
        WakeSource::Driver { same_turn } => match wait {
            Wait::Timer => (WakeBy::Timer, None),
            Wait::Io => (WakeBy::Io, None),
            // Not named by tokio: the I/O driver's, unless it came back in
            // the turn its wait began (tokio defers a yield's wake so).
            Wait::Other if same_turn => (WakeBy::Runtime, Some(Wait::Yield)),
            Wait::Other => (WakeBy::Io, Some(Wait::Io)),
            _ => (WakeBy::Runtime, None),
        },
        WakeSource::Outside => (WakeBy::Runtime, None),
    };
    (by, learnt.filter(|_| wait == Wait::Other))
}

/// How late a wake at `t` is for a wait due at `due` (on time: None).
pub(crate) fn lateness(t: Duration, due: Option<Duration>) -> Option<Duration> {
    due.map(|d| t.saturating_sub(d)).filter(|l| *l > ON_TIME)
}

impl TaskProbe {
    pub fn new(idx: TaskIdx, spec: u32, recorder: Arc<Recorder>) -> Arc<TaskProbe> {
        Arc::new(TaskProbe {
            idx,
            spec,
            recorder,
            state: TaskState::new(),
            step: AtomicU32::new(0),
            shown_step: AtomicU32::new(0),
            inner_waker: Forward::default(),
            times: Times::default(),
        })
    }

    pub fn idx(&self) -> TaskIdx {
        self.idx
    }

    /// Wraps a task's future so its polls and wakes are recorded.
    pub fn instrument<F: Future>(self: &Arc<Self>, future: F) -> Probed<F> {
        Probed {
            inner: future,
            waker: Waker::from(self.clone()),
            probe: self.clone(),
            finished: false,
        }
    }

    /// The interpreter starts step `step`; shown as a Running transition
    /// when the step changes in the middle of a poll.
    pub fn begin_step(&self, step: u32) {
        self.step.store(step, Ordering::Relaxed);
        if self.shown_step.load(Ordering::Relaxed) == step || !self.state.is_running() {
            return;
        }
        self.shown_step.store(step, Ordering::Relaxed);
        self.recorder.poll_step(self.idx, step);
    }

    /// The interpreter is about to await `wait`, due at `due` (scenario time).
    pub fn set_wait(&self, wait: Wait, due: Option<Duration>) {
        self.state.set_wait(wait, due);
    }

    /// Scenario time now.
    pub fn now(&self) -> Duration {
        self.recorder.elapsed()
    }

    /// The interpreter charged `d` to the virtual clock inside this poll.
    pub fn charged(&self, d: Duration) {
        self.recorder.charged(d);
    }

    fn poll_started(&self, waker: &Waker) {
        // Clones the waker only when it changed.
        self.inner_waker.register(waker);
        self.state.poll_started();
        let step = self.step.load(Ordering::Relaxed);
        self.shown_step.store(step, Ordering::Relaxed);
        let t = self.recorder.poll_start(self.idx, step);
        self.times.poll_start(t);
    }

    fn poll_pending(&self) {
        if let Some(how) = self.state.poll_pending() {
            self.recorder
                .poll_end(self.step.load(Ordering::Relaxed), |end| {
                    self.times.poll_end(end);
                    how
                });
        }
    }

    /// The task's figures so far (in scenario time).
    pub fn stats(&self) -> TaskStats {
        self.times.stats()
    }

    pub fn is_done(&self) -> bool {
        self.state.is_done()
    }

    /// It ended: inside its poll (`in_poll`), the poll ends with it.
    fn finished(&self, outcome: Outcome, in_poll: bool) {
        self.state.set_done();
        let step = self.step.load(Ordering::Relaxed);
        if in_poll {
            self.recorder.poll_end(step, |end| {
                self.times.poll_end(end);
                PollEnd::Done(outcome, Arc::new(self.times.stats()))
            });
        } else {
            let stats = Arc::new(self.stats());
            self.recorder
                .record(self.idx, step, Change::Done { outcome, stats });
        }
    }

    fn woken(&self) {
        // A scenario task's wait is always named: off a poll, its driver.
        let source = match CURRENT.with(Cell::get) {
            Some(by) => WakeSource::Poll { by, sent: false },
            None => WakeSource::Driver { same_turn: false },
        };
        let (by, _) = classify_wake(self.idx, self.state.wait(), source);
        if let Woken::Ready { due } = self.state.woken(by) {
            let step = self.step.load(Ordering::Relaxed);
            self.recorder.record_with(self.idx, step, |t| {
                // A poll that starts at once on another worker may count a
                // few nanoseconds of this wait as scheduled: as in
                // tokio-metrics, figures are counted without a lock.
                self.times.woken(t);
                Change::Ready {
                    by,
                    late: lateness(t, due),
                    waited: None,
                }
            });
        }
        self.inner_waker.wake();
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
        inner: F,
        waker: Waker,
        probe: Arc<TaskProbe>,
        finished: bool,
    }

    impl<F> PinnedDrop for Probed<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.finished {
                this.probe.finished(Outcome::Cancelled, false);
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
                probe.finished(Outcome::Ok, true);
                Ok(Poll::Ready(v))
            }
            Err(payload) => {
                *this.finished = true;
                probe.finished(Outcome::Panicked(panic_message(payload.as_ref())), true);
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
