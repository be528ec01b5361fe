//! The suite's own promises: every test has a time limit, and a test that
//! runs past it fails by name instead of hanging the run.

use std::path::Path;
use std::time::Duration;

use crate::util as common;

/// Every `#[test]` function, in this binary and beside the code, whose
/// first statement is not a time limit: `file:line name`.
fn tests_without_a_limit() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut folders = vec![root.join("src"), root.join("tests")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut missing = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines.iter().enumerate() {
            if line.trim() != "#[test]" {
                continue;
            }
            // Past the test's other attributes (which may span lines) to
            // its `fn`, then its first statement.
            let Some(f) = (at..lines.len()).find(|&i| lines[i].trim_start().starts_with("fn "))
            else {
                continue;
            };
            let first = lines[f + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with("//"))
                .unwrap_or("");
            if !(first.starts_with("let _limit = ") && first.contains("limit")) {
                let name = lines[f].trim_start().trim_start_matches("fn ");
                let name = name.split('(').next().unwrap_or(name);
                let file = file.strip_prefix(root).unwrap_or(&file);
                missing.push(format!("{}:{} {name}", file.display(), f + 1));
            }
        }
    }
    missing.sort();
    missing
}

#[test]
fn every_test_takes_a_time_limit_first() {
    let _limit = common::limit();
    let missing = tests_without_a_limit();
    assert!(
        missing.is_empty(),
        "tests without `let _limit = ...limit();` as their first line:\n{}",
        missing.join("\n")
    );
}

/// Only run by the test below (in a child process): it never ends.
#[test]
#[ignore = "hangs on purpose: run by a_test_that_hangs_fails_by_name_and_the_run_goes_on_no_longer"]
fn hangs_on_purpose() {
    let _limit = common::limit_of(Duration::from_millis(100));
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The watchdog at work: this very binary, running only the test above,
/// ends with exit code 101 and a message naming that test, well within a
/// deadline of its own.
#[test]
fn a_test_that_hangs_fails_by_name_and_the_run_goes_on_no_longer() {
    let _limit = common::limit();
    let me = std::env::current_exe().unwrap();
    let mut cmd = assert_cmd::Command::new(me);
    cmd.args([
        "--ignored",
        "--exact",
        "suite::hangs_on_purpose",
        "--test-threads=1",
    ])
    .timeout(common::deadline(Duration::from_secs(10)));
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains("test suite::hangs_on_purpose ran past its time limit of"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stopping this test binary so that the suite does not hang"),
        "{stderr}"
    );
}
