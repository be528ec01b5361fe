//! Mutexes and channels at a moment: who holds each lock and who queues
//! for it, how many messages each channel holds. Folded from the events up
//! to a cursor and what each step does (the caller says, by spec and step:
//! the model knows no scenario).

use super::{Model, State};
use crate::probe::{Change, Event, Outcome, TaskIdx, Wait};

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

/// Folds `events` (the history up to the moment shown; `model` is the
/// model there). A step's work is done when the task moves on to another
/// step, or ends well.
pub fn compute(
    events: impl Iterator<Item = Event>,
    model: &Model,
    mutexes: usize,
    channels: usize,
    uses: impl Fn(u32, u32) -> StepUse,
) -> Resources {
    let mut r = Resources {
        holders: vec![None; mutexes],
        queues: vec![Vec::new(); mutexes],
        fill: vec![0; channels],
    };
    if mutexes == 0 && channels == 0 {
        return r;
    }
    let mut last: Vec<Option<(u32, u32)>> = vec![None; model.tasks.len()];
    for e in events {
        let e = &e;
        let i = e.task as usize;
        if i >= last.len() {
            continue;
        }
        let spec = model.tasks[i].spec;
        let done = |r: &mut Resources, step: u32| match uses(spec, step) {
            StepUse::Lock(m) if m < mutexes => r.holders[m] = Some(e.task),
            StepUse::Unlock(m) if m < mutexes => r.holders[m] = None,
            StepUse::Send(c) if c < channels => r.fill[c] += 1,
            StepUse::Recv(c) if c < channels => r.fill[c] = r.fill[c].saturating_sub(1),
            _ => {}
        };
        match (&e.change, last[i]) {
            (Change::Spawned { .. }, _) => last[i] = Some((spec, e.step)),
            (Change::Done { outcome, .. }, Some((_, step))) => {
                if *outcome == Outcome::Ok {
                    done(&mut r, step);
                }
                // Whatever it still held is dropped with it.
                for h in &mut r.holders {
                    if *h == Some(e.task) {
                        *h = None;
                    }
                }
            }
            (_, Some((_, step))) if step != e.step => {
                done(&mut r, step);
                last[i] = Some((spec, e.step));
            }
            _ => {}
        }
    }
    let mut waiting: Vec<(std::time::Duration, TaskIdx, usize)> = model
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state == State::Waiting(Wait::Lock))
        .filter_map(|(i, t)| match uses(t.spec, t.step) {
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
