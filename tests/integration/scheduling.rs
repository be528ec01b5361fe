//! How tasks are scheduled, on the virtual clock: exact, repeatable, and no
//! faster machine needed. Each test names the behaviour it proves.

use crate::util as common;

use std::time::Duration;

use common::{bundled, inline, near, run, summary};
use taskscope::probe::{Change, Wait, WakeBy};
use taskscope::scenario::Action;

/// Every duration a task's steps take, summed (repeat bodies counted once).
fn step_total(s: &taskscope::scenario::Scenario) -> f64 {
    s.tasks
        .iter()
        .flat_map(|t| &t.steps)
        .map(|step| match step.action {
            Action::Sleep(d) | Action::Io(d) | Action::Block(d) | Action::Cpu { work: d, .. } => {
                d.as_secs_f64() * 1000.0
            }
            _ => 0.0,
        })
        .sum()
}

#[test]
fn sequential_breakfast_takes_the_sum_of_its_steps() {
    let _limit = crate::util::limit();
    let s = bundled("breakfast-sequential");
    let total = step_total(&s);
    let wall = summary(s).wall_ms;
    assert!(near(wall, total, 1.0), "wall {wall} vs sum {total}");
}

/// One worker, three dishes: the hands-on work (cpu) takes turns, the
/// waits overlap. Each dish sends its order once the worker is free for
/// it; here the eggs' goes last, after all 1 s of hands-on work, and its
/// 300 ms wait ends the breakfast.
#[test]
fn concurrent_breakfast_overlaps_the_waits_but_not_the_hands_on_work() {
    let _limit = crate::util::limit();
    let s = bundled("breakfast-concurrent");
    let cpu: f64 = s
        .tasks
        .iter()
        .flat_map(|t| &t.steps)
        .filter_map(|step| match step.action {
            Action::Cpu { work, .. } => Some(work.as_secs_f64() * 1000.0),
            _ => None,
        })
        .sum();
    let sequential = step_total(&bundled("breakfast-sequential"));
    let summary = summary(s);
    assert_eq!(
        summary.wall_ms,
        cpu + 300.0,
        "all the hands-on work, then the eggs boil"
    );
    assert!(
        summary.wall_ms < sequential,
        "{} vs {sequential}",
        summary.wall_ms
    );
    let eggs = summary.task("eggs").unwrap();
    assert_eq!(
        eggs.waits.io,
        summary.wall_ms - 400.0,
        "connecting, then the boil"
    );
}

#[test]
fn the_create_task_example_takes_6_seconds_not_9() {
    let _limit = crate::util::limit();
    let s = summary(bundled("create-task"));
    assert_eq!(s.wall_ms, 6000.0);
}

/// The blocking-the-loop lesson: a timer cannot fire while the only worker
/// is blocked, and a task behind the blocker cannot start.
#[test]
fn a_blocked_worker_makes_a_timer_fire_late_and_delays_first_polls() {
    let _limit = crate::util::limit();
    let finished = run(bundled("blocking-the-loop"));
    let s = finished.summary();
    let sleeper = s.task("sleeper").unwrap();
    assert_eq!(sleeper.late_wakes, 1);
    assert_eq!(sleeper.max_late_ms, 200.0, "due at 100, fired at 300");
    let bystander = s.task("bystander").unwrap();
    assert_eq!(
        bystander.first_poll_delay_ms, 300.0,
        "tokio-metrics' first-poll delay"
    );

    // The events say the same: the sleeper's timer woke it at 300 ms, 200 ms late.
    let sleeper_idx = finished
        .model
        .tasks
        .iter()
        .position(|t| &*t.name == "sleeper")
        .unwrap();
    let wake = finished
        .model
        .tasks
        .get(sleeper_idx)
        .and_then(|t| t.last_wake())
        .unwrap();
    assert_eq!(wake, (WakeBy::Timer, Some(Duration::from_millis(200))));
}

