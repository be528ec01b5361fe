//! Lanes: what each task and each worker did over a window of time, drawn
//! from the history's events up to a cursor and nothing after it.
//!
//! A column covers `scale` of scenario time. A task's cell is its state at
//! the column's start, except that a poll starting inside the column shows
//! however short it is; a worker's cell is the task it runs then (or the
//! first one it starts inside the column). The CPU lanes are in `cpus`,
//! the lanes of the mutexes and channels in `resources`.

mod cpus;
pub mod resources;
mod shares;

use std::time::Duration;

use super::history::History;
use super::record::{End, Light};
use super::{Model, State, TaskView};
use crate::probe::{TaskIdx, Wait};

pub use cpus::{CpuCell, compute_cpus};
pub use shares::run_shares;

/// What a task was doing during one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Nothing to draw: before the task existed, or after the moment shown.
    Empty,
    Ready,
    Running,
    /// Running a `cpu` or `block` step: holding its worker.
    Holding,
    /// A thread or job of code taskscope did not write, running as far as
    /// anyone knows: whether it is on a CPU is not measured (sampled at
    /// best), so it is not drawn as on one.
    Sampled,
    Waiting(Wait),
    /// Waiting for io before its request went out: connecting.
    Connecting,
    /// Waiting, and the timer or reply it waits for was due in this column.
    Due(Wait),
    /// Still waiting after it was due (its worker was busy then).
    Overdue(Wait),
    /// It panicked in this column.
    Panicked,
    Done,
}

/// What a worker was doing during one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerCell {
    /// After the moment shown.
    Empty,
    Idle,
    /// Polling this task: whether the task holds the worker, and whether
    /// this poll is a steal (the task was queued on another worker).
    Polling(TaskIdx, bool, bool),
    /// In this task's poll, but the OS had taken the worker's thread away.
    OffCpu(TaskIdx),
}

/// The span of time the lanes show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Duration,
    /// Scenario time per column.
    pub scale: Duration,
    pub cols: usize,
    /// Nothing is drawn after this moment (the moment shown).
    pub until: Duration,
}

impl Window {
    /// Column of time `t` (may be before or past the window), and whether
    /// `t` is exactly that column's start.
    fn col(&self, t: Duration) -> (i64, bool) {
        let from = t.as_nanos() as i128 - self.start.as_nanos() as i128;
        let scale = self.scale.as_nanos().max(1) as i128;
        (from.div_euclid(scale) as i64, from.rem_euclid(scale) == 0)
    }

    /// The columns most of which lie between `from` and `to` (a stretch
    /// shorter than half a column covers none).
    fn covered(&self, from: Duration, to: Duration) -> (usize, usize) {
        let half = self.scale / 2;
        let first = self.col(from.saturating_add(half)).0.max(0) as usize;
        let end = self.col(to.saturating_sub(half)).0.max(-1) + 1;
        (first, (end.max(0) as usize).min(self.cols))
    }

    /// Columns that start no later than `until`.
    fn drawn(&self) -> usize {
        if self.until < self.start {
            return 0;
        }
        (self.col(self.until).0 + 1).clamp(0, self.cols as i64) as usize
    }
}

/// The cells of the requested tasks and of every worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lanes {
    pub workers: Vec<Vec<WorkerCell>>,
    pub tasks: Vec<Vec<Cell>>,
}

/// A cell that shows a poll (which a later poll in its column must not hide).
trait Busy: Copy {
    fn busy(&self) -> bool;
}

impl Busy for Cell {
    fn busy(&self) -> bool {
        matches!(self, Cell::Running | Cell::Holding | Cell::Panicked)
    }
}

impl Busy for WorkerCell {
    fn busy(&self) -> bool {
        matches!(self, WorkerCell::Polling(..))
    }
}

