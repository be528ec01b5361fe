//! The real binary in a pseudo-terminal: open paused, step, resume, quit,
//! resize, signals; and the terminal found as it was each time. The screen
//! is read through a terminal emulator (vt100), as a person would see it.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

use crate::util as common;

/// Kills the child if a test fails before it ended (so a failed test
/// leaves nothing running).
struct Reaper(i32);

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: a signal to our own child, still unreaped.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
            }
        }
    }
}

struct Terminal {
    reaper: Reaper,
    parser: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    reading: std::thread::JoinHandle<()>,
}

fn size(rows: u16, cols: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

impl Terminal {
    /// `taskscope ARGS` in a 120x35 pseudo-terminal.
    fn start(args: &[&str]) -> Terminal {
        Terminal::start_program(std::path::Path::new(env!("CARGO_BIN_EXE_taskscope")), args)
    }

    /// `PROGRAM ARGS` in a 120x35 pseudo-terminal.
    fn start_program(program: &std::path::Path, args: &[&str]) -> Terminal {
        let pair = native_pty_system().openpty(size(35, 120)).unwrap();
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let rows = NonZeroU16::new(35).unwrap();
        let cols = NonZeroU16::new(120).unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let feed = parser.clone();
        let reading = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                feed.lock().unwrap().process(&buf[..n]);
            }
        });
        Terminal {
            reaper: Reaper(child.process_id().map_or(0, |p| p as i32)),
            writer: pair.master.take_writer().unwrap(),
            parser,
            child,
            master: pair.master,
            reading,
        }
    }

    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits for `cond` (the limit only guards against a hang).
    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.text();
            if cond(&text) {
                return text;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Like `wait_for`, then until the screen stops changing (a frame may
    /// be half drawn when it is read).
    fn wait_settled(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut text = self.wait_for(what, &cond);
        loop {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the screen never settled on {what}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(120));
            let now = self.text();
            if now == text && cond(&now) {
                return now;
            }
            text = self.wait_for(what, &cond);
        }
    }

    fn press(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn resize(&mut self, rows: u16, cols: u16) {
        self.master.resize(size(rows, cols)).unwrap();
        self.parser.lock().unwrap().screen_mut().set_size(
            NonZeroU16::new(rows).unwrap(),
            NonZeroU16::new(cols).unwrap(),
        );
    }

    fn signal(&self, signal: i32) {
        let pid = self.child.process_id().expect("running") as i32;
        // SAFETY: sending a signal to our own child process.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0);
    }

    /// Waits for the process to end and checks the terminal was restored.
    fn ended(self) -> portable_pty::ExitStatus {
        let Terminal {
            mut reaper,
            parser,
            writer,
            mut child,
            master,
            reading,
        } = self;
        let status = child.wait().unwrap();
        reaper.0 = 0;
        drop(writer);
        drop(master);
        let _ = reading.join();
        let parser = parser.lock().unwrap();
        assert!(
            !parser.screen().alternate_screen(),
            "left the alternate screen"
        );
        assert!(
            !parser.screen().hide_cursor(),
            "the cursor is visible again"
        );
        status
    }
}

/// The state column of each breakfast task row: `(name, state)`.
fn states(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| l.starts_with('│'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('│').split_whitespace().collect();
            (cells.len() > 4 && ["eggs", "toast", "coffee"].contains(&cells[1]))
                .then(|| (cells[1].to_string(), cells[3..5].join(" ")))
        })
        .collect()
}

