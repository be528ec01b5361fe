//! The recorder: where the probe puts what happened, and where a consumer
//! takes it out, in time order.
//!
//! Every thread that records has a buffer of its own, so workers never wait
//! for each other: a poll is one entry (its start, end, worker, steps and
//! how it ended), written when the poll ends, and the poll in progress is in
//! a small slot beside the buffer, so a consumer can show it while it runs.
//! The consumer ([`Recorder::drain`]) takes every buffer's entries, expands
//! them into transitions ([`Event`]s) and hands them over in time order: it
//! holds back what a thread could still precede (a poll in progress, a
//! thread caught between reading the clock and writing), and nothing else.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use super::event::{Change, Event, Outcome, TaskIdx, TaskStats, Wait, WakeBy};
use super::{CURRENT, Sample};

/// Entries a thread's buffer holds before its thread waits (lossless) or
/// drops them.
pub const DEFAULT_CAPACITY: usize = 1 << 18;

/// A thread's first ring: most threads record little (a blocking job, a
/// timer), so rings start small and double, up to the capacity, as their
/// thread fills them.
const FIRST_RING: usize = 1024;

/// The dashboard's: it drains every frame, so a smaller buffer is room
/// enough (65,536 entries every 33 ms is two million a second).
pub const DASHBOARD_CAPACITY: usize = 1 << 16;

const NONE: u64 = u64::MAX;

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
    /// Boxed: once per task, and it keeps every entry small.
    Done(Box<(Outcome, Arc<TaskStats>)>),
}

/// One entry of a thread's buffer. `seq` orders entries of one thread that
/// share a time.
#[derive(Debug)]
enum Entry {
    Poll {
        seq: u64,
        task: TaskIdx,
        worker: u16,
        step: u32,
        end_step: u32,
        start: u64,
        end: u64,
        how: PollEnd,
    },
    Event {
        seq: u64,
        event: Event,
    },
}

/// The poll in progress on a thread, readable by the consumer (a seqlock:
/// `version` is odd while it is written).
#[derive(Default)]
struct Open {
    version: AtomicU64,
    seq: AtomicU64,
    task: AtomicU32,
    worker: AtomicU16,
    step: AtomicU32,
    /// NONE: no poll in progress.
    start: AtomicU64,
}

/// One thread's buffer, on cache lines of its own (threads write their own
/// flags all the time; sharing a line would make them wait for each other).
/// Its entries are in rings with one writer (the thread, through
/// [`Local::entries`]) and one reader (the consumer): writing one takes no
/// lock and no read-modify-write, only a store the consumer sees.
#[repr(align(128))]
struct ThreadBuf {
    id: usize,
    /// The reading ends, oldest first: the thread writes only the newest
    /// (it moves on to a ring twice the size once one is full). The lock
    /// is the consumer's, and its thread's when it adds a ring.
    entries: Mutex<Vec<rtrb::Consumer<Entry>>>,
    /// Set while the thread is between reading the clock and writing what
    /// it read (the consumer waits for it to clear).
    busy: AtomicBool,
    open: Open,
}

