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

    /// Waits for `cond` (the limit only guards against a hang; it scales
    /// with the build and the machine: a lesson played back slowly on a
    /// loaded machine takes longer).
    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.text();
            if cond(&text) {
                return text;
            }
            assert!(
                start.elapsed() < common::deadline(Duration::from_secs(10)),
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
                start.elapsed() < common::deadline(Duration::from_secs(10)),
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
    let _limit = crate::util::limit();
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
    assert!(changed[0].1.1.starts_with("connecting"), "{changed:?}");

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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
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
    // The bytes written before it stopped may still be on their way.
    while term.parser.lock().unwrap().screen().alternate_screen() && Instant::now() < deadline {
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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
    let names = bundled_with_clock("real");
    assert!(names.len() >= 4, "{names:?}");
    // Within twice the headless time plus 2 s (the issue's promise), the
    // headless run measured just before.
    plays_to_the_end(&names, |n| headless_time(n) * 2 + Duration::from_secs(2));
}

#[test]
fn every_virtual_clock_lesson_plays_to_its_end_on_screen() {
    let _limit = crate::util::limit();
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
        // Let what that poll did show before the next press (read whole:
        // a frame may be half drawn when read, on a loaded machine).
        std::thread::sleep(Duration::from_millis(100));
        text = term.wait_for("the screen after the step", |t| transitions(t).is_some());
        assert!(presses < 200, "never reached the end:\n{text}");
    }
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn a_paused_real_clock_run_reaches_its_end_one_press_at_a_time() {
    let _limit = crate::util::limit();
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
    let per_ms = match unit.split_whitespace().next()? {
        "µs" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        _ => return None,
    };
    Some(v * per_ms)
}

#[test]
fn quitting_mid_run_records_the_unfinished_tasks_as_cancelled_then() {
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
    let stops = [
        (libc::SIGTERM, 143),
        (libc::SIGINT, 130),
        (libc::SIGQUIT, 131),
        (libc::SIGALRM, 142),
        (libc::SIGUSR1, 138),
        (libc::SIGUSR2, 140),
    ];
    for (signal, code) in stops {
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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
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

/// The time slices along a CPU's lane line: (letter, columns), a thread's
/// turn from when it got the CPU from the other thread until it lost it to
/// the other thread (other programs' turns between, `◦` on a busy
/// machine, do not end it: they are not the run's).
fn slices(lane: &str) -> Vec<(char, usize)> {
    let mut slices: Vec<(char, usize)> = Vec::new();
    let mut gap = 0;
    for (c, n) in blocks(lane) {
        if !c.is_alphanumeric() {
            gap = n;
            continue;
        }
        match slices.last_mut() {
            Some((l, m)) if *l == c => *m += gap + n,
            _ => slices.push((c, n)),
        }
        gap = 0;
    }
    slices
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
    let _limit = crate::util::limit();
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
        // Both threads in the window, one after the other, with a whole
        // slice between the window's edges.
        t.lines()
            .find(|l| l.contains("│cpu 1"))
            .is_some_and(|l| slices(l).len() >= 3)
    });
    assert!(text.contains("PLAYBACK"), "{text}");
    assert!(text.contains("0.1 ms per column"), "{text}");
    assert!(text.contains("the OS can't be slowed"), "{text}");
    let cpu1 = text.lines().find(|l| l.contains("│cpu 1")).unwrap();
    // Each slice a block of its own, of a few ms (tens of columns) as a
    // rule: the median of those not cut by the window's edges.
    let slices = slices(cpu1);
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

#[test]
fn running_out_of_memory_on_the_dashboard_gives_the_terminal_back() {
    let _limit = crate::util::limit();
    let _turn = ONE_LESSON_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    // 100,000 tasks' history in 250 MB of address space: it runs out.
    let script = format!(
        "ulimit -v 250000; exec {} run scale-100k",
        env!("CARGO_BIN_EXE_taskscope")
    );
    let mut term = Terminal::start_program(std::path::Path::new("/bin/sh"), &["-c", &script]);
    let status = term.child.wait().unwrap();
    assert!(!status.success(), "it ran out of memory");
    std::thread::sleep(Duration::from_millis(200));
    let parser = term.parser.lock().unwrap();
    let screen = parser.screen();
    assert!(
        !screen.alternate_screen(),
        "the terminal is back on its main screen:\n{}",
        screen.contents()
    );
    assert!(!screen.hide_cursor(), "the cursor is shown");
    assert!(
        screen.contents().contains("taskscope: out of memory"),
        "{}",
        screen.contents()
    );
}

#[test]
fn events_to_the_terminal_the_dashboard_draws_on_are_refused() {
    let _limit = crate::util::limit();
    let _turn = ONE_LESSON_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut term = Terminal::start(&["run", "create-task", "--events", "/dev/stdout"]);
    let text = term.wait_for("the refusal", |t| {
        t.contains("terminal the dashboard draws on")
    });
    assert!(text.contains("--events /dev/stdout"), "{text}");
    assert_eq!(term.child.wait().unwrap().exit_code(), 2);
}

#[test]
fn a_replay_is_shown_with_its_own_runtime_and_not_a_lessons_words_it_does_not_match() {
    let _limit = crate::util::limit();
    let _turn = ONE_LESSON_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // A multi_thread real-clock recording; another named like a lesson
    // whose tasks are not that lesson's.
    let real = dir.path().join("real.jsonl");
    let fake = dir.path().join("fake.jsonl");
    let header = |name: &str, flavor: &str, workers: u32, clock: &str| {
        format!(
            "{{\"t_ms\":0,\"state\":\"run\",\"format\":1,\"scenario\":\"{name}\",\"runtime\":{{\"flavor\":\"{flavor}\",\"workers\":{workers},\"clock\":\"{clock}\"}}}}\n\
             {{\"t_ms\":0,\"task\":\"mine\",\"id\":1,\"state\":\"spawned\",\"idx\":0,\"step\":0}}\n\
             {{\"t_ms\":1,\"state\":\"end\",\"events_dropped\":0}}\n"
        )
    };
    std::fs::write(&real, header("somewhere", "multi_thread", 2, "real")).unwrap();
    std::fs::write(
        &fake,
        header("breakfast-concurrent", "current_thread", 1, "virtual"),
    )
    .unwrap();
    let mut term = Terminal::start(&["replay", real.to_str().unwrap()]);
    let text = term.wait_for("the replay", |t| t.contains("REPLAY"));
    assert!(
        text.contains("multi_thread (2 workers) · real clock"),
        "{text}"
    );
    term.press("q");
    assert!(term.ended().success());
    let mut term = Terminal::start(&["replay", fake.to_str().unwrap()]);
    let text = term.wait_for("the replay", |t| t.contains("REPLAY"));
    assert!(
        !text.contains("Concurrent breakfast"),
        "not the lesson's words:\n{text}"
    );
    term.press("q");
    assert!(term.ended().success());
}

// ---------------------------------------------------------------------
// Every key of the README's key table, pressed in a real terminal, each
// press read back from the screen; a modified key doing nothing; the
// screen never blaming a worker for what a pause did; the steals counted
// on screen as the events count them.

/// The README key table's rows (keys, where) the tests below press, each
/// one read back from the screen. `every_row_of_the_readme_key_table_is_pressed`
/// holds this list to the README's table.
const PRESSED: &[(&str, &str)] = &[
    ("space", "run screen"),
    ("n", "run screen"),
    ("←", "run screen"),
    ("→", "run screen"),
    ("Home", "run screen"),
    ("End", "run screen"),
    ("+/=", "run screen"),
    ("-", "run screen"),
    ("r", "run screen"),
    ("]", "run screen"),
    ("[", "run screen"),
    ("space", "replay"),
    ("n/→", "replay"),
    ("←", "replay"),
    ("+/=", "replay"),
    ("-", "replay"),
    ("End", "replay"),
    ("r/Home", "replay"),
    ("↑/k", "picker, run screen, replay"),
    ("↓/j", "picker, run screen, replay"),
    ("PgUp", "picker, run screen, replay"),
    ("PgDn", "picker, run screen, replay"),
    ("Enter", "picker, run screen, replay"),
    ("/", "run screen, replay"),
    ("z", "run screen, replay"),
    ("x", "run screen, replay"),
    ("v", "run screen, replay"),
    ("d", "run screen, replay"),
    ("?", "picker, run screen, replay"),
    ("↑/k", "popup"),
    ("↓/j", "popup"),
    ("PgUp", "popup"),
    ("PgDn", "popup"),
    ("Home", "popup"),
    ("End", "popup"),
    ("Esc/q/Enter/?", "popup"),
    ("Esc", "run screen"),
    ("Esc", "replay"),
    ("q/Ctrl-C", "run screen, replay"),
    ("q/Esc/Ctrl-C", "picker"),
    ("Ctrl-C", "popup"),
];

#[test]
fn every_row_of_the_readme_key_table_is_pressed() {
    let _limit = crate::util::limit();
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme
        .find("| key | does | where |")
        .expect("the key table");
    let rows: Vec<(String, String)> = readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
            (
                cells[0].trim().trim_matches('`').to_string(),
                cells[2].trim().to_string(),
            )
        })
        .collect();
    assert!(rows.len() >= 30, "{rows:?}");
    for (keys, place) in &rows {
        assert!(
            PRESSED.iter().any(|(k, p)| k == keys && p == place),
            "no test presses `{keys}` ({place})"
        );
    }
    for (k, p) in PRESSED {
        assert!(
            rows.iter().any(|(keys, place)| keys == k && place == p),
            "`{k}` ({p}) is pressed but not in the README"
        );
    }
}

