//! Chrome Trace Event JSON (opens in Perfetto and chrome://tracing): one
//! track per task and one per worker, slices for running and for each kind
//! of wait, instants for wake-ups.

use std::io::Write;

use serde_json::{Value, json};

use super::timeline::{Span, Timeline};
use crate::model::RunInfo;
use crate::scenario::Scenario;

const TASKS_PID: u32 = 1;
const WORKERS_PID: u32 = 2;

fn us(d: std::time::Duration) -> f64 {
    d.as_nanos() as f64 / 1000.0
}

fn write_event(out: &mut impl Write, first: &mut bool, v: &Value) -> std::io::Result<()> {
    if !*first {
        out.write_all(b",\n")?;
    }
    *first = false;
    crate::text::write_json(out, v)
}

/// Text from files, as the trace viewer shows it.
fn shown(s: &str) -> String {
    crate::text::visible(s).into_owned()
}

/// Writes the whole trace.
pub fn write(
    out: &mut impl Write,
    timeline: &Timeline,
    info: &RunInfo,
    scenario: Option<&Scenario>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{{\"displayTimeUnit\":\"ms\",\"otherData\":{},\"traceEvents\":[",
        json!({
            "scenario": shown(&info.scenario),
            "flavor": info.flavor,
            "workers": info.workers,
            "clock": info.clock,
            "tool": "taskscope",
        })
    )?;
    let mut first = true;
    let meta = |pid: u32, tid: Option<u64>, kind: &str, name: &str| {
        let mut v = json!({"name": kind, "ph": "M", "pid": pid, "args": {"name": name}});
        if let Some(tid) = tid {
            v["tid"] = json!(tid);
        }
        v
    };
    write_event(
        out,
        &mut first,
        &meta(TASKS_PID, None, "process_name", "tasks"),
    )?;
    write_event(
        out,
        &mut first,
        &meta(WORKERS_PID, None, "process_name", "workers"),
    )?;
    let label = |spec: u32, step: u32| -> Option<(String, Option<String>)> {
        let s = scenario?;
        let step = s.tasks.get(spec as usize)?.steps.get(step as usize)?;
        Some((
            shown(&s.label(&step.action).to_string()),
            step.note.as_deref().map(shown),
        ))
    };
    for (i, task) in timeline.tasks.iter().enumerate() {
        let tid = i as u64;
        let name = format!("{} (id {})", shown(&task.name), task.id);
        write_event(
            out,
            &mut first,
            &meta(TASKS_PID, Some(tid), "thread_name", &name),
        )?;
        write_event(
            out,
            &mut first,
            &json!({"name": "thread_sort_index", "ph": "M", "pid": TASKS_PID, "tid": tid, "args": {"sort_index": i}}),
        )?;
        for iv in &task.intervals {
            let (name, cat, worker) = match iv.span {
                Span::Running { worker } if worker == crate::probe::ON_CPU => {
                    ("on a CPU".to_string(), "running", None)
                }
                Span::Running { worker } => ("running".to_string(), "running", Some(worker)),
                Span::Ready => ("ready".to_string(), "ready", None),
                Span::Waiting(w) => (format!("waiting: {}", w.as_str()), w.as_str(), None),
            };
            let mut args = json!({"step": iv.step});
            if let Some((text, note)) = label(task.spec, iv.step) {
                args["step_label"] = json!(text);
                if let Some(note) = note {
                    args["note"] = json!(note);
                }
            }
            if let Some(w) = worker {
                args["worker"] = json!(w);
            }
            write_event(
                out,
                &mut first,
                &json!({"name": name, "cat": cat, "ph": "X", "ts": us(iv.start), "dur": us(iv.end - iv.start), "pid": TASKS_PID, "tid": tid, "args": args}),
            )?;
        }
        for wake in &task.wakes {
            let by = wake.by.describe(|t| {
                timeline
                    .tasks
                    .get(t as usize)
                    .map_or("?".to_string(), |t| shown(&t.name))
            });
            let mut args = json!({"by": by});
            if let Some(l) = wake.late {
                args["late_ms"] = json!(l.as_secs_f64() * 1000.0);
            }
            write_event(
                out,
                &mut first,
                &json!({"name": "wake", "cat": "wake", "ph": "i", "s": "t", "ts": us(wake.t), "pid": TASKS_PID, "tid": tid, "args": args}),
            )?;
        }
    }
    for (w, runs) in timeline.workers.iter().enumerate() {
        let tid = w as u64;
        write_event(
            out,
            &mut first,
            &meta(
                WORKERS_PID,
                Some(tid),
                "thread_name",
                &format!("worker {w}"),
            ),
        )?;
        for (start, end, task) in runs {
            let name = timeline
                .tasks
                .get(*task as usize)
                .map_or("?".to_string(), |t| shown(&t.name));
            write_event(
                out,
                &mut first,
                &json!({"name": name, "cat": "poll", "ph": "X", "ts": us(*start), "dur": us(*end - *start), "pid": WORKERS_PID, "tid": tid}),
            )?;
        }
    }
    out.write_all(b"\n]}\n")
}