/// What this thread records into, for the run it records for.
struct Local {
    run: u64,
    /// This is the runtime's thread (the only one that reads tokio's
    /// paused clock).
    on_runtime: bool,
    buf: Arc<ThreadBuf>,
    /// The writing end of `buf`'s ring.
    entries: rtrb::Producer<Entry>,
    next_seq: u64,
    worker: Option<u16>,
    /// The poll in progress: (seq, task, worker, step, start ns).
    polling: Option<(u64, TaskIdx, u16, u32, u64)>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

static RUNS: AtomicU64 = AtomicU64::new(1);

/// Scenario time zero, on the clock the run uses.
#[derive(Clone, Copy)]
enum Start {
    /// tokio's clock: the paused (virtual) clock, read under its lock.
    Tokio(tokio::time::Instant),
    /// The real clock, read cheaply (the CPU's time-stamp counter where it
    /// is reliable).
    Real(quanta::Instant),
}

/// Where an event goes in the merged order: (time ns, thread, order of
/// arrival), so events of one time keep their thread's order.
type Key = (u64, usize, u64);

impl Merge {
    /// Expands one entry of the thread being read into [`Merge::run`].
    fn expand(&mut self, entry: Entry, thread: usize) {
        match entry {
            Entry::Event { seq, event } => {
                self.run.push(event);
                self.tail.push(seq);
            }
            Entry::Poll {
                seq,
                task,
                worker,
                step,
                end_step,
                start,
                end,
                how,
            } => {
                // Its start may have been handed over while it ran.
                let started = &mut self.started[thread];
                if let Some(i) = started.iter().position(|s| *s == seq) {
                    started.swap_remove(i);
                } else {
                    self.place_start(seq, start_event(task, worker, step, start));
                }
                let change = match how {
                    PollEnd::Waiting { wait, due } => Change::Waiting { wait, due },
                    PollEnd::Ready { by } => Change::Ready {
                        by,
                        late: None,
                        waited: None,
                    },
                    PollEnd::Done(end) => {
                        let (outcome, stats) = *end;
                        Change::Done { outcome, stats }
                    }
                };
                self.run.push(Event {
                    t: Duration::from_nanos(end),
                    task,
                    step: end_step,
                    change,
                });
                // What follows is recorded after this poll.
                self.tail.clear();
            }
        }
    }

    /// A poll's start (seq `seq`), placed before the events its thread
    /// recorded inside that poll: they came first, its entry only when it
    /// ended. Those are the newest of the run, since its last poll entry.
    fn place_start(&mut self, seq: u64, start: Event) {
        let inside = self.tail.iter().rev().take_while(|s| **s > seq).count();
        self.run.insert(self.run.len() - inside, start);
    }

