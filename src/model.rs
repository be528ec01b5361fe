//! The model: a pure fold of events into what every view shows.
//!
//! No tokio and no drawing here: [`Model::apply`] takes one [`Event`] at a
//! time and keeps per-task state, per-worker lanes and the counts a summary
//! needs. The same events always give the same model, so a replayed log
//! gives the same summary as the run that wrote it.

pub mod history;
pub mod lanes;
pub mod record;
pub mod resources;

use std::sync::Arc;
use std::time::Duration;

use crate::event::is_cpu;
use crate::event::{NO_TIME, from_opt_nanos, nanos, opt_nanos};
use crate::probe::{Change, Event, Kind, Outcome, TaskIdx, TaskStats, Wait, WakeBy};

pub use crate::event::{RunInfo, RuntimeFigures};
pub use crate::probe::SLOW_POLL;

/// [`SLOW_POLL`] in nanoseconds.
const SLOW_POLL_NS: u64 = SLOW_POLL.as_nanos() as u64;

/// "No task", where a task index may be missing.
const NO_TASK: TaskIdx = TaskIdx::MAX;
/// "No worker", where a worker may be missing.
const NO_WORKER: u16 = u16::MAX;

/// What a task is doing, as a viewer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Ready,
    Running { worker: u16 },
    Waiting(Wait),
    Done(Outcome),
}

/// One task, folded from its events.
///
/// Times are kept as nanoseconds of scenario time (read them through the
/// methods, as durations) and laid out in the order written: what every
/// transition reads and writes comes first, on the same cache lines. A run
/// of 100,000 tasks touches one task after another, and the dashboard's
/// snapshots copy every task: at 280 bytes a task, half of what durations
/// took.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct TaskView {
    pub state: State,
    /// Step index of the newest event.
    pub step: u32,
    /// A tokio task, or a thread, blocking job or child process.
    pub kind: Kind,
    /// When the current state began.
    since: u64,
    poll_start: u64,
    /// Polls seen in the events.
    pub polls: u64,
    running: u64,
    ready_for: u64,
    max_poll: u64,
    /// Polls longer than [`SLOW_POLL`].
    pub slow_polls: u64,
    first_poll_at: u64,
    due: u64,
    /// Who last woke it (encoded), and how late.
    last_by: u64,
    last_late: u64,
    /// Wake-ups that came after their timer or reply was due.
    pub late_wakes: u64,
    max_late: u64,
    waits: [u64; Wait::ALL.len()],
    pub name: Arc<str>,
    /// tokio's task id.
    pub id: u64,
    /// Index of its `[[task]]` in the scenario.
    pub spec: u32,
    pub parent: Option<TaskIdx>,
    /// How long its worker's thread was off a CPU in its polls (the OS
    /// took it away, ns).
    pub off_cpu: u64,
    /// The task whose end woke it from a join ([`NO_TASK`]: none).
    joined: TaskIdx,
    /// The worker whose queue it waits in, as far as the events tell
    /// ([`NO_WORKER`]: not known, or not queued).
    queued_on: u16,
    /// The worker its newest poll ran on.
    last_worker: u16,
    /// Its newest poll ran on another worker than the one whose queue it
    /// was put in: the other worker stole it.
    pub stolen: bool,
    spawned_at: u64,
    done_at: u64,
    /// Its figures (counted as tokio-metrics counts), known once it is done.
    pub stats: Option<Arc<TaskStats>>,
}

fn time(ns: u64) -> Duration {
    Duration::from_nanos(ns)
}

impl TaskView {
    /// A task just spawned at `t`: ready, nothing measured yet.
    pub fn new(
        name: Arc<str>,
        id: u64,
        spec: u32,
        parent: Option<TaskIdx>,
        kind: Kind,
        step: u32,
        t: Duration,
    ) -> TaskView {
        let t = nanos(t);
        TaskView {
            state: State::Ready,
            step,
            kind,
            since: t,
            poll_start: t,
            polls: 0,
            running: 0,
            ready_for: 0,
            max_poll: 0,
            slow_polls: 0,
            first_poll_at: NO_TIME,
            due: NO_TIME,
            last_by: NO_TIME,
            last_late: NO_TIME,
            late_wakes: 0,
            max_late: 0,
            waits: [0; Wait::ALL.len()],
            name,
            id,
            spec,
            parent,
            off_cpu: 0,
            joined: NO_TASK,
            queued_on: NO_WORKER,
            last_worker: NO_WORKER,
            stolen: false,
            spawned_at: t,
            done_at: NO_TIME,
            stats: None,
        }
    }

