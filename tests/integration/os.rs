//! OS threads, blocking-pool jobs and child processes as rows of their own,
//! with the OS's own figures: the pre-emption lesson shows two busy threads
//! on one CPU interrupted in turn; the breakfasts show helpers and caterers
//! running at the same time.

use std::time::Duration;

use taskscope::event::is_cpu;
use taskscope::probe::{Change, Event, Kind, TaskIdx, WakeBy};

use crate::util as common;
use common::{ok_stdout, taskscope};

/// The OS rows of a run, by name.
fn os_rows(events: &[Event]) -> Vec<(TaskIdx, String, Kind)> {
    events
        .iter()
        .filter_map(|e| match &e.change {
            Change::Spawned { name, kind, .. } if kind.is_os() => {
                Some((e.task, name.to_string(), *kind))
            }
            _ => None,
        })
        .collect()
}

/// On-CPU stretches of row `task`: (from, to).
fn on_cpu(events: &[Event], task: TaskIdx) -> Vec<(Duration, Duration)> {
    let mut out = Vec::new();
    let mut since = None;
    for e in events.iter().filter(|e| e.task == task) {
        match &e.change {
            Change::Running { worker } if is_cpu(*worker) => {
                since.get_or_insert(e.t);
            }
            Change::Ready { by: WakeBy::Os, .. } | Change::Done { .. } => {
                if let Some(s) = since.take() {
                    out.push((s, e.t));
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the OS gives no schedstat here: threads show only their start and end"
)]
fn on_one_cpu_the_os_interrupts_two_busy_threads_in_turn() {
    let _limit = crate::util::limit();
    let json = ok_stdout(taskscope().args(["run", "preemption", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let threads: Vec<&serde_json::Value> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "thread")
        .collect();
    assert_eq!(threads.len(), 2, "{json}");
    for t in &threads {
        let slices = t["slices"].as_u64().unwrap();
        assert!(slices >= 10, "{} got {slices} time slices", t["name"]);
        // Two busy threads on one CPU: each waited for it about as long as
        // it ran.
        let (cpu, queue) = (
            t["cpu_ms"].as_f64().unwrap(),
            t["runqueue_ms"].as_f64().unwrap(),
        );
        assert!(
            queue > cpu / 4.0,
            "{}: {cpu} ms on a CPU, {queue} ms queued",
            t["name"]
        );
    }
    // In the events: their stretches on the CPU take turns, many times.
    let events = common::record(common::bundled("preemption"));
    let rows = os_rows(&events);
    let (a, b) = (rows[0].0, rows[1].0);
    let mut turns: Vec<(Duration, TaskIdx)> = on_cpu(&events, a)
        .into_iter()
        .map(|s| (s.0, a))
        .chain(on_cpu(&events, b).into_iter().map(|s| (s.0, b)))
        .collect();
    turns.sort();
    let switches = turns.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(
        switches >= 10,
        "the OS switched between them {switches} times"
    );
    // The two tokio tasks on the one worker, by contrast, switch only at
    // their yields: 6 polls each (60 ms of work, a yield every 10 ms).
    let sharers: Vec<u64> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with("sharer"))
        .map(|t| t["polls"].as_u64().unwrap())
        .collect();
    assert_eq!(sharers, [6, 6]);
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "the OS gives no schedstat here")]
fn the_trace_and_the_picture_show_the_threads_taking_turns() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let (trace, svg) = (dir.path().join("t.json"), dir.path().join("p.svg"));
    ok_stdout(
        taskscope()
            .args(["run", "preemption", "--headless", "--trace"])
            .arg(&trace)
            .arg("--svg")
            .arg(&svg),
    );
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let tid_of = |name: &str| {
        events
            .iter()
            .find(|e| {
                e["ph"] == "M"
                    && e["args"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with(name))
            })
            .map(|e| e["tid"].as_u64().unwrap())
            .unwrap_or_else(|| panic!("a track for {name}"))
    };
    let (a, b) = (tid_of("busy-a/thread"), tid_of("busy-b/thread"));
    let mut slices: Vec<(f64, u64)> = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["name"] == "on a CPU")
        .filter(|e| [a, b].contains(&e["tid"].as_u64().unwrap()))
        .map(|e| (e["ts"].as_f64().unwrap(), e["tid"].as_u64().unwrap()))
        .collect();
    slices.sort_by(|x, y| x.0.total_cmp(&y.0));
    let turns = slices.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(turns >= 10, "{turns} turns in the trace");
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let on_cpu = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "title")
        .filter(|n| n.text().is_some_and(|t| t.starts_with("on a CPU")))
        .count();
    assert!(on_cpu >= 20, "{on_cpu} slices drawn");
}

