//! The bounded history of a run: every event kept (up to a limit, oldest
//! dropped and counted), a cursor into it, and the model at that cursor.
//!
//! Events are kept packed, 32 bytes each ([`super::record`]). Scrubbing back
//! rebuilds the model from the nearest snapshot, so moving the cursor costs
//! a bounded number of event applications.

use std::collections::VecDeque;
use std::time::Duration;

use super::record::{Chunks, PerTask, Record};
use super::{Model, RunInfo};
use crate::probe::Event;

/// Events between two model snapshots.
pub const SNAPSHOT_EVERY: usize = 4096;
/// Events kept by default: 8 million, 256 MB packed (a live run drops the
/// oldest beyond it; a replay keeps the whole recording up to its limit).
pub const DEFAULT_LIMIT: usize = crate::scenario::EVENTS_KEPT;
/// Memory all snapshots together may take.
pub const SNAPSHOT_BYTES: usize = 96 << 20;

/// About how much memory one copy of `model` takes.
fn model_bytes(model: &Model) -> usize {
    std::mem::size_of::<Model>()
        + model.tasks.len() * std::mem::size_of::<super::TaskView>()
        + model.workers.len() * std::mem::size_of::<super::WorkerView>()
}

/// Events a replay keeps (the events file's own limit).
pub const REPLAY_LIMIT: usize = 16_000_000;

pub struct History {
    info: RunInfo,
    events: Chunks,
    per_task: PerTask,
    /// Events dropped from the front (their positions are still counted).
    dropped: u64,
    limit: usize,
    /// Models after `SNAPSHOT_EVERY * k` events (absolute positions).
    snapshots: VecDeque<(u64, Model)>,
    /// The model after all events (the live edge).
    live: Model,
    /// The model after `cursor` events, when behind the live edge.
    behind: Option<(u64, Model)>,
    /// Events between snapshots, at least (grows as snapshots thin out).
    spacing: u64,
}

impl History {
    pub fn new(info: RunInfo, limit: usize) -> History {
        let empty = Model::new(info.clone());
        History {
            events: Chunks::default(),
            per_task: PerTask::default(),
            dropped: 0,
            limit: limit.max(2 * SNAPSHOT_EVERY),
            snapshots: VecDeque::from([(0, empty.clone())]),
            live: empty,
            behind: None,
            spacing: SNAPSHOT_EVERY as u64,
            info,
        }
    }

    /// Room for `n` tasks in the live model (see [`Model::reserve_tasks`]).
    pub fn reserve_tasks(&mut self, n: usize) {
        self.live.reserve_tasks(n);
    }