    /// When the current state began.
    pub fn since(&self) -> Duration {
        time(self.since)
    }

    pub fn spawned_at(&self) -> Duration {
        time(self.spawned_at)
    }

    pub fn done_at(&self) -> Option<Duration> {
        from_opt_nanos(self.done_at)
    }

    pub fn first_poll_at(&self) -> Option<Duration> {
        from_opt_nanos(self.first_poll_at)
    }

    /// Summed running intervals.
    pub fn running(&self) -> Duration {
        time(self.running)
    }

    /// Summed time ready but not polled (the wait for a first poll too).
    pub fn ready_for(&self) -> Duration {
        time(self.ready_for)
    }

    pub fn max_poll(&self) -> Duration {
        time(self.max_poll)
    }

    /// The worst lateness of a wake.
    pub fn max_late(&self) -> Duration {
        time(self.max_late)
    }

    /// Time spent waiting for `wait`.
    pub fn waited(&self, wait: Wait) -> Duration {
        time(self.waits[wait as usize])
    }

    /// Who last woke it, and how late.
    pub fn last_wake(&self) -> Option<(WakeBy, Option<Duration>)> {
        (self.last_by != NO_TIME)
            .then(|| (WakeBy::decode(self.last_by), from_opt_nanos(self.last_late)))
    }

    /// When the timer or reply it waits for is due.
    pub fn due(&self) -> Option<Duration> {
        from_opt_nanos(self.due)
    }

    /// Waiting for io before its request went out: still connecting (its
    /// reply has no due time yet).
    pub fn connecting(&self) -> bool {
        self.state == State::Waiting(Wait::Io) && self.due == NO_TIME
    }

    /// The worker whose queue it waits in, if the events tell.
    pub fn queued_on(&self) -> Option<u16> {
        (self.queued_on != NO_WORKER).then_some(self.queued_on)
    }

    /// The worker its newest poll ran on.
    pub fn last_worker(&self) -> Option<u16> {
        (self.last_worker != NO_WORKER).then_some(self.last_worker)
    }

    /// How long past due its timer or reply is at `now`, if it is waiting
    /// for one that has not come (its worker was busy when it was due).
    pub fn overdue(&self, now: Duration) -> Option<Duration> {
        match (&self.state, self.due()) {
            (State::Waiting(_), Some(due)) if now > due + Duration::from_millis(1) => {
                Some(now - due)
            }
            _ => None,
        }
    }
}

/// A task's figures at one moment, from its events: they grow while the
/// task is in the state they count. `scheduled` means what tokio-metrics'
/// `TaskMonitor` means by it: woken but not yet polled, leaving out the
/// wait for the first poll, which is `first_poll` (one meaning everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveFigures {
    pub polls: u64,
    /// Inside `poll`.
    pub busy: Duration,
    /// Woken but not yet polled (the wait for the first poll left out).
    pub scheduled: Duration,
    /// From spawn to the first poll (growing until it comes).
    pub first_poll: Duration,
    /// Waiting to be woken.
    pub idle: Duration,
}

impl TaskView {
    /// Its figures at scenario time `now` (no earlier than its last event).
    pub fn figures(&self, now: Duration) -> LiveFigures {
        let current = now.saturating_sub(self.since());
        let idle = self.waits.iter().fold(0u64, |a, w| a.saturating_add(*w));
        let first = self
            .first_poll_at()
            .map(|at| at.saturating_sub(self.spawned_at()));
        let mut f = LiveFigures {
            polls: self.polls,
            busy: self.running(),
            scheduled: self.ready_for().saturating_sub(first.unwrap_or_default()),
            first_poll: first.unwrap_or_default(),
            idle: time(idle),
        };
        match self.state {
            State::Running { .. } => f.busy += now.saturating_sub(time(self.poll_start)),
            // Never polled yet: the wait for its first poll.
            State::Ready if first.is_none() => {
                f.first_poll = now.saturating_sub(self.spawned_at());
            }
            State::Ready => f.scheduled += current,
            State::Waiting(_) => f.idle += current,
            State::Done(_) => {}
        }
        f
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.state {
            State::Done(o) => Some(o),
            _ => None,
        }
    }
}