/// Two rows are on a CPU at the same moment.
fn overlap(a: &[(Duration, Duration)], b: &[(Duration, Duration)]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.0 < y.1 && y.0 < x.1))
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "the OS gives no schedstat here")]
fn helpers_and_caterers_work_at_the_same_time_as_rows_of_their_own() {
    let _limit = crate::util::limit();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        common::skipped(&format!(
            "helpers working at the same time needs two CPUs; this process may use {cpus}"
        ));
        return;
    }
    for (name, kind) in [
        ("breakfast-threads", Kind::Thread),
        ("breakfast-processes", Kind::Process),
    ] {
        let events = common::record(common::bundled(name));
        let rows = os_rows(&events);
        assert_eq!(rows.len(), 3, "{name}: one {kind:?} per dish");
        assert!(rows.iter().all(|r| r.2 == kind));
        let stretches: Vec<_> = rows.iter().map(|r| on_cpu(&events, r.0)).collect();
        let together = (0..3).any(|i| (i + 1..3).any(|j| overlap(&stretches[i], &stretches[j])));
        assert!(
            together,
            "{name}: two of them were on CPUs at the same time"
        );
        // Each row ends with the OS's figures.
        let json: serde_json::Value =
            serde_json::from_str(&ok_stdout(taskscope().args(["run", name, "--json"]))).unwrap();
        let os_rows: Vec<&serde_json::Value> = json["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == kind.as_str())
            .collect();
        assert_eq!(os_rows.len(), 3, "{name}: three {kind:?} rows in {json}");
        for t in os_rows {
            assert!(t["cpu_ms"].as_f64().unwrap() >= 250.0, "{t}");
            assert!(t["slices"].as_u64().unwrap() >= 1, "{t}");
        }
    }
}

/// A child starts on a CPU before its parent has recorded its row: what
/// it tells is recorded from the row's start on, so every recording of
/// processes and threads replays (its first slices came before its spawn
/// line, under a `?` name, in 1 of 6 runs).
#[test]
fn a_recording_of_many_children_starting_at_once_replays() {
    let _limit = common::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("children.toml");
    std::fs::write(
        &path,
        "name = \"children\"\ndescription = \"Children and threads at once.\"\n\
         [runtime]\nflavor = \"multi_thread\"\nworkers = 2\nclock = \"real\"\n\
         [[task]]\nname = \"p\"\ncount = 8\nsteps = [ { process = \"30ms\" } ]\n\
         [[task]]\nname = \"th\"\ncount = 2\nsteps = [ { thread = \"30ms\" } ]\n",
    )
    .unwrap();
    for run in 0..4 {
        let events = dir.path().join(format!("run{run}.jsonl"));
        ok_stdout(
            taskscope()
                .arg("run")
                .arg(&path)
                .arg("--headless")
                .arg("--events")
                .arg(&events),
        );
        let text = std::fs::read_to_string(&events).unwrap();
        assert!(
            !text.contains("\"task\":\"?\""),
            "run {run}: a row before its spawn"
        );
        ok_stdout(taskscope().arg("replay").arg(&events).arg("--headless"));
    }
}
