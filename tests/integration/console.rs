//! Pairing with tokio-console: a gRPC client (console-api, what
//! tokio-console itself uses) watches a run served with `--console`, and
//! must see the same tasks, ids and times as taskscope.

use std::collections::HashMap;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use console_api::field::{Name, Value};
use console_api::instrument::InstrumentRequest;
use console_api::instrument::instrument_client::InstrumentClient;

use crate::util as common;

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

/// What the console client knows of one task.
#[derive(Debug, Clone, Default)]
struct Seen {
    name: String,
    /// The `task.id` field: tokio's task id (tokio-console's ID column).
    task_id: Option<u64>,
    busy: Duration,
    /// Woken and not yet polled, summed (console-subscriber counts it at
    /// each poll's start, from the wake or the end of the poll before).
    scheduled: Duration,
    /// From creation to drop (or the newest update), wall time.
    lifetime: Duration,
    /// Inside a poll at the newest update.
    polling: bool,
    /// Woken since its newest poll started: tokio-console's "scheduled".
    woken: bool,
    dropped: bool,
}

impl Seen {
    /// Idle as tokio-console shows it: the task's lifetime less its busy
    /// and scheduled time (so the wait for its first poll is idle there).
    fn idle(&self) -> Duration {
        self.lifetime.saturating_sub(self.busy + self.scheduled)
    }
}

/// A console-api client on its own thread, keeping what it sees by span id.
struct Watcher {
    seen: Arc<Mutex<HashMap<u64, Seen>>>,
}

fn duration(d: &Option<prost_types::Duration>) -> Duration {
    d.as_ref().map_or(Duration::ZERO, |d| {
        Duration::new(d.seconds.max(0) as u64, d.nanos.max(0) as u32)
    })
}

fn after(a: &Option<prost_types::Timestamp>, b: &Option<prost_types::Timestamp>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a.seconds, a.nanos) > (b.seconds, b.nanos),
        (Some(_), None) => true,
        _ => false,
    }
}

/// `to - from`, zero if either is missing or `to` is earlier.
fn between(from: &Option<prost_types::Timestamp>, to: &prost_types::Timestamp) -> Duration {
    let nanos = |t: &prost_types::Timestamp| t.seconds as i128 * 1_000_000_000 + t.nanos as i128;
    from.as_ref().map_or(Duration::ZERO, |from| {
        Duration::from_nanos((nanos(to) - nanos(from)).max(0) as u64)
    })
}