/// A worker thread's lane: what it runs now.
#[derive(Debug, Clone, Default)]
pub struct WorkerView {
    pub current: Option<TaskIdx>,
    /// The task it polled last (for counting switches).
    pub last: Option<TaskIdx>,
    /// When its current poll began.
    pub since: Duration,
    pub polls: u64,
    pub busy: Duration,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub info: RunInfo,
    pub tasks: Vec<TaskView>,
    pub workers: Vec<WorkerView>,
    /// Polls that started on a worker whose previous poll was another
    /// task's (a worker's first poll is not one).
    pub switches: u64,
    /// Polls that ran on another worker than the one whose queue the task
    /// was put in (by its spawner or waker, or its own yield): steals, as
    /// the events tell them, exact and live.
    pub steals: u64,
    /// Time of the newest event.
    pub now: Duration,
    pub events: u64,
    /// Events the probe had to drop (the run said so at its end).
    pub dropped: u64,
    /// Why the run stopped early, if it did.
    pub stalled: Option<String>,
    /// Events that referred to a task never spawned (a damaged log).
    pub orphans: u64,
    /// tokio-metrics' runtime figures, known at the end of the run.
    pub runtime: Option<RuntimeFigures>,
}

impl Model {
    pub fn new(info: RunInfo) -> Model {
        Model {
            workers: vec![WorkerView::default(); info.workers],
            info,
            tasks: Vec::new(),
            switches: 0,
            steals: 0,
            now: Duration::ZERO,
            events: 0,
            dropped: 0,
            stalled: None,
            orphans: 0,
            runtime: None,
        }
    }

    /// Room for `n` tasks up front, so the task list is not grown (and
    /// moved) again and again as they spawn.
    pub fn reserve_tasks(&mut self, n: usize) {
        self.tasks.reserve_exact(n.saturating_sub(self.tasks.len()));
    }

