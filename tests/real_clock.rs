//! Parallelism and blocking on the real clock, where only real threads can
//! show them. These tests run one at a time (they need the machine's cores)
//! and assert on structure (which worker, overlap, order) with wide margins,
//! not on how fast the machine is.

mod common;

use std::sync::Mutex;

use common::{bundled, inline, summary};
use taskscope::probe::{Change, WakeBy};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn with_two_workers_a_sleeper_wakes_on_time_on_the_other_worker() {
    let _one = serial();
    let mut scenario = bundled("blocking-the-loop");
    scenario.runtime.flavor = taskscope::scenario::Flavor::MultiThread;
    scenario.runtime.workers = 2;
    let scenario = scenario
        .with_clock(taskscope::scenario::Clock::Real)
        .unwrap();
    let events = common::record(scenario);
    let task = |name: &str| common::task_index(&events, name);
    let (sleeper, blocker) = (task("sleeper"), task("blocker"));
    let blocker_worker = events
        .iter()
        .find_map(|e| match e.change {
            Change::Running { worker } if e.task == blocker => Some(worker),
            _ => None,
        })
        .unwrap();
    let wake = events
        .iter()
        .find(|e| {
            e.task == sleeper
                && matches!(
                    e.change,
                    Change::Ready {
                        by: WakeBy::Timer,
                        ..
                    }
                )
        })
        .expect("the timer woke the sleeper");
    let resumed = events
        .iter()
        .find(|e| e.task == sleeper && e.t >= wake.t && matches!(e.change, Change::Running { .. }))
        .unwrap();
    // The blocker holds its worker for 300 ms; the sleeper does not wait for it.
    assert!(wake.t.as_millis() < 250, "timer fired at {:?}", wake.t);
    assert!(wake.t.as_millis() >= 100);
    assert!(matches!(resumed.change, Change::Running { worker } if worker != blocker_worker));
}

fn parallel_cpu(step: &str, flavor: &str) -> (f64, f64) {
    let s = summary(inline(&format!(
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
    )));
    let a = s.task("a").unwrap().done_ms.unwrap();
    let b = s.task("b").unwrap().done_ms.unwrap();
    (s.wall_ms, a.min(b))
}

/// 600 ms of CPU on two cores: both finish well before 600 ms, and the first
/// to finish is not done before the other started (they overlapped).
#[test]
fn two_workers_run_two_cpu_tasks_in_parallel() {
    let _one = serial();
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("skipped: one core");
        return;
    }
    for (step, flavor) in [
        ("cpu", "multi_thread"),
        ("thread", "current_thread"),
        ("process", "current_thread"),
    ] {
        // A shared machine can lend us its second core late; parallelism
        // shows if one of three attempts finishes well under 600 ms.
        let mut attempts = Vec::new();
        while attempts.len() < 3 && attempts.last().is_none_or(|(wall, _)| *wall >= 550.0) {
            attempts.push(parallel_cpu(step, flavor));
        }
        let (wall, first) = *attempts.last().unwrap();
        assert!(
            wall < 550.0,
            "{step}: {attempts:?} ms for 600 ms of CPU on two cores"
        );
        assert!(
            wall - first < 250.0,
            "{step}: they finished together ({first} and {wall})"
        );
    }
}

#[test]
fn one_worker_runs_cpu_tasks_one_after_the_other() {
    let _one = serial();
    let (wall, first) = parallel_cpu("cpu", "current_thread");
    assert!(wall >= 590.0, "{wall}");
    assert!(
        first <= wall / 2.0 + 50.0,
        "the first finished at {first}, halfway"
    );
}

#[test]
fn spawn_blocking_keeps_the_loop_free_so_the_timer_is_on_time() {
    let _one = serial();
    let s = summary(bundled("spawn-blocking-rescue"));
    let sleeper = s.task("sleeper").unwrap();
    assert!(sleeper.done_ms.unwrap() < 250.0, "{:?}", sleeper.done_ms);
    assert!(s.task("blocker").unwrap().waits.blocking >= 250.0);
}