impl Watcher {
    fn start(port: u16) -> Watcher {
        let seen: Arc<Mutex<HashMap<u64, Seen>>> = Arc::default();
        let into = seen.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut client = InstrumentClient::connect(format!("http://127.0.0.1:{port}"))
                    .await
                    .unwrap();
                let mut updates = client
                    .watch_updates(InstrumentRequest {})
                    .await
                    .unwrap()
                    .into_inner();
                let mut field_names: HashMap<u64, Vec<String>> = HashMap::new();
                while let Ok(Some(update)) = updates.message().await {
                    if let Some(meta) = update.new_metadata {
                        for m in meta.metadata {
                            if let (Some(id), Some(md)) = (m.id, m.metadata) {
                                field_names.insert(id.id, md.field_names);
                            }
                        }
                    }
                    let Some(tasks) = update.task_update else {
                        continue;
                    };
                    let mut seen = into.lock().unwrap();
                    for task in tasks.new_tasks {
                        let Some(id) = task.id.map(|i| i.id) else {
                            continue;
                        };
                        let meta = task.metadata.map(|m| m.id).unwrap_or(0);
                        let entry = seen.entry(id).or_default();
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
                            match (name.as_str(), field.value) {
                                ("task.name", Some(Value::StrVal(v) | Value::DebugVal(v))) => {
                                    entry.name = v.trim_matches('"').to_string();
                                }
                                ("task.id", Some(Value::U64Val(v))) => entry.task_id = Some(v),
                                ("task.id", Some(Value::I64Val(v))) => {
                                    entry.task_id = Some(v as u64)
                                }
                                ("task.id", Some(Value::StrVal(v) | Value::DebugVal(v))) => {
                                    entry.task_id = v.trim_matches('"').parse().ok()
                                }
                                _ => {}
                            }
                        }
                    }
                    let now = update.now.unwrap_or_default();
                    for (id, stats) in tasks.stats_update {
                        let entry = seen.entry(id).or_default();
                        entry.dropped |= stats.dropped_at.is_some();
                        entry.scheduled = duration(&stats.scheduled_time);
                        entry.lifetime =
                            between(&stats.created_at, stats.dropped_at.as_ref().unwrap_or(&now));
                        if let Some(p) = &stats.poll_stats {
                            entry.busy = duration(&p.busy_time);
                            entry.polling = after(&p.last_poll_started, &p.last_poll_ended);
                            entry.woken = after(&stats.last_wake, &p.last_poll_started);
                        }
                    }
                }
            });
        });
        Watcher { seen }
    }

    /// What is known of the task called `name`.
    fn task(&self, name: &str) -> Option<Seen> {
        self.seen
            .lock()
            .unwrap()
            .values()
            .find(|s| s.name == name)
            .cloned()
    }

    /// Waits for `cond` on what is seen (failing, not hanging).
    fn wait_for(&self, what: &str, cond: impl Fn(&HashMap<u64, Seen>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if cond(&self.seen.lock().unwrap()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the console never saw {what}: {:?}",
                self.seen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn start(
    dir: &tempfile::TempDir,
    console: &str,
    events: Option<&std::path::Path>,
) -> std::process::Child {
    let path = dir.path().join("pairing.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskscope"));
    cmd.arg("run").arg(&path).arg("--headless").arg(console);
    if let Some(e) = events {
        cmd.arg("--events").arg(e);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_console_client_sees_every_task_by_name_and_id_and_each_one_complete() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let port = free_port();
    let mut child = start(&dir, &format!("--console=127.0.0.1:{port}"), Some(&events));
    wait_listening(port);
    let watcher = Watcher::start(port);
    let want = ["alpha", "beta", "gamma"];
    watcher.wait_for("every task complete", |seen| {
        want.iter()
            .all(|w| seen.values().any(|s| s.name == *w && s.dropped))
    });
    assert!(child.wait().unwrap().success());
    // taskscope's ids, from its events file.
    let ours: HashMap<String, u64> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["state"] == "spawned")
        .map(|v| {
            (
                v["task"].as_str().unwrap().to_string(),
                v["id"].as_u64().unwrap(),
            )
        })
        .collect();
    for name in want {
        let seen = watcher.task(name).unwrap();
        assert_eq!(
            seen.task_id,
            Some(ours[name]),
            "tokio-console's ID column shows taskscope's id for {name}"
        );
    }
}

#[test]
fn a_second_run_on_the_same_console_address_is_exit_2_and_the_first_goes_on() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let console = format!("--console=127.0.0.1:{port}");
    let mut first = start(&dir, &console, None);
    wait_listening(port);
    let second = Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["run", "breakfast-concurrent", "--headless", &console])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(second.stdout.is_empty(), "the second run did not start");
    let status = first.wait().unwrap();
    assert!(status.success(), "the first run is unharmed");
}