/// The number in "· N / M transitions": N, the cursor.
fn cursor_at(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.contains(" transitions"))?;
    let before = line.split(" / ").next()?;
    before.rsplit("· ").next()?.trim().parse().ok()
}

/// The picker's chosen row, by the name after `▶ `.
fn picked(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.contains("│▶ "))?;
    Some(
        line.split("│▶ ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .to_string(),
    )
}

/// The task the why line is about.
fn why_of(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with(" why: "))?;
    Some(line[" why: ".len()..].split(':').next()?.to_string())
}

/// The first line of the open popup shown, from its title.
fn popup_line(text: &str) -> Option<u64> {
    let title = text.lines().find(|l| l.contains("(Esc closes)"))?;
    title
        .split(" · lines ")
        .nth(1)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// The speed on the status line.
fn speed(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.contains(" speed "))?;
    Some(line.split(" speed ").nth(1)?.split('x').next()?.to_string())
}

/// Presses `keys` and waits until the screen shows what it should.
fn press_for(term: &mut Terminal, keys: &str, what: &str, cond: impl Fn(&str) -> bool) -> String {
    term.press(keys);
    term.wait_for(what, cond)
}

/// Presses `keys` and checks the screen stays as it was (the run paused).
fn press_for_nothing(term: &mut Terminal, keys: &str, before: &str) {
    term.press(keys);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(term.text(), before, "{keys:?} changed the screen");
}

