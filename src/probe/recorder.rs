//! The recorder: where the probe puts what happened, and where a consumer
//! takes it out, in time order.
//!
//! Every thread that records has a ring of its own, so workers never wait
//! for each other. An entry is 48 bytes of plain data: a poll is one entry
//! (its start, end, worker, steps and how it ended), written when the poll
//! ends, and a wake is one. A poll's start gets an entry of its own only
//! when something is recorded inside the poll (before that, so a thread's
//! entries are in time order). The rare transitions that carry more (a
//! spawn with its name, an end with its figures) go to a side list, and an
//! entry marks their place. The poll in progress is also in a small slot
//! beside the ring, so a consumer can show it while it runs.
//!
//! The consumer ([`Recorder::drain_each`]) turns entries into transitions
//! ([`Event`]s) and hands them over in time order: when one thread has
//! recorded, straight from its ring; when several have, merged. It holds
//! back what a thread could still precede (a poll in progress, a thread
//! caught between reading the clock and writing), and nothing else.
//!
//! Its parts: the clock events are stamped with ([`clock`]), each thread's
//! ring ([`ring`]), the consumer's merge ([`merge`]) and the mailbox for
//! live figures ([`mailbox`]).

pub(crate) mod clock;
mod cpus;
mod mailbox;
mod merge;
mod ring;

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use self::clock::Clock;
use self::mailbox::Mailbox;
use self::merge::Merge;
use self::ring::{Entry, Local, NO_WAIT, OpenPoll, Polling, ThreadBuf, What};
use super::Sample;
use super::event::{Change, Event, NO_TIME, Outcome, TaskIdx, TaskStats, Wait, WakeBy, opt_nanos};

/// Entries a thread's ring holds before its thread waits (lossless) or
/// drops them.
pub const DEFAULT_CAPACITY: usize = 1 << 18;

/// The dashboard's: it drains every frame, so a smaller ring is room
/// enough (65,536 entries every 33 ms is two million a second).
pub const DASHBOARD_CAPACITY: usize = 1 << 16;

const NONE: u64 = NO_TIME;

/// How a poll ended.
#[derive(Debug)]
pub(crate) enum PollEnd {
    Waiting {
        wait: Wait,
        due: Option<Duration>,
    },
    /// Woken during the poll: ready again at once.
    Ready {
        by: WakeBy,
    },
    Done(Outcome, Arc<TaskStats>),
}

/// What one drain handed over.
pub struct Drained {
    pub dropped: u64,
    pub finished: bool,
}

/// A thread that records its transitions late (a time slice is known once
/// it ends, past) keeps the consumer from handing over anything later than
/// its hold, which it moves on as its clock reads do; dropped, it lets go.
pub struct Hold {
    at: Arc<AtomicU64>,
}

impl Hold {
    /// Nothing this thread records from now on is earlier than `t` (ns).
    #[inline]
    pub fn move_to(&self, t: u64) {
        self.at.store(t, Ordering::Release);
    }
}

pub struct Recorder {
    threads: Mutex<Vec<Arc<ThreadBuf>>>,
    /// The holds of threads that record late ([`Hold`]).
    holds: Mutex<Vec<Arc<AtomicU64>>>,
    /// Buffers of threads that ended, for the next ones.
    spares: Arc<ring::Spares>,
    merge: Mutex<Merge>,
    /// Signalled when buffers are drained (for a thread waiting for room)
    /// and when the run finishes (for the consumer).
    room: Condvar,
    room_lock: Mutex<()>,
    capacity: usize,
    /// The run is on the virtual clock: wait for room instead of dropping
    /// (real waiting is free there), and read tokio's paused clock.
    lossless: bool,
    /// Distinguishes runs, so thread-local buffers are never stale.
    run: u64,
    next_worker: AtomicU16,
    clock: Clock,
    finished: AtomicBool,
    dropped: AtomicU64,
    /// The newest live figures from the runner's sampler.
    sample: Mailbox,
}

