//! Turning a run's events into lines: the header, one line per transition
//! (task names known from their spawn events), and the end line.

use std::io::Write;
use std::sync::Arc;

use super::format::{FORMAT, Line, RuntimeLine, RuntimeMetricsLine, exact_ms};
use crate::event::{cpu_of, is_cpu};
use crate::model::{Model, RunInfo};
use crate::probe::{Change, Event, Outcome, TaskIdx, WakeBy};

/// Writes events as JSON lines; knows task names from their spawn events.
#[derive(Default)]
pub struct LineWriter {
    names: Vec<(Arc<str>, u64)>,
}

impl LineWriter {
    pub fn header(&mut self, out: &mut impl Write, info: &RunInfo) -> std::io::Result<()> {
        let line = Line {
            state: "run".into(),
            format: Some(FORMAT),
            scenario: Some(info.scenario.clone()),
            runtime: Some(RuntimeLine {
                flavor: info.flavor.clone(),
                workers: info.workers as u64,
                clock: info.clock.clone(),
                worker_cpus: info.worker_cpus.clone(),
            }),
            ..Line::default()
        };
        write_line(out, &line)
    }

    /// The last line: what the run said at its end.
    pub fn end(&mut self, out: &mut impl Write, model: &Model) -> std::io::Result<()> {
        let line = Line {
            t_ms: exact_ms(model.now),
            state: "end".into(),
            events_dropped: Some(model.dropped),
            stalled: model.stalled.clone(),
            runtime_metrics: model.runtime.as_ref().map(|r| RuntimeMetricsLine {
                polls: r.polls,
                busy_ms: exact_ms(r.busy),
                steals: r.steals,
                parks: r.parks,
                remote_schedules: r.remote_schedules,
                forced_yields: r.forced_yields,
                io_ready: r.io_ready,
            }),
            ..Line::default()
        };
        write_line(out, &line)
    }

    fn name(&self, idx: TaskIdx) -> String {
        self.names
            .get(idx as usize)
            .map_or_else(|| format!("task-{idx}"), |(n, _)| n.to_string())
    }

    pub fn event(&mut self, out: &mut impl Write, e: &Event) -> std::io::Result<()> {
        if let Change::Spawned { name, id, .. } = &e.change {
            let i = e.task as usize;
            if self.names.len() <= i {
                self.names.resize(i + 1, (Arc::from("?"), 0));
            }
            self.names[i] = (name.clone(), *id);
        }
        let (name, id) = self
            .names
            .get(e.task as usize)
            .cloned()
            .unwrap_or_else(|| (Arc::from("?"), 0));
        let mut line = Line {
            t_ms: exact_ms(e.t),
            task: Some(name.to_string()),
            id: Some(id),
            state: e.change.state().into(),
            step: Some(e.step),
            idx: Some(e.task),
            ..Line::default()
        };
        match &e.change {
            Change::Spawned {
                spec, parent, kind, ..
            } => {
                line.spec = Some(*spec);
                line.kind = kind.is_os().then(|| kind.as_str().to_string());
                line.parent = parent.map(|p| self.name(p));
                line.parent_idx = *parent;
            }
            Change::Ready { by, late, waited } => {
                line.waited = waited.map(|w| w.as_str().into());
                line.by = Some(by.describe(|t| self.name(t)));
                if let WakeBy::Task(t) = by {
                    line.by_idx = Some(*t);
                }
                line.late_ms = late.map(exact_ms);
            }
            Change::Running { worker } => {
                line.worker = (!is_cpu(*worker)).then_some(*worker);
                line.cpu = cpu_of(*worker);
            }
            Change::Waiting { wait, due } => {
                line.wait = Some(wait.as_str().into());
                line.due_ms = due.map(exact_ms);
            }
            Change::Done { outcome, stats } => {
                line.outcome = Some(outcome.as_str().into());
                if let Outcome::Panicked(m) = outcome {
                    line.message = Some(m.clone());
                }
                line.polls = Some(stats.polls);
                line.busy_ms = Some(exact_ms(stats.busy));
                line.scheduled_ms = Some(exact_ms(stats.scheduled));
                line.idle_ms = Some(exact_ms(stats.idle));
                line.slow_polls = Some(stats.slow_polls);
                line.first_poll_delay_ms = Some(exact_ms(stats.first_poll_delay));
                if let Some(os) = stats.os {
                    line.cpu_ms = Some(exact_ms(os.cpu));
                    line.runqueue_ms = Some(exact_ms(os.runqueue));
                    line.slices = Some(os.slices);
                }
            }
            Change::OffCpu { gone } => line.gone_ms = Some(exact_ms(*gone)),
        }
        write_line(out, &line)
    }
}

fn write_line(out: &mut impl Write, line: &Line) -> std::io::Result<()> {
    // One write per whole line, so a reader never sees half of one.
    let mut buf = Vec::with_capacity(256);
    crate::text::write_json(&mut buf, line)?;
    buf.push(b'\n');
    out.write_all(&buf)
}
