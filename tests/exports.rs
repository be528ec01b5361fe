//! What a run leaves behind and reads back: the Chrome trace, the SVG
//! timeline, replays of the events file, and the comparison table.

mod common;

use std::collections::HashMap;

use assert_cmd::Command;

fn taskscope() -> Command {
    let mut cmd = Command::cargo_bin("taskscope").unwrap();
    cmd.timeout(std::time::Duration::from_secs(120));
    cmd
}

fn ok_stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Per task (by track name) and category: summed slice durations in ms.
fn trace_totals(trace: &serde_json::Value) -> HashMap<(String, String), f64> {
    let events = trace["traceEvents"].as_array().unwrap();
    let names: HashMap<u64, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name" && e["pid"] == 1)
        .map(|e| {
            let full = e["args"]["name"].as_str().unwrap();
            (
                e["tid"].as_u64().unwrap(),
                full.split(" (id").next().unwrap().to_string(),
            )
        })
        .collect();
    let mut totals = HashMap::new();
    for e in events.iter().filter(|e| e["ph"] == "X" && e["pid"] == 1) {
        let task = names[&e["tid"].as_u64().unwrap()].clone();
        let cat = e["cat"].as_str().unwrap().to_string();
        *totals.entry((task, cat)).or_insert(0.0) += e["dur"].as_f64().unwrap() / 1000.0;
    }
    totals
}

#[test]
fn trace_slices_add_up_to_the_summary_busy_and_wait_times() {
    for name in [
        "breakfast-concurrent",
        "blocking-the-loop",
        "channel-pipeline",
        "cooperative-yields",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.json");
        let json = ok_stdout(
            taskscope()
                .args(["run", name, "--json", "--trace"])
                .arg(&path),
        );
        let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
        let trace: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let totals = trace_totals(&trace);
        let close = |a: f64, b: f64| (a - b).abs() <= b.abs() / 100.0 + 0.001;
        for task in summary["tasks"].as_array().unwrap() {
            let tname = task["name"].as_str().unwrap().to_string();
            let got = |cat: &str| {
                totals
                    .get(&(tname.clone(), cat.to_string()))
                    .copied()
                    .unwrap_or(0.0)
            };
            let busy = task["busy_ms"].as_f64().unwrap();
            assert!(
                close(got("running"), busy),
                "{name}/{tname}: running {} vs busy {busy}",
                got("running")
            );
            for (wait, ms) in task["waits"].as_object().unwrap() {
                let ms = ms.as_f64().unwrap();
                assert!(
                    close(got(wait), ms),
                    "{name}/{tname}: {wait} {} vs {ms}",
                    got(wait)
                );
            }
        }
        // Wakes are instants, and each worker has its own track.
        let events = trace["traceEvents"].as_array().unwrap();
        assert!(events.iter().any(|e| e["ph"] == "i" && e["name"] == "wake"));
        assert!(events.iter().any(|e| e["pid"] == 2 && e["ph"] == "X"));
    }
}

#[test]
fn the_svg_timeline_is_well_formed_and_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.svg");
    ok_stdout(
        taskscope()
            .args(["run", "breakfast-concurrent", "--headless", "--svg"])
            .arg(&path),
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for expected in [
        "eggs",
        "toast",
        "coffee",
        "crack the eggs",
        "waiting: io",
        "worker 0",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(expected)),
            "the picture shows {expected:?}"
        );
    }
    assert!(
        texts.iter().any(|t| t.contains("breakfast-concurrent")),
        "a title"
    );
    let bars = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "rect")
        .count();
    assert!(bars > 10);
}

#[test]
fn the_readme_pictures_are_made_by_a_documented_command() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    for name in [
        "breakfast-sequential",
        "breakfast-concurrent",
        "breakfast-threads",
        "breakfast-processes",
    ] {
        let picture = format!("assets/{name}.svg");
        assert!(readme.contains(&picture), "README shows {picture}");
        let text = std::fs::read_to_string(&picture).unwrap();
        roxmltree::Document::parse(&text).expect("well-formed XML");
    }
    assert!(
        readme.contains("--svg assets/$s.svg"),
        "README says how the pictures are made"
    );
}

#[test]
fn replay_json_equals_the_summary_of_the_run_that_wrote_the_log() {
    for name in ["breakfast-concurrent", "panic-in-task", "work-stealing"] {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("e.jsonl");
        let original = ok_stdout(
            taskscope()
                .args(["run", name, "--json", "--events"])
                .arg(&events),
        );
        let replayed = ok_stdout(taskscope().arg("replay").arg(&events).arg("--json"));
        let a: serde_json::Value = serde_json::from_str(&original).unwrap();
        let b: serde_json::Value = serde_json::from_str(&replayed).unwrap();
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn replay_of_a_damaged_log_is_exit_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, "{\"t_ms\":0,\"state\":\"run\",\"runtime\":{\"flavor\":\"current_thread\",\"workers\":1,\"clock\":\"virtual\"}}\nnot json\n").unwrap();
    let out = taskscope()
        .arg("replay")
        .arg(&path)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.jsonl:2:"));
}

#[test]
fn compare_breakfast_shows_sequential_slowest() {
    let json = ok_stdout(taskscope().args(["compare", "breakfast", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let models: Vec<&str> = rows.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(
        models,
        ["sequential", "cooperative", "threads", "processes"]
    );
    let sequential = rows[0]["wall_ms"].as_f64().unwrap();
    for row in &rows[1..] {
        let wall = row["wall_ms"].as_f64().unwrap();
        assert!(
            wall < sequential,
            "{} is faster than sequential",
            row["scenario"]
        );
        assert!(row["speedup"].as_f64().unwrap() > 1.0);
    }
    let text = ok_stdout(taskscope().args(["compare", "breakfast"]));
    assert!(text.contains("parallelism") && text.contains("breakfast-processes"));
}