impl Recorder {
    pub fn new(capacity: usize, lossless: bool) -> Arc<Recorder> {
        Arc::new(Recorder {
            threads: Mutex::new(Vec::new()),
            holds: Mutex::new(Vec::new()),
            spares: Arc::new(Mutex::new(Vec::new())),
            merge: Mutex::new(Merge::default()),
            room: Condvar::new(),
            room_lock: Mutex::new(()),
            capacity: capacity.max(16),
            lossless,
            run: ring::new_run(),
            next_worker: AtomicU16::new(0),
            clock: Clock::new(lossless),
            finished: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            sample: Mailbox::default(),
        })
    }

    /// Real clock: scenario time runs at `scale` times the wall's (set
    /// before the run starts).
    pub fn set_time_scale(&self, scale: f64) {
        self.clock.set_scale(scale);
    }

    /// Scenario time per wall time.
    pub fn time_scale(&self) -> f64 {
        self.clock.scale()
    }

    /// Marks scenario time zero; call inside the runtime before any task.
    pub fn start_clock(&self) {
        self.clock.start();
    }

    /// The runtime parked (and tokio may have moved its paused clock on):
    /// the next event reads the clock again.
    #[inline]
    pub fn clock_moved(&self) {
        self.clock.moved();
    }

    /// Virtual clock: the runtime is shutting down (tokio's clock cannot be
    /// read there): what is recorded from now on is stamped with the last
    /// time read.
    pub fn hold_clock(&self) {
        self.clock.hold();
    }

    /// Virtual clock: `d` was charged to tokio's clock inside a poll.
    #[inline]
    pub(crate) fn charged(&self, d: Duration) {
        self.clock.charge(d);
    }

    /// Scenario time now, as the probe would stamp an event.
    #[inline]
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Scenario time as seen from off the runtime (a sampler thread): the
    /// real clock, or on the virtual clock the newest time the probe saw
    /// (tokio's paused clock can only be read on the runtime's thread).
    pub fn time_off_runtime(&self) -> Duration {
        self.clock.off_runtime()
    }

    /// Records one transition, timed now.
    pub(crate) fn record(&self, task: TaskIdx, step: u32, change: Change) {
        self.record_with(task, step, |_| change);
    }

    /// Records the transition `change(now)` makes, timed now; returns now.
    pub(crate) fn record_with(
        &self,
        task: TaskIdx,
        step: u32,
        change: impl FnOnce(Duration) -> Change,
    ) -> Duration {
        self.with_local(|l| {
            let now = self.clock.now_on(l.on_runtime);
            let t = Duration::from_nanos(now);
            self.inside_poll(l);
            self.write(l, task, step, now, change(t));
            t
        })
    }

    /// Records `change` at scenario time `t` (ns), which may be past: a
    /// thread's or process's time slice, known once it ends. What this
    /// thread records stays in time order, and a [`Hold`] of its keeps the
    /// consumer from handing over anything later than `t` before it.
    pub(crate) fn record_at(&self, task: TaskIdx, step: u32, t: u64, change: Change) {
        self.with_local(|l| {
            self.inside_poll(l);
            self.write(l, task, step, t, change);
        });
    }

    /// Writes one transition stamped `now` to this thread's ring.
    #[inline]
    fn write(&self, l: &mut Local, task: TaskIdx, step: u32, now: u64, change: Change) {
        let mut entry = Entry::new(What::Side, task, step, now);
        match change {
            Change::Ready { by, late, waited } => {
                entry.what = What::Ready;
                entry.arg = by.encode();
                entry.end = opt_nanos(late);
                entry.wait = waited.map_or(NO_WAIT, |w| w as u8);
                self.push(l, entry);
            }
            Change::Running { worker } => {
                entry.what = What::Running;
                entry.worker = worker;
                self.push(l, entry);
            }
            change => self.push_side(
                l,
                entry,
                Event {
                    t: Duration::from_nanos(now),
                    task,
                    step,
                    change,
                },
            ),
        }
    }

    /// Real clock: the scenario time (ns) of a raw count of the process's
    /// real clock ([`crate::probe::real_clock`]), read here or in a child.
    pub(crate) fn at_raw(&self, raw: u64) -> u64 {
        self.clock.at_raw(raw)
    }

