//! Your own code under the scope (`taskscope::watch`): the examples are
//! plain tokio programs; what taskscope says of them is checked against
//! what they do, and against the TOML twins of the talk's demos.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util as common;

/// `program ARGS` to its end: its stdout, checked it exited 0.
fn output(program: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the program starts");
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}): {}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(program: &std::path::Path, args: &[&str]) -> Value {
    serde_json::from_str(&output(program, args)).unwrap()
}

/// The summary's tasks by name.
fn tasks(summary: &Value) -> HashMap<String, Value> {
    summary["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

fn within_one_percent(a: f64, b: f64) -> bool {
    (a - b).abs() <= (b.abs() * 0.01).max(0.001)
}

#[test]
fn each_example_tells_the_numbers_of_its_toml_twin() {
    let _limit = crate::util::limit();
    let taskscope = std::path::PathBuf::from(env!("CARGO_BIN_EXE_taskscope"));
    for (example, twin) in [
        ("breakfast_sequential", "breakfast-sequential"),
        ("breakfast_concurrent", "breakfast-concurrent"),
        ("create_task", "create-task"),
        ("mutex_contention", "mutex-contention"),
        ("channel_pipeline", "channel-pipeline"),
        ("blocking_the_loop", "blocking-the-loop"),
        ("panic_in_task", "panic-in-task"),
    ] {
        let ours = json(&common::example(example), &["--json"]);
        let toml = json(&taskscope, &["run", twin, "--json"]);
        assert_eq!(ours["runtime"]["clock"], "virtual", "{example}");
        let (a, b) = (
            ours["wall_ms"].as_f64().unwrap(),
            toml["wall_ms"].as_f64().unwrap(),
        );
        assert!(
            within_one_percent(a, b),
            "{example}: wall {a} ms, {twin}: {b} ms"
        );
        let ours = tasks(&ours);
        for (name, want) in tasks(&toml) {
            let got = ours
                .get(&name)
                .unwrap_or_else(|| panic!("{example} has no task {name}"));
            for (kind, ms) in want["waits"].as_object().unwrap() {
                let (a, b) = (got["waits"][kind].as_f64().unwrap(), ms.as_f64().unwrap());
                assert!(
                    within_one_percent(a, b),
                    "{example}: {name} waited on {kind} {a} ms, in {twin} {b} ms"
                );
            }
            assert_eq!(got["outcome"], want["outcome"], "{example}: {name}");
            assert_eq!(got["message"], want["message"], "{example}: {name}");
            // tokio-metrics does not count a poll that panics; taskscope does.
            let figures: &[&str] = if want["outcome"] == "ok" {
                &["done_ms", "busy_ms", "polls"]
            } else {
                &["done_ms", "busy_ms"]
            };
            for figure in figures {
                let (a, b) = (
                    got[*figure].as_f64().unwrap(),
                    want[*figure].as_f64().unwrap(),
                );
                assert!(
                    within_one_percent(a, b),
                    "{example}: {name} {figure} {a}, in {twin} {b}"
                );
            }
        }
    }
}

#[test]
fn plain_tokio_code_shows_its_timers_locks_channels_and_who_woke_whom() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let summary = json(
        &common::example("your_code"),
        &[
            "--json",
            "--clock",
            "virtual",
            "--events",
            events.to_str().unwrap(),
        ],
    );
    assert_eq!(summary["wall_ms"], 6000.0);
    let tasks = tasks(&summary);
    let wait = |task: &str, kind: &str| tasks[task]["waits"][kind].as_f64().unwrap();
    assert_eq!(wait("say-after-3s", "timer"), 3000.0);
    assert_eq!(wait("say-after-6s", "timer"), 6000.0);
    assert!(
        (wait("waiter", "lock") - 500.0).abs() < 1.0,
        "{}",
        wait("waiter", "lock")
    );
    assert!(wait("producer", "channel") >= 100.0);
    // What tokio does not trace is named by the wake that ends it.
    assert_eq!(wait("main", "join"), 6000.0);
    assert_eq!(wait("main", "other"), 0.0);
    for t in tasks.values() {
        assert_eq!(t["outcome"], "ok", "{t}");
    }
    let lines: Vec<Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let woke = |by: &str, whom: &str| {
        lines
            .iter()
            .any(|l| l["state"] == "ready" && l["task"] == whom && l["by"] == by)
    };
    assert!(
        woke("holder", "waiter"),
        "the holder's unlock woke the waiter"
    );
    assert!(
        woke("consumer", "producer"),
        "taking an item woke the producer"
    );
    assert!(
        woke("say-after-6s", "main"),
        "the end of the 6 s task woke main's join"
    );
    let parent = |task: &str| {
        lines
            .iter()
            .find(|l| l["state"] == "spawned" && l["task"] == task)
            .map(|l| l["parent"].clone())
    };
    assert_eq!(parent("holder"), Some(Value::from("main")));
    assert_eq!(parent("main"), Some(Value::Null));
    // The same file replays like a scenario's.
    let taskscope = std::path::PathBuf::from(env!("CARGO_BIN_EXE_taskscope"));
    let replayed = json(&taskscope, &["replay", events.to_str().unwrap(), "--json"]);
    assert_eq!(replayed["tasks"], summary["tasks"]);
}

#[test]
fn your_code_on_the_real_clock_and_on_several_workers() {
    let _limit = crate::util::limit();
    let summary = json(&common::example("breakfast_threads"), &["--json"]);
    assert_eq!(summary["runtime"]["flavor"], "multi_thread");
    assert_eq!(summary["runtime"]["workers"], 2);
    let tasks = tasks(&summary);
    // Only your tasks: tokio's workers (blocking jobs of its own) are not.
    let mut names: Vec<&str> = tasks.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "coffee",
            "coffee/blocking",
            "eggs",
            "eggs/blocking",
            "main",
            "toast",
            "toast/blocking"
        ]
    );
    assert_eq!(tasks["eggs/blocking"]["kind"], "blocking");
    let waited = |t: &str, k: &str| tasks[t]["waits"][k].as_f64().unwrap();
    // Each dish waits on its blocking job (at least its 400/300 ms of
    // work), then on io for its reply (300/200 ms after the server has its
    // request; on two workers the server may start that timer a little
    // before the dish's poll has ended and its wait begun: 10 ms of slack).
    assert!(waited("eggs", "blocking") >= 400.0);
    assert!(waited("toast", "blocking") >= 300.0);
    let (eggs, coffee) = (waited("eggs", "io"), waited("coffee", "io"));
    assert!(eggs >= 290.0, "eggs waited {eggs} ms on io");
    assert!(coffee >= 190.0, "coffee waited {coffee} ms on io");
}

