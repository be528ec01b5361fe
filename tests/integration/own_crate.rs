//! Someone else's crate, set up exactly as the README says, in a folder
//! of its own outside this repository (so no configuration of taskscope's
//! applies): the README's `.cargo/config.toml`, its two dependency lines
//! and its `main.rs`, word for word. It builds, its plain tokio code runs
//! under `taskscope::watch`, and a second program of it
//! (`tests/own_crate/primitives.rs`) waits on every tokio primitive the
//! README names, each for a known time, on the virtual clock.
//!
//! Two liberties, neither of which the README's set-up depends on: the
//! crate takes taskscope's Cargo.lock (nothing to download, nothing to
//! keep in step by hand) and builds into `target/own-crate` here (so a
//! second run does not build everything again).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::util as common;

/// The README's `.cargo/config.toml`.
const README_CONFIG: &str = r#"[build]
rustflags = ["--cfg", "tokio_unstable"]
"#;

/// The README's lines for `Cargo.toml`.
const README_DEPENDENCIES: &str = r#"taskscope = { path = "../taskscope" }  # where your clone of taskscope is
tokio = { version = "1", features = ["full", "tracing"] }
"#;

/// The README's `src/main.rs`.
const README_MAIN: &str = r#"use std::time::Duration;
use tokio::task::Builder;

fn main() -> std::process::ExitCode {
    taskscope::watch(async {
        let eggs = Builder::new().name("eggs").spawn(tokio::time::sleep(Duration::from_secs(3)));
        let toast = Builder::new().name("toast").spawn(tokio::time::sleep(Duration::from_secs(2)));
        eggs.unwrap().await.unwrap();
        toast.unwrap().await.unwrap();
    })
}
"#;

