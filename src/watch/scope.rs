//! The scope itself: tokio's runtime hooks and tracing instrumentation,
//! turned into taskscope's events.
//!
//! A poll is seen three ways, on the thread that runs it: the hooks open it
//! (`on_before_task_poll`, where pause and step hold it) and close it
//! (`on_after_task_poll`); in between, tokio enters the task's span for the
//! poll of its future, and leaves it when the future returns. What happens
//! after that, before the poll closes, is tokio finishing the task: a wake
//! then is the task's end waking whoever joins it.
//!
//! What a task waits on comes from the tokio resource whose poll returned
//! Pending last in the poll, read from the resources entered on the thread
//! at that moment (the outermost: a Mutex, not the semaphore inside it).
//! tokio traces timers, locks, semaphores, oneshot channels and a bounded
//! channel's send (its permit); a join, a channel's recv, a Notify or a
//! socket are not traced: such a wait is `other` until its wake says more
//! (the joined task's end: a join; the I/O driver: io; a task that just
//! sent on a channel: channel).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event as TraceEvent, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::probe::{
    CURRENT, Change, Kind, ON_CPU, Outcome, PollEnd, Recorder, TaskIdx, TaskState, TaskStats,
    Times, Wait, WakeBy, Woken, lateness,
};
use crate::runner::control::{Control, Due};
use crate::scenario::{Clock, Flavor, MAX_THREADS, Scenario};

/// The run being watched (one a process: your program's).
static ACTIVE: OnceLock<Arc<Watcher>> = OnceLock::new();

pub(crate) fn active() -> Option<&'static Arc<Watcher>> {
    ACTIVE.get()
}

/// Numbers the threads, for [`turn`].
static THREADS: AtomicU64 = AtomicU64::new(1);

/// What taskscope knows of your code's run.
pub(crate) struct Watcher {
    recorder: Arc<Recorder>,
    control: Option<Arc<Control>>,
    clock: Clock,
    /// Live tasks by tokio id.
    tasks: Mutex<HashMap<u64, Arc<CodeTask>>>,
    next: AtomicU32,
    /// Scenario time zero on tokio's clock.
    start: OnceLock<tokio::time::Instant>,
    /// The loopback server of [`crate::lesson::io`], started on first use.
    io: tokio::sync::OnceCell<Arc<crate::runner::io::IoServer>>,
}

/// One of your tasks (or a `spawn_blocking` job).
pub(crate) struct CodeTask {
    idx: TaskIdx,
    /// tokio's task id.
    id: u64,
    kind: Kind,
    name: Arc<str>,
    /// Blocking jobs it handed over so far (for their names).
    jobs: AtomicU32,
    state: TaskState,
    times: Times,
    /// The thread's turn its last poll ended in (see [`turn`]).
    ended_in: Mutex<(u64, u64)>,
}

impl CodeTask {
    /// `name/blocking`, `name/blocking-2`, ...: the name of the next
    /// blocking job it hands over, as a scenario's are named.
    fn job_name(&self) -> String {
        match self.jobs.fetch_add(1, Ordering::Relaxed) + 1 {
            1 => format!("{}/blocking", self.name),
            n => format!("{}/blocking-{n}", self.name),
        }
    }
}

/// Where this thread is in a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Idle,
    /// The hooks opened a poll; the task's future is not polled yet.
    Before,
    /// The task's future is being polled.
    InPoll,
    /// The future returned; tokio is finishing the poll (or the task).
    After,
}

#[derive(Default)]
struct PollCtx {
    /// tokio's id of the task the hooks opened a poll of.
    id: u64,
    phase: Phase,
    task: Option<Arc<CodeTask>>,
    /// What the poll waits on, as the last Pending resource said.
    wait: Option<(Wait, Option<Duration>)>,
    /// The poll got a bounded channel's permit (it sent).
    sent: bool,
    /// It panicked, with this message.
    panic: Option<String>,
}

