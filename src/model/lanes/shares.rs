//! How much of each column a task ran: a lane draws any poll in a column,
//! however short; for your own code, where a task may run 2 ms in 8 s, the
//! share tells a busy task from one that only woke (`▁` to `█`, in
//! eighths).

use std::collections::HashMap;
use std::time::Duration;

use super::Window;
use crate::model::history::History;
use crate::model::record::{End, Light};
use crate::probe::TaskIdx;

/// Events in a window past which no share is counted (the lanes then
/// show polls as they always do).
pub const MOST_EVENTS: u64 = 2_000_000;

/// For each of `tasks`, the eighths (0 to 8) of each of the window's
/// columns it ran in, from the events before `cursor`; None when the
/// window holds more than [`MOST_EVENTS`].
pub fn run_shares(
    history: &History,
    cursor: u64,
    window: &Window,
    tasks: &[TaskIdx],
) -> Option<Vec<Vec<u8>>> {
    let from = history.position_at(window.start).max(history.first());
    let to = cursor.min(history.position_after(window.until));
    if to.saturating_sub(from) > MOST_EVENTS {
        return None;
    }
    let row_of: HashMap<TaskIdx, usize> = tasks.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut ran = vec![vec![Duration::ZERO; window.cols]; tasks.len()];
    // Each row's poll in progress, since when; a row whose first event in
    // the window ends a poll was running from the window's start.
    let mut open: Vec<Option<Duration>> = vec![None; tasks.len()];
    let mut seen = vec![false; tasks.len()];
    let start = window.start;
    let end = window.until.min(start + window.scale * window.cols as u32);
    for pos in from..to {
        let Some((t, task, _, change)) = history.light(pos) else {
            continue;
        };
        let Some(&row) = row_of.get(&task) else {
            continue;
        };
        let first = !std::mem::replace(&mut seen[row], true);
        match change {
            Light::Running { worker } if !crate::event::is_cpu(worker) => {
                open[row].get_or_insert(t);
            }
            Light::OffCpu { .. } => {}
            _ => {
                // A wait or an end (not a cancel) is a poll's: the row was
                // running when the window began.
                let polled = matches!(
                    change,
                    Light::Waiting { .. } | Light::Done(End::Ok | End::Panicked)
                );
                let began = open[row].take().or((first && polled).then_some(start));
                if let Some(began) = began {
                    add(&mut ran[row], window, began, t);
                }
            }
        }
    }
    for (row, began) in open.iter().enumerate() {
        if let Some(began) = began {
            add(&mut ran[row], window, *began, end);
        }
    }
    let scale = window.scale.as_nanos().max(1);
    Some(
        ran.iter()
            .map(|cols| {
                cols.iter()
                    .map(|d| ((d.as_nanos() * 8).div_ceil(scale)).min(8) as u8)
                    .collect()
            })
            .collect(),
    )
}

/// Adds the time from `from` to `to` to the columns it falls in.
fn add(cols: &mut [Duration], window: &Window, from: Duration, to: Duration) {
    let scale = window.scale.max(Duration::from_nanos(1));
    let mut at = from.max(window.start);
    while at < to {
        let col = ((at - window.start).as_nanos() / scale.as_nanos()) as usize;
        if col >= cols.len() {
            return;
        }
        let col_end = window.start + scale * (col as u32 + 1);
        let until = to.min(col_end);
        cols[col] += until - at;
        at = until;
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{history, log, ms};
    use super::*;

    #[test]
    fn a_column_counts_the_eighths_its_task_ran() {
        let _limit = crate::test_limit::limit();
        let h = history(&log());
        let w = |start: u64| Window {
            start: ms(start),
            scale: ms(10),
            cols: 8,
            until: ms(start + 80),
        };
        let shares = run_shares(&h, h.cursor(), &w(0), &[0]).unwrap();
        // 10-20 ms all of column 1; 50-52 ms a fifth of column 5.
        assert_eq!(shares[0], [0, 8, 0, 0, 0, 2, 0, 0]);
        // A poll running when the window begins (15 ms) counts from there.
        let shares = run_shares(&h, h.cursor(), &w(15), &[0]).unwrap();
        assert_eq!(shares[0], [4, 0, 0, 2, 0, 0, 0, 0]);
    }
}