    /// Appends one event at the live edge.
    pub fn push(&mut self, e: Event) {
        self.live.apply(&e);
        let r = self.per_task.pack(&e);
        self.events.push(r);
        let len = self.len();
        // A snapshot costs memory in proportion to the tasks, so space them
        // out as tasks grow (at most half the kept events apart), and keep
        // them all within a budget: past it, every other one goes and the
        // spacing doubles.
        let every = (SNAPSHOT_EVERY.max(16 * self.live.tasks.len())).min(self.limit / 2) as u64;
        let every = every.max(self.spacing);
        let last = self.snapshots.back().map_or(0, |s| s.0);
        // A snapshot bigger than the whole budget (the model of a million
        // tasks is 400 MB) is taken only when the oldest events are about to
        // be dropped and the history needs one to start from; until then
        // scrubbing back replays from the last one that fit.
        let fits = model_bytes(&self.live) <= SNAPSHOT_BYTES;
        let dropping_soon = self.events.len() + SNAPSHOT_EVERY >= self.limit;
        if len - last >= every && (fits || dropping_soon) {
            self.snapshots.push_back((len, self.live.clone()));
            let bytes = self.snapshots.len() * model_bytes(&self.live);
            if bytes > SNAPSHOT_BYTES && self.snapshots.len() > 2 {
                let kept: VecDeque<(u64, Model)> = std::mem::take(&mut self.snapshots)
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 0)
                    .map(|(_, s)| s)
                    .collect();
                self.snapshots = kept;
                self.spacing = every * 2;
            }
        }
        if self.events.len() > self.limit {
            self.events.pop_front();
            self.dropped += 1;
            while self.snapshots.len() > 1 && self.snapshots[0].0 < self.dropped {
                self.snapshots.pop_front();
            }
        }
    }

    /// Events seen in total (dropped ones included).
    pub fn len(&self) -> u64 {
        self.dropped + self.events.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events dropped from the front to stay within the limit.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The earliest position the cursor can reach.
    pub fn first(&self) -> u64 {
        self.snapshots.front().map_or(0, |s| s.0)
    }

    pub fn live(&self) -> &Model {
        &self.live
    }

    /// Mutable access to the live model (to record the run's end).
    pub fn live_mut(&mut self) -> &mut Model {
        &mut self.live
    }

    /// Where the cursor is: `len()` at the live edge.
    pub fn cursor(&self) -> u64 {
        self.behind.as_ref().map_or(self.len(), |(c, _)| *c)
    }

    pub fn at_live_edge(&self) -> bool {
        self.behind.is_none()
    }

    /// The model at the cursor.
    pub fn model(&self) -> &Model {
        self.behind.as_ref().map_or(&self.live, |(_, m)| m)
    }

    /// The event at absolute position `pos`, if still kept.
    pub fn event(&self, pos: u64) -> Option<Event> {
        pos.checked_sub(self.dropped)
            .and_then(|i| self.events.get(i as usize))
            .map(|r| self.per_task.unpack(r))
    }

    /// The event at `pos` in light form: (time, task, step, change).
    pub fn light(
        &self,
        pos: u64,
    ) -> Option<(Duration, crate::probe::TaskIdx, u32, super::record::Light)> {
        pos.checked_sub(self.dropped)
            .and_then(|i| self.events.get(i as usize))
            .map(|r| {
                (
                    Duration::from_nanos(r.t),
                    r.task,
                    r.step,
                    self.per_task.light(r),
                )
            })
    }

    /// Kept events, oldest first, with their absolute positions.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = (u64, Event)> + '_ {
        (0..self.events.len()).filter_map(move |i| {
            let r = self.events.get(i)?;
            Some((self.dropped + i as u64, self.per_task.unpack(r)))
        })
    }

    /// The position just after the last kept event at or before `t` (events
    /// are in time order).
    pub fn position_after(&self, t: Duration) -> u64 {
        let t = t.as_nanos() as u64;
        self.dropped + self.events.partition_point(|e| e.t <= t) as u64
    }

    /// The first position whose event is at or after `t`.
    pub fn position_at(&self, t: Duration) -> u64 {
        let t = t.as_nanos() as u64;
        self.dropped + self.events.partition_point(|e| e.t < t) as u64
    }

    /// Bytes the kept events take (for the memory budget).
    pub fn bytes(&self) -> usize {
        self.events.len() * std::mem::size_of::<Record>()
    }

    /// The newest snapshot at or before `pos`: its position and model.
    pub fn snapshot_before(&self, pos: u64) -> (u64, &Model) {
        self.snapshots
            .iter()
            .rev()
            .find(|(at, _)| *at <= pos)
            .or(self.snapshots.front())
            .map(|(at, m)| (*at, m))
            .expect("there is always a first snapshot")
    }

    /// Moves the cursor to `pos` (clamped to what is kept).
    pub fn seek(&mut self, pos: u64) {
        let pos = pos.clamp(self.first(), self.len());
        if pos == self.len() {
            self.behind = None;
            return;
        }
        let (start, base) = self
            .snapshots
            .iter()
            .rev()
            .find(|(at, _)| *at <= pos)
            .map(|(at, m)| (*at, m))
            .expect("the first snapshot is at first()");
        // Continue from the current position if that is closer.
        let mut model = match &self.behind {
            Some((c, m)) if *c <= pos && *c >= start => (*c, m.clone()),
            _ => (start, base.clone()),
        };
        for p in model.0..pos {
            if let Some(e) = self.event(p) {
                model.1.apply(&e);
            }
        }
        self.behind = Some((pos, model.1));
    }

    pub fn info(&self) -> &RunInfo {
        &self.info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Change, Wait};

    fn info() -> RunInfo {
        RunInfo {
            scenario: "t".into(),
            flavor: "current_thread".into(),
            workers: 1,
            clock: "virtual".into(),
            worker_cpus: Vec::new(),
        }
    }

    fn events(n: usize) -> Vec<Event> {
        let mut v = vec![Event {
            t: Duration::ZERO,
            task: 0,
            step: 0,
            change: Change::Spawned {
                name: "a".into(),
                id: 1,
                spec: 0,
                parent: None,
                kind: crate::probe::Kind::Task,
            },
        }];
        for i in 1..n {
            let change = if i % 2 == 1 {
                Change::Running { worker: 0 }
            } else {
                Change::Waiting {
                    wait: Wait::Yield,
                    due: None,
                }
            };
            v.push(Event {
                t: Duration::from_millis(i as u64),
                task: 0,
                step: 0,
                change,
            });
        }
        v
    }

    #[test]
    fn seeking_back_gives_the_model_of_the_shorter_log() {
        let _limit = crate::test_limit::limit();
        let all = events(10_000);
        let mut h = History::new(info(), 1 << 20);
        for e in &all {
            h.push(e.clone());
        }
        for pos in [0u64, 1, 4095, 4096, 5000, 9_999] {
            h.seek(pos);
            let mut expected = Model::new(info());
            for e in &all[..pos as usize] {
                expected.apply(e);
            }
            assert_eq!(h.model().tasks.len(), expected.tasks.len());
            assert_eq!(h.model().now, expected.now, "at {pos}");
            assert_eq!(h.model().switches, expected.switches, "at {pos}");
            if let Some(t) = expected.tasks.first() {
                assert_eq!(h.model().tasks[0].polls, t.polls, "at {pos}");
            }
        }
        h.seek(u64::MAX);
        assert!(h.at_live_edge());
    }

    #[test]
    fn the_ring_drops_the_oldest_and_counts_them() {
        let _limit = crate::test_limit::limit();
        let mut h = History::new(info(), 2 * SNAPSHOT_EVERY);
        for e in events(6 * SNAPSHOT_EVERY) {
            h.push(e);
        }
        assert_eq!(h.len(), 6 * SNAPSHOT_EVERY as u64);
        assert_eq!(h.dropped(), 4 * SNAPSHOT_EVERY as u64);
        assert!(h.first() >= h.dropped());
        // The live model still saw every event.
        assert_eq!(h.live().tasks[0].polls, (6 * SNAPSHOT_EVERY as u64) / 2);
        h.seek(0);
        assert_eq!(h.cursor(), h.first());
    }
}