#[test]
fn the_picker_keys_and_a_lesson_opened_from_it() {
    let _limit = crate::util::limit();
    let mut term = Terminal::start(&[]);
    term.wait_for("the picker", |t| {
        picked(t).as_deref() == Some("breakfast-sequential")
    });
    // ↓/j, ↑/k, PgDn, PgUp move the choice.
    press_for(&mut term, "\x1b[B", "↓", |t| {
        picked(t).as_deref() == Some("breakfast-concurrent")
    });
    press_for(&mut term, "j", "j", |t| {
        picked(t).as_deref() == Some("create-task")
    });
    press_for(&mut term, "\x1b[A", "↑", |t| {
        picked(t).as_deref() == Some("breakfast-concurrent")
    });
    press_for(&mut term, "k", "k", |t| {
        picked(t).as_deref() == Some("breakfast-sequential")
    });
    press_for(&mut term, "\x1b[6~", "PgDn", |t| {
        picked(t).is_some_and(|p| p != "breakfast-sequential")
    });
    press_for(&mut term, "\x1b[5~", "PgUp", |t| {
        picked(t).as_deref() == Some("breakfast-sequential")
    });
    // ? shows help; ? closes it.
    press_for(&mut term, "?", "help", |t| t.contains("help (Esc closes)"));
    press_for(&mut term, "?", "help closed", |t| {
        !t.contains("help (Esc closes)")
    });
    // Enter runs the choice; the key bar leads with the way back.
    press_for(&mut term, "\x1b[B", "↓", |t| {
        picked(t).as_deref() == Some("breakfast-concurrent")
    });
    // Its key bar drawn too (a read mid-redraw may have the picker's).
    let text = press_for(&mut term, "\r", "its run screen", |t| {
        t.contains("breakfast-concurrent ·")
            && t.lines()
                .last()
                .is_some_and(|l| l.starts_with("Esc lessons"))
    });
    let keys = text.lines().last().unwrap();
    assert!(
        keys.starts_with("Esc lessons ] next [ prev space pause n step"),
        "{text}"
    );
    // Esc: back to the lessons, at once; q quits from there.
    press_for(&mut term, "\x1b", "the picker again", |t| {
        t.contains("pick a scenario")
    });
    term.press("q");
    assert!(term.ended().success());
    // Esc and Ctrl-C quit the picker too.
    for quit in ["\x1b", "\x03"] {
        let mut term = Terminal::start(&[]);
        term.wait_for("the picker", |t| t.contains("pick a scenario"));
        term.press(quit);
        assert!(term.ended().success(), "{quit:?} quits the picker");
    }
}