    /// Moves events of thread `thread`, in its order, to the pending ones.
    fn hold(&mut self, events: impl Iterator<Item = Event>, thread: usize) {
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

/// The Running transition a poll starts with.
fn start_event(task: TaskIdx, worker: u16, step: u32, start: u64) -> Event {
    Event {
        t: Duration::from_nanos(start),
        task,
        step,
        change: Change::Running { worker },
    }
}

/// What one drain handed over.
pub struct Drained {
    pub dropped: u64,
    pub finished: bool,
}

/// The consumer's side: what it read, as transitions, until handed over.
#[derive(Default)]
struct Merge {
    /// The entries of the thread being read, as transitions in its order.
    run: Vec<Event>,
    /// The seq of each event of `run` since its thread's last poll entry.
    tail: Vec<u64>,
    /// Held back or still to be merged: runs of several threads, or what
    /// could still be preceded (see [`Recorder::drain`]).
    pending: Vec<Event>,
    /// Each pending event's sort key.
    keys: Vec<Key>,
    /// Counts events as they join `pending`.
    arrival: u64,
    /// Where [`Merge::sort`] merges into (then swapped with the two above).
    sorted: (Vec<Key>, Vec<Event>),
    /// Per thread: polls whose start was handed over while they ran, and
    /// whose entry has not come yet (one or two: polls of a thread follow
    /// each other).
    started: Vec<Vec<u64>>,
}

pub struct Recorder {
    threads: Mutex<Vec<Arc<ThreadBuf>>>,
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
    start: OnceLock<Start>,
    /// Virtual clock: the runtime's thread, the only one that may read
    /// tokio's paused clock (elsewhere `Instant::now` is the wall's).
    runtime_thread: OnceLock<std::thread::ThreadId>,
    /// Virtual clock only: scenario time (ns) as of the newest clock read,
    /// plus what `cpu` and `block` steps charged since. The paused clock
    /// moves only by such charges and when the runtime parks, so events
    /// are timed from this until then.
    cursor: AtomicU64,
    /// The cursor is behind tokio's clock (it parked and moved on).
    stale: AtomicBool,
    /// The clock is no longer read (see [`Recorder::hold_clock`]).
    held: AtomicBool,
    finished: AtomicBool,
    dropped: AtomicU64,
    /// The newest live figures from the runner's sampler.
    sample: Mutex<Option<Arc<Sample>>>,
    /// Real clock: scenario time per wall time (f64 bits): below 1 the run
    /// plays in slow motion, every duration stretched by the runner.
    scale: AtomicU64,
}

/// `d` in nanoseconds (u64, the largest value kept for none).
pub(super) fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(NONE - 1)
}

impl Recorder {
    pub fn new(capacity: usize, lossless: bool) -> Arc<Recorder> {
        Arc::new(Recorder {
            threads: Mutex::new(Vec::new()),
            merge: Mutex::new(Merge::default()),
            room: Condvar::new(),
            room_lock: Mutex::new(()),
            capacity: capacity.max(16),
            lossless,
            run: RUNS.fetch_add(1, Ordering::Relaxed),
            next_worker: AtomicU16::new(0),
            start: OnceLock::new(),
            runtime_thread: OnceLock::new(),
            cursor: AtomicU64::new(0),
            stale: AtomicBool::new(false),
            held: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
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

    /// Marks scenario time zero; call inside the runtime before any task.
    pub fn start_clock(&self) {
        let _ = self.runtime_thread.set(std::thread::current().id());
        let _ = self.start.set(if self.lossless {
            Start::Tokio(tokio::time::Instant::now())
        } else {
            Start::Real(quanta::Instant::now())
        });
        self.cursor.store(0, Ordering::Relaxed);
    }

    /// The runtime parked (and tokio may have moved its paused clock on):
    /// the next event reads the clock again.
    pub fn clock_moved(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    /// Scenario time now, read from the clock (virtual: on the runtime's
    /// thread only).
    fn read_clock(&self) -> u64 {
        match self.start.get() {
            None => 0,
            Some(Start::Tokio(start)) => {
                ns(tokio::time::Instant::now().saturating_duration_since(*start))
            }
            Some(Start::Real(start)) => {
                let wall = quanta::Instant::now().saturating_duration_since(*start);
                match self.time_scale() {
                    1.0 => ns(wall),
                    scale => ns(wall.mul_f64(scale)),
                }
            }
        }
    }

    /// Scenario time now, as the probe stamps an event (ns), from a thread
    /// that is (`on_runtime`) or is not the runtime's.
    fn clock_on(&self, on_runtime: bool) -> u64 {
        if !self.lossless {
            return self.read_clock();
        }
        if on_runtime
            && !self.held.load(Ordering::Relaxed)
            && self.stale.load(Ordering::Relaxed)
            && self.stale.swap(false, Ordering::Relaxed)
        {
            let now = self.read_clock().max(self.cursor.load(Ordering::Relaxed));
            self.cursor.store(now, Ordering::Relaxed);
            return now;
        }
        self.cursor.load(Ordering::Relaxed)
    }

    /// Virtual clock: the runtime is shutting down (tokio's clock cannot be
    /// read there): what is recorded from now on is stamped with the last
    /// time read.
    pub fn hold_clock(&self) {
        self.held.store(true, Ordering::Relaxed);
    }

    /// Virtual clock: `d` was charged to tokio's clock inside a poll.
    pub(crate) fn charged(&self, d: Duration) {
        self.cursor.fetch_add(ns(d), Ordering::Relaxed);
    }

    /// Scenario time now, as the probe would stamp an event.
    pub fn elapsed(&self) -> Duration {
        let on_runtime = self.runtime_thread.get() == Some(&std::thread::current().id());
        Duration::from_nanos(if self.lossless && CURRENT.with(|c| c.get()).is_none() {
            // Off a poll the paused clock may have moved: read it.
            self.clock_moved();
            self.clock_on(on_runtime)
        } else {
            self.clock_on(on_runtime)
        })
    }

    /// Scenario time as seen from off the runtime (a sampler thread): the
    /// real clock, or on the virtual clock the newest time the probe saw
    /// (tokio's paused clock can only be read on the runtime's thread).
    pub fn time_off_runtime(&self) -> Duration {
        Duration::from_nanos(if self.lossless {
            self.cursor.load(Ordering::Relaxed)
        } else {
            self.read_clock()
        })
    }

    /// Runs `f` with this thread's buffer, registering it first.
    fn with_local<R>(&self, f: impl FnOnce(&mut Local) -> R) -> R {
        LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            if l.as_ref().is_none_or(|l| l.run != self.run) {
                let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
                let (producer, consumer) = rtrb::RingBuffer::new(FIRST_RING.min(self.capacity));
                let buf = Arc::new(ThreadBuf {
                    id: threads.len(),
                    entries: Mutex::new(vec![consumer]),
                    busy: AtomicBool::new(false),
                    open: Open {
                        start: AtomicU64::new(NONE),
                        ..Open::default()
                    },
                });
                threads.push(buf.clone());
                *l = Some(Local {
                    run: self.run,
                    on_runtime: self.runtime_thread.get() == Some(&std::thread::current().id()),
                    buf,
                    entries: producer,
                    next_seq: 0,
                    worker: None,
                    polling: None,
                });
            }
            f(l.as_mut().expect("set above"))
        })
    }

    /// Real clock: this thread reads the clock and writes what it read
    /// (the consumer waits for that; on the virtual clock one thread records
    /// everything in order, so there is nothing to wait for).
    fn enter(&self, buf: &ThreadBuf) {
        if !self.lossless {
            buf.busy.store(true, Ordering::SeqCst);
        }
    }

    fn leave(&self, buf: &ThreadBuf) {
        if !self.lossless {
            buf.busy.store(false, Ordering::Release);
        }
    }

    /// Writes one entry, waiting for room (lossless) or dropping it.
    fn push(&self, l: &mut Local, mut entry: Entry) {
        loop {
            match l.entries.push(entry) {
                Ok(()) => return,
                Err(rtrb::PushError::Full(back))
                    if l.entries.buffer().capacity() < self.capacity =>
                {
                    let size = (l.entries.buffer().capacity() * 2).min(self.capacity);
                    let (producer, consumer) = rtrb::RingBuffer::new(size);
                    l.buf
                        .entries
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(consumer);
                    l.entries = producer;
                    entry = back;
                }
                Err(rtrb::PushError::Full(back)) => {
                    if !self.lossless || self.finished.load(Ordering::Acquire) {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    entry = back;
                    let guard = self.room_lock.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = self
                        .room
                        .wait_timeout(guard, Duration::from_millis(10))
                        .unwrap_or_else(|e| e.into_inner());
                }
            }
        }
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
            self.enter(&l.buf);
            let t = Duration::from_nanos(self.clock_on(l.on_runtime));
            let seq = l.next_seq;
            l.next_seq += 1;
            let event = Event {
                t,
                task,
                step,
                change: change(t),
            };
            self.push(l, Entry::Event { seq, event });
            self.leave(&l.buf);
            t
        })
    }

    /// A poll of `task` at step `step` starts on this thread, now (returned).
    pub(crate) fn poll_start(&self, task: TaskIdx, step: u32) -> Duration {
        self.with_local(|l| {
            let worker = *l
                .worker
                .get_or_insert_with(|| self.next_worker.fetch_add(1, Ordering::Relaxed));
            let open = &l.buf.open;
            self.enter(&l.buf);
            let t = self.clock_on(l.on_runtime);
            let seq = l.next_seq;
            l.next_seq += 1;
            // One writer: a plain store marks it being written.
            let v = open.version.load(Ordering::Relaxed);
            open.version.store(v + 1, Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Release);
            open.seq.store(seq, Ordering::Relaxed);
            open.task.store(task, Ordering::Relaxed);
            open.worker.store(worker, Ordering::Relaxed);
            open.step.store(step, Ordering::Relaxed);
            open.start.store(t, Ordering::Relaxed);
            open.version.store(v + 2, Ordering::Release);
            l.polling = Some((seq, task, worker, step, t));
            self.leave(&l.buf);
            Duration::from_nanos(t)
        })
    }

    /// The step of the poll in progress changed (a Running transition).
    pub(crate) fn poll_step(&self, task: TaskIdx, step: u32) {
        let worker = self.with_local(|l| l.polling.map(|p| p.2));
        if let Some(worker) = worker {
            self.record(task, step, Change::Running { worker });
        }
    }

    /// The poll in progress ended at step `end_step`, as `how(now)` says:
    /// one entry for the whole poll.
    pub(crate) fn poll_end(&self, end_step: u32, how: impl FnOnce(Duration) -> PollEnd) {
        self.with_local(|l| {
            let Some((seq, task, worker, step, start)) = l.polling.take() else {
                return;
            };
            self.enter(&l.buf);
            let end = self.clock_on(l.on_runtime);
            let how = how(Duration::from_nanos(end));
            self.push(
                l,
                Entry::Poll {
                    seq,
                    task,
                    worker,
                    step,
                    end_step,
                    start,
                    end,
                    how,
                },
            );
            let open = &l.buf.open;
            let v = open.version.load(Ordering::Relaxed);
            open.version.store(v + 1, Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Release);
            open.start.store(NONE, Ordering::Relaxed);
            open.version.store(v + 2, Ordering::Release);
            self.leave(&l.buf);
        });
    }

    /// Moves every event ready to be handed over into `into`, in time
    /// order, waiting up to `wait` for the run to finish if there are none.
    pub fn drain(&self, into: &mut Vec<Event>, wait: Duration) -> Drained {
        let mut finished = self.finished.load(Ordering::Acquire);
        if !finished && !wait.is_zero() && !self.has_entries() {
            let guard = self.room_lock.lock().unwrap_or_else(|e| e.into_inner());
            let _ = self
                .room
                .wait_timeout(guard, wait)
                .unwrap_or_else(|e| e.into_inner());
            finished = self.finished.load(Ordering::Acquire);
        }
        let threads: Vec<Arc<ThreadBuf>> = self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut merge = self.merge.lock().unwrap_or_else(|e| e.into_inner());
        let merge = &mut *merge;
        // Nothing recorded from now on is older than this (real clock: any
        // thread reads a later time; virtual: one thread, in order).
        let mut horizon = if finished || self.lossless {
            NONE
        } else {
            self.read_clock()
        };
        // With nothing held back and nothing to hold back, one thread's
        // events go straight to the consumer: no keys, no sort, no copy.
        let mut direct = (horizon == NONE && merge.pending.is_empty()).then_some(None);
        for buf in &threads {
            while buf.busy.load(Ordering::SeqCst) {
                std::hint::spin_loop();
                std::thread::yield_now();
            }
            if merge.started.len() <= buf.id {
                merge.started.resize(buf.id + 1, Vec::new());
            }
            // A poll in progress (read before its thread's entries, so no
            // poll of it ends unseen between the two): shown now, and
            // nothing of its thread after its start can be handed over yet.
            let open = read_open(&buf.open);
            merge.tail.clear();
            let mut rings = buf.entries.lock().unwrap_or_else(|e| e.into_inner());
            // The open poll may have ended since: its entry is here then.
            let mut open_ended = false;
            for ring in rings.iter_mut() {
                let written = ring.slots();
                if let Ok(chunk) = ring.read_chunk(written) {
                    for entry in chunk {
                        if let (Some(o), Entry::Poll { seq, .. }) = (open, &entry) {
                            open_ended |= *seq == o.0;
                        }
                        merge.expand(entry, buf.id);
                    }
                }
            }
            // A ring its thread has left for a bigger one is done once read.
            let newest = rings.len() - 1;
            rings.drain(..newest);
            drop(rings);
            if let Some((seq, task, worker, step, start)) = open {
                // Real clock: another thread may still record something
                // stamped before this start. On the virtual clock every
                // later stamp is at least the cursor, which is past it.
                if !self.lossless {
                    horizon = horizon.min(start);
                }
                if !open_ended && !merge.started[buf.id].contains(&seq) {
                    merge.started[buf.id].push(seq);
                    merge.place_start(seq, start_event(task, worker, step, start));
                }
            }
            if merge.run.is_empty() {
                continue;
            }
            match direct {
                Some(None) => {
                    direct = Some(Some((buf.id, into.len())));
                    if into.is_empty() {
                        std::mem::swap(into, &mut merge.run);
                    } else {
                        into.append(&mut merge.run);
                    }
                }
                Some(Some((first, from))) => {
                    // A second thread: both go through the merge.
                    direct = None;
                    merge.hold(into.drain(from..), first);
                    let mut run = std::mem::take(&mut merge.run);
                    merge.hold(run.drain(..), buf.id);
                    merge.run = run;
                }
                None => {
                    let mut run = std::mem::take(&mut merge.run);
                    merge.hold(run.drain(..), buf.id);
                    merge.run = run;
                }
            }
        }
        self.room.notify_all();
        if merge.pending.is_empty() {
            return Drained {
                dropped: self.dropped.load(Ordering::Relaxed),
                finished,
            };
        }
        merge.sort();
        let ready = if finished {
            merge.pending.len()
        } else {
            merge.keys.partition_point(|k| k.0 <= horizon)
        };
        if ready == merge.pending.len() && into.is_empty() {
            // All of it: handed over as it is, the consumer's emptied batch
            // taking its place.
            std::mem::swap(into, &mut merge.pending);
            merge.keys.clear();
        } else {
            into.extend(merge.pending.drain(..ready));
            merge.keys.drain(..ready);
        }
        Drained {
            dropped: self.dropped.load(Ordering::Relaxed),
            finished: finished && merge.pending.is_empty(),
        }
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
        *self.sample.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(sample));
    }

