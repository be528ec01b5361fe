//! One transition in 32 bytes, as the history keeps it: what varies per
//! event is packed into fixed fields; what a task has once (its name and
//! parent, how it ended and its end figures) is kept once per task.

use std::sync::Arc;
use std::time::Duration;

use crate::event::nanos as ns;
use crate::probe::{Change, Event, Kind, Outcome, TaskIdx, TaskStats, Wait, WakeBy};

use crate::event::{NO_TIME as NONE, from_opt_nanos, opt_nanos};

/// A packed transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Scenario time (ns).
    pub t: u64,
    pub task: TaskIdx,
    pub step: u32,
    tag: Tag,
    /// Ready: who woke it (0 timer, 1 io, 2 runtime, 3 os, 4 a task);
    /// waiting: the wait; spawned: the kind; done: the outcome.
    small: u8,
    /// Running: the worker.
    worker: u16,
    /// Ready by a task: its index; spawned: the spec.
    x: u32,
    /// Ready: how late (ns); waiting: when due (ns); spawned: tokio's id.
    y: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    Spawned,
    Ready,
    Running,
    Waiting,
    Done,
    OffCpu,
}

/// A transition without what it has once per task (name, end figures):
/// enough to draw lanes, with nothing to clone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Light {
    Spawned {
        parent: Option<TaskIdx>,
    },
    /// Woken; `by`: the task that woke it, if a task did.
    Ready {
        by: Option<TaskIdx>,
    },
    Running {
        worker: u16,
    },
    Waiting {
        wait: Wait,
        due: Option<Duration>,
    },
    Done(End),
    /// Its worker's thread was off a CPU for `gone`, until now.
    OffCpu {
        gone: Duration,
    },
}

/// How a task ended, in the light form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Ok,
    Panicked,
    Cancelled,
}

/// What is kept once per task.
#[derive(Debug, Default)]
pub struct PerTask {
    names: Vec<Arc<str>>,
    parents: Vec<Option<TaskIdx>>,
    ends: Vec<Option<(Outcome, Arc<TaskStats>)>>,
}

impl PerTask {
    fn slot<T: Default + Clone>(v: &mut Vec<T>, i: usize) -> &mut T {
        if v.len() <= i {
            v.resize(i + 1, T::default());
        }
        &mut v[i]
    }

    /// Packs `e`, keeping what it has once per task here.
    pub fn pack(&mut self, e: &Event) -> Record {
        let i = e.task as usize;
        let mut r = Record {
            t: ns(e.t),
            task: e.task,
            step: e.step,
            tag: Tag::Running,
            small: 0,
            worker: 0,
            x: 0,
            y: NONE,
        };
        match &e.change {
            Change::Spawned {
                name,
                id,
                spec,
                parent,
                kind,
            } => {
                *Self::slot(&mut self.names, i) = name.clone();
                *Self::slot(&mut self.parents, i) = *parent;
                r.tag = Tag::Spawned;
                r.small = *kind as u8;
                r.x = *spec;
                r.y = *id;
            }
            Change::Ready { by, late, waited } => {
                r.tag = Tag::Ready;
                r.worker = waited.map_or(u16::MAX, |w| w as u16);
                (r.small, r.x) = match by {
                    WakeBy::Timer => (0, 0),
                    WakeBy::Io => (1, 0),
                    WakeBy::Runtime => (2, 0),
                    WakeBy::Os => (3, 0),
                    WakeBy::Task(t) => (4, *t),
                };
                r.y = opt_nanos(*late);
            }
            Change::Running { worker } => r.worker = *worker,
            Change::OffCpu { gone } => {
                r.tag = Tag::OffCpu;
                r.y = ns(*gone);
            }
            Change::Waiting { wait, due } => {
                r.tag = Tag::Waiting;
                r.small = *wait as u8;
                r.y = opt_nanos(*due);
            }
            Change::Done { outcome, stats } => {
                r.tag = Tag::Done;
                r.small = match outcome {
                    Outcome::Ok => 0,
                    Outcome::Panicked(_) => 1,
                    Outcome::Cancelled => 2,
                };
                *Self::slot(&mut self.ends, i) = Some((outcome.clone(), stats.clone()));
            }
        }
        r
    }

    /// The light form of `r`'s change.
    pub fn light(&self, r: &Record) -> Light {
        match r.tag {
            Tag::Spawned => Light::Spawned {
                parent: self.parents.get(r.task as usize).copied().flatten(),
            },
            Tag::Ready => Light::Ready {
                by: (r.small == 4).then_some(r.x),
            },
            Tag::Running => Light::Running { worker: r.worker },
            Tag::Waiting => Light::Waiting {
                wait: Wait::from_u8(r.small),
                due: from_opt_nanos(r.y),
            },
            Tag::Done => Light::Done(match r.small {
                0 => End::Ok,
                1 => End::Panicked,
                _ => End::Cancelled,
            }),
            Tag::OffCpu => Light::OffCpu {
                gone: Duration::from_nanos(r.y),
            },
        }
    }