#[test]
fn the_run_screen_keys_do_what_the_key_bar_says() {
    let _limit = crate::util::limit();
    let mut term = Terminal::start(&["run", "breakfast-concurrent", "--paused"]);
    term.wait_settled("the paused run screen", |t| {
        t.contains("PAUSED") && cursor_at(t).is_some()
    });
    // space resumes and pauses; n steps one poll.
    press_for(&mut term, " ", "LIVE", |t| t.contains(" LIVE "));
    term.press(" ");
    let text = term.wait_settled("paused", |t| {
        t.contains(" PAUSED ") && !t.contains("PAUSING")
    });
    let before = cursor_at(&text).unwrap();
    press_for(&mut term, "n", "a step", |t| {
        cursor_at(t).is_some_and(|n| n > before)
    });
    let text = term.wait_settled("the step", |t| {
        t.contains(" PAUSED ") && !t.contains("PAUSING")
    });
    let at = cursor_at(&text).unwrap();
    assert!(at >= 2, "{}", term.text());
    // ← back in history, → forward, Home to the oldest, End to the edge.
    press_for(&mut term, "\x1b[D", "←", |t| {
        t.contains("HISTORY") && cursor_at(t) == Some(at - 1)
    });
    press_for(&mut term, "\x1b[C", "→", |t| cursor_at(t) == Some(at));
    press_for(&mut term, "\x1b[D", "←", |t| cursor_at(t) == Some(at - 1));
    press_for(&mut term, "\x1b[H", "Home", |t| cursor_at(t) == Some(0));
    press_for(&mut term, "\x1b[F", "End", |t| {
        cursor_at(t) == Some(at) && !t.contains("HISTORY")
    });
    // + and = faster, - slower.
    press_for(&mut term, "+", "+", |t| speed(t).as_deref() == Some("0.25"));
    press_for(&mut term, "=", "=", |t| speed(t).as_deref() == Some("0.5"));
    press_for(&mut term, "-", "-", |t| speed(t).as_deref() == Some("0.25"));
    // z zooms in, x out; v shows the CPUs and back.
    let text = term.text();
    let title = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("┌ lanes"))
            .map(str::to_string)
    };
    let was = title(&text).unwrap();
    press_for(&mut term, "z", "z", |t| {
        title(t).is_some_and(|l| l.contains("(zoomed)") && l != was)
    });
    press_for(&mut term, "x", "x", |t| {
        title(t).is_some_and(|l| !l.contains("(zoomed)"))
    });
    press_for(&mut term, "v", "v", |t| {
        t.contains("│cpu ") || t.contains("(v: lanes by task)")
    });
    press_for(&mut term, "v", "v again", |t| {
        t.contains("│worker 0") && !t.contains("(v: lanes by task)")
    });
    // d folds the finished tasks, and shows them again.
    press_for(&mut term, "d", "d", |t| {
        t.contains("done, folded (d shows them)")
    });
    press_for(&mut term, "d", "d again", |t| {
        !t.contains("folded") && t.contains("tasks 3 of 3")
    });
    // ↓/j, ↑/k, PgDn, PgUp move the selection: the why line follows it.
    press_for(&mut term, "\x1b[5~", "PgUp", |t| {
        why_of(t).as_deref() == Some("eggs")
    });
    press_for(&mut term, "\x1b[B", "↓", |t| {
        why_of(t).as_deref() == Some("toast")
    });
    press_for(&mut term, "j", "j", |t| {
        why_of(t).as_deref() == Some("coffee")
    });
    press_for(&mut term, "k", "k", |t| {
        why_of(t).as_deref() == Some("toast")
    });
    press_for(&mut term, "\x1b[A", "↑", |t| {
        why_of(t).as_deref() == Some("eggs")
    });
    press_for(&mut term, "\x1b[6~", "PgDn", |t| {
        why_of(t).as_deref() == Some("coffee")
    });
    // Enter: the task's detail, at its top; Esc closes it.
    press_for(&mut term, "\r", "the detail", |t| {
        t.contains("task detail (Esc closes)") && t.contains("tokio id")
    });
    press_for(&mut term, "\x1b", "closed", |t| !t.contains("task detail"));
    // ? help, which scrolls: ↓/j ↑/k PgDn PgUp End Home; q, Enter, ? and Esc close it.
    press_for(&mut term, "?", "help", |t| popup_line(t) == Some(1));
    press_for(&mut term, "\x1b[B", "↓", |t| popup_line(t) == Some(2));
    press_for(&mut term, "j", "j", |t| popup_line(t) == Some(3));
    press_for(&mut term, "\x1b[A", "↑", |t| popup_line(t) == Some(2));
    press_for(&mut term, "k", "k", |t| popup_line(t) == Some(1));
    press_for(&mut term, "\x1b[6~", "PgDn", |t| {
        popup_line(t).is_some_and(|l| l > 10)
    });
    press_for(&mut term, "\x1b[5~", "PgUp", |t| popup_line(t) == Some(1));
    press_for(&mut term, "\x1b[F", "End", |t| {
        popup_line(t).is_some_and(|l| l > 15)
    });
    press_for(&mut term, "\x1b[H", "Home", |t| popup_line(t) == Some(1));
    for close in ["q", "\r", "?", "\x1b"] {
        press_for(&mut term, close, "the popup closed", |t| {
            !t.contains("(Esc closes)")
        });
        if close != "\x1b" {
            press_for(&mut term, "?", "help again", |t| {
                t.contains("help (Esc closes)")
            });
        }
    }
    // / filters by the words shown; Esc clears the filter, and stays.
    term.press("/");
    press_for(&mut term, "toast\r", "the filter", |t| {
        t.contains("tasks 1 of 3") && t.contains("filter: toast")
    });
    let text = press_for(&mut term, "\x1b", "the filter cleared", |t| {
        t.contains("tasks 3 of 3")
    });
    assert!(
        text.contains("breakfast-concurrent ·"),
        "Esc with a filter stays:\n{text}"
    );
    // Modified keys do nothing: Ctrl-R does not restart, Ctrl-Q does not
    // quit, Alt-q neither.
    let still = term.wait_settled("a still screen", |t| t.contains(" PAUSED"));
    press_for_nothing(&mut term, "\x12", &still);
    press_for_nothing(&mut term, "\x11", &still);
    press_for_nothing(&mut term, "\x1bq", &still);
    // r restarts (paused, as it was).
    press_for(&mut term, "r", "a new run", |t| {
        cursor_at(t).is_some_and(|n| n < at) && t.contains("t = 0 ms")
    });
    // ] the next lesson, [ the previous one.
    press_for(&mut term, "]", "the next lesson", |t| {
        t.contains("create-task ·")
    });
    press_for(&mut term, "[", "the previous lesson", |t| {
        t.contains("breakfast-concurrent ·")
    });
    // Esc: the lessons, even for a run opened directly.
    press_for(&mut term, "\x1b", "the picker", |t| {
        t.contains("pick a scenario")
    });
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn quit_keys_quit_from_the_run_screen_and_ctrl_c_from_a_popup() {
    let _limit = crate::util::limit();
    for (keys, what) in [
        ("q", "q"),
        ("\x03", "Ctrl-C"),
        ("?\x03", "Ctrl-C in the help"),
        ("\r\x03", "Ctrl-C in a detail"),
    ] {
        let mut term = Terminal::start(&["run", "create-task", "--paused"]);
        term.wait_for("the run screen", |t| t.contains("PAUSED"));
        term.press(keys);
        assert!(term.ended().success(), "{what} quits");
    }
}

