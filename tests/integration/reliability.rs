//! Faults and hostile input: signals mid-run, children killed from outside,
//! unwritable outputs, and parsers (scenarios, and events files for replay)
//! that never panic on any bytes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use taskscope::scenario::{self, bundled};

fn taskscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_taskscope"))
}

/// Pids of live processes whose environment carries `mark`.
fn marked(mark: &str) -> Vec<(u32, char)> {
    let needle = format!("TASKSCOPE_TEST_MARK={mark}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            let state = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|s| s.rsplit(')').next().and_then(|r| r.trim().chars().next()))
                .unwrap_or('?');
            found.push((pid, state));
        }
    }
    found
}

/// Children (any state) of `parent`.
fn children(parent: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let rest: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if rest.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            found.push((pid, rest[0].chars().next().unwrap_or('?')));
        }
    }
    found
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const LONG: &str = r#"name = "long"
[runtime]
clock = "real"
[[task]]
name = "worker"
count = 2
steps = [ { process = "20s" } ]
[[task]]
name = "ticker"
steps = [ { repeat = 1000, steps = [ { sleep = "20ms" }, { io = "5ms" } ] } ]
"#;

fn signal(pid: u32, signal: i32) {
    // SAFETY: sending a signal to our own child process.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(rc, 0);
}

#[test]
fn a_signal_mid_run_leaves_complete_files_and_no_children() {
    let _limit = crate::util::limit();
    for (sig, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let scenario = dir.path().join("long.toml");
        std::fs::write(&scenario, LONG).unwrap();
        let mark = format!("signal-{sig}-{}", std::process::id());
        let child = taskscope()
            .arg("run")
            .arg(&scenario)
            .args(["--headless", "--events"])
            .arg(dir.path().join("e.jsonl"))
            .arg("--trace")
            .arg(dir.path().join("t.json"))
            .env("TASKSCOPE_TEST_MARK", &mark)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Both workers' child processes are running.
        wait_until("the worker processes", || marked(&mark).len() >= 3);
        signal(child.id(), sig);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "signal {sig}");
        // Whole files or none: here whole, JSON lines and a valid trace.
        let events = std::fs::read_to_string(dir.path().join("e.jsonl")).unwrap();
        assert!(events.ends_with('\n'));
        for line in events.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("a whole JSON line");
        }
        assert!(events.lines().last().unwrap().contains("\"state\":\"end\""));
        let trace = std::fs::read_to_string(dir.path().join("t.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&trace).expect("a valid trace");
        // No temporary files, no processes left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        wait_until("no marked processes", || marked(&mark).is_empty());
    }
}

#[test]
fn a_child_process_killed_from_outside_ends_its_task_with_an_error() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("victim.toml");
    std::fs::write(
        &scenario,
        r#"name = "victim"
[runtime]
clock = "real"
[[task]]
name = "victim"
steps = [ { process = "20s" } ]
[[task]]
name = "bystander"
steps = [ { sleep = "1500ms" } ]
"#,
    )
    .unwrap();
    let mark = format!("victim-{}", std::process::id());
    let child = taskscope()
        .arg("run")
        .arg(&scenario)
        .arg("--json")
        .env("TASKSCOPE_TEST_MARK", &mark)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let parent = child.id();
    wait_until("the worker process", || {
        children(parent).iter().any(|(_, s)| *s != 'Z')
    });
    let (worker, _) = children(parent)[0];
    signal(worker, libc::SIGKILL);
    // While the run goes on, the killed child is reaped, not left a zombie.
    wait_until("the killed child to be reaped", || {
        children(parent).is_empty()
    });
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tasks = summary["tasks"].as_array().unwrap();
    let victim = tasks.iter().find(|t| t["name"] == "victim").unwrap();
    assert_eq!(victim["outcome"], "panicked");
    assert!(
        victim["message"]
            .as_str()
            .unwrap()
            .contains("child process"),
        "{victim}"
    );
    let bystander = tasks.iter().find(|t| t["name"] == "bystander").unwrap();
    assert_eq!(bystander["outcome"], "ok");
    wait_until("no marked processes", || marked(&mark).is_empty());
}

