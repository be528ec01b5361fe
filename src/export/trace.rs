//! Chrome Trace Event JSON (opens in Perfetto and chrome://tracing): one
//! track per task and one per worker, slices for running and for each kind
//! of wait, instants for wake-ups.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use super::timeline::{Interval, Span, TaskLine, Timeline};
use crate::model::RunInfo;
use crate::probe::TaskIdx;
use crate::scenario::Scenario;

const TASKS_PID: u32 = 1;
const WORKERS_PID: u32 = 2;
const CPUS_PID: u32 = 3;

fn us(d: Duration) -> f64 {
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
    for (i, task) in timeline.tasks.iter().enumerate() {
        task_track(out, &mut first, timeline, scenario, i, task)?;
    }
    for (w, runs) in timeline.workers.iter().enumerate() {
        worker_track(out, &mut first, timeline, w, runs)?;
    }
    let cpus = timeline.cpus();
    if !cpus.is_empty() {
        write_event(
            out,
            &mut first,
            &meta(CPUS_PID, None, "process_name", "CPUs"),
        )?;
    }
    for (cpu, slices) in &cpus {
        cpu_track(out, &mut first, timeline, *cpu, slices)?;
    }
    out.write_all(b"\n]}\n")
}

/// A metadata event: the name (`kind`) of process `pid`, or of its thread
/// `tid`.
fn meta(pid: u32, tid: Option<u64>, kind: &str, name: &str) -> Value {
    let mut v = json!({"name": kind, "ph": "M", "pid": pid, "args": {"name": name}});
    if let Some(tid) = tid {
        v["tid"] = json!(tid);
    }
    v
}

/// The label of step `step` of the scenario's task `spec`, and its note.
fn label(scenario: Option<&Scenario>, spec: u32, step: u32) -> Option<(String, Option<String>)> {
    let s = scenario?;
    let step = s.tasks.get(spec as usize)?.steps.get(step as usize)?;
    Some((
        shown(&s.label(&step.action).to_string()),
        step.note.as_deref().map(shown),
    ))
}

/// Task `i`'s track: its name and place, a slice per interval, an instant
/// per wake-up.
fn task_track(
    out: &mut impl Write,
    first: &mut bool,
    timeline: &Timeline,
    scenario: Option<&Scenario>,
    i: usize,
    task: &TaskLine,
) -> std::io::Result<()> {
    let tid = i as u64;
    let name = format!("{} (id {})", shown(&task.name), task.id);
    write_event(
        out,
        first,
        &meta(TASKS_PID, Some(tid), "thread_name", &name),
    )?;
    write_event(
        out,
        first,
        &json!({"name": "thread_sort_index", "ph": "M", "pid": TASKS_PID, "tid": tid, "args": {"sort_index": i}}),
    )?;
    for iv in &task.intervals {
        write_event(out, first, &slice(scenario, task, tid, iv))?;
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
            first,
            &json!({"name": "wake", "cat": "wake", "ph": "i", "s": "t", "ts": us(wake.t), "pid": TASKS_PID, "tid": tid, "args": args}),
        )?;
    }
    Ok(())
}

/// The slice for one of `task`'s intervals, on its track `tid`, with its
/// step (and the step's label and note) and its worker.
fn slice(scenario: Option<&Scenario>, task: &TaskLine, tid: u64, iv: &Interval) -> Value {
    let (name, cat, worker) = match iv.span {
        Span::Running { worker } if crate::event::is_cpu(worker) => {
            ("on a CPU".to_string(), "running", None)
        }
        Span::Running { worker } => ("running".to_string(), "running", Some(worker)),
        Span::Ready => ("ready".to_string(), "ready", None),
        Span::Waiting(w) => (format!("waiting: {}", w.as_str()), w.as_str(), None),
    };
    let mut args = json!({"step": iv.step});
    if let Some((text, note)) = label(scenario, task.spec, iv.step) {
        args["step_label"] = json!(text);
        if let Some(note) = note {
            args["note"] = json!(note);
        }
    }
    if let Some(w) = worker {
        args["worker"] = json!(w);
    }
    json!({"name": name, "cat": cat, "ph": "X", "ts": us(iv.start), "dur": us(iv.end - iv.start), "pid": TASKS_PID, "tid": tid, "args": args})
}

/// Worker `w`'s track: its name and a slice per poll it ran.
fn worker_track(
    out: &mut impl Write,
    first: &mut bool,
    timeline: &Timeline,
    w: usize,
    runs: &[(Duration, Duration, TaskIdx)],
) -> std::io::Result<()> {
    let tid = w as u64;
    write_event(
        out,
        first,
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
            first,
            &json!({"name": name, "cat": "poll", "ph": "X", "ts": us(*start), "dur": us(*end - *start), "pid": WORKERS_PID, "tid": tid}),
        )?;
    }
    Ok(())
}

/// CPU `cpu`'s track: a slice for each time slice a thread or process of
/// the run had on it.
fn cpu_track(
    out: &mut impl Write,
    first: &mut bool,
    timeline: &Timeline,
    cpu: u16,
    slices: &[(Duration, Duration, TaskIdx)],
) -> std::io::Result<()> {
    let tid = u64::from(cpu);
    write_event(
        out,
        first,
        &meta(CPUS_PID, Some(tid), "thread_name", &format!("cpu {cpu}")),
    )?;
    for (start, end, row) in slices {
        let name = timeline
            .tasks
            .get(*row as usize)
            .map_or("?".to_string(), |t| shown(&t.name));
        write_event(
            out,
            first,
            &json!({"name": name, "cat": "on_cpu", "ph": "X", "ts": us(*start), "dur": us(*end - *start), "pid": CPUS_PID, "tid": tid}),
        )?;
    }
    Ok(())
}