#[test]
fn the_replay_keys_do_what_they_say() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.jsonl");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["run", "breakfast-concurrent", "--headless", "--events"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let path = file.to_str().unwrap();
    let mut term = Terminal::start(&["replay", path]);
    // It opens at the lesson's own pace.
    let text = term.wait_settled("the replay", |t| {
        t.contains("REPLAY · PAUSED") && cursor_at(t) == Some(0)
    });
    assert_eq!(speed(&text).as_deref(), Some("0.1"), "{text}");
    press_for(&mut term, " ", "playing", |t| {
        t.contains(" REPLAY ") && !t.contains("PAUSED")
    });
    press_for(&mut term, " ", "paused", |t| t.contains("REPLAY · PAUSED"));
    let at = cursor_at(&term.wait_settled("still", |t| t.contains("REPLAY · PAUSED"))).unwrap();
    press_for(&mut term, "n", "n", |t| cursor_at(t) == Some(at + 1));
    press_for(&mut term, "\x1b[C", "→", |t| cursor_at(t) == Some(at + 2));
    press_for(&mut term, "\x1b[D", "←", |t| cursor_at(t) == Some(at + 1));
    press_for(&mut term, "+", "+", |t| speed(t).as_deref() == Some("0.25"));
    press_for(&mut term, "=", "=", |t| speed(t).as_deref() == Some("0.5"));
    press_for(&mut term, "-", "-", |t| speed(t).as_deref() == Some("0.25"));
    let end = press_for(&mut term, "\x1b[F", "End", |t| {
        cursor_at(t).is_some_and(|n| n > 20)
    });
    let last = cursor_at(&end).unwrap();
    press_for(&mut term, "r", "r", |t| cursor_at(t) == Some(0));
    press_for(&mut term, "\x1b[F", "End", |t| cursor_at(t) == Some(last));
    press_for(&mut term, "\x1b[H", "Home", |t| cursor_at(t) == Some(0));
    press_for(&mut term, "\x1b[F", "End", |t| cursor_at(t) == Some(last));
    // The rows, the detail, the filter, the lanes, help.
    press_for(&mut term, "\x1b[5~", "PgUp", |t| {
        why_of(t).as_deref() == Some("eggs")
    });
    press_for(&mut term, "j", "j", |t| {
        why_of(t).as_deref() == Some("toast")
    });
    press_for(&mut term, "\x1b[B", "↓", |t| {
        why_of(t).as_deref() == Some("coffee")
    });
    press_for(&mut term, "k", "k", |t| {
        why_of(t).as_deref() == Some("toast")
    });
    press_for(&mut term, "\x1b[A", "↑", |t| {
        why_of(t).as_deref() == Some("eggs")
    });
    press_for(&mut term, "\x1b[6~", "PgDn", |t| {
        why_of(t).as_deref() == Some("coffee")
    });
    press_for(&mut term, "\r", "the detail", |t| {
        t.contains("task detail (Esc closes)")
    });
    press_for(&mut term, "\x1b", "closed", |t| !t.contains("task detail"));
    press_for(&mut term, "z", "z", |t| t.contains("lanes (zoomed)"));
    press_for(&mut term, "x", "x", |t| {
        t.contains("┌ lanes ") && !t.contains("(zoomed)")
    });
    press_for(&mut term, "v", "v", |t| {
        t.contains("(v: lanes by task)") || t.contains("│cpu ")
    });
    press_for(&mut term, "v", "v", |t| t.contains("│worker 0"));
    // At the end every task is done: d folds them all into one line.
    press_for(&mut term, "d", "d", |t| {
        t.contains("tasks 0 of 3 · 3 done, folded (d shows them)")
            && t.contains("done: coffee 1 · eggs 1 · toast 1")
    });
    press_for(&mut term, "d", "d again", |t| t.contains("tasks 3 of 3"));
    press_for(&mut term, "?", "help", |t| t.contains("help (Esc closes)"));
    press_for(&mut term, "\x1b", "closed", |t| !t.contains("(Esc closes)"));
    term.press("/");
    press_for(&mut term, "eggs\r", "the filter", |t| {
        t.contains("tasks 1 of 3")
    });
    press_for(&mut term, "\x1b", "the filter cleared", |t| {
        t.contains("tasks 3 of 3")
    });
    // Esc with no filter quits a replay; so do q and Ctrl-C.
    term.press("\x1b");
    assert!(term.ended().success());
    for quit in ["q", "\x03"] {
        let mut term = Terminal::start(&["replay", path]);
        term.wait_for("the replay", |t| t.contains("REPLAY"));
        term.press(quit);
        assert!(term.ended().success(), "{quit:?} quits a replay");
    }
}