/// One row being swept: its current cell and how far it is filled.
struct Row<C> {
    cells: Vec<C>,
    current: C,
    /// Columns `..filled` are final.
    filled: usize,
    /// The cell of column `filled - 1` shows a poll already.
    marked: bool,
    /// A poll that started exactly where column `filled` starts.
    pending: Option<C>,
    /// When the timer or reply the row waits for is due.
    due: Option<Duration>,
    /// A worker's poll while a thread of the run holds its CPU: what it
    /// shows again once the CPU is free.
    displaced: Option<C>,
}

impl<C: Busy> Row<C> {
    fn new(cols: usize, empty: C, current: C) -> Row<C> {
        Row {
            cells: vec![empty; cols],
            current,
            filled: 0,
            marked: false,
            pending: None,
            due: None,
            displaced: None,
        }
    }

    /// Fills up to and including column `col` with the current cell (a poll
    /// that started at the first of them shows there instead); `at` may
    /// change a column's cell by its index and the row's due time.
    fn fill_through_with(
        &mut self,
        col: i64,
        drawn: usize,
        at: &dyn Fn(usize, C, Option<Duration>) -> C,
    ) {
        let to = (col + 1).clamp(0, drawn as i64) as usize;
        if to > self.filled {
            for (i, c) in self.cells[self.filled..to].iter_mut().enumerate() {
                *c = at(self.filled + i, self.current, self.due);
            }
            let first = self.filled;
            self.filled = to;
            self.marked = self.current.busy();
            if let Some(p) = self.pending.take() {
                self.cells[first] = p;
                self.marked |= first + 1 == to;
            }
        }
    }

    fn fill_through(&mut self, col: i64, drawn: usize) {
        self.fill_through_with(col, drawn, &|_, c, _| c);
    }

    /// A poll started in column `col`: it shows there however short it is;
    /// a poll already running at the column's start, or an earlier one in
    /// it, wins.
    fn mark(&mut self, col: i64, cell: C) {
        if col < 0 {
            return;
        }
        let col = col as usize;
        if col == self.filled {
            self.pending.get_or_insert(cell);
        } else if col + 1 == self.filled && !self.marked {
            self.cells[col] = cell;
            self.marked = true;
        }
    }

    /// Column `col` shows `cell` whatever else happened in it (a panic).
    fn force(&mut self, col: i64, cell: C) {
        if col < 0 {
            return;
        }
        let col = col as usize;
        if col == self.filled {
            self.pending = Some(cell);
        } else if col < self.filled {
            self.cells[col] = cell;
            self.marked = true;
        }
    }
}

/// The lane cell of task `t` in its state (`holds`: a poll that holds its
/// worker).
fn cell_of(t: &TaskView, holds: bool) -> Cell {
    match t.state {
        State::Ready => Cell::Ready,
        State::Running { .. } if holds => Cell::Holding,
        State::Running { worker } if worker == crate::event::ON_CPU => Cell::Sampled,
        State::Running { .. } => Cell::Running,
        _ if t.connecting() => Cell::Connecting,
        State::Waiting(w) => Cell::Waiting(w),
        State::Done(_) => Cell::Done,
    }
}