#[test]
fn unwritable_outputs_are_exit_2_before_the_run() {
    let _limit = crate::util::limit();
    for flag in ["--events", "--trace", "--svg"] {
        let out = taskscope()
            .args([
                "run",
                "breakfast-concurrent",
                "--headless",
                flag,
                "/nonexistent/dir/out",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(out.stdout.is_empty(), "{flag}: nothing ran");
        assert!(String::from_utf8_lossy(&out.stderr).contains(flag));
    }
}

/// A small deterministic generator (xorshift), so failures repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of a scenario's text.
fn mutate(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let mut v = text.to_vec();
    let fragments: &[&[u8]] = &[
        b"{ sleep = \"1ms\" }",
        b"repeat = 99999999",
        b"count = 1000000",
        b"\"",
        b"[[task]]\nname = \"x\"\n",
        b"{ join = \"x\" }",
        b"{ spawn = \"x\" }",
        b"= ",
        b"\xff\xfe",
        b"\0",
        b"workers = 0",
        b"steps = [",
        b"]]]",
        b"1e309",
        b"-9223372036854775808",
        b"\"99999999999999999999s\"",
    ];
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if !v.is_empty() => {
                let end = (at + rng.below(20)).min(v.len());
                v.drain(at.min(end)..end);
            }
            1 => {
                let f = fragments[rng.below(fragments.len())];
                v.splice(at..at, f.iter().copied());
            }
            2 if at < v.len() => v[at] = rng.next() as u8,
            3 => {
                // Repeat a slice: duplicated tables, steps, lines.
                let start = rng.below(v.len() + 1);
                let end = (start + rng.below(200)).min(v.len());
                let copy: Vec<u8> = v[start..end].to_vec();
                v.splice(at..at, copy);
            }
            _ => {
                let digits = format!("{}", rng.next() % 10_000_000_000);
                v.splice(at..at, digits.bytes());
            }
        }
    }
    v
}

/// Parses `bytes`: it must return, never panic, and any error names a
/// line and column inside the text.
fn check_parse(bytes: &[u8]) {
    let result = std::panic::catch_unwind(|| scenario::parse("fuzz.toml", bytes));
    let parsed = result.unwrap_or_else(|_| {
        panic!(
            "the parser panicked on {:?}",
            String::from_utf8_lossy(bytes)
        )
    });
    if let Err(e) = parsed {
        assert!(!e.diagnostics.is_empty());
        let lines = bytes.split(|b| *b == b'\n').count().max(1);
        for d in &e.diagnostics {
            assert!(
                d.line >= 1 && d.line <= lines,
                "line {} of {lines}: {}",
                d.line,
                d.message
            );
            assert!(d.col >= 1);
        }
    }
}

/// Thousands of cases here; `TASKSCOPE_FUZZ_CASES=1000000 cargo test --release
/// --test reliability parser` runs a million (see BENCHMARKS.md).
#[test]
fn the_parser_never_panics_on_mutated_scenarios_or_random_bytes() {
    let _limit = crate::util::limit();
    let cases: usize = std::env::var("TASKSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds: Vec<&[u8]> = bundled::ALL.iter().map(|(_, t)| t.as_bytes()).collect();
    for i in 0..cases {
        let bytes = if i % 4 == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else {
            let seed = seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed)
        };
        check_parse(&bytes);
    }
}

#[test]
fn every_invalid_file_and_its_mutations_stay_clean() {
    let _limit = crate::util::limit();
    let mut rng = Rng(42);
    for entry in std::fs::read_dir(Path::new("tests/scenarios/invalid")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        check_parse(&bytes);
        for _ in 0..50 {
            check_parse(&mutate(&mut rng, &bytes));
        }
    }
}

