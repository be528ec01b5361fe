//! The command-line contract, driven through the real binary.

use std::path::Path;

use assert_cmd::Command;

use crate::util::taskscope;

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn list_shows_every_bundled_scenario_with_its_description() {
    let _limit = crate::util::limit();
    let text = stdout(taskscope().arg("list"));
    let files: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() >= 12, "at least 12 bundled scenarios");
    for path in files {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} is not listed"));
        assert!(line.len() > name.len() + 20, "{name} has a description");
    }
}

#[test]
fn list_json_is_an_array_of_named_scenarios() {
    let _limit = crate::util::limit();
    let text = stdout(taskscope().args(["list", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let items = v.as_array().unwrap();
    let bundled: Vec<taskscope::scenario::Scenario> = taskscope::scenario::bundled::all()
        .map(Result::unwrap)
        .collect();
    assert_eq!(items.len(), bundled.len());
    for (item, s) in items.iter().zip(&bundled) {
        assert_eq!(item["name"], s.name.as_str());
        assert_eq!(item["description"], s.description.as_str());
        assert_eq!(item["flavor"], s.runtime.flavor.as_str());
        assert_eq!(item["workers"], s.runtime.workers);
        assert_eq!(item["clock"], s.runtime.clock.as_str());
        let tasks: u64 = s.tasks.iter().map(|t| u64::from(t.count)).sum();
        assert_eq!(item["tasks"], tasks, "{}", s.name);
    }
}

#[test]
fn check_accepts_every_bundled_scenario() {
    let _limit = crate::util::limit();
    let files: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let text = stdout(taskscope().arg("check").args(&files));
    assert_eq!(
        text.lines().filter(|l| l.ends_with(')')).count(),
        files.len()
    );
}

/// Every file in tests/scenarios/invalid says what its error says, word
/// for word (`# expect:`: what was found and what was expected, with the
/// limit where one is broken) and where (`# at: LINE:COL`).
#[test]
fn every_invalid_scenario_exits_2_naming_line_and_column() {
    let _limit = crate::util::limit();
    let dir = Path::new("tests/scenarios/invalid");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
                .map(str::to_string)
        };
        let (Some(expect), Some(at)) = (field("# expect:"), field("# at:")) else {
            panic!(
                "{} must say what its error contains (`# expect:`) and where (`# at: LINE:COL`)",
                path.display()
            );
        };
        let out = taskscope().arg("check").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        // The message itself: what follows `file:line:col: ` (the path may
        // hold the expected word too).
        let located = format!("{}:{at}: ", path.display());
        let message = stderr
            .lines()
            .find_map(|l| l.strip_prefix(&located))
            .unwrap_or_else(|| {
                panic!(
                    "{}: expected the error at {at}, got: {stderr}",
                    path.display()
                )
            });
        assert_eq!(message, expect, "{}: the message at {at}", path.display());
        assert!(!stderr.contains("panicked"), "{stderr}");
        checked += 1;
    }
    assert!(checked >= 20, "the folder has the cases the issue lists");
}

#[test]
fn binary_and_non_utf8_files_are_rejected_with_a_position() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str, &str); 5] = [
        // No room for `# expect:` lines in an empty file: made here.
        ("nothing.toml", b"", "1:1", "the file is empty"),
        ("blank.toml", b"  \n\n", "1:1", "the file is empty"),
        (
            "binary.toml",
            b"name = \"x\"\n\x00\x01\x02",
            "2:1",
            "NUL byte",
        ),
        ("latin1.toml", b"name = \"caf\xe9\"\n", "1:12", "not UTF-8"),
        ("png.toml", b"\x89PNG\r\n\x1a\n", "1:1", "not UTF-8"),
    ];
    for (name, bytes, at, expect) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = taskscope().arg("check").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        let message = stderr
            .lines()
            .find_map(|l| l.split_once(&format!("{name}:{at}: ")).map(|(_, m)| m))
            .unwrap_or_else(|| panic!("{name}: expected the error at {at}: {stderr}"));
        assert!(message.contains(expect), "{name}: {message}");
    }
}

