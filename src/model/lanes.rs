//! Lanes: what each task and each worker did over a window of time, drawn
//! from the history's events up to a cursor and nothing after it.
//!
//! A column covers `scale` of scenario time. A task's cell is its state at
//! the column's start, except that a poll starting inside the column shows
//! however short it is; a worker's cell is the task it runs then (or the
//! first one it starts inside the column).

use std::time::Duration;

use super::history::History;
use super::record::Light;
use super::{Model, State, TaskView};
use crate::probe::{TaskIdx, Wait};

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
    /// Waiting, and the timer or reply it waits for was due in this column.
    Due(Wait),
    /// Still waiting after it was due (its worker was busy then).
    Overdue(Wait),
    Done,
}

/// What a worker was doing during one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerCell {
    /// After the moment shown.
    Empty,
    Idle,
    /// Polling this task: whether the task holds the worker, and whether
    /// its previous poll (or its spawner) was on another worker: it moved,
    /// by a steal or a wake from elsewhere.
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
        matches!(self, Cell::Running | Cell::Holding)
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
}

/// The lane cell of a task in state `state` on step `step`.
fn cell_of(state: &State, holds: bool) -> Cell {
    match state {
        State::Ready => Cell::Ready,
        State::Running { .. } if holds => Cell::Holding,
        State::Running { worker } if *worker == crate::event::ON_CPU => Cell::Sampled,
        State::Running { .. } => Cell::Running,
        State::Waiting(w) => Cell::Waiting(*w),
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
    // Where each requested task's row is.
    let row_of = |task: TaskIdx| tasks.iter().position(|t| *t == task);
    let holds_now = |m: &Model, task: TaskIdx| {
        m.task(task)
            .is_some_and(|t| matches!(t.state, State::Running { .. }) && holds(t.spec, t.step))
    };
    let mut rows: Vec<Row<Cell>> = tasks
        .iter()
        .map(|&t| {
            let current = base
                .task(t)
                .map_or(Cell::Empty, |v| cell_of(&v.state, holds_now(base, t)));
            let mut row = Row::new(window.cols, Cell::Empty, current);
            row.due = base.task(t).and_then(TaskView::due);
            row
        })
        .collect();
    let workers = base.workers.len().max(live.workers.len());
    let mut worker_rows: Vec<Row<WorkerCell>> = (0..workers)
        .map(|w| {
            let current = base
                .workers
                .get(w)
                .and_then(|v| v.current)
                .map_or(WorkerCell::Idle, |t| {
                    WorkerCell::Polling(t, holds_now(base, t), false)
                });
            Row::new(window.cols, WorkerCell::Empty, current)
        })
        .collect();
    let mut running_on = vec![None; live.tasks.len()];
    for (w, v) in base.workers.iter().enumerate() {
        if let Some(slot) = v.current.and_then(|t| running_on.get_mut(t as usize)) {
            *slot = Some(w);
        }
    }
    let mut sweep = Sweep {
        window,
        drawn,
        running_on,
        last_worker: vec![None; live.tasks.len()],
    };
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
        sweep.apply(
            task,
            change,
            t,
            col,
            &mut rows,
            &mut worker_rows,
            row_of(task),
            holds(spec_of(task), step),
        );
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

/// What the sweep over the events keeps besides the rows.
struct Sweep<'w> {
    window: &'w Window,
    drawn: usize,
    /// Which worker each task is running on, by task (a list searched per
    /// event took a replay of a million tasks "running" at once minutes a
    /// frame).
    running_on: Vec<Option<usize>>,
    /// The worker each task was last polled on (or its spawner ran on).
    last_worker: Vec<Option<usize>>,
}

impl Sweep<'_> {
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

    /// Applies one event at column `col` to the rows it concerns.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        task_idx: TaskIdx,
        change: Light,
        t: Duration,
        (col, at_start): (i64, bool),
        rows: &mut [Row<Cell>],
        workers: &mut Vec<Row<WorkerCell>>,
        row: Option<usize>,
        holds: bool,
    ) {
        let drawn = self.drawn;
        let cols = self.window.cols;
        let before = if at_start { col - 1 } else { col };
        let task = task_idx as usize;
        if self.last_worker.len() <= task {
            self.last_worker.resize(task + 1, None);
            self.running_on.resize(task + 1, None);
        }
        let was_on = self.running_on[task];
        if let Light::OffCpu { gone } = change {
            if let Some(wr) = was_on.and_then(|w| workers.get_mut(w)) {
                self.mark_off_cpu(wr, task_idx, t, gone, before);
            }
            return;
        }
        match change {
            // A thread or process on a CPU: no tokio worker lane.
            Light::Running { worker } if crate::event::is_cpu(worker) => {}
            Light::Running { worker } => {
                let w = usize::from(worker);
                if workers.len() <= w {
                    workers.resize_with(w + 1, || {
                        Row::new(cols, WorkerCell::Empty, WorkerCell::Idle)
                    });
                }
                let moved = was_on.is_none() && self.last_worker[task].is_some_and(|l| l != w);
                let cell = WorkerCell::Polling(task_idx, holds, moved);
                let wr = &mut workers[w];
                wr.fill_through(before, drawn);
                if was_on.is_none() {
                    wr.mark(col, cell);
                    self.running_on[task] = Some(w);
                    self.last_worker[task] = Some(w);
                } else if wr.pending.is_some() && at_start {
                    // The step changed at the column's start: show the new one.
                    wr.pending = Some(cell);
                }
                wr.current = cell;
            }
            Light::Spawned { parent: Some(p) } => {
                // A spawned task starts out on its spawner's worker's queue.
                self.last_worker[task] = self.running_on.get(p as usize).copied().flatten();
            }
            _ => {
                if let Some(w) = was_on {
                    self.running_on[task] = None;
                    if let Some(wr) = workers.get_mut(w) {
                        wr.fill_through(before, drawn);
                        wr.current = WorkerCell::Idle;
                    }
                }
            }
        }
        let Some(r) = row.map(|i| &mut rows[i]) else {
            return;
        };
        let cell = match change {
            Light::Spawned { .. } | Light::Ready => Cell::Ready,
            Light::Running { .. } if holds => Cell::Holding,
            Light::Running { worker } if worker == crate::event::ON_CPU => Cell::Sampled,
            Light::Running { .. } => Cell::Running,
            Light::Waiting { wait, .. } => Cell::Waiting(wait),
            Light::Done => Cell::Done,
            Light::OffCpu { .. } => return,
        };
        // The state at the column's start stays, but a poll inside it shows
        // (and a task shows from the column it was spawned in).
        let through = if matches!(change, Light::Spawned { .. }) {
            col - 1
        } else {
            before
        };
        r.fill_through_with(through, drawn, &|c, cell, due| self.mark_due(c, cell, due));
        // A thread or process shows its state at each column's start: its
        // slices are shorter than a column, and two on one CPU then show
        // as turns taken, not as both running.
        let os = matches!(change, Light::Running { worker } if crate::event::is_cpu(worker));
        if matches!(cell, Cell::Running | Cell::Holding) && !os {
            r.mark(col, cell);
        }
        r.current = cell;
        r.due = match change {
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

/// What a CPU was doing during one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuCell {
    /// After the moment shown.
    Empty,
    /// No thread or process of the run on it (something else may be).
    Idle,
    /// This row on it; `switched`: its slice began in this column (the OS
    /// gave it the CPU there).
    Row(TaskIdx, bool),
}

impl Busy for CpuCell {
    fn busy(&self) -> bool {
        matches!(self, CpuCell::Row(..))
    }
}

/// One lane per CPU the run's threads and processes ran on so far: which
/// of them was on it over `window`, from the events before `cursor` only.
pub fn compute_cpus(history: &History, cursor: u64, window: &Window) -> Vec<(u16, Vec<CpuCell>)> {
    let drawn = window.drawn();
    let begin = history.position_at(window.start).min(cursor);
    let (from, base) = history.snapshot_before(begin);
    let mut rows: Vec<Row<CpuCell>> = Vec::new();
    let lane = |rows: &mut Vec<Row<CpuCell>>, cpu: u16| {
        let cpu = usize::from(cpu);
        if rows.len() <= cpu {
            rows.resize_with(cpu + 1, || {
                Row::new(window.cols, CpuCell::Empty, CpuCell::Idle)
            });
        }
        cpu
    };
    // A thread or process on its CPU, or a task on a worker pinned to one.
    let pinned = &history.info().worker_cpus;
    let cpu_of = |worker: u16| {
        crate::event::cpu_of(worker).or_else(|| pinned.get(usize::from(worker)).copied())
    };
    // Who is on which CPU at the start, and where each row is.
    let mut on: Vec<Option<u16>> = vec![None; history.live().tasks.len()];
    for (i, t) in base.tasks.iter().enumerate() {
        if let State::Running { worker } = t.state
            && let Some(cpu) = cpu_of(worker)
        {
            let c = lane(&mut rows, cpu);
            rows[c].current = CpuCell::Row(i as TaskIdx, false);
            on[i] = Some(cpu);
        }
    }
    for pos in from..cursor {
        let Some((t, task, _, change)) = history.light(pos) else {
            continue;
        };
        let (col, at_start) = window.col(t);
        if col >= window.cols as i64 {
            break;
        }
        let before = if at_start { col - 1 } else { col };
        let i = task as usize;
        if on.len() <= i {
            on.resize(i + 1, None);
        }
        let now_on = match change {
            Light::Running { worker } => cpu_of(worker),
            _ => None,
        };
        if let Light::OffCpu { gone } = change {
            // Its worker's thread was off the CPU meanwhile: not ours then.
            if let Some(cpu) = on[i] {
                let r = &mut rows[usize::from(cpu)];
                r.fill_through(before, drawn);
                let (from, to) = window.covered(t.saturating_sub(gone), t);
                let to = to.min(r.filled);
                for c in &mut r.cells[from.min(to)..to] {
                    *c = CpuCell::Idle;
                }
            }
            continue;
        }
        if now_on.is_some() && on[i] == now_on {
            // Its step changed in the poll: still on the same CPU.
            continue;
        }
        // Off the CPU it was on, whatever this transition is.
        if let Some(cpu) = on[i].take() {
            let r = &mut rows[usize::from(cpu)];
            r.fill_through(before, drawn);
            if r.current == CpuCell::Row(task, false) || r.current == CpuCell::Row(task, true) {
                r.current = CpuCell::Idle;
            }
        }
        if let Some(cpu) = now_on {
            let c = lane(&mut rows, cpu);
            let r = &mut rows[c];
            r.fill_through(before, drawn);
            r.mark(col, CpuCell::Row(task, true));
            r.current = CpuCell::Row(task, false);
            on[i] = Some(cpu);
        }
    }
    let last = drawn as i64 - 1;
    rows.into_iter()
        .enumerate()
        .map(|(cpu, mut r)| {
            r.fill_through(last, drawn);
            (cpu as u16, r.cells)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunInfo;
    use crate::probe::{Change, Event, Outcome, WakeBy};

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

    fn history(events: &[Event]) -> History {
        let mut h = History::new(
            RunInfo {
                scenario: "t".into(),
                flavor: "current_thread".into(),
                workers: 1,
                clock: "virtual".into(),
                worker_cpus: Vec::new(),
            },
            1 << 20,
        );
        for e in events {
            h.push(e.clone());
        }
        h
    }

    fn spawned(t: u64, task: TaskIdx) -> Event {
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

    fn log() -> Vec<Event> {
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
        let h = history(&log());
        let lanes = compute(&h, h.len(), &window(75), &[0], |_, _| true);
        assert_eq!(lanes.tasks[0][1], Cell::Holding);
        assert_eq!(lanes.workers[0][1], WorkerCell::Polling(0, true, false));
    }

    #[test]
    fn a_window_that_starts_late_begins_from_the_state_then() {
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
    fn each_cpu_lane_shows_the_row_on_it_and_where_its_slices_begin() {
        use crate::event::on_cpu;
        let running = |t, task, cpu| {
            ev(
                t,
                task,
                Change::Running {
                    worker: on_cpu(cpu),
                },
            )
        };
        let off = |t, task| {
            ev(
                t,
                task,
                Change::Ready {
                    by: WakeBy::Os,
                    late: None,
                    waited: None,
                },
            )
        };
        let h = history(&[
            spawned(0, 0),
            spawned(0, 1),
            running(1, 0, 1),
            off(4, 0),
            running(4, 1, 1),
            off(7, 1),
        ]);
        let w = Window {
            start: Duration::ZERO,
            scale: ms(1),
            cols: 9,
            until: ms(8),
        };
        let cpus = compute_cpus(&h, h.len(), &w);
        assert_eq!(cpus.len(), 2, "lanes for CPUs 0 and 1");
        assert!(
            cpus[0]
                .1
                .iter()
                .all(|c| *c == CpuCell::Idle || *c == CpuCell::Empty)
        );
        let lane = &cpus[1].1;
        assert_eq!(lane[0], CpuCell::Idle);
        assert_eq!(lane[1], CpuCell::Row(0, true), "a slice begins");
        assert_eq!(lane[2], CpuCell::Row(0, false));
        assert_eq!(lane[4], CpuCell::Row(1, true), "the OS gave the CPU to 1");
        assert_eq!(lane[6], CpuCell::Row(1, false));
        assert_eq!(lane[7], CpuCell::Idle);
        assert_eq!(lane[8], CpuCell::Idle);
    }

    #[test]
    fn zooming_steps_by_one_two_five_down_to_100_us_and_out_to_the_whole_run() {
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
        let w = Window {
            start: Duration::ZERO,
            scale: ms(1),
            cols: 8,
            until: ms(8),
        };
        let lanes = compute(&h, h.len(), &w, &[], |_, _| false);
        let cells = &lanes.workers[0];
        assert_eq!(cells[1], WorkerCell::Polling(0, false, false), "{cells:?}");
        assert_eq!(cells[3], WorkerCell::OffCpu(0), "{cells:?}");
        assert_eq!(cells[4], WorkerCell::OffCpu(0), "{cells:?}");
        assert_eq!(cells[5], WorkerCell::Polling(0, false, false), "{cells:?}");
    }
}