#[test]
fn help_pauses_a_live_lesson_and_closing_it_resumes() {
    let _limit = crate::util::limit();
    let mut term = Terminal::start(&["run", "create-task"]);
    term.wait_for("the live run", |t| t.contains(" LIVE "));
    let text = press_for(&mut term, "?", "help", |t| {
        t.contains("help (Esc closes)") && t.contains(" PAUSED")
    });
    let paused_at = cursor_at(&text);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        cursor_at(&term.text()),
        paused_at,
        "nothing moves under the help"
    );
    press_for(&mut term, "\x1b", "live again", |t| {
        t.contains(" LIVE ") && !t.contains("(Esc closes)")
    });
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn the_next_lesson_key_says_stopping_at_once() {
    let _limit = crate::util::limit();
    let _one = ONE_LESSON_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    // At the lesson's pace its blocking job lasts 6 s, and cannot be
    // cancelled: stopping takes a moment.
    let mut term = Terminal::start(&["run", "spawn-blocking-rescue"]);
    term.wait_for("the blocking job", |t| {
        t.contains("▶ blocker/blocking") && t.contains(" LIVE ")
    });
    // Both the narration and the status line (a screen read mid-redraw,
    // on a loaded machine, may have one without the other yet).
    let text = press_for(&mut term, "]", "a word at once", |t| {
        (t.contains("stopping spawn-blocking-rescue") && t.contains("STOPPING"))
            || t.contains("breakfast-threads ·")
    });
    assert!(
        text.contains("stopping spawn-blocking-rescue…") && text.contains("STOPPING"),
        "{text}"
    );
    term.wait_for("the next lesson", |t| t.contains("breakfast-threads ·"));
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn a_paused_real_clock_run_stepped_never_blames_a_worker_for_the_pause() {
    let _limit = crate::util::limit();
    let _one = ONE_LESSON_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut term = Terminal::start(&["run", "spawn-blocking-rescue", "--paused"]);
    term.wait_for("the paused run", |t| {
        t.contains("PAUSED") && cursor_at(t).is_some()
    });
    let blame = |t: &str| t.contains("worker was busy") || t.contains("timer overdue");
    let mut seen_pause = false;
    let mut presses = 0;
    // Two steps, then the sleeper's timer comes due while the run is held
    // (its 100 ms are 2 s here, at the lesson's pace).
    for _ in 0..2 {
        let text = term.wait_for("the counter", |t| cursor_at(t).is_some());
        let before = cursor_at(&text).unwrap();
        term.press("n");
        term.wait_for("a step", |t| cursor_at(t).is_some_and(|n| n > before));
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        let text = term.text();
        assert!(!blame(&text), "blames a worker:\n{text}");
        seen_pause |= text.contains("due in the pause") || text.contains("paused when it was due");
        std::thread::sleep(Duration::from_millis(100));
    }
    // On to the end, one press at a time.
    loop {
        let text = term.text();
        assert!(!blame(&text), "blames a worker:\n{text}");
        seen_pause |= text.contains("due in the pause") || text.contains("paused when it was due");
        if text.contains(" DONE ") {
            break;
        }
        // Read mid-redraw (a loaded machine): read again.
        let Some(before) = cursor_at(&text) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        term.press("n");
        presses += 1;
        assert!(presses < 300, "never reached the end:\n{text}");
        term.wait_for("a press of n to move the counter", |t| {
            cursor_at(t).is_some_and(|n| n > before) || t.contains(" DONE ")
        });
        std::thread::sleep(Duration::from_millis(60));
    }
    assert!(seen_pause, "the screen says the pause made the timer late");
    term.press("q");
    assert!(term.ended().success());
}

/// Steals counted from an events file as the probe saw them: a task
/// polled on another worker than the one whose queue it was put in (by
/// the task that spawned or woke it, running there, or its own yield).
fn steals_in(events: &str) -> u64 {
    use std::collections::HashMap;
    let mut running: HashMap<u64, u64> = HashMap::new();
    let mut last: HashMap<u64, u64> = HashMap::new();
    let mut queued: HashMap<u64, u64> = HashMap::new();
    let mut yielded: HashMap<u64, bool> = HashMap::new();
    let mut steals = 0;
    for line in events.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(task) = v["idx"].as_u64() else {
            continue;
        };
        match v["state"].as_str().unwrap_or("") {
            "spawned" => {
                if let Some(w) = v["parent_idx"].as_u64().and_then(|p| running.get(&p)) {
                    queued.insert(task, *w);
                }
            }
            "running" => {
                let Some(w) = v["worker"].as_u64() else {
                    continue;
                };
                if running.contains_key(&task) {
                    continue;
                }
                if queued.remove(&task).is_some_and(|q| q != w) {
                    steals += 1;
                }
                running.insert(task, w);
                last.insert(task, w);
            }
            state => {
                running.remove(&task);
                if state == "ready" {
                    let by = v["by_idx"].as_u64().and_then(|b| running.get(&b).copied());
                    let own = yielded.get(&task).copied().unwrap_or(false);
                    match by.or(if own { last.get(&task).copied() } else { None }) {
                        Some(w) => queued.insert(task, w),
                        None => queued.remove(&task),
                    };
                }
                yielded.insert(task, state == "waiting" && v["wait"] == "yield");
            }
        }
    }
    steals
}