thread_local! {
    static POLL: RefCell<PollCtx> = RefCell::default();
    /// tokio resources entered on this thread, outermost first.
    static RESOURCES: RefCell<Vec<Id>> = const { RefCell::new(Vec::new()) };
    /// This thread is one of the runtime's (a worker, the blocking pool).
    static RUNTIME_THREAD: Cell<bool> = const { Cell::new(false) };
    /// Tasks spawned now are taskscope's own (see [`Hidden`]).
    static HIDE: Cell<u32> = const { Cell::new(0) };
    /// The task a spawn just created, for the spawn hook.
    static JUST_CREATED: Cell<u64> = const { Cell::new(0) };
    /// This thread's number, and how many times it parked.
    static THREAD: Cell<u64> = const { Cell::new(0) };
    static PARKS: Cell<u64> = const { Cell::new(0) };
}

/// This thread's turn: which thread, and how often it has parked so far.
/// tokio hands a `yield_now` back in the same turn (it defers the wake to
/// the worker's next look at its drivers, without parking): a wake off any
/// poll in the turn its wait began is a yield, a later one is the driver's.
fn turn() -> (u64, u64) {
    let thread = THREAD.with(|t| {
        if t.get() == 0 {
            t.set(THREADS.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    });
    (thread, PARKS.with(Cell::get))
}

fn parked() {
    PARKS.with(|p| p.set(p.get() + 1));
}

/// Marks the current thread as the runtime's.
pub(crate) fn runtime_thread_started() {
    RUNTIME_THREAD.with(|r| r.set(true));
}

/// A panic in a task being polled on this thread: its outcome.
pub(crate) fn note_panic(message: &str) {
    let _ = POLL.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut()
            && p.task.is_some()
        {
            p.panic = Some(message.to_string());
        }
    });
}

impl Watcher {
    /// Makes this the process's watched run; None if one already was.
    pub(crate) fn install(
        recorder: Arc<Recorder>,
        control: Option<Arc<Control>>,
        clock: Clock,
    ) -> Option<Arc<Watcher>> {
        let watcher = Arc::new(Watcher {
            recorder,
            control,
            clock,
            tasks: Mutex::new(HashMap::new()),
            next: AtomicU32::new(0),
            start: OnceLock::new(),
            io: tokio::sync::OnceCell::new(),
        });
        ACTIVE.set(watcher.clone()).ok()?;
        Some(watcher)
    }

    pub(crate) fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    pub(crate) fn control(&self) -> Option<&Arc<Control>> {
        self.control.as_ref()
    }

    pub(crate) fn is_virtual(&self) -> bool {
        self.clock == Clock::Virtual
    }

    /// Scenario time zero: call inside the runtime, before your code.
    pub(crate) fn start_clock(&self) {
        self.recorder.start_clock();
        if let Some(c) = &self.control {
            c.start_clock();
        }
        let _ = self.start.set(tokio::time::Instant::now());
    }

    fn tasks(&self) -> MutexGuard<'_, HashMap<u64, Arc<CodeTask>>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tasks alive now.
    pub(crate) fn live(&self) -> usize {
        self.tasks().len()
    }

    /// Figures of the tasks alive now (the dashboard's sampler).
    pub(crate) fn live_stats(&self) -> Vec<(TaskIdx, TaskStats)> {
        self.tasks()
            .values()
            .map(|t| (t.idx, t.times.stats()))
            .collect()
    }

    fn now(&self) -> Duration {
        self.recorder.elapsed()
    }

    /// A task or blocking job was created (its span was).
    fn created(
        &self,
        name: Arc<str>,
        id: u64,
        kind: Kind,
        parent: Option<TaskIdx>,
    ) -> Arc<CodeTask> {
        let idx = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now();
        let task = Arc::new(CodeTask {
            idx,
            id,
            kind,
            name: name.clone(),
            jobs: AtomicU32::new(0),
            state: TaskState::new(),
            times: Times::spawned_at(now),
            ended_in: Mutex::new((0, 0)),
        });
        self.tasks().insert(id, task.clone());
        self.recorder.record(
            idx,
            0,
            Change::Spawned {
                name,
                id,
                spec: 0,
                parent,
                kind,
            },
        );
        task
    }