    /// A hold on the horizon, at `t` (ns) for now: see [`Hold`].
    pub(crate) fn hold(&self, t: u64) -> Hold {
        let at = Arc::new(AtomicU64::new(t));
        self.holds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(at.clone());
        Hold { at }
    }

    /// The earliest time a hold is at (NONE: none).
    fn held_at(&self) -> u64 {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        // A hold whose thread let go is only ours now.
        holds.retain(|h| Arc::strong_count(h) > 1);
        holds
            .iter()
            .map(|h| h.load(Ordering::Acquire))
            .min()
            .unwrap_or(NONE)
    }

    /// A poll of `task` at step `step` starts on this thread, now (returned).
    pub(crate) fn poll_start(&self, task: TaskIdx, step: u32) -> Duration {
        self.with_local(|l| {
            let worker = *l
                .worker
                .get_or_insert_with(|| self.next_worker.fetch_add(1, Ordering::Relaxed));
            let t = self.clock.now_on(l.on_runtime);
            let poll = l.next_poll;
            l.next_poll = poll.wrapping_add(1);
            l.buf.open.show(OpenPoll {
                poll,
                task,
                worker,
                step,
                start: t,
            });
            l.polling = Some(Polling {
                poll,
                task,
                worker,
                step,
                start: t,
                written: false,
            });
            Duration::from_nanos(t)
        })
    }

    /// The step of the poll in progress changed (a Running transition).
    pub(crate) fn poll_step(&self, task: TaskIdx, step: u32) {
        let worker = self.with_local(|l| l.polling.map(|p| p.worker));
        if let Some(worker) = worker {
            self.record(task, step, Change::Running { worker });
        }
    }

    /// The poll in progress ended at step `end_step`, as `how(now)` says:
    /// one entry for the whole poll.
    pub(crate) fn poll_end(&self, end_step: u32, how: impl FnOnce(Duration) -> PollEnd) {
        self.with_local(|l| {
            let Some(p) = l.polling.take() else {
                return;
            };
            let end = self.clock.now_on(l.on_runtime);
            let mut entry = Entry::new(What::PollWaiting, p.task, p.step, p.start);
            entry.worker = p.worker;
            entry.poll = p.poll;
            entry.end_step = end_step;
            entry.end = end;
            match how(Duration::from_nanos(end)) {
                PollEnd::Waiting { wait, due } => {
                    entry.wait = wait as u8;
                    entry.arg = opt_nanos(due);
                    self.push(l, entry);
                }
                PollEnd::Ready { by } => {
                    entry.what = What::PollReady;
                    entry.arg = by.encode();
                    self.push(l, entry);
                }
                PollEnd::Done(outcome, stats) => {
                    entry.what = What::PollSide;
                    let done = Event {
                        t: Duration::from_nanos(end),
                        task: p.task,
                        step: end_step,
                        change: Change::Done { outcome, stats },
                    };
                    self.push_side(l, entry, done);
                }
            }
            l.buf.open.close();
        });
    }

    /// Moves every transition ready to be handed over into `into`, in
    /// time order (see [`Recorder::drain_each`]).
    pub fn drain(&self, into: &mut Vec<Event>, wait: Duration) -> Drained {
        self.drain_each(wait, |e| into.push(e))
    }

    /// Hands every transition ready to be handed over to `each`, in time
    /// order, waiting up to `wait` for the run to finish if there are none.
    pub fn drain_each(&self, wait: Duration, mut each: impl FnMut(Event)) -> Drained {
        let finished = self.wait_for_entries(wait);
        let mut horizon = self.horizon(finished);
        let threads: Vec<Arc<ThreadBuf>> = self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut merge = self.merge.lock().unwrap_or_else(|e| e.into_inner());
        let merge = &mut *merge;
        let found = merge.find(threads, self.lossless, &mut horizon);
        // Handed over no earlier than the last one (a thread pre-empted
        // for longer than the grace between reading the clock and writing
        // what it read comes late).
        let mut handed = merge.handed;
        let mut owners = std::mem::take(&mut merge.owners);
        let mut each = |mut e: Event| {
            if e.t < handed {
                e.t = handed;
            } else {
                handed = e.t;
            }
            owners.pass(e, &mut each);
        };
        merge.read(&found, horizon, &mut each);
        self.room.notify_all();
        merge.hand_over(if finished { NONE } else { horizon }, &mut each);
        merge.handed = handed;
        merge.owners = owners;
        Drained {
            dropped: self.dropped.load(Ordering::Relaxed),
            finished: finished && merge.is_empty(),
        }
    }