/// "steals so far N" on the screen.
fn steals_shown(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.contains("steals so far "))?;
    line.split("steals so far ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn the_steals_on_screen_are_the_steals_in_the_events_every_time() {
    let _limit = crate::util::limit();
    let _one = ONE_LESSON_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut some = 0;
    for run in 0..10 {
        let file = dir.path().join(format!("run{run}.jsonl"));
        let mut term = Terminal::start(&[
            "run",
            "work-stealing",
            "--speed",
            "1",
            "--events",
            file.to_str().unwrap(),
        ]);
        let text = term.wait_for("the end", |t| {
            t.contains(" DONE ") && steals_shown(t).is_some()
        });
        term.press("q");
        assert!(term.ended().success());
        let events = std::fs::read_to_string(&file).unwrap();
        let counted = steals_in(&events);
        assert_eq!(steals_shown(&text), Some(counted), "run {run}:\n{text}");
        some += u64::from(counted > 0);
    }
    assert!(some > 0, "the lesson shows steals at all");
}

#[test]
fn keys_pressed_faster_than_the_screen_draws_never_queue_behind_it() {
    let _limit = crate::util::limit();
    // A detail of ten thousand tasks' history is slow to draw; six
    // thousand presses, drawn one by one, kept a screen busy for half a
    // minute. Taken together, the quit right after them is prompt (the
    // limit only guards against a hang).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.jsonl");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["run", "many-tasks", "--headless", "--events"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut term = Terminal::start(&["replay", file.to_str().unwrap()]);
    term.wait_for("the replay", |t| t.contains("REPLAY"));
    term.press("\x1b[F");
    term.wait_for("its end", |t| t.contains("tasks 10000 of 10000"));
    press_for(&mut term, "\r", "a task's detail", |t| {
        t.contains("task detail")
    });
    let presses = "j".repeat(6000);
    let start = Instant::now();
    term.press(&presses);
    term.press("\x1b");
    std::thread::sleep(Duration::from_millis(200));
    term.press("q");
    assert!(term.ended().success());
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "6000 presses took {:?} to get through",
        start.elapsed()
    );
}