    fn spawned(&self, id: tokio::task::Id) {
        if JUST_CREATED.with(|j| j.replace(0)) == id_u64(id)
            && let Some(c) = &self.control
        {
            c.track(id);
        }
    }

    fn before_poll(&self, id: tokio::task::Id) {
        if let Some(c) = &self.control {
            c.before_poll(id);
        }
        POLL.with(|p| {
            *p.borrow_mut() = PollCtx {
                id: id_u64(id),
                phase: Phase::Before,
                ..PollCtx::default()
            }
        });
    }

    /// The task's future is about to be polled (its span entered).
    fn poll_started(&self, task: &Arc<CodeTask>) {
        let started = POLL.with(|p| {
            let mut p = p.borrow_mut();
            let opens = match task.kind {
                Kind::Task => p.phase == Phase::Before && p.id == task.id,
                // A blocking job runs once, on a thread of the pool.
                _ => p.phase == Phase::Idle && !task.times.has_started(),
            };
            if opens {
                *p = PollCtx {
                    id: task.id,
                    phase: Phase::InPoll,
                    task: Some(task.clone()),
                    ..PollCtx::default()
                };
            }
            opens
        });
        if !started {
            return;
        }
        let now = self.now();
        CURRENT.with(|c| c.set(Some(task.idx)));
        task.state.poll_started();
        task.times.poll_start(now);
        if task.kind == Kind::Task {
            self.recorder.poll_start(task.idx, 0);
        } else {
            self.recorder
                .record(task.idx, 0, Change::Running { worker: ON_CPU });
        }
    }

    /// The task's future returned (its span left).
    fn poll_returned(&self, task: &Arc<CodeTask>) {
        POLL.with(|p| {
            let mut p = p.borrow_mut();
            if p.phase == Phase::InPoll && p.task.as_ref().is_some_and(|t| t.idx == task.idx) {
                p.phase = Phase::After;
            }
        });
    }

    fn after_poll(&self) {
        let (task, wait) = POLL.with(|p| {
            let mut p = p.borrow_mut();
            let ctx = std::mem::take(&mut *p);
            (ctx.task, ctx.wait)
        });
        let Some(task) = task else { return };
        let now = self.now();
        CURRENT.with(|c| c.set(None));
        if task.state.is_done() {
            return;
        }
        let (wait, due) = wait.unwrap_or((Wait::Other, None));
        task.state.set_wait(wait, due);
        if let Some(end) = task.state.poll_pending() {
            task.times.poll_end(now);
            *task.ended_in.lock().unwrap_or_else(|e| e.into_inner()) = turn();
            self.recorder.poll_end(0, |_| end);
        }
    }

    fn terminated(&self, tokio_id: tokio::task::Id) {
        if let Some(c) = &self.control {
            c.untrack(tokio_id);
        }
        let Some(task) = self.tasks().remove(&id_u64(tokio_id)) else {
            return;
        };
        // Ended in its own poll (or, a blocking job, on its thread)?
        let in_poll = POLL.with(|p| {
            let mut p = p.borrow_mut();
            if p.task.as_ref().is_some_and(|t| t.idx == task.idx) && p.phase != Phase::Before {
                let panic = p.panic.take();
                if task.kind == Kind::Task {
                    p.task = None;
                } else {
                    // A blocking job's thread takes the next job: no hook
                    // closes its "poll".
                    *p = PollCtx::default();
                }
                Some(panic)
            } else {
                None
            }
        });
        let now = self.now();
        task.state.set_done();
        let outcome = match &in_poll {
            Some(Some(message)) => Outcome::Panicked(message.clone()),
            Some(None) => Outcome::Ok,
            None => Outcome::Cancelled,
        };
        let stats = {
            let times = &task.times;
            if in_poll.is_some() {
                times.poll_end(now);
            }
            Arc::new(times.stats())
        };
        if in_poll.is_some() {
            CURRENT.with(|c| c.set(None));
        }
        if in_poll.is_some() && task.kind == Kind::Task {
            self.recorder.poll_end(0, |_| PollEnd::Done(outcome, stats));
        } else {
            self.recorder
                .record(task.idx, 0, Change::Done { outcome, stats });
        }
    }