    /// No more events will come; wakes the consumer.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Release);
        self.room.notify_all();
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Publishes the newest live figures.
    pub fn publish(&self, sample: Sample) {
        self.sample.put(sample);
    }

    /// The newest live figures, if any were sampled.
    pub fn sample(&self) -> Option<Arc<Sample>> {
        self.sample.newest()
    }
}

/// The tests of the recorder's parts record through a [`Recorder`] and
/// look at what it hands over: the helpers they share are here.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;

    #[test]
    fn every_transition_comes_out_as_it_went_in() {
        let _limit = crate::test_limit::limit();
        // Never started: every event at 0, handed over as recorded.
        let r = Recorder::new(1024, true);
        let spawned = Change::Spawned {
            name: "t".into(),
            id: 9,
            spec: 1,
            parent: Some(0),
            kind: Kind::Blocking,
        };
        let woken = Change::Ready {
            by: WakeBy::Task(3),
            late: Some(Duration::from_micros(5)),
            waited: Some(Wait::Join),
        };
        let due = Some(Duration::from_millis(3));
        let stats = Arc::new(TaskStats {
            polls: 3,
            ..TaskStats::default()
        });
        r.record(1, 0, spawned.clone());
        r.record(1, 0, woken.clone());
        r.poll_start(1, 0);
        r.poll_end(2, |_| PollEnd::Waiting {
            wait: Wait::Timer,
            due,
        });
        r.poll_start(1, 2);
        r.poll_end(2, |_| PollEnd::Ready { by: WakeBy::Timer });
        r.poll_start(1, 2);
        r.poll_end(3, |_| {
            PollEnd::Done(Outcome::Panicked("boom".into()), stats.clone())
        });
        r.finish();
        let mut out = Vec::new();
        r.drain(&mut out, Duration::ZERO);
        let running = Change::Running { worker: 0 };
        let changes: Vec<_> = out.into_iter().map(|e| (e.step, e.change)).collect();
        assert_eq!(
            changes,
            [
                (0, spawned),
                (0, woken),
                (0, running.clone()),
                (
                    2,
                    Change::Waiting {
                        wait: Wait::Timer,
                        due
                    }
                ),
                (2, running.clone()),
                (
                    2,
                    Change::Ready {
                        by: WakeBy::Timer,
                        late: None,
                        waited: None
                    }
                ),
                (2, running),
                (
                    3,
                    Change::Done {
                        outcome: Outcome::Panicked("boom".into()),
                        stats
                    }
                ),
            ]
        );
    }

    pub(super) fn ready() -> Change {
        Change::Ready {
            by: WakeBy::Runtime,
            late: None,
            waited: None,
        }
    }

    pub(super) fn waiting() -> PollEnd {
        PollEnd::Waiting {
            wait: Wait::Yield,
            due: None,
        }
    }

    /// An event's state, in a word.
    fn word(e: &Event) -> &'static str {
        match e.change {
            Change::Running { .. } => "running",
            Change::Ready { .. } => "ready",
            Change::Waiting { .. } => "waiting",
            _ => "other",
        }
    }

    /// (task, state word) of each event, in the order handed over.
    pub(super) fn order(events: &[Event]) -> Vec<(TaskIdx, &'static str)> {
        events.iter().map(|e| (e.task, word(e))).collect()
    }

    /// (step, state word) of each event, in the order handed over.
    pub(super) fn steps(events: &[Event]) -> Vec<(u32, &'static str)> {
        events.iter().map(|e| (e.step, word(e))).collect()
    }
}
