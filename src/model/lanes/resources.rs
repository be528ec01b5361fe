//! The lanes of the mutexes and channels: who holds each lock, and how
//! many messages each channel holds, column by column (the state at each
//! column's end), from the events up to a cursor.

use super::Window;
use crate::model::history::History;
use crate::model::resources::{StepUse, Tracker};
use crate::probe::TaskIdx;

/// A mutex's or a channel's state during one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceCell {
    /// After the moment shown.
    Empty,
    /// A mutex nobody holds.
    Free,
    /// A mutex held by this task.
    Held(TaskIdx),
    /// A channel holding this many messages.
    Fill(u64),
}

/// One lane per mutex, then one per channel, over `window`, from the
/// events before `cursor` (from the oldest kept: a lock taken long ago is
/// still held).
pub fn compute(
    history: &History,
    cursor: u64,
    window: &Window,
    mutexes: usize,
    channels: usize,
    uses: impl Fn(u32, u32) -> StepUse,
) -> Vec<Vec<ResourceCell>> {
    let mut tracker = Tracker::new(mutexes, channels, uses);
    let mut lanes = vec![vec![ResourceCell::Empty; window.cols]; mutexes + channels];
    if tracker.is_empty() {
        return lanes;
    }
    let drawn = window.drawn();
    let live = history.live();
    let mut filled = 0usize;
    // Columns before `to` take the state as it is now.
    let mut fill = |tracker: &Tracker<_>, to: usize, lanes: &mut Vec<Vec<ResourceCell>>| {
        let to = to.min(drawn);
        if to <= filled {
            return;
        }
        let r = &tracker.now;
        let cells = r
            .holders
            .iter()
            .map(|h| h.map_or(ResourceCell::Free, ResourceCell::Held))
            .chain(r.fill.iter().map(|n| ResourceCell::Fill(*n)));
        for (lane, cell) in lanes.iter_mut().zip(cells) {
            lane[filled..to].fill(cell);
        }
        filled = to;
    };
    for pos in history.dropped()..cursor {
        let Some((t, task, step, change)) = history.light(pos) else {
            continue;
        };
        let (col, _) = window.col(t);
        if col >= window.cols as i64 {
            break;
        }
        // The columns that ended before this event keep the state then.
        fill(&tracker, col.max(0) as usize, &mut lanes);
        let Some(spec) = live.task(task).map(|v| v.spec) else {
            continue;
        };
        tracker.apply(task, spec, step, change);
    }
    fill(&tracker, drawn, &mut lanes);
    lanes
}