    /// Scenario time when the last task finished.
    pub fn wall(&self) -> Duration {
        self.tasks
            .iter()
            .filter_map(TaskView::done_at)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    pub fn task(&self, idx: TaskIdx) -> Option<&TaskView> {
        self.tasks.get(idx as usize)
    }

    /// Folds one event in.
    pub fn apply(&mut self, e: &Event) {
        self.events += 1;
        if e.t > self.now {
            self.now = e.t;
        }
        if let Change::Spawned {
            name,
            id,
            spec,
            parent,
            kind,
        } = &e.change
        {
            let mut view = TaskView::new(name.clone(), *id, *spec, *parent, *kind, e.step, e.t);
            // A task spawned in a poll goes to its spawner's worker's queue.
            view.queued_on = parent.and_then(|p| self.worker_of(p)).unwrap_or(NO_WORKER);
            self.spawned(e, view);
            return;
        }
        // Who woke it, and on which worker (read before the task is borrowed).
        let waker_worker = match &e.change {
            Change::Ready {
                by: WakeBy::Task(w),
                ..
            } => self.worker_of(*w),
            _ => None,
        };
        // Borrowed apart: one task and the worker lanes.
        let Some(task) = self.tasks.get_mut(e.task as usize) else {
            self.orphans += 1;
            return;
        };
        let t = nanos(e.t);
        if let Change::OffCpu { gone } = &e.change {
            // Its poll goes on; the OS held its worker's thread meanwhile.
            task.off_cpu = task.off_cpu.saturating_add(nanos(*gone));
            return;
        }
        let running = matches!(e.change, Change::Running { .. });
        // Leaving the old state.
        let was_running = task.leave(&e.change, running, t, &mut self.workers);
        // Entering the new one.
        let new_poll = running && !was_running;
        task.step = e.step;
        match &e.change {
            Change::Spawned { .. } | Change::OffCpu { .. } => unreachable!("handled above"),
            Change::Ready { by, late, waited } => {
                task.queued(*by, *waited, waker_worker);
                task.woken(*by, *late, t);
            }
            Change::Running { worker } => {
                if new_poll {
                    task.poll_started(t);
                    if !is_cpu(*worker) {
                        self.steals += u64::from(task.polled_on(*worker));
                        let w = worker_mut(&mut self.workers, *worker);
                        self.switches += u64::from(w.poll_started(e.task, e.t));
                    }
                }
                task.state = State::Running { worker: *worker };
            }
            Change::Waiting { wait, due } => {
                task.state = State::Waiting(*wait);
                task.since = t;
                task.due = opt_nanos(*due);
            }
            Change::Done { outcome, stats } => {
                task.state = State::Done(outcome.clone());
                task.since = t;
                task.done_at = t;
                task.stats = Some(stats.clone());
            }
        }
    }

    /// The tokio worker task `t` is being polled on now, if it is.
    fn worker_of(&self, t: TaskIdx) -> Option<u16> {
        match self.task(t)?.state {
            State::Running { worker } if !is_cpu(worker) => Some(worker),
            _ => None,
        }
    }

    /// The task whose panic task `task`'s join got as a `JoinError`: it
    /// was woken from a join by a task that then ended panicking.
    pub fn join_error(&self, task: TaskIdx) -> Option<TaskIdx> {
        let joined = self.task(task)?.joined;
        matches!(self.task(joined)?.outcome(), Some(Outcome::Panicked(_))).then_some(joined)
    }

    /// A task spawned: its view, at its index.
    fn spawned(&mut self, e: &Event, view: TaskView) {
        let idx = e.task as usize;
        if self.tasks.len() == idx {
            // The next one, as spawns come: no placeholder first.
            self.tasks.push(view);
            return;
        }
        if self.tasks.len() <= idx {
            // Grown by an eighth at a time, not doubled: at 416 bytes a
            // task, a doubling wastes up to 200 MB at a million tasks.
            let more = (idx + 1 - self.tasks.len()).max(self.tasks.len() / 8);
            self.tasks.reserve_exact(more);
            self.tasks.resize_with(idx + 1, || placeholder(e.t));
        }
        self.tasks[idx] = view;
    }

    /// Records what the run said at its end.
    pub fn finish(
        &mut self,
        dropped: u64,
        stalled: Option<String>,
        runtime: Option<RuntimeFigures>,
    ) {
        self.dropped = dropped;
        self.stalled = stalled;
        self.runtime = runtime;
    }
}

/// One task's transitions, for [`Model::apply`]: small and inlined, as
/// they run for every event.
impl TaskView {
    /// Leaves the current state at `t` for `change` (`running` if it is a
    /// poll): the time spent in it goes to its sum, and a poll that ends
    /// frees its worker. Returns whether the task was running.
    #[inline]
    fn leave(
        &mut self,
        change: &Change,
        running: bool,
        t: u64,
        workers: &mut Vec<WorkerView>,
    ) -> bool {
        match self.state {
            State::Running { worker } => {
                if !running {
                    self.poll_ended(worker, t, workers);
                }
                true
            }
            State::Waiting(wait) => {
                let wait = match change {
                    Change::Ready { waited, .. } => Wait::refined(wait, *waited),
                    _ => wait,
                };
                let waited = &mut self.waits[wait as usize];
                *waited = waited.saturating_add(t.saturating_sub(self.since));
                false
            }
            State::Ready => {
                self.ready_for = self.ready_for.saturating_add(t.saturating_sub(self.since));
                false
            }
            State::Done(_) => false,
        }
    }

