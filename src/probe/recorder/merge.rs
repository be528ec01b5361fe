//! The consumer's side: draining the threads' rings and handing their
//! transitions over in time order.
//!
//! A drain reads each thread's entries (its rings and side list) and turns
//! them into [`Event`]s ([`Reader`]); one thread's go straight to the
//! consumer, several threads' are merged ([`Merge`]). What a thread could
//! still precede is held back: on the real clock, what is newer than the
//! clock minus a grace for late writers, or than a poll in progress.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::ring::{Entry, NO_WAIT, OpenPoll, ThreadBuf, What};
use super::{NONE, Recorder};
use crate::event::{Change, Event, TaskIdx, Wait, WakeBy, from_opt_nanos, nanos as ns};

/// Real clock: how far behind the clock a drain stops handing over. A
/// thread may read the clock and write what it read a moment later; what
/// it writes after this long (it was pre-empted in between) is handed over
/// as late as it came, never out of order.
pub(super) const GRACE: u64 = 100_000;

/// Where an event goes in the merged order: (time ns, thread, order of
/// arrival), so events of one time keep their thread's order.
type Key = (u64, usize, u64);

/// The Running transition a poll starts with.
fn start_event(task: TaskIdx, worker: u16, step: u32, start: u64) -> Event {
    Event {
        t: Duration::from_nanos(start),
        task,
        step,
        change: Change::Running { worker },
    }
}

/// [`Merge::pending_from`] when the pending events are several threads'.
const MIXED: usize = usize::MAX;

/// The consumer's view of one thread.
#[derive(Default)]
struct Reader {
    /// Polls whose start has been handed over and whose entry has not come
    /// yet (one or two: polls of a thread follow each other). A start is
    /// handed over from its own entry, or from the thread's slot while the
    /// poll runs, whichever comes first; once only.
    started: Vec<u32>,
    /// The newest poll whose end entry was read: its thread may still show
    /// it in its slot for a moment (pre-empted between writing the entry
    /// and clearing the slot), and it must not be started again.
    ended: Option<u32>,
    /// Side events taken from the thread, for its entries still to come.
    side: VecDeque<Event>,
}