    /// The event `r` packs.
    pub fn unpack(&self, r: &Record) -> Event {
        let i = r.task as usize;
        let change = match r.tag {
            Tag::Spawned => Change::Spawned {
                name: self.names.get(i).cloned().unwrap_or_else(|| "?".into()),
                id: r.y,
                spec: r.x,
                parent: self.parents.get(i).copied().flatten(),
                kind: match r.small {
                    1 => Kind::Thread,
                    2 => Kind::Blocking,
                    3 => Kind::Process,
                    _ => Kind::Task,
                },
            },
            Tag::Ready => Change::Ready {
                by: match r.small {
                    0 => WakeBy::Timer,
                    1 => WakeBy::Io,
                    3 => WakeBy::Os,
                    4 => WakeBy::Task(r.x),
                    _ => WakeBy::Runtime,
                },
                late: from_opt_nanos(r.y),
                waited: (r.worker != u16::MAX).then(|| Wait::from_u8(r.worker as u8)),
            },
            Tag::Running => Change::Running { worker: r.worker },
            Tag::Waiting => Change::Waiting {
                wait: Wait::from_u8(r.small),
                due: from_opt_nanos(r.y),
            },
            Tag::Done => {
                let (outcome, stats) = self
                    .ends
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or((Outcome::Cancelled, Arc::default()));
                Change::Done { outcome, stats }
            }
            Tag::OffCpu => Change::OffCpu {
                gone: Duration::from_nanos(r.y),
            },
        };
        Event {
            t: Duration::from_nanos(r.t),
            task: r.task,
            step: r.step,
            change,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_32_bytes_and_unpacks_to_its_event() {
        let _limit = crate::test_limit::limit();
        assert_eq!(std::mem::size_of::<Record>(), 32);
        let ms = Duration::from_millis;
        let events = [
            Change::Spawned {
                name: "eggs".into(),
                id: 7,
                spec: 2,
                parent: Some(0),
                kind: Kind::Thread,
            },
            Change::Ready {
                by: WakeBy::Task(3),
                late: Some(ms(5)),
                waited: Some(Wait::Join),
            },
            Change::Ready {
                by: WakeBy::Os,
                late: None,
                waited: None,
            },
            Change::Running { worker: 1 },
            Change::Waiting {
                wait: Wait::Lock,
                due: Some(ms(300)),
            },
            Change::Done {
                outcome: Outcome::Panicked("burned".into()),
                stats: Arc::new(TaskStats {
                    polls: 3,
                    ..TaskStats::default()
                }),
            },
        ];
        let mut per = PerTask::default();
        for (n, change) in events.into_iter().enumerate() {
            let e = Event {
                t: ms(10 * n as u64),
                task: 1,
                step: n as u32,
                change,
            };
            let r = per.pack(&e);
            assert_eq!(per.unpack(&r), e);
        }
    }
}

/// Records in fixed chunks: pushing never moves what is stored (no doubling
/// of one big buffer), and dropping the oldest frees whole chunks.
#[derive(Debug, Default)]
pub struct Chunks {
    chunks: std::collections::VecDeque<Vec<Record>>,
    /// Records dropped from the front of the first chunk.
    skip: usize,
    len: usize,
}

/// Records a chunk holds (2 MB).
const CHUNK: usize = 1 << 16;

impl Chunks {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, r: Record) {
        if self.chunks.back().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push_back(Vec::with_capacity(CHUNK));
        }
        self.chunks.back_mut().expect("pushed above").push(r);
        self.len += 1;
    }

    /// Drops the oldest record.
    pub fn pop_front(&mut self) {
        if self.len == 0 {
            return;
        }
        self.skip += 1;
        self.len -= 1;
        if self.chunks.front().is_some_and(|c| self.skip == c.len()) {
            self.chunks.pop_front();
            self.skip = 0;
        }
    }

    pub fn get(&self, i: usize) -> Option<&Record> {
        if i >= self.len {
            return None;
        }
        let i = i + self.skip;
        self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Record> + '_ {
        self.chunks
            .iter()
            .enumerate()
            .flat_map(move |(n, c)| &c[if n == 0 { self.skip } else { 0 }..])
    }

    /// The first index whose record fails `pred` (records are in time order
    /// and `pred` holds for a prefix of them).
    pub fn partition_point(&self, pred: impl Fn(&Record) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(self.get(mid).expect("in range")) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}
