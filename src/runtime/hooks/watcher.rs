//! The watcher: your program's tasks as tokio's hooks and tracing layer
//! report them (spawn, poll, wake, end), recorded as taskscope's events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use super::guess::{Guesses, Learnt};
use super::{ACTIVE, Hidden, JUST_CREATED, POLL, Phase, PollCtx, parked, turn};
use crate::event::{Change, Kind, ON_CPU, Outcome, TaskIdx, TaskStats, Wait};
use crate::probe::{
    CURRENT, PollEnd, Recorder, TaskState, Times, WakeSource, Woken, classify_wake, lateness,
};
use crate::runtime::build::{Hooks, is_runtime_thread};
use crate::runtime::control::Control;
use crate::scenario::Clock;

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
    io: tokio::sync::OnceCell<Arc<crate::runtime::io::IoServer>>,
    /// Set as the tracing default of every runtime thread, if any.
    thread_tracing: Option<tracing::Dispatch>,
    /// What the waits tokio does not name turned out to be, by task name.
    guesses: Guesses,
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
    /// What its last wait tokio did not name turned out to be.
    learnt: Learnt,
    /// The signals seen when its wait began (see `hooks::signals`).
    signals_at_wait: AtomicU64,
}

impl CodeTask {
    pub(super) fn idx(&self) -> TaskIdx {
        self.idx
    }

    /// `name/blocking`, `name/blocking-2`, ...: the name of the next
    /// blocking job it hands over, as a scenario's are named.
    pub(super) fn job_name(&self) -> String {
        match self.jobs.fetch_add(1, Ordering::Relaxed) + 1 {
            1 => format!("{}/blocking", self.name),
            n => format!("{}/blocking-{n}", self.name),
        }
    }
}

impl Watcher {
    /// Makes this the process's watched run; None if one already was.
    pub(crate) fn install(
        recorder: Arc<Recorder>,
        control: Option<Arc<Control>>,
        clock: Clock,
        thread_tracing: Option<tracing::Dispatch>,
    ) -> Option<Arc<Watcher>> {
        let watcher = Arc::new(Watcher {
            recorder,
            control,
            clock,
            tasks: Mutex::new(HashMap::new()),
            next: AtomicU32::new(0),
            start: OnceLock::new(),
            io: tokio::sync::OnceCell::new(),
            thread_tracing,
            guesses: Guesses::default(),
        });
        ACTIVE.set(watcher.clone()).ok()?;
        super::signals::count();
        Some(watcher)
    }

    pub(crate) fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    pub(crate) fn control(&self) -> Option<&Arc<Control>> {
        self.control.as_ref()
    }

    /// Your code has started (tasks spawned before are tokio's own).
    pub(super) fn has_started(&self) -> bool {
        self.start.get().is_some()
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

    pub(super) fn now(&self) -> Duration {
        self.recorder.elapsed()
    }

    /// A task or blocking job was created (its span was).
    pub(super) fn created(
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
            learnt: Learnt::new(),
            signals_at_wait: AtomicU64::new(0),
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

    /// A spawn: pause and step gate it if it is one of your tasks (its
    /// span was just created), not tokio's or taskscope's own.
    fn spawned(&self, id: tokio::task::Id) -> bool {
        JUST_CREATED.with(|j| j.replace(0)) == id_u64(id)
    }

    /// A poll of task `id` opens (the gate let it through).
    fn before_poll(&self, id: tokio::task::Id) {
        POLL.with(|p| {
            *p.borrow_mut() = PollCtx {
                id: id_u64(id),
                phase: Phase::Before,
                ..PollCtx::default()
            }
        });
    }

    /// The task's future is about to be polled (its span entered).
    pub(super) fn poll_started(&self, task: &Arc<CodeTask>) {
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
    pub(super) fn poll_returned(&self, task: &Arc<CodeTask>) {
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
        if let Some(mut end) = task.state.poll_pending() {
            // Not named by tokio: shown as what it most likely is (its
            // wake still says what it was).
            if let PollEnd::Waiting { wait, .. } = &mut end
                && *wait == Wait::Other
            {
                *wait = self.guesses.guess(&task.name, &task.learnt);
            }
            task.times.poll_end(now);
            *task.ended_in.lock().unwrap_or_else(|e| e.into_inner()) = turn();
            task.signals_at_wait
                .store(super::signals::seen(), Ordering::Relaxed);
            self.recorder.poll_end(0, |_| end);
        }
    }

    fn terminated(&self, tokio_id: tokio::task::Id) {
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
    pub(super) fn woken(&self, task: &Arc<CodeTask>) {
        let wait = task.state.wait();
        let source = POLL.with(|p| {
            let p = p.borrow();
            match (p.phase, &p.task) {
                (Phase::InPoll, Some(w)) => WakeSource::Poll { by: w.idx },
                // The waker's future is over: the end of the task it joins.
                (Phase::After, Some(w)) => WakeSource::End {
                    by: w.idx,
                    blocking: w.kind == Kind::Blocking,
                },
                _ if is_runtime_thread() => WakeSource::Driver {
                    same_turn: *task.ended_in.lock().unwrap_or_else(|e| e.into_inner()) == turn(),
                    signal: super::signals::woke(task.signals_at_wait.load(Ordering::Relaxed)),
                },
                _ => WakeSource::Outside,
            }
        });
        let (by, waited) = classify_wake(task.idx, wait, source);
        // A signal is a one-off: the task's next wait is not guessed one.
        if let Some(w) = waited.filter(|w| *w != Wait::Signal) {
            self.guesses.learnt(&task.name, &task.learnt, w);
        }
        let now = self.now();
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
    pub(crate) async fn io_server(&self) -> std::io::Result<Arc<crate::runtime::io::IoServer>> {
        let start = *self.start.get().unwrap_or(&tokio::time::Instant::now());
        self.io
            .get_or_try_init(|| {
                Hidden(Box::pin(crate::runtime::io::IoServer::start(
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

/// tokio's runtime hooks, for your code's run: the watcher opens and
/// closes polls and ends tasks; the tracing layer sees the rest.
impl Hooks for Watcher {
    fn spawned(&self, id: tokio::task::Id) -> bool {
        Watcher::spawned(self, id)
    }

    fn wants_polls(&self) -> bool {
        true
    }

    fn before_poll(&self, id: tokio::task::Id) {
        Watcher::before_poll(self, id);
    }

    fn after_poll(&self) {
        Watcher::after_poll(self);
    }

    fn terminated(&self, id: tokio::task::Id) {
        Watcher::terminated(self, id);
    }

    fn parked(&self) {
        parked();
    }

    fn thread_started(&self) {
        if let Some(d) = &self.thread_tracing {
            // For the thread's whole life.
            std::mem::forget(tracing::dispatcher::set_default(d));
        }
    }
}
