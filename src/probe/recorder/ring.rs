//! A thread's ring: where the probe writes what happens on its thread,
//! without a lock and without waiting for other threads.
//!
//! An entry is plain data (a few stores to write); the rare transitions too
//! big for one go to the thread's side list, an entry marking their place.
//! The poll in progress is also in a slot beside the ring ([`Open`]), so a
//! consumer can show it while it runs. Rings start small and double as
//! their thread fills them; a full ring waits for the consumer (virtual
//! clock) or drops what comes (real clock), counting it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{NONE, Recorder};
use crate::event::{Event, TaskIdx};

/// A thread's first ring: most threads record little (a blocking job, a
/// timer), so rings start small and double, up to the capacity, as their
/// thread fills them.
const FIRST_RING: usize = 1024;

/// An entry's `wait` when there is none.
pub(super) const NO_WAIT: u8 = u8::MAX;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum What {
    /// A poll's start, written only when the poll records something inside
    /// it (before that).
    Start,
    /// A whole poll that ended waiting for `wait`, due at `arg` (or NONE).
    PollWaiting,
    /// A whole poll woken while it ran (`arg`: by whom, encoded).
    PollReady,
    /// A whole poll whose end is its thread's next side event (it ended).
    PollSide,
    /// A wake: `arg` by whom (encoded), `end` how late (or NONE), `wait`
    /// what the wait turned out to be (or NO_WAIT).
    Ready,
    /// Running on `worker`: a step change inside a poll, or an OS thread on
    /// a CPU.
    Running,
    /// Its thread's next side event.
    Side,
}

/// One entry of a thread's ring: plain data, so writing one is a few
/// stores (see [`What`] for what each field holds).
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) what: What,
    /// A [`Wait`](crate::event::Wait) as a number, or NO_WAIT.
    pub(super) wait: u8,
    pub(super) worker: u16,
    pub(super) task: TaskIdx,
    pub(super) step: u32,
    /// A poll: the step it ended at.
    pub(super) end_step: u32,
    /// A poll: its number on its thread.
    pub(super) poll: u32,
    /// When (a poll: its start), ns of scenario time.
    pub(super) t: u64,
    pub(super) end: u64,
    pub(super) arg: u64,
}

impl Entry {
    #[inline]
    pub(super) fn new(what: What, task: TaskIdx, step: u32, t: u64) -> Entry {
        Entry {
            what,
            wait: NO_WAIT,
            worker: 0,
            task,
            step,
            end_step: step,
            poll: 0,
            t,
            end: NONE,
            arg: NONE,
        }
    }
}

/// The poll in progress on a thread, readable by the consumer (a seqlock:
/// `version` is odd while it is written).
#[derive(Default)]
pub(super) struct Open {
    version: AtomicU64,
    poll: AtomicU32,
    task: AtomicU32,
    worker: AtomicU16,
    step: AtomicU32,
    /// NONE: no poll in progress.
    start: AtomicU64,
}

/// A poll in progress, as the consumer reads it from [`Open`].
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenPoll {
    pub(super) poll: u32,
    pub(super) task: TaskIdx,
    pub(super) worker: u16,
    pub(super) step: u32,
    pub(super) start: u64,
}

impl Open {
    /// Shows `p` as its thread's poll in progress (its thread only).
    #[inline]
    pub(super) fn show(&self, p: OpenPoll) {
        self.write(|open| {
            open.poll.store(p.poll, Ordering::Relaxed);
            open.task.store(p.task, Ordering::Relaxed);
            open.worker.store(p.worker, Ordering::Relaxed);
            open.step.store(p.step, Ordering::Relaxed);
            open.start.store(p.start, Ordering::Relaxed);
        });
    }

    /// No poll in progress any more (its thread only).
    #[inline]
    pub(super) fn close(&self) {
        self.write(|open| open.start.store(NONE, Ordering::Relaxed));
    }

