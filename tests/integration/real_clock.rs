//! Parallelism and blocking on the real clock, where only real threads can
//! show them. The assertions are on structure (which worker, what overlaps,
//! what comes first), never on how fast the machine is: a busy machine
//! stretches every interval but keeps their order.

use crate::util as common;

use std::time::Duration;

use common::{bundled, inline};
use taskscope::probe::{Change, Event, TaskIdx, WakeBy};

/// Each poll of `task`: (start, end, worker).
fn polls(events: &[Event], task: TaskIdx) -> Vec<(Duration, Duration, u16)> {
    let mut out = Vec::new();
    let mut open: Option<(Duration, u16)> = None;
    for e in events.iter().filter(|e| e.task == task) {
        match (&e.change, open) {
            (Change::Running { worker }, None) => open = Some((e.t, *worker)),
            // The OS taking the worker's thread away is inside the poll.
            (Change::Running { .. } | Change::OffCpu { .. }, Some(_)) => {}
            (_, Some((start, worker))) => {
                out.push((start, e.t, worker));
                open = None;
            }
            _ => {}
        }
    }
    out
}

/// When `task` was woken by `by` first.
fn woken(events: &[Event], task: TaskIdx, by: WakeBy) -> Duration {
    events
        .iter()
        .find(|e| e.task == task && matches!(e.change, Change::Ready { by: b, .. } if b == by))
        .unwrap_or_else(|| panic!("task {task} was never woken by {by:?}"))
        .t
}

#[test]
fn with_two_workers_a_sleeper_runs_on_the_other_worker_while_the_blocker_holds_one() {
    let _limit = crate::util::limit();
    let mut scenario = bundled("blocking-the-loop");
    scenario.runtime.flavor = taskscope::scenario::Flavor::MultiThread;
    scenario.runtime.workers = 2;
    let scenario = scenario
        .with_clock(taskscope::scenario::Clock::Real)
        .unwrap();
    let events = common::record(scenario);
    let task = |name: &str| common::task_index(&events, name);
    let (sleeper, blocker) = (task("sleeper"), task("blocker"));
    let (held_from, held_to, held_worker) = polls(&events, blocker)[0];
    let wake = woken(&events, sleeper, WakeBy::Timer);
    let (resumed, _, worker) = *polls(&events, sleeper)
        .iter()
        .find(|p| p.0 >= wake)
        .expect("the sleeper ran after its timer");
    // Its timer fired and it ran while the blocker still held its worker.
    assert!(held_from < wake && resumed < held_to, "{events:#?}");
    assert_ne!(worker, held_worker, "on the other worker");
}

/// Two tasks, each with one `STEP = "300ms"`, on `flavor`.
fn two_tasks(step: &str, flavor: &str) -> Vec<Event> {
    common::record(inline(&format!(
        r#"name = "parallel"
[runtime]
flavor = "{flavor}"
clock = "real"
[[task]]
name = "a"
steps = [ {{ {step} = "300ms" }} ]
[[task]]
name = "b"
steps = [ {{ {step} = "300ms" }} ]
"#
    )))
}

/// Two workers are two OS threads: their polls overlap in time, each on its
/// own worker (on one core too: the OS slices the two threads).
#[test]
fn two_workers_run_two_cpu_tasks_at_the_same_time() {
    let _limit = crate::util::limit();
    let events = two_tasks("cpu", "multi_thread");
    let a = polls(&events, common::task_index(&events, "a"))[0];
    let b = polls(&events, common::task_index(&events, "b"))[0];
    assert!(a.0 < b.1 && b.0 < a.1, "a {a:?} and b {b:?} overlap");
    assert_ne!(a.2, b.2, "on two workers");
}

/// A thread or a child process each: both are started before either ends.
#[test]
fn threads_and_processes_work_at_the_same_time() {
    let _limit = crate::util::limit();
    for step in ["thread", "process"] {
        let events = two_tasks(step, "current_thread");
        let started = |name: &str| {
            let t = common::task_index(&events, name);
            polls(&events, t)[0].1
        };
        let done = |name: &str| {
            let t = common::task_index(&events, name);
            woken(&events, t, WakeBy::Runtime)
        };
        assert!(
            started("b") < done("a") && started("a") < done("b"),
            "{step}: both were at work at once"
        );
    }
}

/// One worker: the second task's first poll starts only after the first
/// task's poll has ended (tokio cannot interrupt it).
#[test]
fn one_worker_runs_cpu_tasks_one_after_the_other() {
    let _limit = crate::util::limit();
    let events = two_tasks("cpu", "current_thread");
    let a = polls(&events, common::task_index(&events, "a"))[0];
    let b = polls(&events, common::task_index(&events, "b"))[0];
    let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    assert!(second.0 >= first.1, "{first:?} then {second:?}");
}

