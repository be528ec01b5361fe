//! A scenario task's future, observed: [`TaskProbe`] is its state, wait and
//! figures; [`Probed`] wraps its future, records each poll's start and end,
//! and hands the future a waker that records who woke it.

use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use atomic_waker::AtomicWaker;

use super::state::{TaskState, WakeSource, Woken, classify_wake, lateness};
use super::times::Times;
use super::{CURRENT, PollEnd, Recorder, panic_message};
use crate::event::{Change, Outcome, TaskIdx, TaskStats, Wait};

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

    /// Real clock: the OS took this task's worker thread away in the middle
    /// of its poll, from raw count `off` to `on` of the real clock.
    pub fn off_cpu(&self, off: u64, on: u64) {
        let gone = self
            .recorder
            .at_raw(on)
            .saturating_sub(self.recorder.at_raw(off));
        let step = self.step.load(Ordering::Relaxed);
        self.recorder.record(
            self.idx,
            step,
            Change::OffCpu {
                gone: Duration::from_nanos(gone),
            },
        );
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
            Some(by) => WakeSource::Poll { by },
            None => WakeSource::Driver {
                same_turn: false,
                signal: false,
            },
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

impl Recorder {
    /// Records a task's creation. `id` is tokio's task id.
    pub fn spawned(&self, probe: &TaskProbe, name: Arc<str>, id: u64, parent: Option<TaskIdx>) {
        let t = self.record_with(probe.idx, 0, |_| Change::Spawned {
            name,
            id,
            spec: probe.spec,
            parent,
            kind: crate::event::Kind::Task,
        });
        probe.times.set_spawned(t);
    }
}