    /// Runs the stores of `f` as one write the consumer sees whole.
    #[inline]
    fn write(&self, f: impl FnOnce(&Open)) {
        // One writer: a plain store marks it being written.
        let v = self.version.load(Ordering::Relaxed);
        self.version.store(v + 1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        f(self);
        self.version.store(v + 2, Ordering::Release);
    }

    /// The poll in progress, read consistently.
    pub(super) fn read(&self) -> Option<OpenPoll> {
        loop {
            let before = self.version.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let read = OpenPoll {
                poll: self.poll.load(Ordering::Relaxed),
                task: self.task.load(Ordering::Relaxed),
                worker: self.worker.load(Ordering::Relaxed),
                step: self.step.load(Ordering::Relaxed),
                start: self.start.load(Ordering::Relaxed),
            };
            if self.version.load(Ordering::Acquire) == before {
                return (read.start != NONE).then_some(read);
            }
        }
    }
}

/// One thread's ring, on cache lines of its own (threads write their own
/// flags all the time; sharing a line would make them wait for each other).
/// Its entries are in rings with one writer (the thread, through
/// [`Local::entries`]) and one reader (the consumer): writing one takes no
/// lock and no read-modify-write, only a store the consumer sees.
#[repr(align(128))]
pub(super) struct ThreadBuf {
    pub(super) id: usize,
    /// The reading ends, oldest first: the thread writes only the newest
    /// (it moves on to a ring twice the size once one is full). The lock
    /// is the consumer's, and its thread's when it adds a ring.
    pub(super) entries: Mutex<Vec<rtrb::Consumer<Entry>>>,
    /// Transitions too big for an entry, in order; a `Side` or `PollSide`
    /// entry marks each one's place (written after it).
    pub(super) side: Mutex<VecDeque<Event>>,
    pub(super) open: Open,
}

/// The poll in progress on this thread.
#[derive(Debug, Clone, Copy)]
pub(super) struct Polling {
    pub(super) poll: u32,
    pub(super) task: TaskIdx,
    pub(super) worker: u16,
    pub(super) step: u32,
    pub(super) start: u64,
    /// Its start has an entry (something was recorded inside it).
    pub(super) written: bool,
}

/// What this thread records into, for the run it records for.
pub(super) struct Local {
    run: u64,
    /// Where this buffer goes when its thread ends, for another to take.
    spares: std::sync::Weak<Spares>,
    /// This is the runtime's thread (the only one that reads tokio's
    /// paused clock).
    pub(super) on_runtime: bool,
    pub(super) buf: Arc<ThreadBuf>,
    /// The writing end of `buf`'s ring.
    entries: rtrb::Producer<Entry>,
    pub(super) next_poll: u32,
    pub(super) worker: Option<u16>,
    pub(super) polling: Option<Polling>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Buffers of threads that ended, for new threads of the run to take: a
/// run that starts thousands of threads one after another keeps as many
/// buffers as it had threads alive at once, not one per thread ever.
pub(super) type Spares = Mutex<Vec<Spare>>;

/// A buffer whose thread ended: what is still in it is read as usual, and
/// the next thread writes after it (its polls numbered on from there).
pub(super) struct Spare {
    buf: Arc<ThreadBuf>,
    entries: rtrb::Producer<Entry>,
    next_poll: u32,
}

impl Drop for Local {
    fn drop(&mut self) {
        // The thread ends (or moves on to another run): its buffer is free.
        let Some(spares) = self.spares.upgrade() else {
            return;
        };
        let (empty, _) = rtrb::RingBuffer::new(0);
        let entries = std::mem::replace(&mut self.entries, empty);
        if let Ok(mut spares) = spares.lock() {
            spares.push(Spare {
                buf: self.buf.clone(),
                entries,
                next_poll: self.next_poll,
            });
        }
    }
}

static RUNS: AtomicU64 = AtomicU64::new(1);

/// A new run's number: a thread's buffer of another run is never taken
/// for its own.
pub(super) fn new_run() -> u64 {
    RUNS.fetch_add(1, Ordering::Relaxed)
}

impl Recorder {
    /// Runs `f` with this thread's buffer, registering it first.
    #[inline]
    pub(super) fn with_local<R>(&self, f: impl FnOnce(&mut Local) -> R) -> R {
        LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            if l.as_ref().is_none_or(|l| l.run != self.run) {
                *l = Some(self.register());
            }
            f(l.as_mut().expect("set above"))
        })
    }

    /// This thread's buffer, new (once per thread and run: kept out of the
    /// way of every event's path).
    #[cold]
    #[inline(never)]
    fn register(&self) -> Local {
        let spare = self.spares.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(s) = spare {
            return Local {
                run: self.run,
                spares: Arc::downgrade(&self.spares),
                on_runtime: self.clock.on_runtime_thread(),
                buf: s.buf,
                entries: s.entries,
                next_poll: s.next_poll,
                worker: None,
                polling: None,
            };
        }
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        let (producer, consumer) = rtrb::RingBuffer::new(FIRST_RING.min(self.capacity));
        let buf = Arc::new(ThreadBuf {
            id: threads.len(),
            entries: Mutex::new(vec![consumer]),
            side: Mutex::new(VecDeque::new()),
            open: Open {
                start: AtomicU64::new(NONE),
                ..Open::default()
            },
        });
        threads.push(buf.clone());
        Local {
            run: self.run,
            spares: Arc::downgrade(&self.spares),
            on_runtime: self.clock.on_runtime_thread(),
            buf,
            entries: producer,
            next_poll: 0,
            worker: None,
            polling: None,
        }
    }

