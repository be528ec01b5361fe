//! The real binary in a pseudo-terminal: open paused, step, resume, quit,
//! resize, signals; and the terminal found as it was each time. The screen
//! is read through a terminal emulator (vt100), as a person would see it.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

struct Terminal {
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
        let pair = native_pty_system().openpty(size(35, 120)).unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_taskscope"));
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
        let mut text = self.wait_for(what, &cond);
        loop {
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
            parser,
            writer,
            mut child,
            master,
            reading,
        } = self;
        let status = child.wait().unwrap();
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
    let mut term = Terminal::start(&[
        "run",
        "breakfast-concurrent",
        "--paused",
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
    let after = term.wait_settled("a step", |t| states(t) != states(&first));
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
        t.contains("DONE") && t.contains("all 3 tasks done")
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
fn sigterm_ends_the_dashboard_and_restores_the_terminal() {
    let term = Terminal::start(&["run", "many-tasks"]);
    term.wait_for("the run screen", |t| {
        t.contains("tasks") && t.contains("lanes")
    });
    term.signal(libc::SIGTERM);
    term.ended();
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