/// The `(t_ms, step)` of each running transition of `task` in an events file.
fn running_steps(events: &str, task: &str) -> Vec<(f64, u64)> {
    events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["task"] == task && e["state"] == "running")
        .map(|e| (e["t_ms"].as_f64().unwrap(), e["step"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_lesson_helpers_work_holds_its_worker_as_a_block_step_does() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.jsonl");
    let file_arg = file.to_str().unwrap();
    output(
        &common::example("blocking_the_loop"),
        &["--headless", "--events", file_arg],
    );
    // Polled at 0 (its code), holding its worker inside `block` from 0 to
    // 300 ms (the step your code's screen draws as holding), then its code.
    assert_eq!(
        running_steps(&std::fs::read_to_string(&file).unwrap(), "blocker"),
        [(0.0, 0), (0.0, 1), (300.0, 0)]
    );
}

#[test]
fn wrong_options_are_exit_2_and_help_lists_the_run_options() {
    let _limit = crate::util::limit();
    let program = common::example("your_code");
    let out = Command::new(&program)
        .args(["--speed", "0.5"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--speed") && err.contains("--clock virtual"),
        "{err}"
    );
    let out = Command::new(&program)
        .args(["--no-such-option"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help = output(&program, &["--help"]);
    for option in ["--json", "--events", "--console", "--paused", "--clock"] {
        assert!(help.contains(option), "{help}");
    }
}