impl Reader {
    /// Poll `poll`'s start was handed over already (and is forgotten now).
    fn take_started(&mut self, poll: u32) -> bool {
        match self.started.iter().position(|p| *p == poll) {
            Some(i) => {
                self.started.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Expands the entries `f` found waiting on its thread to `out`, with
    /// the side events they mark; true if the poll `f` found in progress
    /// ended among them.
    fn read_rings(&mut self, f: &Found, out: &mut impl FnMut(Event)) -> bool {
        let mut open_ended = false;
        let mut rings = f.buf.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Side events are written before their entries: all that the
        // entries read here mark are in the list now.
        self.side.extend(
            f.buf
                .side
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..),
        );
        let mut left = f.waiting;
        for ring in rings.iter_mut() {
            let n = ring.slots().min(left);
            left -= n;
            if let Ok(chunk) = ring.read_chunk(n) {
                for entry in chunk {
                    if let Some(o) = f.open
                        && entry.poll == o.poll
                        && matches!(
                            entry.what,
                            What::PollWaiting | What::PollReady | What::PollSide
                        )
                    {
                        open_ended = true;
                    }
                    self.expand(entry, out);
                }
            }
        }
        // A ring its thread has left for a bigger one is done once read.
        let newest = rings.len() - 1;
        let done = rings[..newest].iter().take_while(|r| r.is_empty()).count();
        rings.drain(..done);
        open_ended
    }

    /// The transitions one entry stands for, in order, to `out`.
    fn expand(&mut self, e: Entry, out: &mut impl FnMut(Event)) {
        let at = |t: u64, step: u32, change: Change| Event {
            t: Duration::from_nanos(t),
            task: e.task,
            step,
            change,
        };
        match e.what {
            What::Start => {
                // Its poll runs on: remembered until its entry comes, so
                // the thread's slot does not show it again.
                if !self.started.contains(&e.poll) {
                    self.started.push(e.poll);
                    out(start_event(e.task, e.worker, e.step, e.t));
                }
            }
            What::PollWaiting | What::PollReady | What::PollSide => {
                self.ended = Some(e.poll);
                if !self.take_started(e.poll) {
                    out(start_event(e.task, e.worker, e.step, e.t));
                }
                match e.what {
                    What::PollWaiting => out(at(
                        e.end,
                        e.end_step,
                        Change::Waiting {
                            wait: Wait::from_u8(e.wait),
                            due: from_opt_nanos(e.arg),
                        },
                    )),
                    What::PollReady => out(at(
                        e.end,
                        e.end_step,
                        Change::Ready {
                            by: WakeBy::decode(e.arg),
                            late: None,
                            waited: None,
                        },
                    )),
                    _ => out(self.side.pop_front().expect("a side event for its entry")),
                }
            }
            What::Ready => out(at(
                e.t,
                e.step,
                Change::Ready {
                    by: WakeBy::decode(e.arg),
                    late: from_opt_nanos(e.end),
                    waited: (e.wait != NO_WAIT).then(|| Wait::from_u8(e.wait)),
                },
            )),
            What::Running => out(at(e.t, e.step, Change::Running { worker: e.worker })),
            What::Side => out(self.side.pop_front().expect("a side event for its entry")),
        }
    }
}

/// The consumer's side: what it read and could not hand over yet.
#[derive(Default)]
pub(super) struct Merge {
    /// Per thread.
    readers: Vec<Reader>,
    /// The events of the thread being read, in its order.
    run: Vec<Event>,
    /// Held back or still to be merged: runs of several threads, or what
    /// could still be preceded (see [`Recorder::drain_each`]).
    pending: Vec<Event>,
    /// Each pending event's sort key.
    keys: Vec<Key>,
    /// The thread all pending events are from (MIXED: several).
    pending_from: Option<usize>,
    /// The time of the newest event handed over.
    pub(super) handed: Duration,
    /// Which rows are on each CPU, for the last stage of a drain.
    pub(super) owners: super::cpus::CpuOwners,
    /// Counts events as they join `pending`.
    arrival: u64,
    /// Where [`Merge::sort`] merges into (then swapped with the two above).
    sorted: (Vec<Key>, Vec<Event>),
}

/// One thread as a drain finds it: its poll in progress (read before its
/// entries) and how many entries wait.
pub(super) struct Found {
    buf: Arc<ThreadBuf>,
    open: Option<OpenPoll>,
    waiting: usize,
}

impl Merge {
    /// Nothing is held back.
    pub(super) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The threads among `threads` with something to read: entries, or a
    /// poll in progress not handed over yet. Each one's poll in progress
    /// is read before its entries (so no poll of it ends unseen between
    /// the two). Real clock: `horizon` is lowered to the start of any poll
    /// in progress.
    pub(super) fn find(
        &mut self,
        threads: Vec<Arc<ThreadBuf>>,
        lossless: bool,
        horizon: &mut u64,
    ) -> Vec<Found> {
        if self.readers.len() < threads.len() {
            self.readers.resize_with(threads.len(), Reader::default);
        }
        let mut found = Vec::new();
        for buf in threads {
            let open = buf.open.read();
            let waiting = buf
                .entries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|r| r.slots())
                .sum::<usize>();
            let reader = &self.readers[buf.id];
            let unseen =
                open.filter(|o| !reader.started.contains(&o.poll) && reader.ended != Some(o.poll));
            if let Some(o) = unseen {
                // Real clock: its start is handed over from the slot, in
                // order: nothing later goes first. Once handed over, the
                // poll holds nothing back (what it records is stamped when
                // written): a long poll on one worker does not hide what
                // the others do meanwhile. On the virtual clock every
                // later stamp is at least the cursor, which is past it.
                if !lossless {
                    *horizon = (*horizon).min(o.start);
                }
            }
            if waiting > 0 || unseen.is_some() {
                found.push(Found {
                    buf,
                    open: unseen,
                    waiting,
                });
            }
        }
        found
    }

    /// Reads the threads `found`, handing over what is ready up to
    /// `horizon` to `each` and holding back the rest.
    pub(super) fn read(&mut self, found: &[Found], horizon: u64, each: &mut impl FnMut(Event)) {
        // One thread, and nothing held back but its own: its transitions
        // go straight to `each`, up to the horizon.
        let single = found.len() == 1
            && self
                .pending_from
                .is_none_or(|thread| thread == found[0].buf.id);
        if single {
            self.hand_over(horizon, each);
        }
        let mut straight = single && self.pending.is_empty();
        for f in found {
            straight = self.read_thread(f, horizon, straight, each);
        }
    }

    /// Reads one thread: its transitions go `straight` to `each` while
    /// they may (up to the horizon), the rest join the pending ones.
    /// Returns whether they still may.
    fn read_thread(
        &mut self,
        f: &Found,
        horizon: u64,
        mut straight: bool,
        each: &mut impl FnMut(Event),
    ) -> bool {
        let reader = &mut self.readers[f.buf.id];
        let run = &mut self.run;
        let mut out = |e: Event| {
            if straight && ns(e.t) <= horizon {
                each(e);
            } else {
                straight = false;
                run.push(e);
            }
        };
        let open_ended = reader.read_rings(f, &mut out);
        // The poll in progress, shown now: nothing of its thread after
        // its start can be handed over yet (see the horizon).
        if let Some(o) = f.open
            && !open_ended
            && !reader.started.contains(&o.poll)
            && reader.ended != Some(o.poll)
        {
            reader.started.push(o.poll);
            out(start_event(o.task, o.worker, o.step, o.start));
        }
        if !self.run.is_empty() {
            let mut run = std::mem::take(&mut self.run);
            self.hold(run.drain(..), f.buf.id);
            self.run = run;
        }
        straight
    }

    /// Hands the pending events up to `horizon` over to `each`, in order.
    pub(super) fn hand_over(&mut self, horizon: u64, each: &mut impl FnMut(Event)) {
        if self.pending.is_empty() {
            return;
        }
        self.sort();
        let ready = self.keys.partition_point(|k| k.0 <= horizon);
        self.keys.drain(..ready);
        for e in self.pending.drain(..ready) {
            each(e);
        }
        if self.pending.is_empty() {
            self.pending_from = None;
        }
    }

    /// Moves events of thread `thread`, in its order, to the pending ones.
    fn hold(&mut self, events: impl Iterator<Item = Event>, thread: usize) {
        self.pending_from = match self.pending_from {
            None if self.pending.is_empty() => Some(thread),
            Some(t) if t == thread => Some(t),
            _ => Some(MIXED),
        };
        for event in events {
            self.keys.push((ns(event.t), thread, self.arrival));
            self.arrival += 1;
            self.pending.push(event);
        }
    }

    /// Puts the pending events in key order, if they are not already: they
    /// are runs in order (each thread's, and what was held back before),
    /// merged into the spare buffers, which keep their room.
    fn sort(&mut self) {
        if self.keys.is_sorted() {
            return;
        }
        let mut heap = std::collections::BinaryHeap::new();
        let mut start = 0;
        for i in 1..=self.keys.len() {
            if i == self.keys.len() || self.keys[i] < self.keys[i - 1] {
                heap.push(std::cmp::Reverse((self.keys[start], start, i)));
                start = i;
            }
        }
        self.sorted.0.clear();
        self.sorted.1.clear();
        self.sorted.0.reserve(self.keys.len());
        self.sorted.1.reserve(self.keys.len());
        while let Some(std::cmp::Reverse((key, at, end))) = heap.pop() {
            self.sorted.0.push(key);
            // A cheap stand-in (no heap data) where the event was.
            let stand_in = start_event(0, 0, 0, 0);
            self.sorted
                .1
                .push(std::mem::replace(&mut self.pending[at], stand_in));
            if at + 1 < end {
                heap.push(std::cmp::Reverse((self.keys[at + 1], at + 1, end)));
            }
        }
        std::mem::swap(&mut self.keys, &mut self.sorted.0);
        std::mem::swap(&mut self.pending, &mut self.sorted.1);
    }
}

impl Recorder {
    /// Waits up to `wait` for entries or for the run to finish, unless
    /// there are entries already; returns whether it finished.
    pub(super) fn wait_for_entries(&self, wait: Duration) -> bool {
        let mut finished = self.finished.load(Ordering::Acquire);
        if !finished && !wait.is_zero() && !self.has_entries() {
            let guard = self.room_lock.lock().unwrap_or_else(|e| e.into_inner());
            let _ = self
                .room
                .wait_timeout(guard, wait)
                .unwrap_or_else(|e| e.into_inner());
            finished = self.finished.load(Ordering::Acquire);
        }
        finished
    }