/// One mutation of an events file: bytes as for scenarios, plus the
/// numbers and lines a damaged or crafted log would have.
fn mutate_log(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let fragments: &[&[u8]] = &[
        b"4294967295",
        b"10000000",
        b"18446744073709551615",
        b"1e308",
        b"-1",
        b"1e8",
        b"NaN",
        b"65535",
        b"\"idx\":",
        b"\"state\":\"spawned\"",
        b"\"state\":\"running\",\"worker\":9",
        b"\"by_idx\":77,",
        b"\"parent_idx\":4294967295,",
        b"\\u001b]0;x\\u0007",
        b"{\"t_ms\":0,\"state\":\"run\",\"runtime\":{\"flavor\":\"multi_thread\",\"workers\":64,\"clock\":\"real\"}}\n",
        b"{\"t_ms\":1e9,\"state\":\"end\",\"events_dropped\":3}\n",
        b"\n",
        b"\xff",
    ];
    let mut lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(lines.len());
        match rng.below(6) {
            0 if lines.len() > 1 => {
                lines.remove(at);
            }
            1 => {
                let copy = lines[rng.below(lines.len())].clone();
                lines.insert(at, copy);
            }
            2 => {
                let other = rng.below(lines.len());
                lines.swap(at, other);
            }
            3 => {
                let line = &mut lines[at];
                let f = fragments[rng.below(fragments.len())];
                let i = rng.below(line.len() + 1);
                line.splice(i..i, f.iter().copied());
            }
            4 => {
                // A field's value replaced by an extreme number.
                let keys: [&[u8]; 9] = [
                    b"\"idx\":",
                    b"\"worker\":",
                    b"\"t_ms\":",
                    b"\"workers\":",
                    b"\"parent_idx\":",
                    b"\"by_idx\":",
                    b"\"late_ms\":",
                    b"\"due_ms\":",
                    b"\"busy_ms\":",
                ];
                let key = keys[rng.below(keys.len())];
                let line = &mut lines[at];
                if let Some(i) = line.windows(key.len()).position(|w| w == key) {
                    let from = i + key.len();
                    let end = line[from..]
                        .iter()
                        .position(|b| matches!(b, b',' | b'}'))
                        .map_or(line.len(), |n| from + n);
                    let f = fragments[rng.below(8)];
                    line.splice(from..end, f.iter().copied());
                }
            }
            _ => {
                let flat: Vec<u8> = lines.join(&b'\n');
                let mut v = mutate(rng, &flat);
                v.truncate(1 << 20);
                lines = v.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            }
        }
    }
    lines.join(&b'\n')
}

/// Reads `bytes` as an events file for replay: it must return, never
/// panic; an error names a line of the file; a log it accepts replays into
/// a model that trusts nothing it was not told (every event about a task
/// spawned before it, every worker within the header's count, times in
/// order), and draws.
fn check_replay(bytes: &[u8], draw: bool) {
    use taskscope::recording;
    let result = std::panic::catch_unwind(|| {
        let log = match recording::read("fuzz.jsonl", bytes) {
            Ok(log) => log,
            Err(e) => {
                let lines = bytes.split(|b| *b == b'\n').count().max(1);
                assert!(
                    e.line >= 1 && e.line <= lines,
                    "line {} of {lines}: {e}",
                    e.line
                );
                return;
            }
        };
        assert!(
            log.events.windows(2).all(|w| w[0].t <= w[1].t),
            "times in order"
        );
        let spawned = log
            .events
            .iter()
            .filter(|e| matches!(e.change, taskscope::probe::Change::Spawned { .. }))
            .count();
        let model = log.model();
        assert_eq!(model.orphans, 0, "every event is about a spawned task");
        assert_eq!(model.tasks.len(), spawned, "tasks are dense, one per spawn");
        assert!(model.workers.len() <= log.info.workers.max(1));
        let _ = taskscope::summary::Summary::from_model(&model).table(40);
        if draw {
            let scenario =
                std::sync::Arc::new(taskscope::scenario::Scenario::unknown(&log.info.scenario));
            let mut session = taskscope::app::Session::replay(scenario, log);
            session.history.seek(u64::MAX);
            let app = taskscope::app::App::with_session(session);
            let mut terminal =
                ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
            terminal.draw(|f| f.render_widget(&app, f.area())).unwrap();
        }
    });
    if result.is_err() {
        panic!(
            "replay panicked on {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(4000)])
        );
    }
}

/// Thousands of mutated recordings (the fixtures) and random bytes.
#[test]
fn replay_never_panics_on_mutated_events_files_or_random_bytes() {
    let _limit = crate::util::limit();
    let cases: usize = std::env::var("TASKSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    // The recordings themselves (tests/fixtures/events holds normalized
    // copies for another test).
    let seeds: Vec<Vec<u8>> = std::fs::read_dir("tests/fixtures")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(seeds.len() >= 3, "the fixtures are the seeds");
    for seed in &seeds {
        check_replay(seed, true);
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for i in 0..cases {
        let bytes = if i % 10 == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else {
            let seed = rng.below(seeds.len());
            mutate_log(&mut rng, &seeds[seed])
        };
        check_replay(&bytes, i % 8 == 0);
    }
}