/// A virtual-clock run on screen at 2x, paused for 5 s in the middle, with
/// the console layer in this process. The pause comes while `ringer`
/// holds the worker right after waking a listener: tokio-console must
/// then show exactly the tasks taskscope shows as ready as scheduled,
/// none running, and nobody's busy time may grow. At the end every task's
/// busy time is taskscope's own figure at the chosen speed.
#[test]
fn on_a_paced_virtual_run_tokio_console_measures_what_taskscope_shows() {
    let _limit = crate::util::limit();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let (_, layer) = taskscope::console::serve(addr).unwrap();
    taskscope::console::install(Some(layer), None).unwrap();
    let scenario = common::inline(
        r#"name = "console-pause"
description = "A blocker, an io task, and a ringer that wakes two listeners, for tokio-console."
[[channel]]
name = "bell"
capacity = 2
[[task]]
name = "blocker"
steps = [ { repeat = 4, steps = [ { block = "500ms" }, { sleep = "200ms" } ] } ]
[[task]]
name = "toaster"
steps = [ { io = "1s" }, { io = "1s" } ]
[[task]]
name = "ringer"
steps = [ { sleep = "100ms" }, { send = "bell" }, { send = "bell" }, { cpu = "1s" } ]
[[task]]
name = "listener"
count = 2
steps = [ { recv = "bell" }, { cpu = "50ms" } ]
"#,
    );
    let speed = 2.0;
    let watcher = Watcher::start(port);
    let mut session = taskscope::app::Session::start(
        Arc::new(scenario),
        common::options(),
        false,
        taskscope::speed::Speed::clamped(speed),
    )
    .unwrap();
    let tick_until = |session: &mut taskscope::app::Session,
                      cond: &dyn Fn(&taskscope::app::Session) -> bool| {
        let deadline = Instant::now() + common::deadline(Duration::from_secs(20));
        while !cond(session) {
            assert!(Instant::now() < deadline, "the run never got there");
            session.tick();
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    // Tasks ready after a wake (a task not yet polled at all is ready
    // here, but tokio's spawn is no wake: tokio-console shows it idle).
    let ready = |s: &taskscope::app::Session| -> Vec<String> {
        let mut names: Vec<String> = s
            .model()
            .tasks
            .iter()
            .filter(|t| t.state == taskscope::model::State::Ready && t.last_wake().is_some())
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        names
    };
    // Pause while the ringer's 1 s of CPU holds the worker (500 ms of
    // wall time at 2x) and the listener it woke (the first in the
    // channel's queue) waits for it.
    tick_until(&mut session, &|s| {
        ready(s).iter().any(|n| n.starts_with("listener"))
    });
    session.toggle_pause();
    session.tick();
    // Let the ringer's poll end (a poll cannot be interrupted) and the
    // console's view settle (it publishes every 200 ms).
    std::thread::sleep(Duration::from_millis(1500));
    session.tick();
    let shown = session.now();
    let names = ["blocker", "toaster", "ringer", "listener-1", "listener-2"];
    let before: Vec<Seen> = names.iter().map(|n| watcher.task(n).unwrap()).collect();
    let ready_here = ready(&session);
    let mut scheduled_there: Vec<String> = before
        .iter()
        .filter(|s| s.woken && !s.polling)
        .map(|s| s.name.clone())
        .collect();
    scheduled_there.sort();
    assert!(
        ready_here.iter().any(|n| n.starts_with("listener")),
        "paused with a listener ready: {ready_here:?}"
    );
    assert_eq!(
        scheduled_there, ready_here,
        "tokio-console shows as scheduled the tasks taskscope shows as ready"
    );
    std::thread::sleep(Duration::from_millis(4000));
    session.tick();
    let after: Vec<Seen> = names.iter().map(|n| watcher.task(n).unwrap()).collect();
    assert_eq!(session.now(), shown, "no scenario time passes while paused");
    assert_eq!(ready(&session), ready_here, "no poll while paused");
    for (b, a) in before.iter().zip(&after) {
        assert!(
            a.busy.saturating_sub(b.busy) < Duration::from_millis(50),
            "a pause adds no busy time to {}: {:?} -> {:?}",
            b.name,
            b.busy,
            a.busy
        );
        assert!(
            !a.polling,
            "{} is not running in tokio-console while paused",
            a.name
        );
    }
    session.toggle_pause();
    tick_until(&mut session, &|s| s.ended);
    watcher.wait_for("every task complete", |seen| {
        names
            .iter()
            .all(|w| seen.values().any(|s| s.name == *w && s.dropped))
    });
    std::thread::sleep(Duration::from_millis(500));
    let live = session.history.live();
    for name in names {
        let ours = live
            .tasks
            .iter()
            .find(|t| &*t.name == name)
            .and_then(|t| t.stats.clone())
            .unwrap_or_else(|| panic!("{name}'s figures"));
        let theirs = watcher.task(name).unwrap();
        let ours = ours.busy.div_f64(speed);
        assert!(
            ours.abs_diff(theirs.busy) <= pairing_slack(ours),
            "{name}: busy: taskscope {ours:?} at {speed}x, tokio-console {:?}",
            theirs.busy
        );
    }
    // The same ids in both tools.
    for t in &live.tasks {
        let seen = watcher.task(&t.name).unwrap();
        assert_eq!(seen.task_id, Some(t.id), "{}", t.name);
    }
}

#[test]
fn your_own_code_shows_in_tokio_console_with_the_same_names_and_ids() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let port = free_port();
    let mut child = Command::new(common::example("your_code"))
        .arg("--headless")
        .arg(format!("--console=127.0.0.1:{port}"))
        .arg("--events")
        .arg(&events)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(port);
    let watcher = Watcher::start(port);
    let want = [
        "main",
        "say-after-3s",
        "say-after-6s",
        "holder",
        "waiter",
        "producer",
        "consumer",
    ];
    watcher.wait_for("every task complete", |seen| {
        want.iter()
            .all(|w| seen.values().any(|s| s.name == *w && s.dropped))
    });
    assert!(child.wait().unwrap().success());
    let ours: HashMap<String, u64> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["state"] == "spawned")
        .map(|v| {
            (
                v["task"].as_str().unwrap().to_string(),
                v["id"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ours.len(),
        want.len(),
        "taskscope shows your tasks only: {ours:?}"
    );
    for name in want {
        let seen = watcher.task(name).unwrap();
        assert_eq!(
            seen.task_id,
            Some(ours[name]),
            "tokio-console's ID column shows taskscope's id for {name}"
        );
    }
}

/// Three shapes of time in one run: `ringer` holds the only worker (busy)
/// right after waking `listener`, which stays ready all that while
/// (scheduled); `napper` only waits on a timer and a reply (idle).
const TIMES: &str = r#"name = "console-times"
description = "Busy, scheduled and idle, each long enough to measure."
[[channel]]
name = "bell"
capacity = 1
[[task]]
name = "ringer"
steps = [ { sleep = "200ms" }, { send = "bell" }, { block = "400ms" }, { sleep = "300ms" }, { cpu = "200ms" } ]
[[task]]
name = "listener"
steps = [ { recv = "bell" }, { cpu = "100ms" }, { sleep = "500ms" } ]
[[task]]
name = "napper"
steps = [ { sleep = "100ms" }, { io = "300ms" }, { sleep = "600ms" } ]
"#;

/// The pace of [`TIMES`]: tokio-console measures wall time, which is
/// scenario time over the speed.
const SPEED: f64 = 2.0;

/// How closely the two tools agree on one figure of one task, in wall
/// time: 5% of it, plus 25 ms on the reference machine (scaled) for what
/// a paced run adds around each poll and wake: the pacer's waits end a
/// little late on a loaded machine, and a debug build's polls take time.
fn pairing_slack(figure: Duration) -> Duration {
    figure / 20 + common::deadline(Duration::from_millis(25))
}

/// For every task: the busy, scheduled and idle time tokio-console reads
/// over console-api, against taskscope's own summary of the same run
/// (`--json`, scenario time) at the run's speed. tokio-console counts
/// the wait for the first poll as idle, as taskscope's 1st-poll column.
#[test]
fn tokio_console_reads_the_busy_scheduled_and_idle_time_taskscope_reports() {
    let _limit = common::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("times.toml");
    std::fs::write(&path, TIMES).unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .arg("run")
        .arg(&path)
        .args(["--json", "--speed", &SPEED.to_string()])
        .arg(format!("--console=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(port);
    let watcher = Watcher::start(port);
    let names = ["ringer", "listener", "napper"];
    watcher.wait_for("every task complete", |seen| {
        names
            .iter()
            .all(|w| seen.values().any(|s| s.name == *w && s.dropped))
    });
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut shown = 0;
    for name in names {
        let ours = summary["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} in the summary"));
        let theirs = watcher.task(name).unwrap();
        let wall =
            |field: &str| Duration::from_secs_f64(ours[field].as_f64().unwrap() / 1000.0 / SPEED);
        for (figure, ours, theirs) in [
            ("busy", wall("busy_ms"), theirs.busy),
            ("scheduled", wall("scheduled_ms"), theirs.scheduled),
            (
                "idle",
                wall("idle_ms") + wall("first_poll_delay_ms"),
                theirs.idle(),
            ),
        ] {
            let slack = pairing_slack(ours);
            assert!(
                ours.abs_diff(theirs) <= slack,
                "{name}: {figure}: taskscope {ours:?} (at {SPEED}x), tokio-console {theirs:?}; \
                 more apart than {slack:?}"
            );
            shown += u32::from(ours > Duration::from_millis(50));
        }
    }
    // Each kind of time was there to agree on (not zeros against zeros).
    let wall = |task: &str, field: &str| {
        summary["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == task)
            .unwrap()[field]
            .as_f64()
            .unwrap()
    };
    assert_eq!(wall("ringer", "busy_ms"), 600.0);
    assert_eq!(wall("listener", "scheduled_ms"), 400.0);
    assert!(wall("napper", "idle_ms") >= 900.0);
    assert!(shown >= 5, "{shown} figures above 50 ms");
}