    /// `task` was woken: by whom, from this thread, and what its wait was.
    fn woken(&self, task: &Arc<CodeTask>) {
        let wait = task.state.wait();
        let (by, waited) = POLL.with(|p| {
            let p = p.borrow();
            match (p.phase, &p.task) {
                (Phase::InPoll | Phase::After, Some(w)) if w.idx == task.idx => {
                    (WakeBy::Runtime, None)
                }
                (Phase::InPoll, Some(w)) => (WakeBy::Task(w.idx), p.sent.then_some(Wait::Channel)),
                // The waker's future is over: the end of the task it joins.
                (Phase::After, Some(w)) => (
                    WakeBy::Task(w.idx),
                    Some(if w.kind == Kind::Blocking {
                        Wait::Blocking
                    } else {
                        Wait::Join
                    }),
                ),
                // Off any poll on a runtime thread: a driver (or a yield).
                _ if RUNTIME_THREAD.with(Cell::get) => match wait {
                    Wait::Timer => (WakeBy::Timer, None),
                    Wait::Io => (WakeBy::Io, None),
                    _ => (WakeBy::Io, Some(Wait::Io)),
                },
                _ => (WakeBy::Runtime, None),
            }
        });
        let now = self.now();
        let ended_in = *task.ended_in.lock().unwrap_or_else(|e| e.into_inner());
        let (by, waited) = match (wait, waited) {
            (Wait::Other, Some(Wait::Io)) if ended_in == turn() => {
                (WakeBy::Runtime, Some(Wait::Yield))
            }
            (Wait::Other, w) => (by, w),
            _ => (by, None),
        };
        if let Woken::Ready { due } = task.state.woken(by) {
            task.times.woken(now);
            self.recorder.record_with(task.idx, 0, |t| Change::Ready {
                by,
                late: lateness(t, due),
                waited,
            });
        }
    }

    /// The loopback server for [`crate::lesson::io`].
    pub(crate) async fn io_server(&self) -> std::io::Result<Arc<crate::runner::io::IoServer>> {
        let start = *self.start.get().unwrap_or(&tokio::time::Instant::now());
        self.io
            .get_or_try_init(|| {
                Hidden(Box::pin(crate::runner::io::IoServer::start(
                    self.is_virtual(),
                    start,
                    self.control.clone(),
                )))
            })
            .await
            .cloned()
    }
}

fn id_u64(id: tokio::task::Id) -> u64 {
    id.to_string().parse().unwrap_or(0)
}

/// The runtime your code runs on, with the hooks that watch it.
pub(crate) fn build_runtime(
    scenario: &Scenario,
    watcher: &Arc<Watcher>,
) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match scenario.runtime.flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(scenario.runtime.workers);
            b
        }
    };
    builder
        .enable_all()
        .thread_name("taskscope-worker")
        .max_blocking_threads(MAX_THREADS)
        .on_thread_start(runtime_thread_started);
    let w = watcher.clone();
    builder.on_task_spawn(move |m| w.spawned(m.id()));
    let w = watcher.clone();
    builder.on_before_task_poll(move |m| w.before_poll(m.id()));
    let w = watcher.clone();
    builder.on_after_task_poll(move |_| w.after_poll());
    let w = watcher.clone();
    builder.on_task_terminate(move |m| w.terminated(m.id()));
    if scenario.runtime.clock == Clock::Virtual {
        builder.start_paused(true);
    }
    let w = watcher.clone();
    builder.on_thread_park(move || {
        parked();
        if w.is_virtual() {
            if let Some(c) = w.control.as_ref().filter(|c| c.is_paced()) {
                c.before_park();
            }
            w.recorder.clock_moved();
        }
    });
    builder.build()
}

/// Runs a future whose spawns are taskscope's own (not shown).
struct Hidden<F>(Pin<Box<F>>);

