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

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use super::event::{
    Change, Event, NO_TIME, Outcome, TaskIdx, TaskStats, Wait, WakeBy, from_opt_nanos, nanos as ns,
    opt_nanos,
};
use super::{CURRENT, Sample};

/// Entries a thread's ring holds before its thread waits (lossless) or
/// drops them.
pub const DEFAULT_CAPACITY: usize = 1 << 18;

/// A thread's first ring: most threads record little (a blocking job, a
/// timer), so rings start small and double, up to the capacity, as their
/// thread fills them.
const FIRST_RING: usize = 1024;

/// The dashboard's: it drains every frame, so a smaller ring is room
/// enough (65,536 entries every 33 ms is two million a second).
pub const DASHBOARD_CAPACITY: usize = 1 << 16;

const NONE: u64 = NO_TIME;

/// An entry's `wait` when there is none.
const NO_WAIT: u8 = u8::MAX;

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

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
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
struct Entry {
    what: What,
    /// A [`Wait`] as a number, or NO_WAIT.
    wait: u8,
    worker: u16,
    task: TaskIdx,
    step: u32,
    /// A poll: the step it ended at.
    end_step: u32,
    /// A poll: its number on its thread.
    poll: u32,
    /// When (a poll: its start), ns of scenario time.
    t: u64,
    end: u64,
    arg: u64,
}

impl Entry {
    fn new(what: What, task: TaskIdx, step: u32, t: u64) -> Entry {
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
struct Open {
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
struct OpenPoll {
    poll: u32,
    task: TaskIdx,
    worker: u16,
    step: u32,
    start: u64,
}

/// One thread's ring, on cache lines of its own (threads write their own
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
    /// Transitions too big for an entry, in order; a `Side` or `PollSide`
    /// entry marks each one's place (written after it).
    side: Mutex<VecDeque<Event>>,
    open: Open,
}

/// The poll in progress on this thread.
#[derive(Debug, Clone, Copy)]
struct Polling {
    poll: u32,
    task: TaskIdx,
    worker: u16,
    step: u32,
    start: u64,
    /// Its start has an entry (something was recorded inside it).
    written: bool,
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
    next_poll: u32,
    worker: Option<u16>,
    polling: Option<Polling>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

static RUNS: AtomicU64 = AtomicU64::new(1);

/// Scenario time zero, on the clock the run uses.
enum Start {
    /// tokio's clock: the paused (virtual) clock, read under its lock.
    Tokio(tokio::time::Instant),
    /// The real clock, read cheaply: the CPU's time-stamp counter where it
    /// is reliable, as a raw count (scaled to nanoseconds only for the
    /// lap since `raw`).
    Real { clock: quanta::Clock, raw: u64 },
}

/// The real clock, calibrated once per process (calibrating takes a while).
fn real_clock() -> quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new).clone()
}

/// Real clock: how far behind the clock a drain stops handing over. A
/// thread may read the clock and write what it read a moment later; what
/// it writes after this long (it was pre-empted in between) is handed over
/// as late as it came, never out of order.
const GRACE: u64 = 100_000;

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

/// What one drain handed over.
pub struct Drained {
    pub dropped: u64,
    pub finished: bool,
}

/// The consumer's view of one thread.
#[derive(Default)]
struct Reader {
    /// Polls whose start has been handed over and whose entry has not come
    /// yet (one or two: polls of a thread follow each other). A start is
    /// handed over from its own entry, or from the thread's slot while the
    /// poll runs, whichever comes first; once only.
    started: Vec<u32>,
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
struct Merge {
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
    handed: Duration,
    /// Counts events as they join `pending`.
    arrival: u64,
    /// Where [`Merge::sort`] merges into (then swapped with the two above).
    sorted: (Vec<Key>, Vec<Event>),
}

impl Merge {
    /// Hands the pending events up to `horizon` over to `each`, in order.
    fn hand_over(&mut self, horizon: u64, each: &mut impl FnMut(Event)) {
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

/// One thread as a drain finds it: its poll in progress (read before its
/// entries) and how many entries wait.
struct Found {
    buf: Arc<ThreadBuf>,
    open: Option<OpenPoll>,
    waiting: usize,
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
            let clock = real_clock();
            let raw = clock.raw();
            Start::Real { clock, raw }
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
            Some(Start::Real { clock, raw }) => {
                let wall = clock.delta_as_nanos(*raw, clock.raw());
                match self.time_scale() {
                    1.0 => wall,
                    scale => (wall as f64 * scale) as u64,
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
    #[inline]
    fn with_local<R>(&self, f: impl FnOnce(&mut Local) -> R) -> R {
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
            on_runtime: self.runtime_thread.get() == Some(&std::thread::current().id()),
            buf,
            entries: producer,
            next_poll: 0,
            worker: None,
            polling: None,
        }
    }

    /// Writes one entry, making room first if the ring is full.
    fn push(&self, l: &mut Local, entry: Entry) {
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
    fn inside_poll(&self, l: &mut Local) {
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
            let now = self.clock_on(l.on_runtime);
            let t = Duration::from_nanos(now);
            self.inside_poll(l);
            let mut entry = Entry::new(What::Side, task, step, now);
            match change(t) {
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
                        t,
                        task,
                        step,
                        change,
                    },
                ),
            }
            t
        })
    }