#[test]
fn an_unknown_scenario_name_is_exit_2_listing_the_bundled_ones() {
    let _limit = crate::util::limit();
    let out = taskscope()
        .args(["run", "no-such-lesson", "--headless"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no-such-lesson") && stderr.contains("breakfast-concurrent"),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_are_exit_2() {
    let _limit = crate::util::limit();
    let out = taskscope()
        .args(["run", "breakfast-concurrent", "--clock", "sundial"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = taskscope()
        .args([
            "run",
            "breakfast-threads",
            "--headless",
            "--clock",
            "virtual",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--clock virtual"));
}

#[test]
fn run_json_prints_the_summary_shape() {
    let _limit = crate::util::limit();
    let text = stdout(taskscope().args(["run", "blocking-the-loop", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in [
        "scenario",
        "runtime",
        "wall_ms",
        "switches",
        "events_dropped",
        "tasks",
    ] {
        assert!(v.get(key).is_some(), "summary has {key}");
    }
    for key in ["flavor", "workers", "clock"] {
        assert!(v["runtime"].get(key).is_some(), "runtime has {key}");
    }
    let task = &v["tasks"][0];
    for key in [
        "name",
        "id",
        "outcome",
        "spawned_ms",
        "done_ms",
        "polls",
        "busy_ms",
        "scheduled_ms",
        "idle_ms",
        "slow_polls",
        "max_poll_ms",
        "first_poll_delay_ms",
        "late_wakes",
        "max_late_ms",
        "waits",
    ] {
        assert!(task.get(key).is_some(), "task has {key}");
    }
    for key in [
        "timer", "io", "channel", "lock", "join", "blocking", "process", "yield",
    ] {
        assert!(task["waits"].get(key).is_some(), "waits has {key}");
    }
    let task = |name: &str| {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    // The lesson in numbers: the sleeper's 100 ms timer fired 200 ms late,
    // the bystander's first poll waited 300 ms behind the blocker.
    assert_eq!(task("sleeper")["late_wakes"], 1);
    assert_eq!(task("sleeper")["max_late_ms"], 200.0);
    assert_eq!(task("bystander")["first_poll_delay_ms"], 300.0);
    assert_eq!(task("blocker")["max_poll_ms"], 300.0);
    assert_eq!(task("sleeper")["waits"]["timer"], 300.0);
    assert_eq!(v["wall_ms"].as_f64(), Some(360.0));
    assert_eq!(v["runtime"]["flavor"], "current_thread");
    assert_eq!(v["runtime"]["clock"], "virtual");
}

#[test]
fn run_events_writes_whole_json_lines_for_every_transition() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    stdout(
        taskscope()
            .args(["run", "create-task", "--headless", "--events"])
            .arg(&path),
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["state"], "run");
    assert_eq!(lines.last().unwrap()["state"], "end");
    let events = &lines[1..lines.len() - 1];
    for e in events {
        for key in ["t_ms", "task", "id", "state", "wait", "worker", "step"] {
            assert!(e.get(key).is_some(), "{e} has {key}");
        }
    }
    let spawned: Vec<_> = events.iter().filter(|e| e["state"] == "spawned").collect();
    assert_eq!(spawned.len(), 3);
    assert_eq!(spawned[1]["parent"], "main");
    let woken_by_timer = events
        .iter()
        .filter(|e| e["state"] == "ready" && e["by"] == "timer")
        .count();
    assert_eq!(woken_by_timer, 2);
    // main is woken by the tasks it joins, as they finish.
    assert!(
        events
            .iter()
            .any(|e| e["task"] == "main" && e["state"] == "ready" && e["by"] == "say-after-6s")
    );
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_unwritable_events_path_is_exit_2_before_the_run() {
    let _limit = crate::util::limit();
    let out = taskscope()
        .args([
            "run",
            "breakfast-concurrent",
            "--headless",
            "--events",
            "/nonexistent/dir/e.jsonl",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--events"));
}

#[test]
fn no_arguments_without_a_terminal_runs_the_default_scenario_headless() {
    let _limit = crate::util::limit();
    let text = stdout(&mut taskscope());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "breakfast-concurrent: current_thread (1 worker, virtual clock)"
    );
    assert!(
        lines[1].starts_with("finished in 1300 ms of scenario time"),
        "{text}"
    );
    // One row per dish, each done when its wait is over.
    for (dish, done, wait) in [
        ("eggs", "1300", "io 900ms"),
        ("toast", "1200", "io 500ms"),
        ("coffee", "1200", "io 200ms"),
    ] {
        let row = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(dish))
            .unwrap_or_else(|| panic!("no row for {dish}: {text}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], done, "{row}");
        assert!(row.contains(wait), "{row}");
        assert!(row.contains(" ok "), "{row}");
    }
}

#[test]
fn a_panicking_task_is_reported_and_the_others_finish() {
    let _limit = crate::util::limit();
    let text = stdout(taskscope().args(["run", "panic-in-task", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tasks = v["tasks"].as_array().unwrap();
    let toast = tasks.iter().find(|t| t["name"] == "toast").unwrap();
    assert_eq!(toast["outcome"], "panicked");
    assert_eq!(toast["message"], "the toast burned");
    assert!(
        tasks
            .iter()
            .filter(|t| t["name"] != "toast")
            .all(|t| t["outcome"] == "ok")
    );
}

#[test]
fn a_deadlock_is_cancelled_and_reported_with_exit_1() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deadlock.toml");
    std::fs::write(
        &path,
        r#"name = "deadlock"
[[channel]]
name = "never"
[[task]]
name = "waiter"
steps = [ { recv = "never" } ]
"#,
    )
    .unwrap();
    let out = taskscope()
        .arg("run")
        .arg(&path)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tasks"][0]["outcome"], "cancelled");
    // The message itself (the file's name holds the word "deadlock" too).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "1 task waited forever on a channel, mutex or join that nothing could \
             complete (a deadlock); it was cancelled"
        ),
        "{stderr}"
    );
}

/// The README's key table is the key table: every binding is in it.
#[test]
fn the_readme_lists_every_key_binding() {
    let _limit = crate::util::limit();
    let readme = std::fs::read_to_string("README.md").unwrap();
    for b in taskscope::keys::BINDINGS {
        let row = format!("| `{}` | {} |", taskscope::keys::keys_label(b), b.does);
        assert!(readme.contains(&row), "README lacks: {row}");
    }
}
