//! Events folded into intervals: for every task, when it was ready,
//! running (on which worker) and waiting (for what); for every worker, which
//! task it ran when. The trace and the SVG picture are drawn from this.

use std::sync::Arc;
use std::time::Duration;

use crate::event::is_cpu;
use crate::probe::{Change, Event, Kind, TaskIdx, Wait, WakeBy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Ready,
    Running { worker: u16 },
    Waiting(Wait),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub start: Duration,
    pub end: Duration,
    pub span: Span,
    /// The task's step during the interval (its start).
    pub step: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wake {
    pub t: Duration,
    pub by: WakeBy,
    pub late: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct TaskLine {
    pub name: Arc<str>,
    pub id: u64,
    pub spec: u32,
    pub kind: Kind,
    pub intervals: Vec<Interval>,
    pub wakes: Vec<Wake>,
    /// Steps started (time, step index), for labels.
    pub steps: Vec<(Duration, u32)>,
    pub done: Option<Duration>,
    open: Option<(Duration, Span, u32)>,
}

/// A run of a row on a worker or a CPU: from, to, which row.
pub type Run = (Duration, Duration, TaskIdx);

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub tasks: Vec<TaskLine>,
    /// Per worker: (start, end, task).
    pub workers: Vec<Vec<(Duration, Duration, TaskIdx)>>,
    pub end: Duration,
}

impl TaskLine {
    fn close(&mut self, t: Duration) -> Option<(Duration, Span)> {
        let (start, span, step) = self.open.take()?;
        if t > start {
            self.intervals.push(Interval {
                start,
                end: t,
                span,
                step,
            });
        }
        Some((start, span))
    }
}

impl Timeline {
    pub fn apply(&mut self, e: &Event) {
        self.end = self.end.max(e.t);
        let i = e.task as usize;
        if let Change::Spawned {
            name,
            id,
            spec,
            kind,
            ..
        } = &e.change
        {
            if self.tasks.len() <= i {
                self.tasks.resize_with(i + 1, TaskLine::default);
            }
            self.tasks[i] = TaskLine {
                name: name.clone(),
                id: *id,
                spec: *spec,
                kind: *kind,
                open: Some((e.t, Span::Ready, e.step)),
                ..TaskLine::default()
            };
            return;
        }
        let Some(task) = self.tasks.get_mut(i) else {
            return;
        };
        let next = match &e.change {
            Change::Spawned { .. } => unreachable!("handled above"),
            Change::Ready { by, late, waited } => {
                // A wait first recorded as `other` may be named now.
                if let Some((_, Span::Waiting(w), _)) = &mut task.open {
                    *w = Wait::refined(*w, *waited);
                }
                task.wakes.push(Wake {
                    t: e.t,
                    by: *by,
                    late: *late,
                });
                Some(Span::Ready)
            }
            Change::Running { worker } => {
                if task.steps.last().is_none_or(|(_, s)| *s != e.step) {
                    task.steps.push((e.t, e.step));
                }
                if matches!(task.open, Some((_, Span::Running { .. }, _))) {
                    // A step change within a poll: the slice goes on.
                    return;
                }
                Some(Span::Running { worker: *worker })
            }
            Change::Waiting { wait, .. } => Some(Span::Waiting(*wait)),
            Change::Done { .. } => {
                task.done = Some(e.t);
                None
            }
            // Its poll goes on: no new slice.
            Change::OffCpu { .. } => return,
        };
        if let Some((start, Span::Running { worker })) = task.close(e.t)
            && !is_cpu(worker)
        {
            let w = usize::from(worker);
            if self.workers.len() <= w {
                self.workers.resize(w + 1, Vec::new());
            }
            if e.t > start {
                self.workers[w].push((start, e.t, e.task));
            }
        }
        if let Some(span) = next {
            task.open = Some((e.t, span, e.step));
        }
    }

    /// Per CPU (by number): the slices of the threads and processes on it,
    /// from, to and which row, in time order.
    pub fn cpus(&self) -> Vec<(u16, Vec<Run>)> {
        let mut cpus: Vec<(u16, Vec<Run>)> = Vec::new();
        for (i, task) in self.tasks.iter().enumerate() {
            for iv in &task.intervals {
                let Span::Running { worker } = iv.span else {
                    continue;
                };
                let Some(cpu) = crate::event::cpu_of(worker) else {
                    continue;
                };
                match cpus.iter_mut().find(|(c, _)| *c == cpu) {
                    Some((_, list)) => list.push((iv.start, iv.end, i as TaskIdx)),
                    None => cpus.push((cpu, vec![(iv.start, iv.end, i as TaskIdx)])),
                }
            }
        }
        cpus.sort_by_key(|(c, _)| *c);
        for (_, list) in &mut cpus {
            list.sort();
        }
        cpus
    }

    /// Closes what is still open at the end of the log.
    pub fn finish(&mut self) {
        let end = self.end;
        for task in &mut self.tasks {
            task.close(end);
        }
    }

    /// Total time of one task in each kind of span.
    pub fn totals(&self, task: TaskIdx) -> (Duration, [Duration; Wait::ALL.len()]) {
        let mut running = Duration::ZERO;
        let mut waits = [Duration::ZERO; Wait::ALL.len()];
        if let Some(t) = self.tasks.get(task as usize) {
            for iv in &t.intervals {
                match iv.span {
                    Span::Running { .. } => running += iv.end - iv.start,
                    Span::Waiting(w) => waits[w as usize] += iv.end - iv.start,
                    Span::Ready => {}
                }
            }
        }
        (running, waits)
    }
}