    /// The newest live figures, if any were sampled.
    pub fn sample(&self) -> Option<Arc<Sample>> {
        self.sample
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The poll in progress in `open`, read consistently: (seq, task, worker,
/// step, start).
fn read_open(open: &Open) -> Option<(u64, TaskIdx, u16, u32, u64)> {
    loop {
        let before = open.version.load(Ordering::Acquire);
        if before % 2 == 1 {
            std::hint::spin_loop();
            continue;
        }
        let read = (
            open.seq.load(Ordering::Relaxed),
            open.task.load(Ordering::Relaxed),
            open.worker.load(Ordering::Relaxed),
            open.step.load(Ordering::Relaxed),
            open.start.load(Ordering::Relaxed),
        );
        if open.version.load(Ordering::Acquire) == before {
            return (read.4 != NONE).then_some(read);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> Change {
        Change::Ready {
            by: WakeBy::Runtime,
            late: None,
            waited: None,
        }
    }

    fn waiting() -> PollEnd {
        PollEnd::Waiting {
            wait: Wait::Yield,
            due: None,
        }
    }

    /// (task, state word) of each event, in the order handed over.
    fn order(events: &[Event]) -> Vec<(TaskIdx, &'static str)> {
        events
            .iter()
            .map(|e| {
                let word = match e.change {
                    Change::Running { .. } => "running",
                    Change::Ready { .. } => "ready",
                    Change::Waiting { .. } => "waiting",
                    _ => "other",
                };
                (e.task, word)
            })
            .collect()
    }

    #[test]
    fn what_a_poll_records_inside_it_comes_after_its_start() {
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
    fn a_poll_in_progress_is_shown_once_and_before_what_it_recorded() {
        let r = Recorder::new(1024, false);
        r.start_clock();
        r.poll_start(0, 0);
        r.record(2, 0, ready());
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

    #[test]
    fn several_threads_are_merged_in_time_order() {
        let r = Recorder::new(1024, false);
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
        r.drain(&mut out, Duration::ZERO);
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
}