/// A restart the limits refuse at the speed chosen (40 s of sleep at 0.01x
/// is 66 min, past the scenario time limit) keeps the run on screen, with
/// why; the run is not lost and `q` still quits.
#[test]
fn a_refused_restart_keeps_the_run_on_screen_and_says_why() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.toml");
    std::fs::write(
        &path,
        "name = \"long-nap\"\ndescription = \"One long nap.\"\n[runtime]\nclock = \"real\"\n\
         [[task]]\nname = \"napper\"\nsteps = [ { sleep = \"40s\" } ]\n",
    )
    .unwrap();
    let mut term = Terminal::start(&["run", path.to_str().unwrap(), "--speed", "1"]);
    term.wait_for("the run screen", |t| {
        t.contains("napper") && t.contains("lanes")
    });
    for expected in ["0.5", "0.25", "0.1", "0.05", "0.02", "0.01"] {
        // The real clock cannot change pace mid-run: a restart takes it.
        press_for(&mut term, "-", expected, |t| {
            t.contains(&format!("(r restarts at {expected}x)"))
        });
    }
    let text = press_for(&mut term, "r", "the refusal", |t| {
        t.contains("not started: at speed 0.01 it would last 4000.00 s; the scenario time limit")
    });
    assert!(
        text.contains("long-nap") && text.contains("napper"),
        "{text}"
    );
    term.press("q");
    assert!(term.ended().success());
}

#[test]
fn a_server_on_the_dashboard_keeps_its_logs_off_the_screen_and_q_runs_its_own_shutdown() {
    let _limit = common::limit_of(Duration::from_secs(300));
    let server = crate::own_crate::built().join("server");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let script = format!("RUST_LOG=info exec '{}' --port {port}", server.display());
    let mut term = Terminal::start_program(std::path::Path::new("/bin/sh"), &["-c", &script]);
    term.wait_for("the dashboard with main waiting", |t| {
        t.contains("taskscope · server") && t.contains("‖ main")
    });
    let mut client =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("its own port, its own flag");
    // Its connection waits for the first line; the line's wake says io.
    term.wait_for("the connection waiting for its first line", |t| {
        t.lines()
            .any(|l| l.contains("src…server.rs:38") && l.contains("waiting (other)"))
    });
    client.write_all(b"PING\n").unwrap();
    let mut pong = [0u8; 5];
    client.read_exact(&mut pong).unwrap();
    // Its connection reads its socket again: io, by its spawn place, and
    // no lesson's "connecting".
    let text = term.wait_for("a connection waiting on its socket", |t| {
        t.contains("tasks 2 of 2")
            && t.lines()
                .any(|l| l.contains("src…server.rs:38") && l.contains("waiting (io)"))
    });
    assert!(!text.contains("connecting"), "{text}");
    // Its lane draws how much of each column it ran: a connection that
    // answered one line in a moment is no solid block.
    term.wait_for("the connection's lane drawn by share", |t| {
        t.lines()
            .find(|l| l.contains("src/bin…:38"))
            .is_some_and(|lane| lane.contains('▁') && !lane.contains('█'))
    });
    // Past 100 finished connections, the finished ones fold into a count:
    // the live ones are what the table shows.
    for _ in 0..101 {
        drop(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    }
    term.wait_for("the finished connections folded", |t| {
        t.contains("tasks 2 of 103 · 101 done, folded (d shows them)")
            && t.contains("done: src/bin/server.rs:38 101")
    });
    assert!(
        !text.contains("listening on") && !text.contains("INFO"),
        "the program's log wrote over the dashboard:\n{text}"
    );
    // q asks the program to stop as Ctrl-C does: its own shutdown runs,
    // and its logs, held while the dashboard was open, come out in order.
    term.press("q");
    let after = term.wait_for("its shutdown's last log line", |t| {
        t.contains("all connections closed")
    });
    let at = |line: &str| {
        after
            .find(line)
            .unwrap_or_else(|| panic!("no {line:?} after the dashboard closed:\n{after}"))
    };
    assert!(at(&format!("listening on 127.0.0.1:{port}")) < at("shutting down gracefully"));
    assert!(at("shutting down gracefully") < at("all connections closed"));
    let status = term.ended();
    assert!(status.success(), "{status:?}\n{after}");
}