    /// Its poll on `worker` ended at `t`: the poll's time counted for the
    /// task and for the worker's lane.
    #[inline]
    fn poll_ended(&mut self, worker: u16, t: u64, workers: &mut Vec<WorkerView>) {
        let poll = t.saturating_sub(self.poll_start);
        if !is_cpu(worker) {
            let w = worker_mut(workers, worker);
            w.current = None;
            w.busy += time(poll);
        }
        self.running = self.running.saturating_add(poll);
        self.max_poll = self.max_poll.max(poll);
        self.slow_polls += u64::from(poll > SLOW_POLL_NS);
    }

    /// Woken by `by` (`waker_worker`: the worker its waking task runs
    /// on), ending a wait that `waited` says more about: where it is
    /// queued now, and whose end it joined.
    #[inline]
    fn queued(&mut self, by: WakeBy, waited: Option<Wait>, waker_worker: Option<u16>) {
        let wait = match self.state {
            State::Waiting(w) => Some(Wait::refined(w, waited)),
            _ => None,
        };
        self.queued_on = match (waker_worker, wait) {
            (Some(w), _) => w,
            // tokio puts a yielded task back on its own worker's queue.
            (None, Some(Wait::Yield)) => self.last_worker,
            _ => NO_WORKER,
        };
        if let (WakeBy::Task(t), Some(Wait::Join)) = (by, wait) {
            self.joined = t;
        }
    }

    /// A new poll on tokio worker `worker`: whether it is a steal (the
    /// task was queued on another worker).
    #[inline]
    fn polled_on(&mut self, worker: u16) -> bool {
        self.stolen = self.queued_on != NO_WORKER && self.queued_on != worker;
        self.queued_on = NO_WORKER;
        self.last_worker = worker;
        self.stolen
    }

    /// Woken at `t` by `by`, `late` if after its timer or reply was due.
    #[inline]
    fn woken(&mut self, by: WakeBy, late: Option<Duration>, t: u64) {
        self.state = State::Ready;
        self.since = t;
        self.last_by = by.encode();
        self.last_late = opt_nanos(late);
        if let Some(l) = late {
            self.late_wakes += 1;
            self.max_late = self.max_late.max(nanos(l));
        }
    }