    fn has_entries(&self) -> bool {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|b| {
                b.entries
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .any(|r| !r.is_empty())
            })
    }

    /// Nothing recorded from now on is older than this (real clock: a
    /// thread that is not in the list read next starts recording after
    /// it, so it reads a later time, and one that read the clock before
    /// has written what it read within the grace; virtual: one thread,
    /// in order).
    pub(super) fn horizon(&self, finished: bool) -> u64 {
        if finished || self.lossless {
            NONE
        } else {
            self.clock.read().saturating_sub(GRACE).min(self.held_at())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::recorder::tests::{order, ready, steps, waiting};

    #[test]
    fn a_poll_in_progress_is_shown_once_and_before_what_it_recorded() {
        let _limit = crate::test_limit::limit();
        let r = Recorder::new(1024, false);
        r.start_clock();
        r.poll_start(0, 0);
        r.record(2, 0, ready());
        // Past the grace a thread has to write what it read.
        std::thread::sleep(Duration::from_nanos(2 * GRACE));
        let mut out = Vec::new();
        r.drain(&mut out, Duration::ZERO);
        // The start is shown while it runs; what it did after its start
        // waits, as something of another thread could still come before.
        assert_eq!(order(&out), [(0, "running")]);
        r.poll_end(0, |_| waiting());
        r.finish();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(order(&out), [(0, "running"), (2, "ready"), (0, "waiting")]);
    }

    /// Work stealing seen live: worker 0 polls a long task; what worker 1
    /// does meanwhile is handed over within the grace, not held back until
    /// worker 0's poll ends.
    #[test]
    fn a_long_poll_on_one_thread_does_not_hold_back_the_others() {
        let _limit = crate::test_limit::limit();
        let r = Recorder::new(1024, false);
        r.start_clock();
        let (started, end) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let long = {
            let r = r.clone();
            std::thread::spawn(move || {
                r.poll_start(0, 0);
                started.0.send(()).unwrap();
                end.1.recv().unwrap();
                r.poll_end(0, |_| waiting());
            })
        };
        started.1.recv().unwrap();
        std::thread::sleep(Duration::from_nanos(2 * GRACE));
        let mut out = Vec::new();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(order(&out), [(0, "running")]);
        r.poll_start(1, 0);
        r.poll_end(0, |_| waiting());
        std::thread::sleep(Duration::from_nanos(2 * GRACE));
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(
            order(&out),
            [(0, "running"), (1, "running"), (1, "waiting")],
            "task 1's poll while task 0's still runs"
        );
        end.0.send(()).unwrap();
        long.join().unwrap();
        r.finish();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(order(&out)[3], (0, "waiting"));
        assert!(out.is_sorted_by_key(|e| e.t), "in time order");
    }

    #[test]
    fn a_thread_that_writes_late_is_handed_over_late_never_out_of_order() {
        let _limit = crate::test_limit::limit();
        let r = Recorder::new(1024, false);
        r.start_clock();
        let (read, go) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let late = {
            let r = r.clone();
            // Reads the clock, then is held up (as if pre-empted) before
            // it writes what it read: until told to go on, so no head
            // start depends on how busy the machine is.
            std::thread::spawn(move || {
                r.record_with(7, 0, |_| {
                    read.0.send(()).unwrap();
                    go.1.recv().unwrap();
                    ready()
                })
            })
        };
        read.1.recv().unwrap();
        r.record(1, 0, ready());
        std::thread::sleep(Duration::from_nanos(2 * GRACE));
        let mut out = Vec::new();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(order(&out), [(1, "ready")]);
        go.0.send(()).unwrap();
        let stamped = late.join().unwrap();
        assert!(stamped <= out[0].t, "task 7 read the clock first");
        r.finish();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(order(&out), [(1, "ready"), (7, "ready")]);
        assert_eq!(out[1].t, out[0].t, "handed over when it came");
    }

    #[test]
    fn a_poll_that_changed_step_and_runs_on_is_started_once() {
        let _limit = crate::test_limit::limit();
        // Virtual clock: one thread, nothing held back.
        let r = Recorder::new(1024, true);
        r.start_clock();
        r.poll_start(0, 1);
        // Inside the poll its task moves on to step 2 (a cpu step that
        // holds the poll, as on the paced screen).
        r.record(0, 2, Change::Running { worker: 0 });
        let mut out = Vec::new();
        r.drain(&mut out, Duration::ZERO);
        // Drained again while the poll still runs: its slot shows it, but
        // its start was handed over already.
        r.drain(&mut out, Duration::ZERO);
        r.drain(&mut out, Duration::ZERO);
        r.poll_end(2, |_| waiting());
        r.finish();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(
            steps(&out),
            [(1, "running"), (2, "running"), (2, "waiting")]
        );
    }

    #[test]
    fn a_poll_shown_from_its_slot_is_not_started_again_by_its_entry() {
        let _limit = crate::test_limit::limit();
        let r = Recorder::new(1024, true);
        r.start_clock();
        r.poll_start(0, 1);
        let mut out = Vec::new();
        // Shown while it runs, from the thread's slot.
        r.drain(&mut out, Duration::ZERO);
        r.record(0, 2, Change::Running { worker: 0 });
        r.drain(&mut out, Duration::ZERO);
        r.poll_end(2, |_| waiting());
        r.finish();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(
            steps(&out),
            [(1, "running"), (2, "running"), (2, "waiting")]
        );
    }

    /// A thread pre-empted between writing a poll's end entry and clearing
    /// its slot still shows the poll there for a moment: once its end was
    /// read, it is not started again.
    #[test]
    fn a_poll_whose_end_was_read_is_not_started_again_from_a_stale_slot() {
        let _limit = crate::test_limit::limit();
        let r = Recorder::new(1024, false);
        r.start_clock();
        r.poll_start(0, 0);
        let buf = r.threads.lock().unwrap()[0].clone();
        let open = buf.open.read().expect("the poll is in its slot");
        r.poll_end(0, |_| waiting());
        let mut out = Vec::new();
        r.drain(&mut out, Duration::ZERO);
        // The slot as the pre-empted thread left it.
        buf.open.show(open);
        r.drain(&mut out, Duration::ZERO);
        buf.open.close();
        r.finish();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(order(&out), [(0, "running"), (0, "waiting")]);
    }

    #[test]
    fn several_threads_are_merged_in_time_order() {
        let _limit = crate::test_limit::limit();
        let r = Recorder::new(1 << 12, false);
        r.start_clock();
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        r.poll_start(t * 1000 + i, 0);
                        r.record(t * 1000 + i + 1, 0, ready());
                        r.poll_end(0, |_| waiting());
                    }
                })
            })
            .collect();
        let mut out = Vec::new();
        while threads.iter().any(|t| !t.is_finished()) {
            r.drain(&mut out, Duration::ZERO);
        }
        for t in threads {
            t.join().unwrap();
        }
        r.finish();
        let drained = r.drain(&mut out, Duration::ZERO);
        assert_eq!(drained.dropped, 0);
        assert_eq!(out.len(), 4 * 500 * 3);
        assert!(out.is_sorted_by_key(|e| e.t), "handed over in time order");
        // Each poll: its start, then what it recorded, then its end.
        for t in 0..4u32 {
            let mine: Vec<_> = order(&out)
                .into_iter()
                .filter(|(task, _)| task / 1000 == t)
                .collect();
            for (i, poll) in mine.chunks(3).enumerate() {
                let i = i as u32;
                assert_eq!(
                    poll,
                    [
                        (t * 1000 + i, "running"),
                        (t * 1000 + i + 1, "ready"),
                        (t * 1000 + i, "waiting")
                    ]
                );
            }
        }
    }

    #[test]
    fn pending_runs_are_merged_by_time_then_thread_then_arrival() {
        let _limit = crate::test_limit::limit();
        let at = |t: u64, task: TaskIdx| start_event(task, 0, 0, t);
        let mut merge = Merge::default();
        merge.hold([at(10, 0), at(30, 1), at(30, 2)].into_iter(), 1);
        merge.hold([at(5, 3), at(30, 4), at(40, 5)].into_iter(), 0);
        merge.hold([at(30, 6)].into_iter(), 1);
        let mut out = Vec::new();
        merge.hand_over(30, &mut |e| out.push(e));
        let tasks: Vec<_> = out.iter().map(|e| e.task).collect();
        assert_eq!(tasks, [3, 0, 4, 1, 2, 6]);
        // What is past the horizon waits, in order.
        assert!(!merge.is_empty());
        merge.hand_over(NONE, &mut |e| out.push(e));
        assert_eq!(out.last().map(|e| e.task), Some(5));
        assert!(merge.is_empty());
    }
}