/// Computes the lanes of `tasks` and of every worker over `window`, from the
/// events before `cursor` only. `holds(spec, step)` says whether that step
/// holds its worker.
pub fn compute(
    history: &History,
    cursor: u64,
    window: &Window,
    tasks: &[TaskIdx],
    holds: impl Fn(u32, u32) -> bool,
) -> Lanes {
    let drawn = window.drawn();
    let live = history.live();
    let begin = history.position_at(window.start).min(cursor);
    let (from, base) = history.snapshot_before(begin);
    // Where each requested task's row is, by task (looked up for every
    // event: a search of the rows for each of a million events was most
    // of a frame).
    let mut row_index = vec![u32::MAX; live.tasks.len()];
    for (i, &t) in tasks.iter().enumerate() {
        if let Some(slot) = row_index.get_mut(t as usize) {
            *slot = i as u32;
        }
    }
    let row_of = |task: TaskIdx| {
        row_index
            .get(task as usize)
            .filter(|i| **i != u32::MAX)
            .map(|i| *i as usize)
    };
    let holds_now = |m: &Model, task: TaskIdx| {
        m.task(task)
            .is_some_and(|t| matches!(t.state, State::Running { .. }) && holds(t.spec, t.step))
    };
    let mut rows: Vec<Row<Cell>> = tasks
        .iter()
        .map(|&t| {
            let current = base
                .task(t)
                .map_or(Cell::Empty, |v| cell_of(v, holds_now(base, t)));
            let mut row = Row::new(window.cols, Cell::Empty, current);
            row.due = base.task(t).and_then(TaskView::due);
            row
        })
        .collect();
    let workers = base.workers.len().max(live.workers.len());
    let mut worker_rows: Vec<Row<WorkerCell>> = (0..workers)
        .map(|w| {
            let current =
                base.workers
                    .get(w)
                    .and_then(|v| v.current)
                    .map_or(WorkerCell::Idle, |t| {
                        let stolen = base.task(t).is_some_and(|v| v.stolen);
                        WorkerCell::Polling(t, holds_now(base, t), stolen)
                    });
            Row::new(window.cols, WorkerCell::Empty, current)
        })
        .collect();
    let pinned = &history.info().worker_cpus;
    let mut sweep = Sweep::new(window, drawn, base, live.tasks.len(), pinned);
    let spec_of = |task: TaskIdx| live.task(task).map_or(0, |t| t.spec);
    for pos in from..cursor {
        // The light form: nothing of a task's name or figures is cloned.
        let Some((t, task, step, change)) = history.light(pos) else {
            continue;
        };
        let col = window.col(t);
        if col.0 >= window.cols as i64 {
            break;
        }
        let seen = Seen {
            task,
            change,
            t,
            col,
            holds: holds(spec_of(task), step),
        };
        sweep.workers(&seen, &mut worker_rows);
        if let Some(r) = row_of(task).map(|i| &mut rows[i]) {
            sweep.task(&seen, r);
        }
    }
    let last = drawn as i64 - 1;
    for r in &mut rows {
        r.fill_through_with(last, drawn, &|c, cell, due| sweep.mark_due(c, cell, due));
    }
    for r in &mut worker_rows {
        r.fill_through(last, drawn);
    }
    Lanes {
        workers: worker_rows.into_iter().map(|r| r.cells).collect(),
        tasks: rows.into_iter().map(|r| r.cells).collect(),
    }
}

/// One event as the sweep sees it.
struct Seen {
    task: TaskIdx,
    change: Light,
    t: Duration,
    /// Its column, and whether it is exactly at the column's start.
    col: (i64, bool),
    /// Its step holds its worker.
    holds: bool,
}

impl Seen {
    /// The last column the state before this event fills.
    fn before(&self) -> i64 {
        if self.col.1 {
            self.col.0 - 1
        } else {
            self.col.0
        }
    }
}

/// What the sweep over the events keeps besides the rows: per task, the
/// worker it runs on, the one whose queue it waits in, the one it last
/// ran on, and whether it yielded (the model's rules for steals, kept
/// here as the events go by).
struct Sweep<'w> {
    window: &'w Window,
    drawn: usize,
    /// Which worker each task is running on, by task (a list searched per
    /// event took a replay of a million tasks "running" at once minutes a
    /// frame).
    running_on: Vec<Option<usize>>,
    queued_on: Vec<Option<usize>>,
    last_worker: Vec<Option<usize>>,
    yielded: Vec<bool>,
    /// The CPU each worker is pinned to (`pin_workers`), by worker.
    pinned: &'w [u16],
    /// The CPU each thread or process of the run is on, by task.
    os_on: Vec<Option<u16>>,
}

