//! Mutexes and channels at a moment: who holds each lock and who queues
//! for it, how many messages each channel holds. Folded from the events up
//! to a cursor and what each step does (the caller says, by spec and step:
//! the model knows no scenario).

use super::record::{End, Light};
use super::{Model, State};
use crate::probe::{TaskIdx, Wait};

/// What a step does to a mutex or a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUse {
    Lock(usize),
    Unlock(usize),
    Send(usize),
    Recv(usize),
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Per mutex: the task holding it.
    pub holders: Vec<Option<TaskIdx>>,
    /// Per mutex: the tasks waiting for it, longest waiting first.
    pub queues: Vec<Vec<TaskIdx>>,
    /// Per channel: messages sent and not yet received.
    pub fill: Vec<u64>,
}

/// The fold itself, one event at a time: a step's work is done when the
/// task moves on to another step, or ends well.
pub struct Tracker<U> {
    pub now: Resources,
    /// Each task's kind and step, once spawned.
    last: Vec<Option<(u32, u32)>>,
    uses: U,
}

impl<U: Fn(u32, u32) -> StepUse> Tracker<U> {
    pub fn new(mutexes: usize, channels: usize, uses: U) -> Tracker<U> {
        Tracker {
            now: Resources {
                holders: vec![None; mutexes],
                queues: vec![Vec::new(); mutexes],
                fill: vec![0; channels],
            },
            last: Vec::new(),
            uses,
        }
    }

    /// Whether there is anything to track.
    pub fn is_empty(&self) -> bool {
        self.now.holders.is_empty() && self.now.fill.is_empty()
    }

    /// Folds in one event of task `task` (of kind `spec`) at step `step`.
    pub fn apply(&mut self, task: TaskIdx, spec: u32, step: u32, change: Light) {
        let i = task as usize;
        if self.last.len() <= i {
            self.last.resize(i + 1, None);
        }
        match (change, self.last[i]) {
            (Light::Spawned { .. }, _) => self.last[i] = Some((spec, step)),
            (Light::Done(end), Some((_, was))) => {
                if end == End::Ok {
                    self.done(task, spec, was);
                }
                // Whatever it still held is dropped with it.
                for h in &mut self.now.holders {
                    if *h == Some(task) {
                        *h = None;
                    }
                }
            }
            (_, Some((_, was))) if was != step => {
                self.done(task, spec, was);
                self.last[i] = Some((spec, step));
            }
            _ => {}
        }
    }

    /// Step `step` of task `task` did its work.
    fn done(&mut self, task: TaskIdx, spec: u32, step: u32) {
        let r = &mut self.now;
        match (self.uses)(spec, step) {
            StepUse::Lock(m) if m < r.holders.len() => r.holders[m] = Some(task),
            StepUse::Unlock(m) if m < r.holders.len() => r.holders[m] = None,
            StepUse::Send(c) if c < r.fill.len() => r.fill[c] += 1,
            StepUse::Recv(c) if c < r.fill.len() => r.fill[c] = r.fill[c].saturating_sub(1),
            _ => {}
        }
    }

    /// The resources once every event up to the moment of `model` is in:
    /// with the queues of the tasks waiting for each lock there.
    pub fn finish(self, model: &Model) -> Resources {
        let mut r = self.now;
        let mutexes = r.holders.len();
        let mut waiting: Vec<(std::time::Duration, TaskIdx, usize)> = model
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.state == State::Waiting(Wait::Lock))
            .filter_map(|(i, t)| match (self.uses)(t.spec, t.step) {
                StepUse::Lock(m) if m < mutexes => Some((t.since(), i as TaskIdx, m)),
                _ => None,
            })
            .collect();
        waiting.sort();
        for (_, t, m) in waiting {
            r.queues[m].push(t);
        }
        r
    }
}

/// Folds `events` (the history up to the moment shown, as (task, step,
/// change); `model` is the model there).
pub fn compute(
    events: impl Iterator<Item = (TaskIdx, u32, Light)>,
    model: &Model,
    mutexes: usize,
    channels: usize,
    uses: impl Fn(u32, u32) -> StepUse,
) -> Resources {
    let mut tracker = Tracker::new(mutexes, channels, uses);
    if tracker.is_empty() {
        return tracker.now;
    }
    for (task, step, change) in events {
        let Some(spec) = model.task(task).map(|t| t.spec) else {
            continue;
        };
        tracker.apply(task, spec, step, change);
    }
    tracker.finish(model)
}