#[test]
fn pause_step_and_quit_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let events_arg = events.display().to_string();
    // At 10x: the eggs' 400 ms of hands-on work holds its poll 40 ms.
    let mut term = Terminal::start(&[
        "run",
        "breakfast-concurrent",
        "--paused",
        "--speed",
        "10",
        "--events",
        &events_arg,
    ]);

    // Opens paused, on the alternate screen, with the three tasks ready.
    let first = term.wait_settled("the paused run screen", |t| {
        t.contains("PAUSED") && states(t).len() == 3
    });
    assert!(term.parser.lock().unwrap().screen().alternate_screen());
    assert!(
        states(&first).iter().all(|(_, s)| s.starts_with("ready")),
        "{first}"
    );

    // Paused means paused: nothing changes on its own.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(states(&term.text()), states(&first));

    // `n` releases one poll: exactly one task changes state.
    term.press("n");
    let after = term.wait_settled("a step", |t| {
        states(t) != states(&first) && !t.contains("HOLDING")
    });
    let changed: Vec<_> = states(&first)
        .into_iter()
        .zip(states(&after))
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        changed.len(),
        1,
        "one task changed: {changed:?}\n{first}\n{after}"
    );
    assert_eq!(changed[0].1.0, "eggs", "{changed:?}\n{first}\n{after}");
    assert!(changed[0].1.1.starts_with("waiting"), "{changed:?}");

    // Space resumes; the run plays to its end.
    term.press(" ");
    term.wait_for("the end of the run", |t| {
        t.contains("DONE") && t.contains("all 3 tasks are done")
    });

    // q quits, restoring the terminal.
    term.press("q");
    assert!(term.ended().success());

    // The events file is complete: whole lines, from header to end.
    let text = std::fs::read_to_string(&events).unwrap();
    assert!(text.ends_with('\n'));
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["state"], "end");
}

#[test]
fn a_small_terminal_says_so_and_a_resize_brings_the_screen_back() {
    let mut term = Terminal::start(&["run", "create-task", "--paused"]);
    term.wait_for("the run screen", |t| t.contains("PAUSED"));
    term.resize(10, 40);
    term.wait_for("the too-small message", |t| {
        t.contains("terminal too small: 40x10")
    });
    term.resize(16, 60);
    term.wait_for("the run screen at 60x16", |t| {
        t.contains("PAUSED") && t.contains("tasks")
    });
    term.press("\x03"); // Ctrl-C
    assert!(term.ended().success());
}

#[test]
fn the_picker_runs_the_chosen_scenario() {
    let mut term = Terminal::start(&[]);
    term.wait_for("the picker", |t| {
        t.contains("pick a scenario") && t.contains("breakfast-sequential")
    });
    term.press("\x1b[B"); // down: the second scenario
    term.press("\r");
    term.wait_for("its run screen", |t| {
        t.contains("breakfast-concurrent ·") && t.contains("lanes")
    });
    term.press("q");
    assert!(term.ended().success());
}