#[test]
fn a_blocked_timer_is_late_in_the_event_log() {
    let _limit = crate::util::limit();
    let events = common::record(bundled("blocking-the-loop"));
    let ready_late: Vec<_> = events
        .iter()
        .filter_map(|e| match e.change {
            Change::Ready {
                by: WakeBy::Timer,
                late: Some(l),
                ..
            } => Some((e.t, l)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ready_late,
        vec![(Duration::from_millis(300), Duration::from_millis(200))]
    );
}

/// The tasks' names in the order their polls started.
fn poll_order(events: &[taskscope::probe::Event]) -> Vec<String> {
    let mut names = std::collections::HashMap::new();
    let mut running = std::collections::HashSet::new();
    let mut order = Vec::new();
    for e in events {
        match &e.change {
            Change::Spawned { name, .. } => {
                names.insert(e.task, name.to_string());
            }
            Change::Running { .. } => {
                if running.insert(e.task) {
                    order.push(names[&e.task].clone());
                }
            }
            _ => {
                running.remove(&e.task);
            }
        }
    }
    order
}

#[test]
fn cooperative_yields_interleave_two_cpu_tasks_in_pairs() {
    let _limit = crate::util::limit();
    let events = common::record(bundled("cooperative-yields"));
    // tokio wakes yielded tasks last-in first-out (the README says so): each
    // task runs twice in a row, after the first poll: chop stir stir chop
    // chop stir stir ... 20 polls in all.
    let expected: Vec<&str> = (0..20)
        .map(|i| if (i + 1) / 2 % 2 == 0 { "chop" } else { "stir" })
        .collect();
    assert_eq!(poll_order(&events), expected);
    let s = summary(bundled("cooperative-yields"));
    // A switch at every second poll: 10 of them (the first poll is none).
    assert_eq!(s.switches, 10);
    assert_eq!(s.tasks.iter().map(|t| t.polls).sum::<u64>(), 20);
    let done: Vec<f64> = s.tasks.iter().map(|t| t.done_ms.unwrap()).collect();
    assert!(
        done.iter().all(|d| *d >= 180.0),
        "both finish near the end: {done:?}"
    );
}

#[test]
fn without_yields_two_cpu_tasks_run_one_after_the_other() {
    let _limit = crate::util::limit();
    let events = common::record(bundled("greedy-cpu"));
    assert_eq!(poll_order(&events).len(), 2, "one poll each");
    let s = summary(bundled("greedy-cpu"));
    assert_eq!(
        s.switches, 1,
        "one switch: from the first task to the second"
    );
    let mut done: Vec<f64> = s.tasks.iter().map(|t| t.done_ms.unwrap()).collect();
    done.sort_by(f64::total_cmp);
    assert_eq!(done, vec![100.0, 200.0]);
}

/// Yield-every-10ms makes every poll a short one; the same work without
/// yields is one long poll per task.
#[test]
fn yield_every_splits_cpu_work_into_short_polls() {
    let _limit = crate::util::limit();
    let with = summary(bundled("cooperative-yields"));
    let without = summary(bundled("greedy-cpu"));
    assert!(with.tasks.iter().all(|t| t.max_poll_ms == 10.0));
    assert!(without.tasks.iter().all(|t| t.max_poll_ms == 100.0));
}

#[test]
fn two_virtual_runs_give_identical_event_sequences() {
    let _limit = crate::util::limit();
    for name in [
        "breakfast-concurrent",
        "channel-pipeline",
        "mutex-contention",
        "cooperative-yields",
        "io-vs-cpu",
    ] {
        let record = || {
            common::record(bundled(name))
                .into_iter()
                .map(|e| {
                    let wait = match e.change {
                        Change::Waiting { wait, .. } => Some(wait),
                        _ => None,
                    };
                    (e.task, e.change.state(), wait, e.step, e.t)
                })
                .collect::<Vec<_>>()
        };
        let first = record();
        assert!(first.len() > 10);
        assert_eq!(first, record(), "{name}");
    }
}

#[test]
fn busy_time_counted_by_the_probe_matches_the_running_intervals() {
    let _limit = crate::util::limit();
    for name in [
        "breakfast-sequential",
        "blocking-the-loop",
        "cooperative-yields",
        "channel-pipeline",
        "io-vs-cpu",
    ] {
        let finished = run(bundled(name));
        for t in &finished.model.tasks {
            let metrics = t.stats.as_ref().unwrap().busy;
            let events = t.running();
            let diff = metrics.abs_diff(events);
            assert!(
                diff <= events / 100 + Duration::from_micros(1),
                "{name}/{}: counted {metrics:?} vs events {events:?}",
                t.name
            );
        }
    }
}

#[test]
fn io_waits_are_real_socket_waits_woken_by_the_io_driver() {
    let _limit = crate::util::limit();
    // tokio's own count of I/O readiness events (RuntimeMonitor): every io
    // step is at least a connect and a reply over loopback. The same
    // scenario with its io steps turned into sleeps has none.
    let with_io = run(bundled("breakfast-concurrent"));
    let io_steps = bundled("breakfast-concurrent")
        .tasks
        .iter()
        .flat_map(|t| &t.steps)
        .filter(|s| matches!(s.action, Action::Io(_)))
        .count() as u64;
    assert!(io_steps >= 2);
    assert!(
        with_io.end.runtime.io_ready >= 2 * io_steps,
        "{} readiness events for {io_steps} io steps",
        with_io.end.runtime.io_ready
    );
    let text =
        include_str!("../../scenarios/breakfast-concurrent.toml").replace("{ io = ", "{ sleep = ");
    let timers = run(inline(&text));
    assert_eq!(timers.end.runtime.io_ready, 0, "sleeps use no socket");
    let finished = with_io;
    let eggs = finished
        .model
        .tasks
        .iter()
        .find(|t| &*t.name == "eggs")
        .unwrap();
    // Connecting while the others cook (600 ms), then the 300 ms boil.
    assert_eq!(eggs.waited(Wait::Io), Duration::from_millis(900));
    assert_eq!(eggs.last_wake().map(|w| w.0), Some(WakeBy::Io));
}

#[test]
fn a_receiver_is_woken_by_the_sender_and_a_full_channel_makes_the_sender_wait() {
    let _limit = crate::util::limit();
    let s = summary(bundled("channel-pipeline"));
    assert!(
        s.task("kitchen").unwrap().waits.channel > 0.0,
        "backpressure"
    );
    // The diner eats slowly at first, then waits for the kitchen.
    let events = common::record(inline(
        r#"name = "both-ways"
[[channel]]
name = "counter"
capacity = 1
[[task]]
name = "kitchen"
steps = [ { send = "counter" }, { send = "counter" }, { sleep = "50ms" }, { send = "counter" } ]
[[task]]
name = "diner"
steps = [ { sleep = "10ms" }, { recv = "counter" }, { recv = "counter" }, { recv = "counter" } ]
"#,
    ));
    let idx = |name: &str| common::task_index(&events, name);
    let (kitchen, diner) = (idx("kitchen"), idx("diner"));
    let woke = |by: u32, whom: u32| {
        events
            .iter()
            .filter(|e| {
                e.task == whom
                    && e.change
                        == Change::Ready {
                            by: WakeBy::Task(by),
                            late: None,
                            waited: None,
                        }
            })
            .count()
    };
    assert!(
        woke(kitchen, diner) >= 1,
        "a send wakes the waiting receiver"
    );
    assert!(
        woke(diner, kitchen) >= 1,
        "a receive wakes the sender waiting on a full channel"
    );
}

#[test]
fn mutex_contention_serialises_the_critical_sections() {
    let _limit = crate::util::limit();
    let s = summary(bundled("mutex-contention"));
    let mut done: Vec<f64> = s.tasks.iter().map(|t| t.done_ms.unwrap()).collect();
    done.sort_by(f64::total_cmp);
    assert_eq!(done, vec![210.0, 410.0, 610.0]);
    assert!(s.tasks.iter().filter(|t| t.waits.lock > 0.0).count() == 2);
}

#[test]
fn spawned_tasks_record_their_parent() {
    let _limit = crate::util::limit();
    let finished = run(bundled("create-task"));
    let main = finished
        .model
        .tasks
        .iter()
        .position(|t| &*t.name == "main")
        .unwrap() as u32;
    let children: Vec<_> = finished
        .model
        .tasks
        .iter()
        .filter(|t| t.parent == Some(main))
        .collect();
    assert_eq!(children.len(), 2);
}

#[test]
fn count_makes_numbered_copies() {
    let _limit = crate::util::limit();
    let s = summary(inline(
        r#"name = "copies"
[[task]]
name = "w"
count = 3
steps = [ { sleep = "10ms" } ]
"#,
    ));
    let names: Vec<&str> = s.tasks.iter().map(|t| &*t.name).collect();
    assert_eq!(names, ["w-1", "w-2", "w-3"]);
    assert_eq!(s.wall_ms, 10.0);
}

#[test]
fn repeat_runs_its_steps_the_given_number_of_times() {
    let _limit = crate::util::limit();
    let s = summary(inline(
        r#"name = "repeat"
[[task]]
name = "r"
steps = [ { repeat = 3, steps = [ { sleep = "10ms" }, { repeat = 2, steps = [ { cpu = "1ms" } ] } ] } ]
"#,
    ));
    assert_eq!(s.wall_ms, 36.0);
    assert_eq!(s.tasks[0].waits.timer, 30.0);
}

#[test]
fn the_many_tasks_scenario_runs_ten_thousand_tasks() {
    let _limit = crate::util::limit();
    let s = summary(bundled("many-tasks"));
    assert!(s.tasks.len() >= 10_000);
    assert!(s.tasks.iter().all(|t| t.outcome == "ok"));
    assert_eq!(s.events_dropped, 0);
}

/// Every output is a function of the event log: reading the log back gives
/// the very summary the run printed.
#[test]
fn the_events_file_folds_back_into_the_same_summary() {
    let _limit = crate::util::limit();
    for name in [
        "breakfast-concurrent",
        "blocking-the-loop",
        "panic-in-task",
        "channel-pipeline",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let file = taskscope::export::AtomicFile::create(&path).unwrap();
        let scenario = std::sync::Arc::new(bundled(name));
        let info = taskscope::headless::run_info(&scenario);
        let outputs = taskscope::export::Outputs::new(info, None, Some(file), None, None).unwrap();
        let finished =
            taskscope::headless::run(scenario, common::options(), Some(outputs)).unwrap();
        let reader = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let log = taskscope::recording::read("events.jsonl", reader).unwrap();
        let replayed = taskscope::summary::Summary::from_model(&log.model());
        assert_eq!(replayed, finished.summary(), "{name}");
    }
}

/// More io steps at once than connections may be open: they wait their turn
/// for a connection, and every reply still comes when it is due.
#[test]
fn thousands_of_io_steps_at_once_all_complete_on_time() {
    let _limit = crate::util::limit();
    let s = summary(inline(
        r#"name = "many-io"
[[task]]
name = "fetch"
count = 2000
steps = [ { io = "1s" } ]
"#,
    ));
    assert_eq!(s.tasks.len(), 2000);
    assert!(
        s.tasks.iter().all(|t| t.outcome == "ok"),
        "{:?}",
        s.tasks.iter().find(|t| t.outcome != "ok")
    );
    assert_eq!(s.wall_ms, 1000.0);
}

/// A task that cannot run cannot send its request: beside a 500 ms CPU
/// hog on the one worker, `io 1s` is sent at 500 ms and answered at 1.5 s
/// (the remote side's clock starts when the request arrives).
pub const IO_BESIDE_A_HOG: &str = r#"name = "io-beside-a-hog"
description = "An io step next to a CPU hog."
[runtime]
flavor = "current_thread"
clock = "CLOCK"
[[task]]
name = "fetch"
steps = [ { io = "1s" } ]
[[task]]
name = "hog"
steps = [ { cpu = "500ms" } ]
"#;

#[test]
fn an_io_request_waits_for_a_cpu_hog_before_its_reply_clock_starts() {
    let _limit = crate::util::limit();
    let s = summary(inline(&IO_BESIDE_A_HOG.replace("CLOCK", "virtual")));
    let fetch = s.task("fetch").unwrap();
    assert_eq!(
        fetch.done_ms,
        Some(1500.0),
        "sent at 500 ms, answered 1 s later"
    );
    assert_eq!(s.task("hog").unwrap().done_ms, Some(500.0));
}
