//! The events of every bundled virtual-clock lesson, recorded before the
//! code was rearranged (tests/fixtures/events), are what a headless run
//! writes today, byte for byte: the virtual clock makes a run exact, so a
//! change of layout that changed a single transition fails here.
//!
//! Left out are three of the end line's `runtime_metrics`, which tokio
//! counts from what the OS did: `busy_ms` (the workers' busy time on the
//! wall clock), `parks` and `io_ready` (a loopback reply may come in one
//! park or two). The two
//! largest lessons are kept as a line count and a digest (their files are
//! 24 MB and 390 MB).
//!
//! `TASKSCOPE_RECORD_GOLDEN=1 cargo test golden` writes the fixtures anew:
//! only for a change that means to change the events.

use std::path::PathBuf;

use crate::util::{ok_stdout, taskscope};

/// Every bundled lesson on the virtual clock, as `list --json` says: a
/// new one without its recording fails here.
fn lessons() -> Vec<String> {
    let list: serde_json::Value =
        serde_json::from_str(&ok_stdout(taskscope().args(["list", "--json"]))).unwrap();
    let names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["clock"] == "virtual")
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.len() >= 12, "{names:?}");
    names
}

/// Kept as a digest, not whole.
const LARGE: [&str; 2] = ["many-tasks", "scale-100k"];

fn fixture(name: &str, ext: &str) -> PathBuf {
    PathBuf::from("tests/fixtures/events").join(format!("{name}.{ext}"))
}

/// The events file of a headless run, without the OS's figures.
fn recorded(name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    ok_stdout(
        taskscope()
            .args(["run", name, "--headless", "--events"])
            .arg(&path),
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.contains(r#""state":"end""#) {
            out.push_str(&without_os_figures(line));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The end line with the runtime figures the OS decides blanked.
fn without_os_figures(line: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(line).expect("the end line is JSON");
    for figure in ["busy_ms", "parks", "io_ready"] {
        let at = format!("/runtime_metrics/{figure}");
        let figure = value
            .pointer_mut(&at)
            .unwrap_or_else(|| panic!("the end line has {at}"));
        *figure = serde_json::Value::Null;
    }
    serde_json::to_string(&value).unwrap()
}

/// Lines and an FNV-1a digest of the text.
fn digest(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{} lines, fnv1a64 {hash:016x}\n", text.lines().count())
}

#[test]
fn every_virtual_clock_lesson_records_the_same_events_as_before_the_rearrangement() {
    let _limit = crate::util::limit();
    let bless = std::env::var_os("TASKSCOPE_RECORD_GOLDEN").is_some();
    let mut differ = Vec::new();
    for name in lessons() {
        let name = name.as_str();
        let events = recorded(name);
        let (path, now) = if LARGE.contains(&name) {
            (fixture(name, "digest"), digest(&events))
        } else {
            (fixture(name, "jsonl"), events)
        };
        if bless {
            std::fs::write(&path, &now).unwrap();
            continue;
        }
        let before =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if before != now {
            let line = before
                .lines()
                .zip(now.lines())
                .position(|(a, b)| a != b)
                .map_or_else(|| "its length".to_string(), |i| format!("line {}", i + 1));
            differ.push(format!("{name} ({line})"));
        }
    }
    assert!(differ.is_empty(), "events changed: {}", differ.join(", "));
}
