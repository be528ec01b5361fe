//! One row on a CPU at a time: the last stage of a drain. Each burning
//! row tells its own slices, but a gap shorter than the work's threshold
//! (`runtime::work::GAP`) goes unseen by it: when another row's slice
//! begins on a CPU a row is still on, the OS took it away then, and it is
//! given back when that slice ends. So no two rows are ever on one CPU at
//! once, whatever the rows saw of each other.

use crate::event::{Change, Event, TaskIdx, WakeBy, cpu_of, on_cpu};

/// A row on a CPU, as its own transitions say.
#[derive(Debug, Clone, Copy)]
struct OnCpu {
    row: TaskIdx,
    step: u32,
    /// Taken off for another row's slice (and given back after it).
    displaced: bool,
}

/// Which rows each CPU has, the one on it last.
#[derive(Debug, Default)]
pub(super) struct CpuOwners {
    /// Per CPU: rows on it by their own account, in the order they came.
    cpus: Vec<Vec<OnCpu>>,
}

impl CpuOwners {
    /// Hands `e` on to `out`, with the transitions it implies for rows
    /// sharing its CPU.
    pub(super) fn pass(&mut self, e: Event, out: &mut impl FnMut(Event)) {
        match &e.change {
            Change::Running { worker } => match cpu_of(*worker) {
                Some(cpu) => {
                    self.leave(e.task, e.t, out);
                    self.arrive(cpu, e.task, e.step, e.t, out);
                }
                // On a worker, or on some CPU not known: nothing to share.
                None => self.leave(e.task, e.t, out),
            },
            Change::Ready { .. } | Change::Waiting { .. } | Change::Done { .. } => {
                self.leave(e.task, e.t, out);
            }
            Change::Spawned { .. } | Change::OffCpu { .. } => {}
        }
        out(e);
    }

    /// Row `row` goes on CPU `cpu` at `t`: the row on it is taken off.
    fn arrive(
        &mut self,
        cpu: u16,
        row: TaskIdx,
        step: u32,
        t: std::time::Duration,
        out: &mut impl FnMut(Event),
    ) {
        let cpu = usize::from(cpu);
        if self.cpus.len() <= cpu {
            self.cpus.resize_with(cpu + 1, Vec::new);
        }
        if let Some(top) = self.cpus[cpu].last_mut()
            && !top.displaced
        {
            top.displaced = true;
            out(off(top.row, top.step, t));
        }
        self.cpus[cpu].push(OnCpu {
            row,
            step,
            displaced: false,
        });
    }

    /// Row `row` leaves whatever CPU it was on, at `t` (its own slice
    /// ended, or it ended): a row it had taken the CPU from gets it back.
    fn leave(&mut self, row: TaskIdx, t: std::time::Duration, out: &mut impl FnMut(Event)) {
        for (cpu, rows) in self.cpus.iter_mut().enumerate() {
            let Some(at) = rows.iter().position(|r| r.row == row) else {
                continue;
            };
            let was_top = at + 1 == rows.len();
            let left = rows.remove(at);
            if was_top
                && !left.displaced
                && let Some(top) = rows.last_mut()
                && top.displaced
            {
                top.displaced = false;
                out(Event {
                    t,
                    task: top.row,
                    step: top.step,
                    change: Change::Running {
                        worker: on_cpu(cpu as u16),
                    },
                });
            }
            return;
        }
    }
}

/// The OS took row `row`'s CPU away at `t`.
fn off(row: TaskIdx, step: u32, t: std::time::Duration) -> Event {
    Event {
        t,
        task: row,
        step,
        change: Change::Ready {
            by: WakeBy::Os,
            late: None,
            waited: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn running(t: u64, row: TaskIdx, cpu: u16) -> Event {
        Event {
            t: ms(t),
            task: row,
            step: 0,
            change: Change::Running {
                worker: on_cpu(cpu),
            },
        }
    }

    fn intervals(events: &[Event]) -> Vec<(TaskIdx, u64, u64, u16)> {
        let mut open: Vec<(TaskIdx, u64, u16)> = Vec::new();
        let mut done = Vec::new();
        for e in events {
            if let Some(i) = open.iter().position(|o| o.0 == e.task) {
                let (row, from, cpu) = open.remove(i);
                done.push((row, from, e.t.as_millis() as u64, cpu));
            }
            if let Change::Running { worker } = e.change {
                open.push((e.task, e.t.as_millis() as u64, cpu_of(worker).unwrap()));
            }
        }
        done
    }

    #[test]
    fn a_slice_inside_another_rows_takes_the_cpu_from_it_and_gives_it_back() {
        let _limit = crate::test_limit::limit();
        let mut owners = CpuOwners::default();
        let mut out = Vec::new();
        // Row 1 saw no gap while row 2 ran 4..6 ms on its CPU.
        for e in [
            running(0, 1, 0),
            running(4, 2, 0),
            off(2, 0, ms(6)),
            off(1, 0, ms(10)),
        ] {
            owners.pass(e, &mut |e| out.push(e));
        }
        assert_eq!(
            intervals(&out),
            [(1, 0, 4, 0), (2, 4, 6, 0), (1, 6, 10, 0)],
            "{out:?}"
        );
    }

    #[test]
    fn rows_on_other_cpus_are_left_alone() {
        let _limit = crate::test_limit::limit();
        let mut owners = CpuOwners::default();
        let mut out = Vec::new();
        for e in [
            running(0, 1, 0),
            running(1, 2, 1),
            off(2, 0, ms(3)),
            off(1, 0, ms(5)),
        ] {
            owners.pass(e, &mut |e| out.push(e));
        }
        assert_eq!(intervals(&out), [(2, 1, 3, 1), (1, 0, 5, 0)]);
    }

    #[test]
    fn a_displaced_row_that_leaves_for_good_is_not_given_the_cpu_back() {
        let _limit = crate::test_limit::limit();
        let mut owners = CpuOwners::default();
        let mut out = Vec::new();
        // Row 1 is taken off at 4 and tells its own end at 5, inside row
        // 2's slice: it does not come back at 6.
        for e in [
            running(0, 1, 0),
            running(4, 2, 0),
            off(1, 0, ms(5)),
            off(2, 0, ms(6)),
        ] {
            owners.pass(e, &mut |e| out.push(e));
        }
        assert_eq!(intervals(&out), [(1, 0, 4, 0), (2, 4, 6, 0)]);
    }
}
