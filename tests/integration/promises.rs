//! Promises the README makes that no other test covers: each test names
//! the promise and fails if it is broken.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use taskscope::app::{App, Message, Session};
use taskscope::keys::Key;

use crate::util as common;
use common::{ok_stdout, taskscope};

fn frame(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(120, 35)).unwrap();
    terminal.draw(|f| f.render_widget(app, f.area())).unwrap();
    terminal.backend().to_string()
}

fn live(name: &str, paused: bool, speed: f64) -> App {
    let scenario = Arc::new(common::bundled(name));
    App::running(
        scenario,
        common::options(),
        paused,
        Some(taskscope::speed::Speed::clamped(speed)),
    )
    .unwrap()
}

/// Ticks the app until `cond` holds (failing, not hanging, after a minute).
fn tick_until(app: &mut App, what: &str, cond: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond(app) {
        assert!(Instant::now() < deadline, "never: {what}");
        app.update(Message::Tick);
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn session(app: &App) -> &Session {
    app.session.as_ref().unwrap()
}

fn key(app: &mut App, k: Key) {
    app.update(Message::Key(k));
}

#[test]
fn left_pauses_and_shows_history_right_steps_forward_home_goes_to_the_start_end_returns_live() {
    let _limit = crate::util::limit();
    let mut app = live("breakfast-concurrent", false, 1.0);
    tick_until(&mut app, "a few transitions", |a| {
        session(a).history.len() >= 8
    });
    assert!(!session(&app).control.paused);
    let edge = session(&app).history.cursor();
    key(&mut app, Key::Left);
    assert!(session(&app).control.paused, "← pauses the scheduler");
    assert_eq!(session(&app).history.cursor(), edge - 1);
    assert!(frame(&app).contains(" HISTORY "), "{}", frame(&app));
    key(&mut app, Key::Left);
    key(&mut app, Key::Right);
    assert_eq!(session(&app).history.cursor(), edge - 1, "→ one forward");
    key(&mut app, Key::Home);
    assert_eq!(
        session(&app).history.cursor(),
        session(&app).history.first(),
        "Home goes to the oldest transition kept"
    );
    assert!(frame(&app).contains(" HISTORY "), "{}", frame(&app));
    key(&mut app, Key::End);
    assert!(session(&app).history.at_live_edge(), "End goes back live");
    let text = frame(&app);
    // Paused (or pausing: a cpu step's poll runs to its end first).
    assert!(
        !text.contains(" HISTORY ") && text.contains(" PAUS"),
        "{text}"
    );
}

#[test]
fn no_scenario_time_passes_while_paused_on_the_virtual_clock() {
    let _limit = crate::util::limit();
    let mut app = live("create-task", true, 1.0);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(400) {
        app.update(Message::Tick);
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = session(&app);
    assert_eq!(s.now(), Duration::ZERO);
    assert!(
        s.model().tasks.iter().all(|t| t.polls == 0),
        "no poll started"
    );
    // A step: the first poll starts at 0 ms of scenario time, however long
    // the pause lasted on the wall.
    key(&mut app, Key::Char('n'));
    tick_until(&mut app, "the stepped poll", |a| {
        session(a).model().tasks.iter().any(|t| t.polls == 1)
    });
    let first = session(&app)
        .model()
        .tasks
        .iter()
        .find_map(|t| t.first_poll_at())
        .unwrap();
    assert_eq!(first, Duration::ZERO);
}

#[test]
fn r_restarts_the_scenario_from_its_start() {
    let _limit = crate::util::limit();
    let mut app = live("breakfast-concurrent", false, 100.0);
    tick_until(&mut app, "the end", |a| session(a).ended);
    let before = session(&app).history.len();
    key(&mut app, Key::Char('r'));
    assert!(!session(&app).ended, "a new run");
    assert!(session(&app).history.len() < before);
    tick_until(&mut app, "the new run's end", |a| session(a).ended);
    assert_eq!(
        session(&app).history.len(),
        before,
        "the same transitions again"
    );
}

#[test]
fn the_speed_sets_the_pace_and_plus_and_minus_change_it() {
    let _limit = crate::util::limit();
    // 200 ms of timers at 0.5x take at least 400 ms of wall time; at 10x
    // at least 20 ms, and far less than at 0.5x (an upper bound of its own
    // would need a fast machine: the two runs are compared instead, which
    // a run that ignored the speed would fail).
    let scenario = common::inline(
        r#"name = "pace"
[[task]]
name = "a"
steps = [ { sleep = "200ms" } ]
"#,
    );
    let mut took = Vec::new();
    for (speed, floor) in [(0.5, 400), (10.0, 20)] {
        let mut app = App::running(
            Arc::new(scenario.clone()),
            common::options(),
            false,
            Some(taskscope::speed::Speed::clamped(speed)),
        )
        .unwrap();
        let start = Instant::now();
        tick_until(&mut app, "the end", |a| session(a).ended);
        assert!(
            start.elapsed() >= Duration::from_millis(floor),
            "at {speed}x: {:?}",
            start.elapsed()
        );
        took.push(start.elapsed());
    }
    // 20 times faster: a quarter is room enough for the ticks around it.
    assert!(
        took[1] < took[0] / 4,
        "10x took {:?}, 0.5x took {:?}",
        took[1],
        took[0]
    );
    let mut app = live("create-task", false, 1.0);
    key(&mut app, Key::Char('+'));
    assert_eq!(session(&app).control.speed.get(), 2.0);
    key(&mut app, Key::Char('-'));
    key(&mut app, Key::Char('-'));
    assert_eq!(session(&app).control.speed.get(), 0.5);
    assert!(frame(&app).contains("speed 0.5x"));
}

#[test]
fn replay_keys_play_step_rewind_and_change_the_pace() {
    let _limit = crate::util::limit();
    let scenario = Arc::new(common::bundled("breakfast-concurrent"));
    let log = taskscope::headless::record(scenario.clone(), common::options()).unwrap();
    let mut app = App::with_session(Session::replay(scenario, log));
    assert_eq!(session(&app).history.cursor(), 0, "opens at the start");
    key(&mut app, Key::Char('n'));
    key(&mut app, Key::Right);
    assert_eq!(session(&app).history.cursor(), 2);
    key(&mut app, Key::Left);
    assert_eq!(session(&app).history.cursor(), 1);
    // It opens at the lesson's own pace (0.1x).
    assert_eq!(session(&app).control.speed.get(), 0.1);
    key(&mut app, Key::Char('+'));
    key(&mut app, Key::Char('+'));
    key(&mut app, Key::Char('+'));
    assert_eq!(session(&app).control.speed.get(), 1.0);
    key(&mut app, Key::Char('-'));
    assert_eq!(session(&app).control.speed.get(), 0.5);
    key(&mut app, Key::Char(' '));
    assert!(!session(&app).control.paused, "space plays");
    tick_until(&mut app, "the end of the recording", |a| {
        session(a).history.at_live_edge() && session(a).control.paused
    });
    key(&mut app, Key::Char('r'));
    assert_eq!(
        session(&app).history.cursor(),
        0,
        "r goes back to the start"
    );
    assert!(frame(&app).contains("REPLAY · PAUSED"));
}

#[test]
fn the_filter_keeps_tasks_in_a_state() {
    let _limit = crate::util::limit();
    let scenario = Arc::new(common::bundled("blocking-the-loop"));
    let log = taskscope::headless::record(scenario.clone(), common::options()).unwrap();
    let mut s = Session::replay(scenario, log);
    // Just after the blocker's poll starts: sleeper waits, bystander ready.
    let events: Vec<_> = s.history.events().map(|(_, e)| e.clone()).collect();
    let blocker = common::task_index(&events, "blocker");
    let pos = events
        .iter()
        .position(|e| {
            e.task == blocker && matches!(e.change, taskscope::probe::Change::Running { .. })
        })
        .unwrap();
    s.history.seek(pos as u64 + 1);
    let mut app = App::with_session(s);
    for k in [
        Key::Char('/'),
        Key::Char('r'),
        Key::Char('e'),
        Key::Char('a'),
        Key::Char('d'),
        Key::Char('y'),
        Key::Enter,
    ] {
        key(&mut app, k);
    }
    let names: Vec<String> = app
        .visible_tasks()
        .iter()
        .map(|i| session(&app).model().tasks[*i as usize].name.to_string())
        .collect();
    assert_eq!(names, ["bystander"]);
}

#[test]
fn probe_off_reports_the_run_length_and_says_why_there_are_no_rows() {
    let _limit = crate::util::limit();
    let text = ok_stdout(taskscope().args(["run", "create-task", "--probe", "off", "--headless"]));
    assert!(text.contains("finished in 6000 ms"), "{text}");
    assert!(text.contains("--probe off"), "{text}");
    let json = ok_stdout(taskscope().args(["run", "create-task", "--probe", "off", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["wall_ms"], 6000.0);
    assert_eq!(v["tasks"].as_array().unwrap().len(), 0);
}

#[test]
fn screenshot_draws_the_run_screen_at_a_moment_into_an_svg() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shot.svg");
    ok_stdout(
        taskscope()
            .args(["screenshot", "blocking-the-loop", "220"])
            .arg(&path),
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let all: String = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(all.contains("blocking-the-loop"), "{all}");
    assert!(
        all.contains("HOLDING"),
        "at 220 ms the blocker holds the worker"
    );
    assert!(all.contains("220"), "the moment shown");
}

#[test]
fn work_stealing_uses_both_workers_and_tokio_counts_steals() {
    let _limit = crate::util::limit();
    let finished = common::run(common::bundled("work-stealing"));
    let workers: std::collections::HashSet<u16> = finished
        .model
        .workers
        .iter()
        .enumerate()
        .filter(|(_, w)| w.polls > 0)
        .map(|(i, _)| i as u16)
        .collect();
    assert_eq!(workers.len(), 2, "both workers ran chunks");
    // The boss spawns every chunk onto its own worker's queue: the other
    // worker can only get work by stealing it.
    assert!(
        finished.end.runtime.steals >= 1,
        "{:?}",
        finished.end.runtime
    );
}

#[test]
fn the_headless_table_is_the_one_the_readme_prints() {
    let _limit = crate::util::limit();
    let text = ok_stdout(taskscope().args(["run", "blocking-the-loop", "--headless"]));
    let readme = std::fs::read_to_string("README.md").unwrap();
    let block_start = readme
        .find("    blocking-the-loop: current_thread")
        .expect("the README shows the table");
    let block: Vec<&str> = readme[block_start..]
        .lines()
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect();
    let out: Vec<&str> = text.lines().collect();
    // The tokio-metrics line measures wall time, which varies: compare the rest.
    let keep = |l: &&str| !l.starts_with("workers (tokio-metrics)");
    let a: Vec<&str> = block
        .iter()
        .copied()
        .filter(keep)
        .map(str::trim_end)
        .collect();
    let b: Vec<&str> = out
        .iter()
        .copied()
        .filter(keep)
        .map(str::trim_end)
        .collect();
    assert_eq!(a.join("\n").trim_end(), b.join("\n").trim_end());
}

#[test]
fn the_events_file_has_due_times_and_the_done_figures() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.jsonl");
    ok_stdout(
        taskscope()
            .args(["run", "blocking-the-loop", "--headless", "--events"])
            .arg(&path),
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sleeper_wait = lines
        .iter()
        .find(|v| v["task"] == "sleeper" && v["state"] == "waiting")
        .unwrap();
    assert_eq!(sleeper_wait["wait"], "timer");
    assert_eq!(sleeper_wait["due_ms"], 100.0, "a 100 ms timer set at 0");
    let done = lines
        .iter()
        .find(|v| v["task"] == "blocker" && v["state"] == "done")
        .unwrap();
    assert_eq!(done["outcome"], "ok");
    assert_eq!(done["polls"], 1);
    assert_eq!(done["busy_ms"], 300.0);
    for key in [
        "scheduled_ms",
        "idle_ms",
        "slow_polls",
        "first_poll_delay_ms",
    ] {
        assert!(done[key].is_number(), "done has {key}: {done}");
    }
}

#[test]
fn the_trace_says_who_woke_whom() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.json");
    ok_stdout(
        taskscope()
            .args(["run", "channel-pipeline", "--headless", "--trace"])
            .arg(&path),
    );
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let wakes: Vec<&serde_json::Value> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "i" && e["name"] == "wake")
        .collect();
    let by: std::collections::HashSet<String> = wakes
        .iter()
        .map(|w| w["args"]["by"].as_str().unwrap_or("").to_string())
        .collect();
    // Backpressure: the kitchen waits on the full channel and is woken by
    // the diner's receive freeing a slot; the diner by its own timer.
    for who in ["diner", "timer"] {
        assert!(by.contains(who), "a wake by {who}: {by:?}");
    }
}

#[test]
fn check_enforces_the_worker_and_step_length_limits() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    for (text, at, expect) in [
        (
            "name = \"w\"\n[runtime]\nflavor = \"multi_thread\"\nworkers = 65\n[[task]]\nname = \"a\"\nsteps = [ { yield = true } ]\n",
            "4:11",
            "from 1 to 64",
        ),
        (
            "name = \"h\"\n[[task]]\nname = \"a\"\nsteps = [ { sleep = \"61m\" } ]\n",
            "4:21",
            "at most 1h",
        ),
    ] {
        let path = dir.path().join("limit.toml");
        std::fs::write(&path, text).unwrap();
        let out = taskscope().arg("check").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let message = stderr
            .split_once(&format!("limit.toml:{at}: "))
            .map(|(_, m)| m)
            .unwrap_or_else(|| panic!("at {at}: {stderr}"));
        assert!(message.contains(expect), "{message}");
    }
    // 64 workers and exactly an hour are still fine.
    let path = dir.path().join("edge.toml");
    std::fs::write(
        &path,
        "name = \"e\"\n[runtime]\nflavor = \"multi_thread\"\nworkers = 64\n[[task]]\nname = \"a\"\nsteps = [ { sleep = \"60m\" } ]\n",
    )
    .unwrap();
    ok_stdout(taskscope().arg("check").arg(&path));
}

#[test]
fn check_reports_every_problem_of_a_file_with_several() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("several.toml");
    std::fs::write(
        &path,
        r#"name = "several"
description = "Three problems."
[runtime]
flavor = "multi_thread"
workers = 0
[[task]]
name = "a"
steps = [ { sleep = "2x" }, { jump = 1 } ]
[[task]]
name = "b"
steps = [ { join = "nobody" } ]
"#,
    )
    .unwrap();
    let out = taskscope().arg("check").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (at, what) in [
        ("5:11", "workers"),
        ("8:21", "not a duration"),
        ("8:31", "unknown step `jump`"),
        ("11:20", "unknown task `nobody`"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("several.toml:{at}: ")) && l.contains(what)),
            "{at} {what}: {stderr}"
        );
    }
}