/// The state letter of process `pid` (`T`: stopped), from /proc.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the name, which is in parentheses and may hold spaces.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[test]
fn ctrl_z_gives_the_terminal_back_and_fg_brings_the_dashboard_again() {
    let mut term = Terminal::start(&["run", "breakfast-concurrent"]);
    term.wait_for("the run screen", |t| t.contains("LIVE"));
    let pid = term.child.process_id().expect("running");
    // Ctrl-Z, as typed: raw mode turns it into a key.
    term.press("\x1a");
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_state(pid) != Some('T') {
        assert!(Instant::now() < deadline, "it stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    {
        let parser = term.parser.lock().unwrap();
        let screen = parser.screen();
        assert!(!screen.alternate_screen(), "the shell's screen is back");
        assert!(!screen.hide_cursor(), "with its cursor");
    }
    // `fg`: the shell continues it.
    term.signal(libc::SIGCONT);
    let text = term.wait_for("the dashboard again", |t| t.contains("tasks 3 of 3"));
    assert!(
        term.parser.lock().unwrap().screen().alternate_screen(),
        "{text}"
    );
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn a_panicking_task_leaves_the_dashboard_standing() {
    let mut term = Terminal::start(&["run", "panic-in-task", "--speed", "25"]);
    let text = term.wait_for("the end of the run", |t| t.contains("DONE"));
    assert!(text.contains("done (panicked)"), "{text}");
    assert!(
        term.parser.lock().unwrap().screen().alternate_screen(),
        "still on the dashboard"
    );
    term.press("q");
    assert!(term.ended().success());
}

/// The number in "holds worker 0 (N ms)" on the narration line.
fn held_ms(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains("holds worker 0 ("))?;
    let rest = line.split("holds worker 0 (").nth(1)?;
    rest.split(" ms").next()?.trim().parse().ok()
}

#[test]
fn the_held_time_of_a_blocked_worker_grows_on_screen() {
    let mut term = Terminal::start(&["run", "blocking-the-loop", "--speed", "0.2"]);
    let first = term.wait_for("the blocker holding the worker", |t| {
        held_ms(t).is_some_and(|ms| ms > 0.0)
    });
    let first = held_ms(&first).unwrap();
    let later = term.wait_for("the held time to grow", |t| {
        held_ms(t).is_some_and(|ms| ms > first + 20.0)
    });
    assert!(held_ms(&later).unwrap() > first);
    assert!(later.contains("HOLDING worker 0"), "{later}");
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn a_run_stepped_to_its_end_records_what_a_headless_run_records() {
    let dir = tempfile::tempdir().unwrap();
    let stepped = dir.path().join("stepped.jsonl");
    let stepped_arg = stepped.display().to_string();
    let mut term = Terminal::start(&[
        "run",
        "breakfast-concurrent",
        "--paused",
        "--events",
        &stepped_arg,
    ]);
    term.wait_for("the paused run screen", |t| t.contains("PAUSED"));
    let start = Instant::now();
    while !term.text().contains("DONE") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "stepping never reached the end"
        );
        term.press("n");
        std::thread::sleep(Duration::from_millis(15));
    }
    term.press("q");
    assert!(term.ended().success());
    let headless = dir.path().join("headless.jsonl");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["run", "breakfast-concurrent", "--headless", "--events"])
        .arg(&headless)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let sequence = |path: &std::path::Path| -> Vec<(String, String, String, String)> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["state"] != "run" && v["state"] != "end")
            .map(|v| {
                (
                    v["task"].to_string(),
                    v["state"].to_string(),
                    v["wait"].to_string(),
                    v["step"].to_string(),
                )
            })
            .collect()
    };
    let (a, b) = (sequence(&stepped), sequence(&headless));
    assert!(a.len() > 20);
    assert_eq!(
        a, b,
        "the same tasks, states, waits and steps, in the same order"
    );
}

/// The "N / M transitions" counter of the status line.
fn transitions(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.contains(" transitions"))?;
    let before = line.split(" transitions").next()?;
    before.rsplit(" / ").next()?.trim().parse().ok()
}

fn bundled_with_clock(clock: &str) -> Vec<String> {
    taskscope::scenario::bundled::all()
        .filter_map(Result::ok)
        .filter(|s| s.runtime.clock.as_str() == clock)
        .map(|s| s.name)
        .collect()
}