/// The blocking pool keeps the worker free: the sleeper's timer wakes it
/// and it finishes while the blocker's job is still running.
#[test]
fn spawn_blocking_keeps_the_loop_free_so_the_timer_fires_meanwhile() {
    let _limit = crate::util::limit();
    let events = common::record(bundled("spawn-blocking-rescue"));
    let sleeper = common::task_index(&events, "sleeper");
    let blocker = common::task_index(&events, "blocker");
    let job_done = woken(&events, blocker, WakeBy::Runtime);
    let timer = woken(&events, sleeper, WakeBy::Timer);
    let sleeper_done = events
        .iter()
        .find(|e| e.task == sleeper && matches!(e.change, Change::Done { .. }))
        .unwrap()
        .t;
    assert!(timer < job_done && sleeper_done < job_done, "{events:#?}");
}

/// The same on the real clock: the request goes out only once the hog's
/// 500 ms of CPU are over, so the reply comes a second after that.
#[test]
fn on_the_real_clock_too_an_io_request_waits_for_the_cpu_hog() {
    let _limit = crate::util::limit();
    let text = r#"name = "io-beside-a-hog"
description = "An io step next to a CPU hog."
[runtime]
flavor = "current_thread"
clock = "real"
[[task]]
name = "fetch"
steps = [ { io = "1s" } ]
[[task]]
name = "hog"
steps = [ { cpu = "500ms" } ]
"#;
    let events = common::record(inline(text));
    let fetch = common::task_index(&events, "fetch");
    let hog = common::task_index(&events, "hog");
    let hog_done = events
        .iter()
        .find(|e| e.task == hog && matches!(e.change, Change::Done { .. }))
        .unwrap()
        .t;
    let sent = events
        .iter()
        .find_map(|e| match e.change {
            Change::Waiting { due: Some(due), .. } if e.task == fetch => Some((e.t, due)),
            _ => None,
        })
        .expect("the request was sent");
    let done = events
        .iter()
        .find(|e| e.task == fetch && matches!(e.change, Change::Done { .. }))
        .unwrap()
        .t;
    // Sent after the hog let go; due a second after it was sent; done no
    // earlier than that.
    assert!(
        sent.0 >= hog_done,
        "sent at {:?}, hog done {hog_done:?}",
        sent.0
    );
    let second = Duration::from_secs(1);
    assert!(
        sent.1 >= hog_done + second && sent.1 <= sent.0 + second,
        "due {:?}",
        sent.1
    );
    assert!(done >= sent.1, "{done:?} < {:?}", sent.1);
}

/// Headless, `--speed` plays a real-clock run in slow or fast motion:
/// every duration is stretched by 1 / speed on the wall, and the clock
/// reads wall time times the speed, so the scenario's times stay the same.
/// Only floors hold on any machine; the fast run is compared with the 1x
/// run beside it (the binary's start-up costs both the same).
#[test]
fn headless_speed_plays_a_real_clock_run_in_slow_and_fast_motion() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nap.toml");
    std::fs::write(
        &path,
        "name = \"nap\"\n[runtime]\nflavor = \"multi_thread\"\nclock = \"real\"\n\
         [[task]]\nname = \"nap\"\nsteps = [ { sleep = \"2s\" } ]\n",
    )
    .unwrap();
    let runs: Vec<_> = ["1", "0.5", "4"]
        .into_iter()
        .map(|speed| {
            let path = path.clone();
            std::thread::spawn(move || {
                let start = std::time::Instant::now();
                let json = common::ok_stdout(
                    common::taskscope()
                        .arg("run")
                        .arg(&path)
                        .args(["--json", "--speed", speed]),
                );
                let v: serde_json::Value = serde_json::from_str(&json).unwrap();
                (speed, start.elapsed(), v["wall_ms"].as_f64().unwrap())
            })
        })
        .collect();
    let runs: Vec<_> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    for (speed, took, scenario_ms) in &runs {
        assert!(
            (2000.0..2300.0).contains(scenario_ms),
            "at {speed}x the scenario still takes 2 s of its own time: {scenario_ms} ms ({took:?} on the wall)"
        );
    }
    let (normal, slow, fast) = (runs[0].1, runs[1].1, runs[2].1);
    assert!(normal >= Duration::from_secs(2), "1x: {normal:?}");
    assert!(
        slow >= Duration::from_secs(4),
        "0.5x stretches 2 s to 4: {slow:?}"
    );
    assert!(
        fast + Duration::from_secs(1) < normal,
        "4x shrinks 2 s to 0.5 s: {fast:?}, against {normal:?} at 1x"
    );
}
