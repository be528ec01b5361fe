//! The CPU lanes: which of the run's threads and processes each CPU ran,
//! column by column, from the events up to a cursor.

use std::time::Duration;

use super::{Busy, Row, Window};
use crate::model::State;
use crate::model::history::History;
use crate::model::record::Light;
use crate::probe::TaskIdx;

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

/// The columns of `r` from `t - gone` to `t` (up to `before`, filled
/// first): none of this run's, its worker's thread was off the CPU.
fn idle_while_off(r: &mut Row<CpuCell>, window: &Window, before: i64, t: Duration, gone: Duration) {
    r.fill_through(before, window.drawn());
    let (from, to) = window.covered(t.saturating_sub(gone), t);
    let to = to.min(r.filled);
    for c in &mut r.cells[from.min(to)..to] {
        *c = CpuCell::Idle;
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
                idle_while_off(&mut rows[usize::from(cpu)], window, before, t, gone);
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
                // A poll it took the CPU from, still going: back on it.
                if let Some(CpuCell::Row(x, _)) = r.displaced.take()
                    && on.get(x as usize).copied().flatten() == Some(cpu)
                {
                    r.current = CpuCell::Row(x, false);
                }
            }
        }
        if let Some(cpu) = now_on {
            let c = lane(&mut rows, cpu);
            let r = &mut rows[c];
            r.fill_through(before, drawn);
            if let CpuCell::Row(x, _) = r.current
                && x != task
            {
                r.displaced = Some(r.current);
            }
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
    use crate::model::lanes::tests::{
        ev, history, ms_columns, pinned_history, pinned_turns, spawned,
    };
    use crate::probe::{Change, WakeBy};

    #[test]
    fn each_cpu_lane_shows_the_row_on_it_and_where_its_slices_begin() {
        let _limit = crate::test_limit::limit();
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
        let w = ms_columns(9);
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
    fn a_pinned_workers_poll_is_back_on_its_cpu_once_a_thread_of_the_run_leaves_it() {
        let _limit = crate::test_limit::limit();
        let h = pinned_history(&pinned_turns(), vec![0]);
        let w = ms_columns(8);
        let cpus = compute_cpus(&h, h.len(), &w);
        let cells = &cpus[0].1;
        assert!(matches!(cells[2], CpuCell::Row(0, _)), "{cells:?}");
        assert!(matches!(cells[4], CpuCell::Row(1, _)), "{cells:?}");
        assert!(matches!(cells[6], CpuCell::Row(0, _)), "{cells:?}");
    }
}