    /// Writes one entry, making room first if the ring is full.
    #[inline]
    pub(super) fn push(&self, l: &mut Local, entry: Entry) {
        if l.entries.push(entry).is_err() && self.room(l) {
            let _ = l.entries.push(entry);
        }
    }

    /// Makes room for one entry in this thread's ring: a ring twice the
    /// size, or (lossless, once the ring is as big as it gets) waiting for
    /// the consumer. False: no room, the entry is dropped (and counted).
    fn room(&self, l: &mut Local) -> bool {
        loop {
            if !l.entries.is_full() {
                return true;
            }
            let size = l.entries.buffer().capacity();
            if size < self.capacity {
                let (producer, consumer) = rtrb::RingBuffer::new((size * 2).min(self.capacity));
                l.buf
                    .entries
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(consumer);
                l.entries = producer;
                return true;
            }
            if !self.lossless || self.finished.load(Ordering::Acquire) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            let guard = self.room_lock.lock().unwrap_or_else(|e| e.into_inner());
            let _ = self
                .room
                .wait_timeout(guard, Duration::from_millis(10))
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Something is recorded inside the poll in progress: its start is
    /// written first (once), so the thread's entries stay in time order.
    #[inline]
    pub(super) fn inside_poll(&self, l: &mut Local) {
        if let Some(p) = l.polling.as_mut()
            && !p.written
        {
            p.written = true;
            let p = *p;
            let mut start = Entry::new(What::Start, p.task, p.step, p.start);
            start.worker = p.worker;
            start.poll = p.poll;
            self.push(l, start);
        }
    }

    /// Writes `event` to the side list and `entry` to mark its place, or
    /// drops both.
    pub(super) fn push_side(&self, l: &mut Local, entry: Entry, event: Event) {
        if self.room(l) {
            l.buf
                .side
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(event);
            let _ = l.entries.push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::probe::recorder::tests::{order, ready, waiting};

    #[test]
    fn what_a_poll_records_inside_it_comes_after_its_start() {
        let _limit = crate::test_limit::limit();
        let r = Recorder::new(1024, false);
        r.start_clock();
        r.record(1, 0, ready());
        r.poll_start(0, 0);
        // Inside task 0's poll: it wakes task 2. Its entry comes later.
        r.record(2, 0, ready());
        r.poll_end(0, |_| waiting());
        let mut out = Vec::new();
        r.finish();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(
            order(&out),
            [(1, "ready"), (0, "running"), (2, "ready"), (0, "waiting")]
        );
        assert!(out.is_sorted_by_key(|e| e.t));
    }

    #[test]
    fn a_full_ring_doubles_then_drops_and_counts_on_the_real_clock() {
        let _limit = crate::test_limit::limit();
        // Capacity 2048: the first ring (1024) is followed by one twice
        // its size, then there is no more room.
        let r = Recorder::new(2048, false);
        r.start_clock();
        for task in 0..1024 + 2048 + 2 {
            r.record(task, 0, ready());
        }
        let mut out = Vec::new();
        r.finish();
        let drained = r.drain(&mut out, Duration::ZERO);
        // The old ring is read out whole, then the new one.
        assert_eq!(out.len(), 1024 + 2048);
        assert_eq!(drained.dropped, 2);
        assert!(
            order(&out)
                .iter()
                .enumerate()
                .all(|(i, (t, _))| *t == i as u32)
        );
    }

    #[test]
    fn the_open_slot_shows_a_poll_until_it_is_closed() {
        let _limit = crate::test_limit::limit();
        let open = Open {
            start: AtomicU64::new(NONE),
            ..Open::default()
        };
        assert!(open.read().is_none());
        open.show(OpenPoll {
            poll: 3,
            task: 7,
            worker: 1,
            step: 2,
            start: 40,
        });
        let p = open.read().expect("shown");
        assert_eq!(
            (p.poll, p.task, p.worker, p.step, p.start),
            (3, 7, 1, 2, 40)
        );
        open.close();
        assert!(open.read().is_none());
    }
}