/// The README's fenced blocks of language `lang`, in order.
fn readme_blocks(lang: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("the README");
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in readme.lines() {
        match &mut open {
            None if line == format!("```{lang}") => open = Some(String::new()),
            Some(block) if line == "```" => {
                blocks.push(std::mem::take(block));
                open = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// The README's set-up, as the three snippets of its "Your own code".
fn readme_set_up() -> (String, String, String) {
    let toml = readme_blocks("toml");
    let rust = readme_blocks("rust");
    let find = |blocks: &[String], starts: &str| {
        blocks
            .iter()
            .find(|b| b.starts_with(starts))
            .cloned()
            .unwrap_or_else(|| panic!("the README has no block starting {starts:?}"))
    };
    (
        find(&toml, "[build]"),
        find(&toml, "taskscope = "),
        find(&rust, "use std::time::Duration;\nuse tokio::task::Builder;"),
    )
}

/// The crate, built once for the tests of this module: the folder of its
/// programs.
fn built() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(build)
        .as_deref()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn build() -> Result<PathBuf, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (config, dependencies, main) = readme_set_up();
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let krate = home.path().join("your-code");
    std::fs::create_dir_all(krate.join(".cargo")).unwrap();
    std::fs::create_dir_all(krate.join("src/bin")).unwrap();
    std::fs::write(krate.join(".cargo/config.toml"), config).unwrap();
    let path = format!("path = {:?}", repo.display().to_string());
    assert!(dependencies.contains(r#"path = "../taskscope""#));
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"your-code\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\n{}",
            dependencies.replace(r#"path = "../taskscope""#, &path)
        ),
    )
    .unwrap();
    std::fs::write(krate.join("src/main.rs"), main).unwrap();
    std::fs::copy(
        repo.join("tests/own_crate/primitives.rs"),
        krate.join("src/bin/primitives.rs"),
    )
    .unwrap();
    std::fs::copy(repo.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let target = repo.join("target").join("own-crate");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(&krate)
        .args(["build", "--offline", "--quiet", "--bins"])
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null());
    // Only the crate's own configuration, as on the user's machine.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        cargo.env_remove(var);
    }
    let out = cargo.output().map_err(|e| format!("cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the README's set-up does not build: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target.join("debug"))
}

/// Runs program `name` of the crate headless on the virtual clock; its
/// JSON summary and its events.
fn run(name: &str) -> (Value, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let mut cmd = assert_cmd::Command::new(built().join(name));
    cmd.args(["--json", "--clock", "virtual", "--events"])
        .arg(&events)
        .timeout(common::deadline(Duration::from_secs(20)));
    let summary: Value = serde_json::from_str(&common::ok_stdout(&mut cmd)).unwrap();
    let events = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (summary, events)
}

fn task<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {summary}"))
}

/// Event lines of `task` in state `state`.
fn lines<'a>(events: &'a [Value], task: &str, state: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["task"] == task && e["state"] == state)
        .collect()
}

#[test]
fn the_readmes_set_up_is_what_this_test_builds() {
    let _limit = common::limit();
    let (config, dependencies, main) = readme_set_up();
    assert_eq!(
        config, README_CONFIG,
        "the README's .cargo/config.toml changed"
    );
    assert_eq!(
        dependencies, README_DEPENDENCIES,
        "the README's Cargo.toml lines changed"
    );
    assert_eq!(main, README_MAIN, "the README's main.rs changed");
}

/// The README's own program: two named sleeps, awaited in turn.
#[test]
fn the_readmes_program_builds_outside_the_repo_and_runs_under_the_scope() {
    // The first build compiles taskscope and its dependencies.
    let _limit = common::limit_of(Duration::from_secs(300));
    let (summary, _) = run("your-code");
    assert_eq!(summary["wall_ms"], 3000.0);
    let names: Vec<&str> = summary["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "eggs", "toast"]);
    assert_eq!(task(&summary, "eggs")["waits"]["timer"], 3000.0);
    assert_eq!(task(&summary, "toast")["waits"]["timer"], 2000.0);
    assert_eq!(task(&summary, "main")["waits"]["join"], 3000.0);
}

/// Each primitive's task waits a known time, for the reason the README
/// gives; the task still asleep when `main` returns ends cancelled.
#[test]
fn every_tokio_primitive_the_readme_names_is_waited_on_for_its_reason_and_time() {
    let _limit = common::limit_of(Duration::from_secs(300));
    let (summary, events) = run("primitives");
    assert_eq!(
        summary["wall_ms"], 250.0,
        "main returns when the last one ends"
    );
    for (name, reason, ms) in [
        ("rwlock-reader", "lock", 100.0),
        ("rwlock-writer", "timer", 100.0),
        ("semaphore-waiter", "lock", 150.0),
        ("semaphore-holder", "timer", 150.0),
        ("oneshot-receiver", "channel", 200.0),
        ("oneshot-sender", "timer", 200.0),
        ("mpsc-receiver", "channel", 250.0),
        ("mpsc-sender", "timer", 250.0),
        ("interval", "timer", 200.0),
        ("sleep-until", "timer", 120.0),
        ("joinset", "join", 160.0),
        ("joined-a", "timer", 80.0),
        ("joined-b", "timer", 160.0),
        ("main", "join", 250.0),
    ] {
        let t = task(&summary, name);
        assert_eq!(t["outcome"], "ok", "{name}");
        assert_eq!(t["done_ms"], ms, "{name}");
        let waits = t["waits"].as_object().unwrap();
        for (why, waited) in waits {
            let want = if why == reason { ms } else { 0.0 };
            assert_eq!(waited, &Value::from(want), "{name} waited on {why}");
        }
    }
    // What tokio traces names the wait as it starts: a lock, a oneshot, a
    // timer with when it is due.
    let waiting = |name: &str| -> Vec<(String, Value)> {
        lines(&events, name, "waiting")
            .iter()
            .map(|e| (e["wait"].as_str().unwrap().to_string(), e["due_ms"].clone()))
            .collect()
    };
    assert_eq!(waiting("rwlock-reader"), [("lock".into(), Value::Null)]);
    assert_eq!(waiting("semaphore-waiter"), [("lock".into(), Value::Null)]);
    assert_eq!(
        waiting("oneshot-receiver"),
        [("channel".into(), Value::Null)]
    );
    assert_eq!(
        waiting("interval"),
        [
            ("timer".into(), 100.0.into()),
            ("timer".into(), 200.0.into())
        ],
        "the first tick is at once, then every 100 ms"
    );
    assert_eq!(waiting("sleep-until"), [("timer".into(), 120.0.into())]);
    // An mpsc receive and a yield are named by their wake (README: tokio
    // traces neither), and so is each JoinSet join.
    let waited = |name: &str| -> Vec<String> {
        lines(&events, name, "ready")
            .iter()
            .map(|e| e["waited"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    assert_eq!(waited("mpsc-receiver"), ["channel"]);
    assert_eq!(waited("yielder"), ["yield", "yield", "yield"]);
    assert_eq!(waited("joinset"), ["join", "join"]);
    let yielder = task(&summary, "yielder");
    assert_eq!(
        (yielder["outcome"].as_str(), yielder["polls"].as_u64()),
        (Some("ok"), Some(4))
    );
    // Still asleep when main returned: cancelled then, as with #[tokio::main].
    let left = task(&summary, "left-running");
    assert_eq!(left["outcome"], "cancelled");
    assert_eq!(left["done_ms"], 250.0);
    assert_eq!(left["waits"]["timer"], 250.0);
}