    /// A new poll began at `t` (not a step change mid-poll).
    #[inline]
    fn poll_started(&mut self, t: u64) {
        self.polls += 1;
        self.poll_start = t;
        self.since = t;
        if self.first_poll_at == NO_TIME {
            self.first_poll_at = t;
        }
    }
}

impl WorkerView {
    /// It began polling `task` at `t`. Returns whether that is a switch:
    /// its previous poll was another task's (its first poll is no switch:
    /// nothing was switched from).
    #[inline]
    fn poll_started(&mut self, task: TaskIdx, t: Duration) -> bool {
        let switched = self.last.is_some_and(|last| last != task);
        self.last = Some(task);
        self.current = Some(task);
        self.since = t;
        self.polls += 1;
        switched
    }
}

/// Worker `w`'s lane, added if it is new.
fn worker_mut(workers: &mut Vec<WorkerView>, w: u16) -> &mut WorkerView {
    let w = usize::from(w);
    if workers.len() <= w {
        workers.resize(w + 1, WorkerView::default());
    }
    &mut workers[w]
}

/// A slot for a task whose spawn the log does not have (yet).
fn placeholder(t: Duration) -> TaskView {
    TaskView::new("?".into(), 0, 0, None, Kind::Task, 0, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ev(t: u64, task: TaskIdx, change: Change) -> Event {
        Event {
            t: ms(t),
            task,
            step: 0,
            change,
        }
    }

    fn spawned(t: u64, task: TaskIdx, name: &str) -> Event {
        ev(
            t,
            task,
            Change::Spawned {
                name: name.into(),
                id: u64::from(task) + 1,
                spec: 0,
                parent: None,
                kind: Kind::Task,
            },
        )
    }

    fn model(events: &[Event]) -> Model {
        let mut m = Model::new(RunInfo {
            scenario: "test".into(),
            flavor: "current_thread".into(),
            workers: 1,
            clock: "virtual".into(),
            worker_cpus: Vec::new(),
        });
        for e in events {
            m.apply(e);
        }
        m
    }

    fn done(t: u64, task: TaskIdx) -> Event {
        ev(
            t,
            task,
            Change::Done {
                outcome: Outcome::Ok,
                stats: Arc::default(),
            },
        )
    }

    fn waiting(t: u64, task: TaskIdx, wait: Wait) -> Event {
        ev(t, task, Change::Waiting { wait, due: None })
    }

    fn ready(t: u64, task: TaskIdx, by: WakeBy, late: Option<Duration>) -> Event {
        ev(
            t,
            task,
            Change::Ready {
                by,
                late,
                waited: None,
            },
        )
    }

    #[test]
    fn a_sleeping_task_accumulates_timer_wait_and_one_poll_per_wake() {
        let _limit = crate::test_limit::limit();
        let m = model(&[
            spawned(0, 0, "a"),
            ev(0, 0, Change::Running { worker: 0 }),
            waiting(0, 0, Wait::Timer),
            ready(100, 0, WakeBy::Timer, None),
            ev(100, 0, Change::Running { worker: 0 }),
            done(105, 0),
        ]);
        let a = &m.tasks[0];
        assert_eq!(a.polls, 2);
        assert_eq!(a.waited(Wait::Timer), ms(100));
        assert_eq!(a.running(), ms(5));
        assert_eq!(a.max_poll(), ms(5));
        assert_eq!(a.done_at(), Some(ms(105)));
        assert_eq!(m.wall(), ms(105));
        assert_eq!(m.switches, 0, "one task alone never switches");
    }

    #[test]
    fn switches_count_polls_that_change_task_on_a_worker() {
        let _limit = crate::test_limit::limit();
        // a, b, a, b: four polls, each after another task's but the first.
        let mut events = vec![spawned(0, 0, "a"), spawned(0, 1, "b")];
        for (i, task) in [0, 1, 0, 1].into_iter().enumerate() {
            let t = i as u64 * 10;
            events.push(ev(t, task, Change::Running { worker: 0 }));
            events.push(ready(t + 10, task, WakeBy::Runtime, None));
        }
        assert_eq!(model(&events).switches, 3);
        // a, a, b: the second poll of a is no switch.
        let events = vec![
            spawned(0, 0, "a"),
            spawned(0, 1, "b"),
            ev(0, 0, Change::Running { worker: 0 }),
            ready(10, 0, WakeBy::Runtime, None),
            ev(10, 0, Change::Running { worker: 0 }),
            done(20, 0),
            ev(20, 1, Change::Running { worker: 0 }),
            done(30, 1),
        ];
        assert_eq!(model(&events).switches, 1);
    }

    #[test]
    fn a_step_change_mid_poll_is_not_a_new_poll() {
        let _limit = crate::test_limit::limit();
        let m = model(&[
            spawned(0, 0, "a"),
            ev(0, 0, Change::Running { worker: 0 }),
            Event {
                step: 1,
                ..ev(20, 0, Change::Running { worker: 0 })
            },
            Event {
                step: 1,
                ..done(30, 0)
            },
        ]);
        assert_eq!(m.tasks[0].polls, 1);
        assert_eq!(m.tasks[0].running(), ms(30));
        assert_eq!(m.tasks[0].step, 1);
    }

    #[test]
    fn late_wakes_are_counted_with_the_worst_lateness() {
        let _limit = crate::test_limit::limit();
        let m = model(&[
            spawned(0, 0, "sleeper"),
            ev(0, 0, Change::Running { worker: 0 }),
            waiting(0, 0, Wait::Timer),
            ready(300, 0, WakeBy::Timer, Some(ms(200))),
        ]);
        let t = &m.tasks[0];
        assert_eq!(t.late_wakes, 1);
        assert_eq!(t.max_late(), ms(200));
        assert_eq!(t.state, State::Ready);
        assert_eq!(t.last_wake(), Some((WakeBy::Timer, Some(ms(200)))));
    }

    #[test]
    fn events_for_unknown_tasks_are_counted_not_trusted() {
        let _limit = crate::test_limit::limit();
        let m = model(&[ev(0, 7, Change::Running { worker: 0 })]);
        assert_eq!(m.orphans, 1);
        assert!(m.tasks.is_empty());
    }

    #[test]
    fn worker_lanes_track_the_running_task_and_its_busy_time() {
        let _limit = crate::test_limit::limit();
        let m = model(&[
            spawned(0, 0, "a"),
            ev(0, 0, Change::Running { worker: 1 }),
            waiting(40, 0, Wait::Io),
        ]);
        assert_eq!(m.workers.len(), 2);
        assert_eq!(m.workers[1].busy, ms(40));
        assert_eq!(m.workers[1].current, None);
        assert_eq!(m.tasks[0].state, State::Waiting(Wait::Io));
    }

    fn spawned_by(t: u64, task: TaskIdx, parent: TaskIdx) -> Event {
        ev(
            t,
            task,
            Change::Spawned {
                name: "chunk".into(),
                id: u64::from(task) + 1,
                spec: 1,
                parent: Some(parent),
                kind: Kind::Task,
            },
        )
    }

    #[test]
    fn a_poll_on_another_worker_than_its_queue_is_a_steal() {
        let _limit = crate::test_limit::limit();
        // The boss on worker 0 spawns two chunks: both queued on worker 0.
        let m = model(&[
            spawned(0, 0, "boss"),
            ev(0, 0, Change::Running { worker: 0 }),
            spawned_by(1, 1, 0),
            spawned_by(1, 2, 0),
            waiting(2, 0, Wait::Join),
            // Worker 1 takes the first: stolen; worker 0 runs the second.
            ev(3, 1, Change::Running { worker: 1 }),
            ev(3, 2, Change::Running { worker: 0 }),
        ]);
        assert_eq!(m.steals, 1);
        assert!(m.tasks[1].stolen);
        assert!(!m.tasks[2].stolen);
        // A task woken by a timer is queued nowhere the events tell: no steal.
        let m = model(&[
            spawned(0, 0, "a"),
            ev(0, 0, Change::Running { worker: 0 }),
            waiting(1, 0, Wait::Timer),
            ready(5, 0, WakeBy::Timer, None),
            ev(6, 0, Change::Running { worker: 1 }),
        ]);
        assert_eq!(m.steals, 0);
        // A yield puts it back on its own worker's queue.
        let m = model(&[
            spawned(0, 0, "a"),
            ev(0, 0, Change::Running { worker: 0 }),
            waiting(1, 0, Wait::Yield),
            ready(1, 0, WakeBy::Runtime, None),
            ev(2, 0, Change::Running { worker: 1 }),
        ]);
        assert_eq!(m.steals, 1);
    }

    #[test]
    fn a_join_woken_by_a_task_that_then_panics_got_a_join_error() {
        let _limit = crate::test_limit::limit();
        let m = model(&[
            spawned(0, 0, "toast"),
            spawned(0, 1, "waiter"),
            ev(0, 1, Change::Running { worker: 0 }),
            waiting(0, 1, Wait::Join),
            ev(1, 0, Change::Running { worker: 0 }),
            ready(2, 1, WakeBy::Task(0), None),
            ev(
                2,
                0,
                Change::Done {
                    outcome: Outcome::Panicked("burned".into()),
                    stats: Arc::default(),
                },
            ),
            ev(2, 1, Change::Running { worker: 0 }),
            done(2, 1),
        ]);
        assert_eq!(m.join_error(1), Some(0));
        assert_eq!(m.join_error(0), None);
    }

    #[test]
    fn sched_leaves_out_the_wait_for_the_first_poll() {
        let _limit = crate::test_limit::limit();
        let m = model(&[
            spawned(0, 0, "a"),
            ev(400, 0, Change::Running { worker: 0 }),
            waiting(400, 0, Wait::Yield),
            ready(400, 0, WakeBy::Runtime, None),
        ]);
        let f = m.tasks[0].figures(ms(450));
        assert_eq!(f.first_poll, ms(400));
        assert_eq!(f.scheduled, ms(50));
        // Not polled yet: its wait so far is the first poll's.
        let m = model(&[spawned(0, 0, "a")]);
        let f = m.tasks[0].figures(ms(30));
        assert_eq!((f.first_poll, f.scheduled), (ms(30), ms(0)));
    }
}