    /// Writes `event` to the side list and `entry` to mark its place, or
    /// drops both.
    fn push_side(&self, l: &mut Local, entry: Entry, event: Event) {
        if self.room(l) {
            l.buf
                .side
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(event);
            let _ = l.entries.push(entry);
        }
    }

    /// A poll of `task` at step `step` starts on this thread, now (returned).
    pub(crate) fn poll_start(&self, task: TaskIdx, step: u32) -> Duration {
        self.with_local(|l| {
            let worker = *l
                .worker
                .get_or_insert_with(|| self.next_worker.fetch_add(1, Ordering::Relaxed));
            let open = &l.buf.open;
            let t = self.clock_on(l.on_runtime);
            let poll = l.next_poll;
            l.next_poll = poll.wrapping_add(1);
            // One writer: a plain store marks it being written.
            let v = open.version.load(Ordering::Relaxed);
            open.version.store(v + 1, Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Release);
            open.poll.store(poll, Ordering::Relaxed);
            open.task.store(task, Ordering::Relaxed);
            open.worker.store(worker, Ordering::Relaxed);
            open.step.store(step, Ordering::Relaxed);
            open.start.store(t, Ordering::Relaxed);
            open.version.store(v + 2, Ordering::Release);
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
            let end = self.clock_on(l.on_runtime);
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
            let open = &l.buf.open;
            let v = open.version.load(Ordering::Relaxed);
            open.version.store(v + 1, Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Release);
            open.start.store(NONE, Ordering::Relaxed);
            open.version.store(v + 2, Ordering::Release);
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
        let mut finished = self.finished.load(Ordering::Acquire);
        if !finished && !wait.is_zero() && !self.has_entries() {
            let guard = self.room_lock.lock().unwrap_or_else(|e| e.into_inner());
            let _ = self
                .room
                .wait_timeout(guard, wait)
                .unwrap_or_else(|e| e.into_inner());
            finished = self.finished.load(Ordering::Acquire);
        }
        // Nothing recorded from now on is older than this (real clock: a
        // thread that is not in the list read below starts recording after
        // it, so it reads a later time, and one that read the clock before
        // has written what it read within the grace; virtual: one thread,
        // in order).
        let mut horizon = if finished || self.lossless {
            NONE
        } else {
            self.read_clock().saturating_sub(GRACE)
        };
        let threads: Vec<Arc<ThreadBuf>> = self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut merge = self.merge.lock().unwrap_or_else(|e| e.into_inner());
        let merge = &mut *merge;
        if merge.readers.len() < threads.len() {
            merge.readers.resize_with(threads.len(), Reader::default);
        }
        // Each thread's poll in progress, read before its entries (so no
        // poll of it ends unseen between the two), and what it has written.
        let mut found = Vec::new();
        for buf in threads {
            let open = read_open(&buf.open);
            let waiting = buf
                .entries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|r| r.slots())
                .sum::<usize>();
            if let Some(o) = open {
                // Real clock: another thread may still record something
                // stamped before this start. On the virtual clock every
                // later stamp is at least the cursor, which is past it.
                if !self.lossless {
                    horizon = horizon.min(o.start);
                }
            }
            let unseen = open.filter(|o| !merge.readers[buf.id].started.contains(&o.poll));
            if waiting > 0 || unseen.is_some() {
                found.push(Found {
                    buf,
                    open: unseen,
                    waiting,
                });
            }
        }
        // Handed over no earlier than the last one (a thread pre-empted
        // for longer than the grace between reading the clock and writing
        // what it read comes late).
        let mut handed = merge.handed;
        let mut each = |mut e: Event| {
            if e.t < handed {
                e.t = handed;
            } else {
                handed = e.t;
            }
            each(e);
        };
        // One thread, and nothing held back but its own: its transitions
        // go straight to `each`, up to the horizon.
        let single = found.len() == 1
            && merge
                .pending_from
                .is_none_or(|thread| thread == found[0].buf.id);
        if single {
            merge.hand_over(horizon, &mut each);
        }
        let mut straight = single && merge.pending.is_empty();
        for f in &found {
            let reader = &mut merge.readers[f.buf.id];
            let run = &mut merge.run;
            let mut out = |e: Event| {
                if straight && ns(e.t) <= horizon {
                    each(e);
                } else {
                    straight = false;
                    run.push(e);
                }
            };
            let mut open_ended = false;
            {
                let mut rings = f.buf.entries.lock().unwrap_or_else(|e| e.into_inner());
                // Side events are written before their entries: all that
                // the entries read here mark are in the list now.
                reader.side.extend(
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
                            reader.expand(entry, &mut out);
                        }
                    }
                }
                // A ring its thread has left for a bigger one is done once
                // read.
                let newest = rings.len() - 1;
                let done = rings[..newest].iter().take_while(|r| r.is_empty()).count();
                rings.drain(..done);
            }
            // The poll in progress, shown now: nothing of its thread after
            // its start can be handed over yet (see the horizon).
            if let Some(o) = f.open
                && !open_ended
                && !reader.started.contains(&o.poll)
            {
                reader.started.push(o.poll);
                out(start_event(o.task, o.worker, o.step, o.start));
            }
            if !run.is_empty() {
                let mut run = std::mem::take(run);
                merge.hold(run.drain(..), f.buf.id);
                merge.run = run;
            }
        }
        self.room.notify_all();
        merge.hand_over(if finished { NONE } else { horizon }, &mut each);
        merge.handed = handed;
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

/// The poll in progress in `open`, read consistently.
fn read_open(open: &Open) -> Option<OpenPoll> {
    loop {
        let before = open.version.load(Ordering::Acquire);
        if before % 2 == 1 {
            std::hint::spin_loop();
            continue;
        }
        let read = OpenPoll {
            poll: open.poll.load(Ordering::Relaxed),
            task: open.task.load(Ordering::Relaxed),
            worker: open.worker.load(Ordering::Relaxed),
            step: open.step.load(Ordering::Relaxed),
            start: open.start.load(Ordering::Relaxed),
        };
        if open.version.load(Ordering::Acquire) == before {
            return (read.start != NONE).then_some(read);
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
    fn order(events: &[Event]) -> Vec<(TaskIdx, &'static str)> {
        events.iter().map(|e| (e.task, word(e))).collect()
    }

    /// (step, state word) of each event, in the order handed over.
    fn steps(events: &[Event]) -> Vec<(u32, &'static str)> {
        events.iter().map(|e| (e.step, word(e))).collect()
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

    #[test]
    fn a_thread_that_writes_late_is_handed_over_late_never_out_of_order() {
        let r = Recorder::new(1024, false);
        r.start_clock();
        let late = {
            let r = r.clone();
            // Reads the clock, then is held up (as if pre-empted) before
            // it writes what it read.
            std::thread::spawn(move || {
                r.record_with(7, 0, |_| {
                    std::thread::sleep(Duration::from_millis(20));
                    ready()
                })
            })
        };
        std::thread::sleep(Duration::from_millis(2));
        r.record(1, 0, ready());
        std::thread::sleep(Duration::from_nanos(2 * GRACE));
        let mut out = Vec::new();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(order(&out), [(1, "ready")]);
        let stamped = late.join().unwrap();
        assert!(stamped < out[0].t, "task 7 read the clock first");
        r.finish();
        r.drain(&mut out, Duration::ZERO);
        assert_eq!(order(&out), [(1, "ready"), (7, "ready")]);
        assert_eq!(out[1].t, out[0].t, "handed over when it came");
    }

    #[test]
    fn a_poll_that_changed_step_and_runs_on_is_started_once() {
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

    #[test]
    fn several_threads_are_merged_in_time_order() {
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
}