/// How long `run NAME --headless` takes on this machine, now.
fn headless_time(name: &str) -> Duration {
    let start = Instant::now();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["run", name, "--headless"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{name} headless");
    start.elapsed()
}

/// The lessons that play to their end run one at a time (one dashboard
/// does not slow another down, so their limits mean something).
static ONE_LESSON_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs each scenario in a pseudo-terminal at `--speed 1`, one after the
/// other, and waits for each to show DONE within its limit.
fn plays_to_the_end(names: &[String], limit: impl Fn(&str) -> Duration) {
    let _one = ONE_LESSON_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    for name in names {
        let limit = limit(name);
        let started = Instant::now();
        let mut term = Terminal::start(&["run", name, "--speed", "1"]);
        loop {
            let text = term.text();
            if text.contains(" DONE ") {
                assert!(!text.contains("stopped at"), "{name} ended early:\n{text}");
                break;
            }
            assert!(
                started.elapsed() < limit,
                "{name} did not reach its end on screen within {limit:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        term.press("q");
        assert!(term.ended().success(), "{name} exits 0");
    }
}

#[test]
fn every_real_clock_lesson_plays_to_its_end_on_screen() {
    let names = bundled_with_clock("real");
    assert!(names.len() >= 4, "{names:?}");
    // Within twice the headless time plus 2 s (the issue's promise), the
    // headless run measured just before.
    plays_to_the_end(&names, |n| headless_time(n) * 2 + Duration::from_secs(2));
}

#[test]
fn every_virtual_clock_lesson_plays_to_its_end_on_screen() {
    let names = bundled_with_clock("virtual");
    assert!(names.len() >= 10, "{names:?}");
    // The lesson's scenario time at speed 1, plus twice the time its
    // headless run takes here (the large ones are work to draw too).
    plays_to_the_end(&names, |n| {
        let s = taskscope::scenario::bundled::get(n).unwrap().unwrap();
        let start = Instant::now();
        let wall = taskscope::headless::run(
            std::sync::Arc::new(s),
            taskscope::runtime::RunOptions::default(),
            None,
        )
        .unwrap()
        .model
        .wall();
        wall + start.elapsed() * 4 + Duration::from_secs(10)
    });
}

/// Presses `n` until the run shows DONE; every press must move the
/// transition counter (the next poll may first have to become ready).
fn step_to_the_end(args: &[&str]) {
    let mut term = Terminal::start(args);
    // (The real clock's time moves while paused, so the screen never
    // settles: wait for what matters only.)
    let mut text = term.wait_for("the paused run screen", |t| {
        t.contains("PAUSED") && transitions(t).is_some()
    });
    // What pausing cannot stop is said, whole, on a 120-column status line.
    assert!(
        text.lines()
            .any(|l| l.contains(" PAUSED ") && l.contains("timers, threads, processes go on")),
        "{text}"
    );
    let mut presses = 0;
    while !text.contains(" DONE ") {
        let before = transitions(&text).unwrap();
        term.press("n");
        presses += 1;
        term.wait_for("a press of n to move the counter", |t| {
            transitions(t).is_some_and(|n| n > before)
        });
        // Let what that poll did show before the next press.
        std::thread::sleep(Duration::from_millis(100));
        text = term.text();
        assert!(presses < 200, "never reached the end:\n{text}");
    }
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn a_paused_real_clock_run_reaches_its_end_one_press_at_a_time() {
    step_to_the_end(&["run", "spawn-blocking-rescue", "--paused"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two-cpu.toml");
    std::fs::write(
        &path,
        r#"name = "two-cpu"
description = "Two CPU-bound tasks on two workers."
[runtime]
flavor = "multi_thread"
workers = 2
[[task]]
name = "a"
steps = [ { cpu = "100ms" }, { yield = true }, { cpu = "50ms" } ]
[[task]]
name = "b"
steps = [ { cpu = "100ms" }, { sleep = "50ms" }, { cpu = "50ms" } ]
"#,
    )
    .unwrap();
    step_to_the_end(&["run", path.to_str().unwrap(), "--paused"]);
}

/// The scenario time on the status line, in ms.
fn shown_ms(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains(" t = "))?;
    let rest = line.split(" t = ").nth(1)?;
    let (num, unit) = rest.split_once(' ')?;
    let v: f64 = num.parse().ok()?;
    Some(if unit.starts_with("ms") {
        v
    } else {
        v * 1000.0
    })
}

#[test]
fn quitting_mid_run_records_the_unfinished_tasks_as_cancelled_then() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let mut term = Terminal::start(&["run", "create-task", "--events", events.to_str().unwrap()]);
    let text = term.wait_for("a second of the run", |t| {
        shown_ms(t).is_some_and(|ms| ms >= 1000.0)
    });
    let shown = shown_ms(&text).unwrap();
    term.press("q");
    assert!(term.ended().success());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cancelled: Vec<_> = lines
        .iter()
        .filter(|v| v["state"] == "done" && v["outcome"] == "cancelled")
        .collect();
    assert_eq!(cancelled.len(), 3, "main and both sleepers: {lines:?}");
    for c in &cancelled {
        let t = c["t_ms"].as_f64().unwrap();
        // At the moment quit was pressed, not when a timer would have fired.
        assert!(
            t >= shown && t < 3000.0,
            "cancelled at {t} ms, shown {shown}"
        );
    }
    let end = lines.last().unwrap();
    assert_eq!(end["state"], "end");
    assert!(
        end["stalled"].as_str().unwrap().contains("stopped at"),
        "{end}"
    );
}

#[test]
fn signals_and_deadlocks_end_the_dashboard_with_the_codes_headless_runs_use() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let term = Terminal::start(&["run", "create-task"]);
        term.wait_for("the run screen", |t| t.contains("lanes"));
        term.signal(signal);
        assert_eq!(term.ended().exit_code(), code, "signal {signal}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deadlock.toml");
    std::fs::write(
        &path,
        r#"name = "deadlock"
description = "Each task waits for the other's message."
[[channel]]
name = "a"
capacity = 1
[[channel]]
name = "b"
capacity = 1
[[task]]
name = "left"
steps = [ { recv = "a" }, { send = "b" } ]
[[task]]
name = "right"
steps = [ { recv = "b" }, { send = "a" } ]
"#,
    )
    .unwrap();
    let mut term = Terminal::start(&["run", path.to_str().unwrap(), "--speed", "10"]);
    term.wait_for("the deadlock to be found", |t| t.contains("waited forever"));
    term.press("q");
    assert_eq!(term.ended().exit_code(), 1);
}

#[test]
fn a_lesson_opens_at_a_pace_a_learner_can_watch() {
    // Opened with no options: breakfast-concurrent (1.3 s of scenario time)
    // plays at its own pace, still going 3 s in, over well before 45 s.
    let mut term = Terminal::start(&["run", "breakfast-concurrent"]);
    let started = Instant::now();
    term.wait_for("the run screen", |t| t.contains("lanes"));
    while started.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = term.text();
    assert!(text.contains(" LIVE "), "still playing after 3 s:\n{text}");
    assert!(text.contains("speed 0.1x"), "{text}");
    loop {
        let text = term.text();
        if text.contains(" DONE ") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(45),
            "not over after 45 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // `-` goes slower, never faster, down to 0.01x.
    for expected in ["0.05x", "0.02x", "0.01x", "0.01x"] {
        term.press("-");
        term.wait_for(expected, |t| t.contains(&format!("speed {expected}")));
    }
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn esc_goes_back_to_the_lessons_and_the_next_lesson_key_opens_the_next() {
    let mut term = Terminal::start(&[]);
    term.wait_for("the picker", |t| t.contains("pick a scenario"));
    term.press("\r"); // the first lesson
    term.wait_for("its run screen", |t| {
        t.contains("breakfast-sequential ·") && t.contains("lesson:")
    });
    term.press("]");
    term.wait_for("the next lesson", |t| {
        t.contains("breakfast-concurrent ·") && t.contains("lesson: Concurrent breakfast")
    });
    term.press("\x1b"); // Esc
    term.wait_for("the picker again", |t| t.contains("pick a scenario"));
    term.press("q");
    assert!(term.ended().success());
}

/// The polls column of the task table, summed over its rows.
fn polls(text: &str) -> Option<u64> {
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .find(|l| l.contains("polls") && l.contains("state"))?;
    let at = header.find("polls")?;
    let mut sum = 0;
    for line in lines.iter().filter(|l| l.starts_with('│')) {
        if line.contains("polls") {
            continue;
        }
        let rest = line.get(at..)?;
        match rest.split_whitespace().next()?.parse::<u64>() {
            Ok(n) => sum += n,
            Err(_) => break,
        }
    }
    Some(sum)
}

#[test]
fn a_panic_in_your_own_code_shows_as_its_task_panicking_on_screen() {
    let program = common::example("panic_in_task");
    let mut term = Terminal::start_program(&program, &["--speed", "25"]);
    let text = term.wait_for("the end of the run", |t| t.contains("DONE"));
    let toast = states(&text)
        .into_iter()
        .find(|(name, _)| name == "toast")
        .unwrap_or_else(|| panic!("a toast row:\n{text}"));
    assert_eq!(toast.1, "done (panicked)", "{text}");
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn your_own_codes_blocking_call_holds_its_worker_at_the_examples_pace() {
    let program = common::example("blocking_the_loop");
    let mut term = Terminal::start_program(&program, &[]);
    // Its pace (Watch::pace) is the twin lesson's: 300 ms held take 10 s.
    // Waited for whole: a frame is read as it arrives, a line at a time.
    let text = term.wait_for("the blocker holding its worker, at 0.03x", |t| {
        t.contains("HOLDING worker 0")
            && t.contains("blocker holds worker 0")
            && t.contains("speed 0.03x")
    });
    assert!(text.contains("speed 0.03x"), "{text}");
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn your_own_code_steps_one_poll_at_a_time_and_q_exits_0() {
    let program = common::example("your_code");
    let mut term = Terminal::start_program(&program, &["--paused", "--clock", "virtual"]);
    let text = term.wait_settled("your code, paused before its first poll", |t| {
        t.contains("PAUSED") && t.contains("main") && polls(t) == Some(0)
    });
    assert!(
        !text.contains("next lesson") && !text.contains("] next") && !text.contains("Esc lessons"),
        "no lessons beside your code:\n{text}"
    );
    for n in 1..=8 {
        term.press("n");
        let text = term.wait_settled("one more poll", |t| polls(t).is_some_and(|p| p >= n));
        assert_eq!(
            polls(&text),
            Some(n),
            "press {n} let one poll through:\n{text}"
        );
    }
    term.press("q");
    assert!(term.ended().success());
}

/// The runs of one letter along a lane line (`cpu 1     YYYYTTTT··`),
/// after its label: (letter, length).
fn blocks(lane: &str) -> Vec<(char, usize)> {
    let cells: String = lane
        .trim_start_matches('│')
        .chars()
        .skip(14)
        .filter(|c| *c != '│')
        .collect();
    let mut runs: Vec<(char, usize)> = Vec::new();
    for c in cells.chars() {
        match runs.last_mut() {
            Some((l, n)) if *l == c => *n += 1,
            _ => runs.push((c, 1)),
        }
    }
    runs
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "CPUs are told apart on Linux only")]
fn preemption_shows_each_os_time_slice_as_a_block_and_the_sharers_switch_at_yields() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("skipped: the lesson puts its two halves on two CPUs, this machine has {cpus}");
        return;
    }
    let _turn = ONE_LESSON_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut term = Terminal::start(&["run", "preemption"]);
    // It opens played back, in the CPU view, at 100 µs a column: wait until
    // the two threads have taken turns on their CPU on screen.
    let text = term.wait_for("the threads taking turns on cpu 1", |t| {
        t.lines().find(|l| l.contains("│cpu 1")).is_some_and(|l| {
            let letters: Vec<_> = blocks(l)
                .into_iter()
                .filter(|(c, _)| c.is_alphanumeric())
                .collect();
            letters.len() >= 4 && letters.windows(2).all(|w| w[0].0 != w[1].0)
        })
    });
    assert!(text.contains("PLAYBACK"), "{text}");
    assert!(text.contains("0.1 ms per column"), "{text}");
    assert!(text.contains("the OS can't be slowed"), "{text}");
    let cpu1 = text.lines().find(|l| l.contains("│cpu 1")).unwrap();
    // Each slice a block of its own, of a few ms (tens of columns) as a
    // rule: the median of those not cut by the window's edges.
    let slices: Vec<_> = blocks(cpu1)
        .into_iter()
        .filter(|(c, _)| c.is_alphanumeric())
        .collect();
    let mut inside: Vec<usize> = slices[1..slices.len() - 1].iter().map(|s| s.1).collect();
    inside.sort_unstable();
    let median = inside.get(inside.len() / 2).copied().unwrap_or(0);
    assert!(median >= 10, "slices of {inside:?} columns:\n{text}");
    // The sharers on the worker: a switch only where one yields (every 10
    // ms, more than a 10.6 ms window can hold twice).
    let worker = text.lines().find(|l| l.contains("│worker 0")).unwrap();
    // (Idle `·`, the OS holding the thread `×`, and the boss's short polls
    // at the start aside.)
    let polls: Vec<_> = blocks(worker)
        .into_iter()
        .filter(|(c, n)| c.is_alphanumeric() && *n >= 3)
        .collect();
    let switches = polls.windows(2).filter(|w| w[0].0 != w[1].0).count();
    assert!(
        switches <= 2,
        "the worker switched {switches} times:\n{text}"
    );
    term.press("q");
    assert!(term.ended().success());
}
