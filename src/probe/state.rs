//! A task's state as the probe changes it, and how a wake is told apart:
//! who woke the task, and whether it was waiting or still in its poll.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use super::PollEnd;
use crate::event::{self, TaskIdx, Wait, WakeBy};

/// tokio's timer wheel ticks in milliseconds: a wake within one tick of its
/// due time is on time.
const ON_TIME: Duration = Duration::from_millis(1);

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
    /// In the poll of task `by` (maybe the woken task itself).
    Poll { by: TaskIdx },
    /// After task `by`'s future returned: its end, waking whoever joins it
    /// (`blocking`: a blocking job's end).
    End { by: TaskIdx, blocking: bool },
    /// Off any poll, on one of the runtime's threads: its drivers (timers,
    /// I/O, signals), or a `yield_now` handed back in the turn it began
    /// (`same_turn`); `signal`: a signal came while it waited, just now.
    Driver { same_turn: bool, signal: bool },
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
        // Another task's poll handed it something: an mpsc or broadcast
        // send, a `Notify`, a `watch` change (tokio names none of them).
        WakeSource::Poll { by } => (WakeBy::Task(by), Some(Wait::Channel)),
        WakeSource::End { by, blocking } => (
            WakeBy::Task(by),
            Some(if blocking { Wait::Blocking } else { Wait::Join }),
        ),
        WakeSource::Driver { same_turn, signal } => match wait {
            Wait::Timer => (WakeBy::Timer, None),
            Wait::Io => (WakeBy::Io, None),
            // Not named by tokio: the I/O driver's, unless it came back in
            // the turn its wait began (tokio defers a yield's wake so), or
            // a signal has just come (tokio's signal driver wakes from the
            // I/O driver's turn).
            Wait::Other if same_turn => (WakeBy::Runtime, Some(Wait::Yield)),
            Wait::Other if signal => (WakeBy::Runtime, Some(Wait::Signal)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_waiting_task_woken_is_recorded_ready_once_with_its_due_time() {
        let _limit = crate::test_limit::limit();
        let s = TaskState::new();
        s.poll_started();
        s.set_wait(Wait::Timer, Some(ms(100)));
        assert!(matches!(
            s.poll_pending(),
            Some(PollEnd::Waiting { wait: Wait::Timer, due }) if due == Some(ms(100))
        ));
        assert!(matches!(s.woken(WakeBy::Timer), Woken::Ready { due } if due == Some(ms(100))));
        // A second wake of a task already ready records nothing.
        assert!(matches!(s.woken(WakeBy::Io), Woken::Nothing));
    }

    #[test]
    fn a_task_woken_in_its_poll_is_ready_again_when_the_poll_ends_by_its_waker() {
        let _limit = crate::test_limit::limit();
        let s = TaskState::new();
        s.poll_started();
        s.set_wait(Wait::Channel, None);
        assert!(matches!(s.woken(WakeBy::Task(7)), Woken::InPoll));
        // The wake said once: a second one in the same poll adds nothing.
        assert!(matches!(s.woken(WakeBy::Task(8)), Woken::Nothing));
        assert!(matches!(
            s.poll_pending(),
            Some(PollEnd::Ready {
                by: WakeBy::Task(7)
            })
        ));
        // Ready, not waiting: a wake now records nothing either.
        assert!(matches!(s.woken(WakeBy::Timer), Woken::Nothing));
    }

    #[test]
    fn a_done_task_records_nothing_more() {
        let _limit = crate::test_limit::limit();
        let s = TaskState::new();
        s.poll_started();
        s.set_done();
        assert!(s.is_done());
        assert!(s.poll_pending().is_none());
        assert!(matches!(s.woken(WakeBy::Runtime), Woken::Nothing));
    }

    /// A wake from another thread racing the end of the poll: whichever
    /// changes the state first decides, and the task is made ready exactly
    /// once, by the wake or by the poll's end, never both and never neither.
    #[test]
    fn a_wake_racing_the_end_of_a_poll_makes_the_task_ready_exactly_once() {
        let _limit = crate::test_limit::limit();
        let (mut by_wake, mut by_poll_end) = (0, 0);
        for _ in 0..2_000 {
            let s = Arc::new(TaskState::new());
            s.poll_started();
            s.set_wait(Wait::Io, None);
            let start = Arc::new(Barrier::new(2));
            let (s2, start2) = (s.clone(), start.clone());
            let waker = std::thread::spawn(move || {
                start2.wait();
                s2.woken(WakeBy::Io)
            });
            start.wait();
            let ended = s.poll_pending();
            let woke = waker.join().unwrap();
            match (ended, woke) {
                // The poll ended first, waiting; the wake then readied it.
                (Some(PollEnd::Waiting { .. }), Woken::Ready { .. }) => by_wake += 1,
                // The wake came first, in the poll; its end readied it.
                (Some(PollEnd::Ready { by: WakeBy::Io }), Woken::InPoll) => by_poll_end += 1,
                _ => panic!("the task was made ready twice or not at all"),
            }
        }
        assert_eq!(by_wake + by_poll_end, 2_000);
    }

    #[test]
    fn a_wake_is_told_by_where_it_came_from() {
        let _limit = crate::test_limit::limit();
        use WakeSource::*;
        let me = 1;
        // In a poll: another task's, or its own (a self-wake is the runtime's).
        assert_eq!(
            classify_wake(me, Wait::Lock, Poll { by: 2 }),
            (WakeBy::Task(2), None)
        );
        assert_eq!(
            classify_wake(me, Wait::Yield, Poll { by: me }),
            (WakeBy::Runtime, None)
        );
        // A wait tokio did not name is learnt from its waker.
        assert_eq!(
            classify_wake(me, Wait::Other, Poll { by: 2 }),
            (WakeBy::Task(2), Some(Wait::Channel))
        );
        assert_eq!(
            classify_wake(
                me,
                Wait::Other,
                End {
                    by: 2,
                    blocking: false
                }
            ),
            (WakeBy::Task(2), Some(Wait::Join))
        );
        assert_eq!(
            classify_wake(
                me,
                Wait::Other,
                End {
                    by: 2,
                    blocking: true
                }
            ),
            (WakeBy::Task(2), Some(Wait::Blocking))
        );
        // A named wait keeps its name whoever wakes it.
        assert_eq!(
            classify_wake(
                me,
                Wait::Join,
                End {
                    by: 2,
                    blocking: true
                }
            ),
            (WakeBy::Task(2), None)
        );
        // Off any poll: the drivers, or a yield handed back in its turn.
        assert_eq!(
            classify_wake(
                me,
                Wait::Timer,
                Driver {
                    same_turn: false,
                    signal: false
                }
            ),
            (WakeBy::Timer, None)
        );
        assert_eq!(
            classify_wake(
                me,
                Wait::Io,
                Driver {
                    same_turn: true,
                    signal: false
                }
            ),
            (WakeBy::Io, None)
        );
        assert_eq!(
            classify_wake(
                me,
                Wait::Other,
                Driver {
                    same_turn: false,
                    signal: false
                }
            ),
            (WakeBy::Io, Some(Wait::Io))
        );
        assert_eq!(
            classify_wake(
                me,
                Wait::Other,
                Driver {
                    same_turn: true,
                    signal: false
                }
            ),
            (WakeBy::Runtime, Some(Wait::Yield))
        );
        // A signal came while it waited, just before the drivers' wake.
        assert_eq!(
            classify_wake(
                me,
                Wait::Other,
                Driver {
                    same_turn: false,
                    signal: true
                }
            ),
            (WakeBy::Runtime, Some(Wait::Signal))
        );
        // A timer due as a signal came is still the timer's.
        assert_eq!(
            classify_wake(
                me,
                Wait::Timer,
                Driver {
                    same_turn: false,
                    signal: true
                }
            ),
            (WakeBy::Timer, None)
        );
        assert_eq!(
            classify_wake(
                me,
                Wait::Yield,
                Driver {
                    same_turn: false,
                    signal: false
                }
            ),
            (WakeBy::Runtime, None)
        );
        assert_eq!(
            classify_wake(me, Wait::Timer, Outside),
            (WakeBy::Runtime, None)
        );
    }

    #[test]
    fn a_wake_within_a_millisecond_of_its_due_time_is_on_time() {
        let _limit = crate::test_limit::limit();
        assert_eq!(lateness(ms(101), Some(ms(100))), None);
        assert_eq!(lateness(ms(135), Some(ms(100))), Some(ms(35)));
        assert_eq!(lateness(ms(135), None), None);
    }
}