impl<F: Future> Future for Hidden<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        HIDE.with(|h| h.set(h.get() + 1));
        let out = self.0.as_mut().poll(cx);
        HIDE.with(|h| h.set(h.get() - 1));
        out
    }
}

/// `future`, whose Pending is a wait on `wait` (due when `due` says, in ns
/// of scenario time; u64::MAX: not known): for taskscope's own helpers
/// ([`crate::lesson`]), which know what they wait on better than tokio says.
pub(crate) fn hinted<F: Future>(wait: Wait, due: Arc<AtomicU64>, future: F) -> Hinted<F> {
    Hinted {
        inner: Box::pin(future),
        wait,
        due,
    }
}

pub(crate) struct Hinted<F> {
    inner: Pin<Box<F>>,
    wait: Wait,
    due: Arc<AtomicU64>,
}

impl<F: Future> Future for Hinted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let out = self.inner.as_mut().poll(cx);
        if out.is_pending() {
            let due = self.due.load(Ordering::Relaxed);
            let due = crate::probe::event::from_opt_nanos(due);
            let wait = self.wait;
            POLL.with(|p| p.borrow_mut().wait = Some((wait, due)));
        }
        out
    }
}

/// A task's span: which task it is.
struct TaskExt(Arc<CodeTask>);

/// A tokio resource's span: what waiting on it is.
struct Resource {
    wait: Wait,
    /// A semaphore inside another resource, or a bounded channel's.
    internal: bool,
    /// A timer: when it is due, registered with the pacer.
    due: Option<(Duration, Option<Due>)>,
}

/// The fields taskscope reads off tokio's spans and events.
#[derive(Default)]
struct Fields {
    kind: String,
    name: String,
    id: u64,
    concrete_type: String,
    internal: bool,
    op: String,
    is_ready: Option<bool>,
    duration: Option<u64>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "kind" => self.kind = format!("{value:?}"),
            "task.name" => self.name = format!("{value:?}"),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "kind" => self.kind = value.into(),
            "task.name" => self.name = value.into(),
            "concrete_type" => self.concrete_type = value.into(),
            "op" => self.op = value.into(),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "task.id" => self.id = value,
            "duration" => self.duration = Some(value),
            _ => {}
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "is_internal" => self.internal = value,
            "is_ready" => self.is_ready = Some(value),
            _ => {}
        }
    }
}

/// What waiting on a tokio resource of this type is.
fn resource_wait(concrete_type: &str, internal: bool) -> Wait {
    match concrete_type {
        "Sleep" | "Interval" => Wait::Timer,
        // Alone, an internal semaphore is a bounded channel's send.
        "Semaphore" if internal => Wait::Channel,
        "Mutex" | "RwLock" | "Semaphore" => Wait::Lock,
        "Sender|Receiver" => Wait::Channel,
        _ => Wait::Other,
    }
}

/// The tracing layer that feeds the scope (installed by
/// [`crate::console::install`] for a program under `taskscope::watch`).
#[derive(Debug, Default)]
pub struct Scope;