impl Sweep<'_> {
    fn new<'w>(
        window: &'w Window,
        drawn: usize,
        base: &Model,
        tasks: usize,
        pinned: &'w [u16],
    ) -> Sweep<'w> {
        let n = tasks.max(base.tasks.len());
        let mut s = Sweep {
            window,
            drawn,
            running_on: vec![None; n],
            queued_on: vec![None; n],
            last_worker: vec![None; n],
            yielded: vec![false; n],
            pinned,
            os_on: vec![None; n],
        };
        for (w, v) in base.workers.iter().enumerate() {
            if let Some(slot) = v.current.and_then(|t| s.running_on.get_mut(t as usize)) {
                *slot = Some(w);
            }
        }
        for (i, t) in base.tasks.iter().enumerate() {
            s.queued_on[i] = t.queued_on().map(usize::from);
            s.last_worker[i] = t.last_worker().map(usize::from);
            s.yielded[i] = t.state == State::Waiting(Wait::Yield);
        }
        s
    }

    /// A waiting cell in column `col`: the column its due time falls in,
    /// and every column after it, are marked.
    fn mark_due(&self, col: usize, cell: Cell, due: Option<Duration>) -> Cell {
        let (Cell::Waiting(w), Some(due)) = (cell, due) else {
            return cell;
        };
        let start = self.window.start + self.window.scale * col as u32;
        if due >= start + self.window.scale {
            cell
        } else if due >= start {
            Cell::Due(w)
        } else {
            Cell::Overdue(w)
        }
    }

    /// A poll went on, but not on a CPU, for `gone` up to `t`: those
    /// columns of its worker's lane say so.
    fn mark_off_cpu(
        &self,
        wr: &mut Row<WorkerCell>,
        task_idx: TaskIdx,
        t: Duration,
        gone: Duration,
        before: i64,
    ) {
        wr.fill_through(before, self.drawn);
        let (from, to) = self.window.covered(t.saturating_sub(gone), t);
        let to = to.min(wr.filled);
        for c in &mut wr.cells[from.min(to)..to] {
            *c = WorkerCell::OffCpu(task_idx);
        }
    }

    /// A thread or process of the run took a CPU, or left it: a worker
    /// pinned to that CPU cannot run meanwhile (one CPU runs one thread),
    /// so its poll shows the OS holding the thread from then until the CPU
    /// is free again, before the worker's own report of it comes in.
    fn os_turns(&mut self, e: &Seen, workers: &mut [Row<WorkerCell>]) {
        let task = e.task as usize;
        if self.os_on.len() <= task {
            self.os_on.resize(task + 1, None);
        }
        let now_on = match e.change {
            Light::Running { worker } => crate::event::cpu_of(worker),
            _ => None,
        };
        let was_on = self.os_on[task];
        if was_on == now_on || matches!(e.change, Light::OffCpu { .. }) {
            return;
        }
        self.os_on[task] = now_on;
        let before = e.before();
        for (w, wr) in workers.iter_mut().enumerate() {
            let Some(&cpu) = self.pinned.get(w) else {
                continue;
            };
            match wr.current {
                WorkerCell::Polling(t, ..) if now_on == Some(cpu) => {
                    wr.fill_through(before, self.drawn);
                    wr.displaced = Some(wr.current);
                    wr.current = WorkerCell::OffCpu(t);
                }
                WorkerCell::OffCpu(_) if was_on == Some(cpu) => {
                    if let Some(cell) = wr.displaced.take() {
                        wr.fill_through(before, self.drawn);
                        wr.current = cell;
                    }
                }
                _ => {}
            }
        }
    }

    /// Applies one event to the worker rows (and to what the sweep keeps).
    fn workers(&mut self, e: &Seen, workers: &mut Vec<Row<WorkerCell>>) {
        let (drawn, cols) = (self.drawn, self.window.cols);
        let before = e.before();
        let task = e.task as usize;
        if self.last_worker.len() <= task {
            self.last_worker.resize(task + 1, None);
            self.running_on.resize(task + 1, None);
            self.queued_on.resize(task + 1, None);
            self.yielded.resize(task + 1, false);
        }
        let was_on = self.running_on[task];
        self.os_turns(e, workers);
        match e.change {
            Light::OffCpu { gone } => {
                if let Some(wr) = was_on.and_then(|w| workers.get_mut(w)) {
                    self.mark_off_cpu(wr, e.task, e.t, gone, before);
                }
            }
            // A thread or process on a CPU: no tokio worker lane.
            Light::Running { worker } if crate::event::is_cpu(worker) => {}
            Light::Running { worker } => {
                let w = usize::from(worker);
                if workers.len() <= w {
                    workers.resize_with(w + 1, || {
                        Row::new(cols, WorkerCell::Empty, WorkerCell::Idle)
                    });
                }
                let new_poll = was_on.is_none();
                let stolen = new_poll && self.queued_on[task].is_some_and(|q| q != w);
                let wr = &mut workers[w];
                wr.fill_through(before, drawn);
                let cell = WorkerCell::Polling(e.task, e.holds, stolen);
                if new_poll {
                    wr.displaced = None;
                    wr.mark(e.col.0, cell);
                    self.running_on[task] = Some(w);
                    self.last_worker[task] = Some(w);
                    self.queued_on[task] = None;
                    wr.current = cell;
                } else {
                    // The step changed: the poll goes on (a steal still).
                    let stolen = matches!(
                        wr.displaced.unwrap_or(wr.current),
                        WorkerCell::Polling(_, _, true)
                    );
                    let cell = WorkerCell::Polling(e.task, e.holds, stolen);
                    if wr.displaced.is_some() {
                        // Off its CPU still: shown once it is back.
                        wr.displaced = Some(cell);
                    } else {
                        if wr.pending.is_some() && e.col.1 {
                            // The step changed at the column's start: show the new one.
                            wr.pending = Some(cell);
                        }
                        wr.current = cell;
                    }
                }
            }
            Light::Spawned { parent } => {
                // A spawned task starts out on its spawner's worker's queue.
                self.queued_on[task] =
                    parent.and_then(|p| self.running_on.get(p as usize).copied().flatten());
            }
            _ => {
                if let Some(w) = was_on {
                    self.running_on[task] = None;
                    if let Some(wr) = workers.get_mut(w) {
                        wr.fill_through(before, drawn);
                        wr.current = WorkerCell::Idle;
                        wr.displaced = None;
                    }
                }
                if let Light::Ready { by } = e.change {
                    let waker = by.and_then(|b| self.running_on.get(b as usize).copied().flatten());
                    self.queued_on[task] = waker.or(if self.yielded[task] {
                        self.last_worker[task]
                    } else {
                        None
                    });
                }
                self.yielded[task] = matches!(
                    e.change,
                    Light::Waiting {
                        wait: Wait::Yield,
                        ..
                    }
                );
            }
        }
    }

    /// Applies one event to its task's row.
    fn task(&self, e: &Seen, r: &mut Row<Cell>) {
        let drawn = self.drawn;
        let cell = match e.change {
            Light::Spawned { .. } | Light::Ready { .. } => Cell::Ready,
            Light::Running { .. } if e.holds => Cell::Holding,
            Light::Running { worker } if worker == crate::event::ON_CPU => Cell::Sampled,
            Light::Running { .. } => Cell::Running,
            Light::Waiting {
                wait: Wait::Io,
                due: None,
            } => Cell::Connecting,
            Light::Waiting { wait, .. } => Cell::Waiting(wait),
            Light::Done(_) => Cell::Done,
            Light::OffCpu { .. } => return,
        };
        // The state at the column's start stays, but a poll inside it shows
        // (and a task shows from the column it was spawned in).
        let through = if matches!(e.change, Light::Spawned { .. }) {
            e.col.0 - 1
        } else {
            e.before()
        };
        r.fill_through_with(through, drawn, &|c, cell, due| self.mark_due(c, cell, due));
        // A thread or process shows its state at each column's start: its
        // slices are shorter than a column, and two on one CPU then show
        // as turns taken, not as both running.
        let os = matches!(e.change, Light::Running { worker } if crate::event::is_cpu(worker));
        if matches!(cell, Cell::Running | Cell::Holding) && !os {
            r.mark(e.col.0, cell);
        }
        if e.change == Light::Done(End::Panicked) {
            r.force(e.col.0, Cell::Panicked);
        }
        r.current = cell;
        r.due = match e.change {
            Light::Waiting { due, .. } => due,
            _ => None,
        };
    }
}

