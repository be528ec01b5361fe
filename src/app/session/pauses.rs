//! When the viewer held the scheduler of a real-clock run.

use std::time::Duration;

/// The stretches of scenario time the viewer held the scheduler of a
/// real-clock run (pause, and the steps taken while paused): a timer or
/// reply that came due then was late because of the pause, not because a
/// worker was busy. (On the virtual clock no time passes while paused.)
#[derive(Debug, Default)]
pub(super) struct Pauses {
    done: Vec<(Duration, Duration)>,
    since: Option<Duration>,
}

impl Pauses {
    pub(super) fn held(&mut self, paused: bool, at: Duration) {
        match (paused, self.since) {
            (true, None) => self.since = Some(at),
            (false, Some(from)) => {
                self.done.push((from, at));
                self.since = None;
            }
            _ => {}
        }
    }

    /// Whether the scheduler was held at some moment from `from` to `to`.
    pub(super) fn overlap(&self, from: Duration, to: Duration) -> bool {
        self.since.is_some_and(|s| s <= to) || self.done.iter().any(|(a, b)| *a <= to && *b >= from)
    }
}
