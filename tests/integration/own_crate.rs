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

#[taskscope::main(flavor = "current_thread")]
async fn main() {
    let eggs = Builder::new().name("eggs").spawn(tokio::time::sleep(Duration::from_secs(3)));
    let toast = Builder::new().name("toast").spawn(tokio::time::sleep(Duration::from_secs(2)));
    eggs.unwrap().await.unwrap();
    toast.unwrap().await.unwrap();
}
"#;

/// The server's own dependencies (`tests/own_crate/server.rs`), beside the
/// README's: the versions taskscope's lock file has, so nothing is fetched.
const SERVER_DEPENDENCIES: &str = r#"clap = { version = "4", features = ["derive"] }
tracing = "0.1"
tracing-subscriber = { version = "0.3", default-features = false, features = ["fmt"] }
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
pub(crate) fn built() -> &'static Path {
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
             [dependencies]\n{}{SERVER_DEPENDENCIES}",
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
    std::fs::copy(
        repo.join("tests/own_crate/server.rs"),
        krate.join("src/bin/server.rs"),
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
/// JSON summary and its events. Under `#[taskscope::main]` (`attribute`)
/// taskscope's options are in `TASKSCOPE`, under `taskscope::watch` they
/// are the command line.
fn run(name: &str, attribute: bool) -> (Value, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let mut cmd = assert_cmd::Command::new(built().join(name));
    if attribute {
        cmd.env(
            "TASKSCOPE",
            format!("--json --clock virtual --events '{}'", events.display()),
        );
    } else {
        cmd.args(["--json", "--clock", "virtual", "--events"])
            .arg(&events);
    }
    cmd.timeout(common::deadline(Duration::from_secs(20)));
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
    let (summary, _) = run("your-code", true);
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
    let (summary, events) = run("primitives", false);
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

/// A real server, changed only by `#[taskscope::main]`
/// (`tests/own_crate/server.rs`), on the real clock: its own `--port`, its
/// own log lines, its own graceful shutdown on Ctrl-C; taskscope's JSON
/// summary at the end, exit 0; its socket waits are io while they wait,
/// and almost none of its wait time is left `other`.
#[test]
fn a_server_keeps_its_flag_its_logs_and_its_ctrl_c_and_its_socket_waits_are_io() {
    let _limit = common::limit_of(Duration::from_secs(300));
    use std::io::{BufRead, BufReader, Write};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let mut server = Command::new(built().join("server"))
        .args(["--port", &port.to_string()])
        .env(
            "TASKSCOPE",
            format!("--json --events '{}'", events.display()),
        )
        // Its logs at the level such a server is run at.
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its logs and taskscope's summary, line by line, as they come.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = server.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut said = Vec::new();
    let listening = format!("listening on 127.0.0.1:{port}");
    while !said.iter().any(|l: &String| l.contains(&listening)) {
        match rx.recv_timeout(common::deadline(Duration::from_secs(20))) {
            Ok(line) => said.push(line),
            Err(_) => {
                let _ = server.kill();
                let out = server.wait_with_output().unwrap();
                panic!(
                    "no {listening:?} from the server: {said:?}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    // 20 clients, 10 requests each, a little apart.
    let clients: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                let mut replies = BufReader::new(socket.try_clone().unwrap()).lines();
                for _ in 0..10 {
                    socket.write_all(b"PING\n").unwrap();
                    assert_eq!(replies.next().unwrap().unwrap(), "PONG");
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // Ctrl-C, as a terminal sends it.
    #[allow(unsafe_code)]
    // SAFETY: a signal to the child this test started and has not reaped.
    unsafe {
        libc::kill(server.id() as i32, libc::SIGINT);
    }
    let status = server.wait().unwrap();
    said.extend(rx.iter());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{said:?}\n{stderr}");
    for log in ["shutting down gracefully", "all connections closed"] {
        assert!(
            said.iter().any(|l| l.contains(log) && l.contains("INFO")),
            "its own log line {log:?}: {said:?}"
        );
    }
    let json = said
        .iter()
        .position(|l| l.starts_with('{'))
        .map(|at| said[at..].join("\n"))
        .unwrap_or_else(|| panic!("no JSON summary: {said:?}\n{stderr}"));
    let summary: Value = serde_json::from_str(&json).unwrap();
    let tasks = summary["tasks"].as_array().unwrap();
    let total = |why: &str| -> f64 { tasks.iter().filter_map(|t| t["waits"][why].as_f64()).sum() };
    let all: f64 = [
        "timer", "io", "channel", "lock", "join", "blocking", "yield", "other",
    ]
    .iter()
    .map(|w| total(w))
    .sum();
    assert!(total("io") > 0.5 * all, "io {} of {all} ms", total("io"));
    assert!(
        total("other") < 0.05 * all,
        "other {} of {all} ms",
        total("other")
    );
    // While they wait: once one connection's wake has said io, the
    // connections' waits read io as they begin (their spawn place learnt
    // it), not `other`.
    let events: Vec<Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let connection = |e: &&Value| e["task"].as_str().is_some_and(|n| n.contains("server.rs:"));
    let learnt = events
        .iter()
        .filter(connection)
        .find(|e| e["state"] == "ready" && e["waited"] == "io")
        .and_then(|e| e["t_ms"].as_f64())
        .expect("a connection woken by its socket");
    let waits: Vec<&str> = events
        .iter()
        .filter(connection)
        .filter(|e| e["state"] == "waiting" && e["t_ms"].as_f64() > Some(learnt))
        .map(|e| e["wait"].as_str().unwrap())
        .collect();
    let io = waits.iter().filter(|w| **w == "io").count();
    assert!(
        waits.len() >= 150 && io * 100 >= waits.len() * 95,
        "{io} of {} connection waits read io as they began",
        waits.len()
    );
    // Ctrl-C: main's last wait (its accept loop's select) ended by the
    // signal, named apart from the sockets it also waited on.
    let main_wakes: Vec<&Value> = events
        .iter()
        .filter(|e| e["task"] == "main" && e["state"] == "ready")
        .collect();
    let signal: Vec<_> = main_wakes
        .iter()
        .filter(|e| e["waited"] == "signal")
        .collect();
    // (On a loaded machine the clients may all connect before main first
    // waits: then no accept woke it.)
    let last_io = main_wakes
        .iter()
        .rfind(|e| e["waited"] == "io")
        .and_then(|e| e["t_ms"].as_f64());
    assert!(
        signal.len() == 1 && signal[0]["t_ms"].as_f64() > last_io,
        "one signal wake, Ctrl-C's, after its accepts: {main_wakes:?}"
    );
    assert!(task(&summary, "main")["waits"]["signal"].as_f64() > Some(0.0));
}