/// Zoomed in no further than this a column.
pub const FINEST: Duration = Duration::from_micros(100);

/// The time a column after one zoom step from `now` (the scale drawn):
/// in, the next smaller of 1, 2, 5 times a power of ten, down to
/// [`FINEST`]; out, the next larger, until it is `auto`'s (the window
/// that fits the run) or more: None, the automatic window again.
pub fn zoom(now: Duration, zoom_in: bool, auto: Duration) -> Option<Duration> {
    let mut ladder = (0..12u32).flat_map(|p| [1u64, 2, 5].map(move |m| m * 10u64.pow(p) * 1_000));
    let now_ns = now.as_nanos() as u64;
    let next = if zoom_in {
        ladder
            .rfind(|s| *s < now_ns)
            .unwrap_or(FINEST.as_nanos() as u64)
            .max(FINEST.as_nanos() as u64)
    } else {
        ladder.into_iter().find(|s| *s > now_ns).unwrap_or(u64::MAX)
    };
    let next = Duration::from_nanos(next);
    (zoom_in || next < auto).then_some(next)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::RunInfo;
    use crate::probe::{Change, Event, Outcome, WakeBy};

    pub fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// `cols` columns of 1 ms from 0, drawn up to 8 ms (the pinned-worker
    /// histories' span).
    pub fn ms_columns(cols: usize) -> Window {
        Window {
            start: Duration::ZERO,
            scale: ms(1),
            cols,
            until: ms(8),
        }
    }

    pub fn ev(t: u64, task: TaskIdx, change: Change) -> Event {
        Event {
            t: ms(t),
            task,
            step: 0,
            change,
        }
    }

    pub fn history(events: &[Event]) -> History {
        pinned_history(events, Vec::new())
    }

    /// [`history`] of a run whose worker w is pinned to CPU `cpus[w]`.
    pub fn pinned_history(events: &[Event], cpus: Vec<u16>) -> History {
        let mut h = History::new(
            RunInfo {
                scenario: "t".into(),
                flavor: "current_thread".into(),
                workers: 1,
                clock: "virtual".into(),
                worker_cpus: cpus,
            },
            1 << 20,
        );
        for e in events {
            h.push(e.clone());
        }
        h
    }

    /// Task 0 polled on worker 0 (pinned to CPU 0) from 1 ms; thread 1 on
    /// CPU 0 from 3 ms to 6 ms.
    pub fn pinned_turns() -> Vec<Event> {
        vec![
            spawned(0, 0),
            spawned(0, 1),
            ev(1, 0, Change::Running { worker: 0 }),
            ev(
                3,
                1,
                Change::Running {
                    worker: crate::event::on_cpu(0),
                },
            ),
            ev(
                6,
                1,
                Change::Ready {
                    by: WakeBy::Runtime,
                    late: None,
                    waited: None,
                },
            ),
        ]
    }

    pub fn spawned(t: u64, task: TaskIdx) -> Event {
        ev(
            t,
            task,
            Change::Spawned {
                name: "a".into(),
                id: 1,
                spec: 0,
                parent: None,
                kind: crate::probe::Kind::Task,
            },
        )
    }

    pub fn log() -> Vec<Event> {
        vec![
            spawned(0, 0),
            ev(10, 0, Change::Running { worker: 0 }),
            ev(
                20,
                0,
                Change::Waiting {
                    wait: Wait::Timer,
                    due: Some(ms(50)),
                },
            ),
            ev(
                50,
                0,
                Change::Ready {
                    by: WakeBy::Timer,
                    late: None,
                    waited: None,
                },
            ),
            ev(50, 0, Change::Running { worker: 0 }),
            ev(
                52,
                0,
                Change::Done {
                    outcome: Outcome::Ok,
                    stats: std::sync::Arc::default(),
                },
            ),
        ]
    }

    fn window(until: u64) -> Window {
        Window {
            start: Duration::ZERO,
            scale: ms(10),
            cols: 8,
            until: ms(until),
        }
    }

    #[test]
    fn a_task_lane_follows_its_states_column_by_column() {
        let _limit = crate::test_limit::limit();
        let h = history(&log());
        let lanes = compute(&h, h.len(), &window(75), &[0], |_, _| false);
        use Cell::*;
        assert_eq!(
            lanes.tasks[0],
            vec![
                Ready,
                Running,
                Waiting(Wait::Timer),
                Waiting(Wait::Timer),
                Waiting(Wait::Timer),
                Running,
                Done,
                Done
            ]
        );
        use WorkerCell::*;
        assert_eq!(
            lanes.workers[0],
            vec![
                Idle,
                Polling(0, false, false),
                Idle,
                Idle,
                Idle,
                Polling(0, false, false),
                Idle,
                Idle
            ]
        );
    }

    #[test]
    fn nothing_is_drawn_after_the_cursor() {
        let _limit = crate::test_limit::limit();
        let h = history(&log());
        // Two events in: spawned, then running at 10 ms; the cursor's moment
        // is 10 ms.
        let lanes = compute(&h, 2, &window(10), &[0], |_, _| false);
        use Cell::*;
        assert_eq!(
            lanes.tasks[0],
            vec![Ready, Running, Empty, Empty, Empty, Empty, Empty, Empty]
        );
        assert_eq!(lanes.workers[0][1], WorkerCell::Polling(0, false, false));
        assert!(
            lanes.workers[0][2..]
                .iter()
                .all(|c| *c == WorkerCell::Empty)
        );
    }

    #[test]
    fn a_step_that_holds_its_worker_is_drawn_as_holding() {
        let _limit = crate::test_limit::limit();
        let h = history(&log());
        let lanes = compute(&h, h.len(), &window(75), &[0], |_, _| true);
        assert_eq!(lanes.tasks[0][1], Cell::Holding);
        assert_eq!(lanes.workers[0][1], WorkerCell::Polling(0, true, false));
    }

    #[test]
    fn a_window_that_starts_late_begins_from_the_state_then() {
        let _limit = crate::test_limit::limit();
        let h = history(&log());
        let w = Window {
            start: ms(30),
            ..window(75)
        };
        let lanes = compute(&h, h.len(), &w, &[0], |_, _| false);
        assert_eq!(lanes.tasks[0][0], Cell::Waiting(Wait::Timer));
        assert_eq!(lanes.tasks[0][2], Cell::Running);
    }

    #[test]
    fn zooming_steps_by_one_two_five_down_to_100_us_and_out_to_the_whole_run() {
        let _limit = crate::test_limit::limit();
        let auto = Duration::from_millis(40);
        assert_eq!(zoom(ms(40), true, auto), Some(ms(20)));
        assert_eq!(zoom(ms(20), true, auto), Some(ms(10)));
        assert_eq!(zoom(ms(10), true, auto), Some(ms(5)));
        assert_eq!(zoom(FINEST, true, auto), Some(FINEST));
        assert_eq!(zoom(Duration::from_micros(150), true, auto), Some(FINEST));
        assert_eq!(zoom(ms(10), false, auto), Some(ms(20)));
        // Out past the window that fits the run: the automatic one again.
        assert_eq!(zoom(ms(20), false, auto), None);
    }

    #[test]
    fn the_os_taking_a_workers_thread_shows_only_where_it_held_most_of_a_column() {
        let _limit = crate::test_limit::limit();
        let h = history(&[
            spawned(0, 0),
            ev(0, 0, Change::Running { worker: 0 }),
            // Held off its CPU 0.2 ms (in column 1) and 2 ms (columns 3, 4).
            ev(
                2,
                0,
                Change::OffCpu {
                    gone: Duration::from_micros(200),
                },
            ),
            ev(5, 0, Change::OffCpu { gone: ms(2) }),
            ev(
                7,
                0,
                Change::Waiting {
                    wait: Wait::Timer,
                    due: None,
                },
            ),
        ]);
        let w = ms_columns(8);
        let lanes = compute(&h, h.len(), &w, &[], |_, _| false);
        let cells = &lanes.workers[0];
        assert_eq!(cells[1], WorkerCell::Polling(0, false, false), "{cells:?}");
        assert_eq!(cells[3], WorkerCell::OffCpu(0), "{cells:?}");
        assert_eq!(cells[4], WorkerCell::OffCpu(0), "{cells:?}");
        assert_eq!(cells[5], WorkerCell::Polling(0, false, false), "{cells:?}");
    }

    #[test]
    fn a_stolen_poll_connecting_and_a_panic_show_on_their_lanes() {
        let _limit = crate::test_limit::limit();
        let spawned_by = |t, task, parent| {
            ev(
                t,
                task,
                Change::Spawned {
                    name: "c".into(),
                    id: 2,
                    spec: 0,
                    parent: Some(parent),
                    kind: crate::probe::Kind::Task,
                },
            )
        };
        let h = history(&[
            spawned(0, 0),
            ev(0, 0, Change::Running { worker: 0 }),
            spawned_by(0, 1, 0),
            ev(
                10,
                0,
                Change::Waiting {
                    wait: Wait::Io,
                    due: None,
                },
            ),
            // Queued on worker 0, polled on worker 1: stolen.
            ev(20, 1, Change::Running { worker: 1 }),
            ev(
                40,
                1,
                Change::Done {
                    outcome: Outcome::Panicked("burned".into()),
                    stats: std::sync::Arc::default(),
                },
            ),
            ev(
                50,
                0,
                Change::Waiting {
                    wait: Wait::Io,
                    due: Some(ms(70)),
                },
            ),
        ]);
        let lanes = compute(&h, h.len(), &window(75), &[0, 1], |_, _| false);
        assert_eq!(lanes.workers[1][2], WorkerCell::Polling(1, false, true));
        assert_eq!(lanes.workers[0][0], WorkerCell::Polling(0, false, false));
        assert_eq!(lanes.tasks[0][1], Cell::Connecting);
        assert_eq!(lanes.tasks[0][5], Cell::Waiting(Wait::Io));
        assert_eq!(lanes.tasks[1][4], Cell::Panicked);
        assert_eq!(lanes.tasks[1][5], Cell::Done);
    }

    #[test]
    fn a_thread_of_the_run_on_a_pinned_workers_cpu_holds_the_worker_off_it() {
        let _limit = crate::test_limit::limit();
        let h = pinned_history(&pinned_turns(), vec![0]);
        let w = ms_columns(8);
        let lanes = compute(&h, h.len(), &w, &[], |_, _| false);
        let cells = &lanes.workers[0];
        assert_eq!(cells[2], WorkerCell::Polling(0, false, false), "{cells:?}");
        for c in 3..6 {
            assert_eq!(cells[c], WorkerCell::OffCpu(0), "column {c}: {cells:?}");
        }
        assert_eq!(cells[6], WorkerCell::Polling(0, false, false), "{cells:?}");
    }
}
