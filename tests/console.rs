//! Pairing with tokio-console: a gRPC client (console-api, what
//! tokio-console itself uses) watches a run served with `--console`.

use std::collections::{HashMap, HashSet};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use console_api::field::{Name, Value};
use console_api::instrument::InstrumentRequest;
use console_api::instrument::instrument_client::InstrumentClient;

/// Runs one at a time: one of them needs the default port.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

const SCENARIO: &str = r#"name = "console-pairing"
description = "Three tasks that live long enough to be watched."
[runtime]
flavor = "multi_thread"
workers = 2
clock = "real"
[[task]]
name = "alpha"
steps = [ { sleep = "600ms" }, { cpu = "5ms" } ]
[[task]]
name = "beta"
steps = [ { sleep = "900ms" }, { spawn = "gamma" } ]
[[task]]
name = "gamma"
autostart = false
steps = [ { sleep = "300ms" } ]
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &tempfile::TempDir, console: &str) -> std::process::Child {
    let path = dir.path().join("pairing.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .arg("run")
        .arg(&path)
        .arg("--headless")
        .arg(console)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_listening(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the console server never listened"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_console_client_sees_every_task_by_name_and_each_one_complete() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start(&dir, &format!("--console=127.0.0.1:{port}"));
    wait_listening(port);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (names, completed) = runtime.block_on(async {
        let mut client = InstrumentClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .unwrap();
        let mut updates = client
            .watch_updates(InstrumentRequest {})
            .await
            .unwrap()
            .into_inner();
        let mut field_names: HashMap<u64, Vec<String>> = HashMap::new();
        let mut names: HashMap<u64, String> = HashMap::new();
        let mut completed: HashSet<u64> = HashSet::new();
        let want = ["alpha", "beta", "gamma"];
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let next = tokio::time::timeout(Duration::from_secs(5), updates.message()).await;
            let Ok(Ok(Some(update))) = next else { break };
            if let Some(meta) = update.new_metadata {
                for m in meta.metadata {
                    if let (Some(id), Some(md)) = (m.id, m.metadata) {
                        field_names.insert(id.id, md.field_names);
                    }
                }
            }
            if let Some(tasks) = update.task_update {
                for task in tasks.new_tasks {
                    let Some(id) = task.id.map(|i| i.id) else {
                        continue;
                    };
                    let meta = task.metadata.map(|m| m.id).unwrap_or(0);
                    for field in task.fields {
                        let name = match field.name {
                            Some(Name::StrName(s)) => s,
                            Some(Name::NameIdx(i)) => field_names
                                .get(&meta)
                                .and_then(|f| f.get(i as usize))
                                .cloned()
                                .unwrap_or_default(),
                            None => continue,
                        };
                        if name == "task.name"
                            && let Some(Value::StrVal(v) | Value::DebugVal(v)) = field.value
                        {
                            names.insert(id, v.trim_matches('"').to_string());
                        }
                    }
                }
                for (id, stats) in tasks.stats_update {
                    if stats.dropped_at.is_some() {
                        completed.insert(id);
                    }
                }
            }
            let done = want
                .iter()
                .all(|w| names.iter().any(|(id, n)| n == w && completed.contains(id)));
            if done {
                break;
            }
        }
        (names, completed)
    });
    for want in ["alpha", "beta", "gamma"] {
        let id = names.iter().find(|(_, n)| *n == want).map(|(id, _)| *id);
        assert!(id.is_some(), "the console saw task {want}: {names:?}");
        assert!(
            completed.contains(&id.unwrap()),
            "the console saw {want} complete"
        );
    }
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_second_run_on_the_same_console_address_is_exit_2_and_the_first_goes_on() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut first = start(&dir, "--console");
    wait_listening(6669);
    let second = Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["run", "breakfast-concurrent", "--headless", "--console"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("127.0.0.1:6669"), "{stderr}");
    assert!(second.stdout.is_empty(), "the second run did not start");
    let status = first.wait().unwrap();
    assert!(status.success(), "the first run is unharmed");
}