impl<S> Layer<S> for Scope
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(watcher) = active() else { return };
        let name = attrs.metadata().name();
        if name != "runtime.spawn" && name != "runtime.resource" {
            return;
        }
        let mut f = Fields::default();
        attrs.record(&mut f);
        let Some(span) = ctx.span(id) else { return };
        if name == "runtime.resource" {
            span.extensions_mut().insert(Resource {
                wait: resource_wait(&f.concrete_type, f.internal),
                internal: f.internal,
                due: None,
            });
            return;
        }
        let kind = match f.kind.as_str() {
            "task" | "local" => Kind::Task,
            "blocking" => Kind::Blocking,
            _ => return,
        };
        // Before your code starts, tokio's own: its workers are blocking
        // jobs of a multi_thread runtime.
        if HIDE.with(Cell::get) > 0 || watcher.start.get().is_none() {
            return;
        }
        let parent = POLL.with(|p| {
            let p = p.borrow();
            match p.phase {
                // Spawned by a task taskscope does not show: its own.
                Phase::Before => Err(()),
                Phase::InPoll | Phase::After => Ok(p.task.clone()),
                Phase::Idle => Ok(None),
            }
        });
        let Ok(parent) = parent else { return };
        let shown: Arc<str> = match (f.name.is_empty(), kind, &parent) {
            (false, _, _) => f.name.into(),
            // Named after the task that handed it over, as a scenario's are.
            (true, Kind::Blocking, Some(p)) => p.job_name().into(),
            (true, _, _) => format!("task-{}", f.id).into(),
        };
        let task = watcher.created(shown, f.id, kind, parent.map(|p| p.idx));
        span.extensions_mut().insert(TaskExt(task));
        if kind == Kind::Task {
            JUST_CREATED.with(|j| j.set(f.id));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(watcher) = active() else { return };
        let Some(span) = ctx.span(id) else { return };
        let ext = span.extensions();
        if ext.get::<Resource>().is_some() {
            RESOURCES.with(|r| r.borrow_mut().push(id.clone()));
        } else if let Some(TaskExt(task)) = ext.get::<TaskExt>() {
            let task = task.clone();
            drop(ext);
            watcher.poll_started(&task);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(watcher) = active() else { return };
        let Some(span) = ctx.span(id) else { return };
        let ext = span.extensions();
        if ext.get::<Resource>().is_some() {
            RESOURCES.with(|r| {
                let mut r = r.borrow_mut();
                if let Some(at) = r.iter().rposition(|x| x == id) {
                    r.remove(at);
                }
            });
        } else if let Some(TaskExt(task)) = ext.get::<TaskExt>() {
            let task = task.clone();
            drop(ext);
            watcher.poll_returned(&task);
        }
    }

    fn on_event(&self, event: &TraceEvent<'_>, ctx: Context<'_, S>) {
        let Some(watcher) = active() else { return };
        let target = event.metadata().target();
        match target {
            "tokio::task::waker" => {
                let mut f = Fields::default();
                event.record(&mut f);
                if f.op != "waker.wake" && f.op != "waker.wake_by_ref" {
                    return;
                }
                let Some(span) = ctx.span(&Id::from_u64(f.id.max(1))) else {
                    return;
                };
                let task = span.extensions().get::<TaskExt>().map(|t| t.0.clone());
                if let Some(task) = task {
                    watcher.woken(&task);
                }
            }
            "runtime::resource::poll_op" => {
                let mut f = Fields::default();
                event.record(&mut f);
                // The outermost resource entered: a Mutex, not its semaphore.
                let Some(outer) = RESOURCES.with(|r| r.borrow().first().cloned()) else {
                    return;
                };
                let Some(span) = ctx.span(&outer) else { return };
                let ext = span.extensions();
                let Some(res) = ext.get::<Resource>() else {
                    return;
                };
                let (wait, due, internal) = (res.wait, res.due.as_ref().map(|d| d.0), res.internal);
                drop(ext);
                POLL.with(|p| {
                    let mut p = p.borrow_mut();
                    match f.is_ready {
                        Some(false) => p.wait = Some((wait, due)),
                        Some(true) if internal => p.sent = true,
                        _ => {}
                    }
                });
            }
            "runtime::resource::state_update" => {
                // A timer set or reset: when it is due.
                let mut f = Fields::default();
                event.record(&mut f);
                let Some(ms) = f.duration else { return };
                let Some(inner) = RESOURCES.with(|r| r.borrow().last().cloned()) else {
                    return;
                };
                let Some(span) = ctx.span(&inner) else { return };
                let mut ext = span.extensions_mut();
                let Some(res) = ext.get_mut::<Resource>() else {
                    return;
                };
                if res.wait == Wait::Timer {
                    let at = watcher.now() + Duration::from_millis(ms);
                    let guard = watcher.control.as_ref().and_then(|c| c.due(at));
                    res.due = Some((at, guard));
                }
            }
            _ => {}
        }
    }
}
