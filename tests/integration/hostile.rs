//! Hostile files (issue 11): every attack of the issue's table, run through
//! the real binary under a 1 GiB address-space limit and a deadline that
//! kills it (10 s on an optimized build with two free CPUs, scaled to this
//! build and machine). Each gives exit 0 with a correct result or exit 2 with a
//! message naming the file and line (and column for scenarios); never a
//! panic, an abort, a hang, an escape sequence on the terminal, or a file
//! replaced or left half-written.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use taskscope::app::{App, Message, Session};
use taskscope::keys::Key;
use taskscope::scenario::{MAX_PROCESSES, MAX_THREADS};

use crate::util as common;

const ADDRESS_SPACE: u64 = 1 << 30;
/// How long one run may take, on the reference machine (see `deadline`).
const DEADLINE: Duration = Duration::from_secs(10);

fn deadline() -> Duration {
    common::deadline(DEADLINE)
}

/// What one run of the binary gave.
struct Ran {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Ran {
    fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    /// Exit 2 with a message naming `at` (`file:line:` or `file:line:col:`).
    fn invalid(&self, at: &str, saying: &str) {
        assert_eq!(self.code, 2, "expected exit 2; stderr: {}", self.stderr);
        assert!(
            self.stderr.contains(at),
            "expected {at:?} in: {}",
            self.stderr
        );
        assert!(
            self.stderr.contains(saying),
            "expected {saying:?} in: {}",
            self.stderr
        );
    }

    fn ok(&self) -> String {
        assert_eq!(self.code, 0, "expected exit 0; stderr: {}", self.stderr);
        self.out()
    }
}

/// Runs the binary with `args` under the address-space limit, killing it
/// (and failing) past the deadline; `watch` sees its pid while it runs.
fn run_with(
    args: &[&str],
    dir: &Path,
    configure: impl FnOnce(&mut Command),
    mut watch: impl FnMut(u32),
) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskscope"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut cmd);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: ADDRESS_SPACE,
                rlim_max: ADDRESS_SPACE,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // One child at a time: the deadline measures the child, not its
    // neighbours (test threads run side by side on a small machine).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut child = cmd.spawn().expect("the binary starts");
    let pid = child.id();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = pipe.read_to_end(&mut v);
            v
        })
    };
    let out = child.stdout.take().map(|p| drain(Box::new(p)));
    let err = child.stderr.take().map(|p| drain(Box::new(p)));
    let start = Instant::now();
    let deadline = deadline();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("taskscope {args:?} did not finish within {deadline:?}: a hang");
        }
        watch(pid);
        std::thread::sleep(Duration::from_millis(2));
    };
    let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.map(|h| h.join().expect("reader")).unwrap_or_default()
    };
    let stdout = join(out);
    let stderr = String::from_utf8_lossy(&join(err)).into_owned();
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.signal().is_none(),
        "taskscope {args:?} died of signal {:?} (an abort?); stderr: {stderr}",
        status.signal()
    );
    for sign in [
        // A Rust panic's words ("panicked" alone is also an outcome).
        "panicked at",
        "internal error",
        "RUST_BACKTRACE",
        "memory allocation",
    ] {
        assert!(!stderr.contains(sign), "{args:?}: {sign} in: {stderr}");
    }
    Ran {
        code: status.code().expect("an exit code"),
        stdout,
        stderr,
    }
}

fn run(args: &[&str], dir: &Path) -> Ran {
    run_with(args, dir, |_| {}, |_| {})
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

const HEADER: &str = r#"{"t_ms":0,"state":"run","format":1,"scenario":"x","runtime":{"flavor":"current_thread","workers":1,"clock":"virtual"}}"#;

fn spawned(t: f64, idx: u64, name: &str) -> String {
    format!(r#"{{"t_ms":{t},"task":"{name}","id":1,"state":"spawned","idx":{idx},"step":0}}"#)
}

fn log(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn a_spawned_idx_of_u32_max_or_ten_million_replays_one_task_in_no_time() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    for idx in [4_294_967_295u64, 10_000_000] {
        let end = r#"{"t_ms":1,"state":"end","events_dropped":0}"#.to_string();
        let name = write(
            dir.path(),
            "idx.jsonl",
            log(&[HEADER.into(), spawned(0.0, idx, "lonely"), end]),
        );
        assert!(std::fs::metadata(dir.path().join(&name)).unwrap().len() < 300);
        let text = run(&["replay", &name, "--headless"], dir.path()).ok();
        assert!(
            text.contains("1 task\n") && text.contains("lonely"),
            "{text}"
        );
        let json = run(&["replay", &name, "--json"], dir.path()).ok();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["tasks"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn header_worker_counts_out_of_range_are_exit_2_on_line_1() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    for workers in ["18446744073709551615", "1e8", "0", "65"] {
        let header = format!(
            r#"{{"t_ms":0,"state":"run","runtime":{{"flavor":"multi_thread","workers":{workers},"clock":"real"}}}}"#
        );
        let name = write(dir.path(), "w.jsonl", format!("{header}\n"));
        run(&["replay", &name, "--headless"], dir.path()).invalid("w.jsonl:1: ", "");
    }
}

#[test]
fn dev_zero_is_refused_at_the_size_limit_not_read_until_memory_runs_out() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    run(&["replay", "/dev/zero", "--headless"], dir.path()).invalid("/dev/zero:1: ", "longer");
    run(&["check", "/dev/zero"], dir.path()).invalid("/dev/zero:1:1: ", "larger");
    // A file past the size limit (sparse: it takes no room) is refused
    // before a byte of it is read.
    let limit = taskscope::recording::MAX_LOG_BYTES;
    std::fs::File::create(dir.path().join("big.jsonl"))
        .unwrap()
        .set_len(limit + 1)
        .unwrap();
    run(&["replay", "big.jsonl", "--headless"], dir.path()).invalid(
        "big.jsonl:1: ",
        &format!(
            "the file is {} bytes; at most {limit} are replayed",
            limit + 1
        ),
    );
}

#[test]
fn a_spawn_chain_40000_deep_and_an_80000_join_chain_check_in_time() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let mut spawns = String::from("name = \"spawn-chain\"\n");
    for i in 0..40_000 {
        let step = if i + 1 < 40_000 {
            format!("{{ spawn = \"t{}\" }}", i + 1)
        } else {
            "{ yield = true }".into()
        };
        let auto = if i == 0 { "" } else { "autostart = false\n" };
        spawns.push_str(&format!(
            "[[task]]\nname = \"t{i}\"\n{auto}steps = [{step}]\n"
        ));
    }
    let mut joins = String::from("name = \"join-chain\"\n");
    for i in 0..80_000 {
        let step = if i + 1 < 80_000 {
            format!("{{join=\"{}\"}}", i + 1)
        } else {
            "{yield=true}".into()
        };
        joins.push_str(&format!("[[task]]\nname=\"{i}\"\nsteps=[{step}]\n"));
    }
    for (name, text) in [("spawn-chain.toml", &spawns), ("join-chain.toml", &joins)] {
        assert!(
            text.len() < taskscope::scenario::MAX_FILE_BYTES,
            "{name} is under the limit"
        );
        write(dir.path(), name, text);
        let out = run(&["check", name], dir.path()).ok();
        assert!(out.contains(": ok ("), "{out}");
    }
    // And the chain runs: every task started, none stopped early.
    let table = run(&["run", "spawn-chain.toml", "--headless"], dir.path()).ok();
    assert!(table.contains(", 40000 tasks"), "{table}");
    assert!(
        !table.contains("stopped early") && !table.contains("cancelled"),
        "{table}"
    );
}

/// A scenario with escape sequences in every text a file can hold: the
/// window title (OSC 0), the clipboard (OSC 52), clear screen, a C1 CSI,
/// BEL, bidi controls, a noncharacter, and wide characters. (ratatui drops
/// control characters itself, but not bidi controls: those show whether
/// the dashboard's text went through the sanitizer.)
const ESCAPES: &str = r#"name = "lesson\u001b]0;pwned\u0007\u001b[2J"
description = """Evil \u001b]52;c;aGVsbG8=\u0007 text \u009b31m and \u202e reversed \u001b[2J"""
[[channel]]
name = "orders\u001b[2J\u009b"
[[mutex]]
name = "stove\u001b]0;pwned\u0007"
[[task]]
name = "\u202e\u001b]0;pwned\u0007eggs that are long"
steps = [
  { lock = "stove\u001b]0;pwned\u0007", note = "crack \u001b]52;c;aGVsbG8=\u0007 \u0001 \ufffe \u009b2J" },
  { cpu = "5ms", note = "wide 漢字漢字漢字漢字 \u202e" },
  { unlock = "stove\u001b]0;pwned\u0007" },
  { send = "orders\u001b[2J\u009b" },
]
[[task]]
name = "漢字漢字漢字漢字漢字\u2066\u009b"
steps = [
  { recv = "orders\u001b[2J\u009b", note = "wait \u001b[2J \u202e" },
  { sleep = "2ms" },
  { fail = "burnt \u001b]0;pwned\u0007 \u001b]52;c;aGVsbG8=\u0007 \u009b2J \u2067" },
]
"#;

/// ESC, BEL or a C1 control (or bytes that are not UTF-8), if any.
fn steering(bytes: &[u8]) -> Option<String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some("bytes that are not UTF-8".into());
    };
    text.chars()
        .find(|&c| c == '\u{1b}' || c == '\u{7}' || ('\u{80}'..='\u{9f}').contains(&c))
        .map(|c| format!("{c:?} in {text:?}"))
}

fn assert_clean(what: &str, bytes: &[u8]) {
    if let Some(found) = steering(bytes) {
        panic!("{what}: {found}");
    }
}

#[test]
fn escape_sequences_from_a_file_reach_no_output_and_the_svg_parses() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let name = write(d, "escapes.toml", ESCAPES);
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("check", vec!["check", &name]),
        (
            "headless",
            vec![
                "run",
                &name,
                "--headless",
                "--events",
                "e.jsonl",
                "--trace",
                "t.json",
                "--svg",
                "s.svg",
            ],
        ),
        ("json", vec!["run", &name, "--json"]),
        ("compare", vec!["compare", &name]),
        ("compare json", vec!["compare", &name, "--json"]),
        ("list", vec!["list"]),
        ("list json", vec!["list", "--json"]),
        ("screenshot", vec!["screenshot", &name, "3", "shot.svg"]),
    ];
    for (what, args) in &runs {
        let ran = run(args, d);
        assert_eq!(ran.code, 0, "{what}: {}", ran.stderr);
        assert_clean(&format!("{what} stdout"), &ran.stdout);
        assert_clean(&format!("{what} stderr"), ran.stderr.as_bytes());
    }
    // The lesson's own text is there, made visible, and the table aligned.
    let table = run(&["run", &name, "--headless"], d).ok();
    assert!(table.contains("\\u{1b}]0;pwned\\u{7}"), "{table}");
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == "ok" || w == "panicked"))
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    // After the name's 16 columns, both rows go on alike: " " and the figures.
    let after_name = |row: &str| {
        let mut used = 0;
        let at = row
            .char_indices()
            .find(|(_, c)| {
                used += taskscope::text::width(&c.to_string());
                used > 16
            })
            .map_or(row.len(), |(i, _)| i);
        let rest = &row[at..];
        rest.len() - rest.trim_start().len()
    };
    assert_eq!(
        after_name(rows[0]),
        after_name(rows[1]),
        "columns line up:\n{table}"
    );
    assert!(after_name(rows[0]) > 1, "{table}");
    for file in ["e.jsonl", "t.json", "s.svg", "shot.svg"] {
        assert_clean(file, &std::fs::read(d.join(file)).unwrap());
    }
    for svg in ["s.svg", "shot.svg"] {
        let text = std::fs::read_to_string(d.join(svg)).unwrap();
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{svg} does not parse: {e}"));
    }
    // The JSON files keep the exact text (escaped, so no raw byte).
    let events = std::fs::read_to_string(d.join("e.jsonl")).unwrap();
    assert!(events.contains(r"\u001b]0;pwned\u0007eggs"), "{events}");
    // An error message quoting the file's text is clean too.
    let broken = ESCAPES.replace("{ unlock = \"stove", "{ unlock = \"oven");
    let name = write(d, "broken.toml", broken);
    let ran = run(&["check", &name], d);
    ran.invalid("broken.toml:12:", "unknown mutex");
    assert_clean("check error", ran.stderr.as_bytes());
    // Replayed: the headless table, and the dashboard at every moment.
    let ran = run(&["replay", "e.jsonl", "--headless"], d);
    assert_clean("replay", &ran.stdout);
    assert!(ran.ok().contains("panic: burnt"));
    let scenario = Arc::new(common::inline(ESCAPES));
    let file = std::io::BufReader::new(std::fs::File::open(d.join("e.jsonl")).unwrap());
    let log = taskscope::recording::read("e.jsonl", file).unwrap();
    let mut session = Some(Session::replay(scenario, log));
    let end = session.as_ref().unwrap().history.len();
    for pos in 0..=end {
        let mut shown = session.take().unwrap();
        shown.history.seek(pos);
        let mut app = App::with_session(shown);
        for (w, h) in [(140, 35), (60, 16)] {
            assert_frame_clean(&format!("pos {pos} at {w}x{h}"), &app, w, h);
        }
        app.update(Message::Key(Key::Enter));
        assert_frame_clean(&format!("pos {pos}, task detail"), &app, 120, 35);
        app.update(Message::Key(Key::Esc));
        session = app.session.take();
    }
    // And the names are drawn, made visible, not dropped.
    let mut app = App::with_session(session.unwrap());
    app.update(Message::Key(Key::Enter));
    let mut terminal = Terminal::new(TestBackend::new(140, 35)).unwrap();
    terminal.draw(|f| f.render_widget(&app, f.area())).unwrap();
    let frame = terminal.backend().to_string();
    assert!(frame.contains("\\u{202e}\\u{1b}]0;pwned"), "{frame}");
}

#[test]
fn a_replay_of_a_hundred_thousand_tasks_running_at_once_draws_in_time() {
    let _limit = crate::util::limit();
    // Every task "running" on the one worker, none ever leaving: a file
    // the checker accepts, and one that made the lanes search a list of
    // every running task per event (minutes a frame, keys and signals
    // unanswered).
    const TASKS: usize = 100_000;
    let mut text = String::from(
        "{\"t_ms\":0,\"state\":\"run\",\"format\":1,\"scenario\":\"m\",\
         \"runtime\":{\"flavor\":\"current_thread\",\"workers\":1,\"clock\":\"virtual\"}}\n",
    );
    for i in 0..TASKS {
        text.push_str(&format!(
            "{{\"t_ms\":0,\"task\":\"t{i}\",\"id\":{},\"state\":\"spawned\",\"idx\":{i}}}\n",
            i + 1
        ));
    }
    for i in 0..TASKS {
        text.push_str(&format!(
            "{{\"t_ms\":1,\"state\":\"running\",\"idx\":{i},\"worker\":0}}\n"
        ));
    }
    text.push_str("{\"t_ms\":2,\"state\":\"end\"}\n");
    let log = taskscope::recording::read("m.jsonl", text.as_bytes()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let scenario = Arc::new(common::inline(
            "name = \"m\"\n[[task]]\nname = \"t\"\nsteps = [ { yield = true } ]\n",
        ));
        let mut app = App::with_session(Session::replay(scenario, log));
        app.update(Message::Key(Key::End));
        let mut terminal = Terminal::new(TestBackend::new(120, 35)).unwrap();
        terminal.draw(|f| f.render_widget(&app, f.area())).unwrap();
        let _ = tx.send(terminal.backend().to_string());
    });
    let frame = rx
        .recv_timeout(deadline())
        .expect("the frame at the end is drawn within the deadline");
    assert!(frame.contains("200000 / 200000 transitions"), "{frame}");
}

fn assert_frame_clean(what: &str, app: &App, w: u16, h: u16) {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| f.render_widget(app, f.area())).unwrap();
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        let symbol = cell.symbol();
        assert!(
            !symbol.chars().any(taskscope::text::is_hidden),
            "{what}: {symbol:?} drawn in:\n{}",
            terminal.backend()
        );
    }
}

#[test]
fn control_characters_in_a_note_give_an_svg_that_parses() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let name = write(
        dir.path(),
        "note.toml",
        "name = \"n\"\n[[task]]\nname = \"t\"\nsteps = [ { sleep = \"1ms\", note = \"a\\u0001b\\u001bc\\ufffed<&>'\\\"\" } ]\n",
    );
    run(&["run", &name, "--headless", "--svg", "n.svg"], dir.path()).ok();
    let text = std::fs::read_to_string(dir.path().join("n.svg")).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the SVG parses");
    let note = doc
        .descendants()
        .filter_map(|n| n.text())
        .find(|t| t.starts_with('a') && t.contains('<'))
        .expect("the note is drawn");
    assert_eq!(note, "a\\u{1}b\\u{1b}c\\u{fffe}d<&>'\"");
}

#[test]
fn the_temporary_file_is_created_new_and_never_follows_what_sits_at_its_name() {
    let _limit = crate::util::limit();
    use taskscope::export::{AtomicFile, create_new};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let victim = d.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    // A link to a file, a dangling link, and a plain file at chosen names.
    std::os::unix::fs::symlink(&victim, d.join("to-victim")).unwrap();
    std::os::unix::fs::symlink(d.join("nowhere"), d.join("dangling")).unwrap();
    std::fs::write(d.join("plain"), "mine").unwrap();
    for name in ["to-victim", "dangling", "plain"] {
        let err = create_new(&d.join(name)).expect_err("an existing name is never opened");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists, "{name}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        !d.join("nowhere").exists(),
        "the dangling link was not followed"
    );
    assert_eq!(std::fs::read_to_string(d.join("plain")).unwrap(), "mine");
    // Temporary names are random, beside the target, and new each time.
    let target = d.join("e.jsonl");
    let a = AtomicFile::create(&target).unwrap();
    let b = AtomicFile::create(&target).unwrap();
    let (ta, tb) = (a.temp_path().unwrap(), b.temp_path().unwrap());
    assert_ne!(ta, tb);
    for t in [ta, tb] {
        assert_eq!(t.parent(), Some(d));
        let n = t.file_name().unwrap().to_string_lossy();
        assert!(n.starts_with(".e.jsonl.") && n.ends_with(".tmp"), "{n}");
        assert!(std::fs::symlink_metadata(t).unwrap().file_type().is_file());
    }
    drop((a, b));
    // A link planted at the target itself is neither written through nor
    // replaced: refused, the link and its target as they were.
    let planted = d.join("planted.jsonl");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let err = AtomicFile::create(&planted)
        .err()
        .expect("a link is refused");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        std::fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Nothing is left behind: only what the test made.
    let mut left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["dangling", "plain", "planted.jsonl", "to-victim", "victim"]
    );
}

fn is_char_device(p: &Path) -> bool {
    std::fs::metadata(p).unwrap().file_type().is_char_device()
}

/// A device to write to: a copy of `/dev/NAME` made with mknod in `dir`
/// where that is allowed (root), else `/dev/NAME` itself, which only root
/// could replace. So a regression can never clobber the machine's own
/// /dev/null; as root without mknod the device cases cannot be tried
/// safely, and None says so.
fn device(dir: &Path, name: &str, major: u32, minor: u32) -> Option<String> {
    let copy = dir.join(name);
    let c = std::ffi::CString::new(copy.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; mknod only creates a node; getuid reads.
    #[allow(unsafe_code)]
    let (made, root) = unsafe {
        (
            libc::mknod(
                c.as_ptr(),
                libc::S_IFCHR | 0o666,
                libc::makedev(major, minor),
            ) == 0,
            libc::getuid() == 0,
        )
    };
    match (made, root) {
        (true, _) => Some(name.to_string()),
        (false, false) => Some(format!("/dev/{name}")),
        (false, true) => None,
    }
}

#[test]
fn a_device_or_fifo_given_as_output_is_written_in_place_and_stays_what_it_was() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events = |target: &str| {
        run(
            &[
                "run",
                "breakfast-concurrent",
                "--headless",
                "--events",
                target,
            ],
            d,
        )
    };
    // A FIFO: a reader gets every line, and the FIFO is still a FIFO.
    let fifo = d.join("fifo");
    crate::util::make_fifo(&fifo);
    let path = fifo.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(std::fs::read_to_string(path).unwrap()));
    events("fifo").ok();
    let lines = rx
        .recv_timeout(deadline())
        .expect("the FIFO's reader got the events (the FIFO was not replaced)");
    assert!(
        lines.lines().last().unwrap().contains("\"state\":\"end\""),
        "{lines}"
    );
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let (Some(null), Some(full)) = (device(d, "null", 1, 3), device(d, "full", 1, 7)) else {
        common::skipped(
            "the /dev/null and /dev/full cases: root without mknod here, so no copy of the \
             devices can be made, and the machine's own /dev/null is not risked",
        );
        return;
    };
    // A null device: the run succeeds and the node is still a device.
    assert!(events(&null).ok().contains("eggs"));
    assert!(is_char_device(&d.join(&null)));
    // A full device: the run says which file failed, exit 1, still a device.
    let ran = events(&full);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!("{full}: No space left")),
        "{}",
        ran.stderr
    );
    assert!(is_char_device(&d.join(&full)));
    // Only what the test made is there: no temporary file left.
    let left = std::fs::read_dir(d).unwrap().count();
    let made = [&null, &full]
        .iter()
        .filter(|p| !p.starts_with('/'))
        .count();
    assert_eq!(left, 1 + made, "no temporary file left");
}

#[test]
fn outputs_on_one_file_or_onto_the_scenario_are_refused_before_the_run() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = std::fs::read_to_string("scenarios/breakfast-concurrent.toml").unwrap();
    let name = write(d, "lesson.toml", &scenario);
    let ran = run(
        &["run", &name, "--headless", "--events", "x", "--trace", "x"],
        d,
    );
    ran.invalid("--events x and --trace x are the same file", "");
    assert!(ran.stdout.is_empty(), "nothing ran");
    assert!(!d.join("x").exists());
    std::fs::write(d.join("x"), "keep").unwrap();
    run(
        &["run", &name, "--headless", "--svg", "./x", "--trace", "x"],
        d,
    )
    .invalid("the same file", "");
    std::fs::hard_link(d.join("lesson.toml"), d.join("alias.toml")).unwrap();
    for target in ["lesson.toml", "./lesson.toml", "alias.toml"] {
        let ran = run(&["run", &name, "--headless", "--events", target], d);
        ran.invalid(&format!("--events {target} is the scenario file"), "");
        assert!(ran.stdout.is_empty());
    }
    assert_eq!(
        std::fs::read_to_string(d.join("lesson.toml")).unwrap(),
        scenario
    );
    assert_eq!(std::fs::read_to_string(d.join("x")).unwrap(), "keep");
    let ran = run(&["screenshot", &name, "5", "lesson.toml"], d);
    ran.invalid("is the scenario file", "");
    // The program's own executable is an input too.
    let exe = env!("CARGO_BIN_EXE_taskscope");
    let ran = run(&["run", &name, "--headless", "--events", exe], d);
    ran.invalid("is this program's own executable", "");
}

#[test]
fn a_symbolic_link_as_output_is_neither_written_through_nor_replaced() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("target.txt"), "keep").unwrap();
    std::os::unix::fs::symlink("target.txt", d.join("link.jsonl")).unwrap();
    std::os::unix::fs::symlink("nowhere.txt", d.join("dangling.jsonl")).unwrap();
    for link in ["link.jsonl", "dangling.jsonl"] {
        let ran = run(
            &["run", "blocking-the-loop", "--headless", "--events", link],
            d,
        );
        ran.invalid(&format!("--events {link}"), "symbolic link");
        assert!(ran.stdout.is_empty(), "nothing ran");
        let kept = std::fs::symlink_metadata(d.join(link)).unwrap();
        assert!(kept.file_type().is_symlink(), "{link} is still a link");
    }
    assert_eq!(
        std::fs::read_to_string(d.join("target.txt")).unwrap(),
        "keep"
    );
    assert!(!d.join("nowhere.txt").exists());
    // A name as long as a file name can be still gets its temporary file.
    let long = "a".repeat(250);
    run(
        &["run", "blocking-the-loop", "--headless", "--events", &long],
        d,
    )
    .ok();
    assert!(d.join(&long).is_file());
}

#[test]
fn an_argument_with_escape_sequences_is_refused_and_never_echoed_raw() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["\u{1b}]2;pwned\u{7}"],
        vec!["run", "--clock=\u{1b}[2J", "blocking-the-loop"],
        vec![
            "run",
            "blocking-the-loop",
            "--events",
            "a\u{1b}]52;c;eA==\u{7}b",
        ],
    ] {
        let ran = run(&args, dir.path());
        assert_eq!(ran.code, 2, "{args:?}");
        assert_clean(&format!("{args:?}"), ran.stderr.as_bytes());
        assert!(
            ran.stderr.contains("\\u{1b}"),
            "the value named, escaped: {}",
            ran.stderr
        );
        assert!(ran.stdout.is_empty());
    }
}

#[test]
fn a_folder_as_output_is_refused_before_the_run_leaving_nothing() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (target, saying) in [
        ("newdir/", "ends in `/`"),
        ("nodir/e.jsonl", "the folder nodir does not exist"),
        (".", "names a folder"),
    ] {
        let ran = run(
            &[
                "run",
                "breakfast-concurrent",
                "--headless",
                "--events",
                target,
            ],
            d,
        );
        ran.invalid(&format!("--events {target}: "), saying);
        assert!(ran.stdout.is_empty(), "{target}: nothing ran");
    }
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 0, "no file left");
    // A folder this user may not write to (run unprivileged when root).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = d.join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let target = ro.join("e.jsonl");
    let target = target.to_str().unwrap();
    let mut dropped = true;
    let ran = run_with(
        &[
            "run",
            "breakfast-concurrent",
            "--headless",
            "--events",
            target,
        ],
        d,
        |cmd| dropped = unprivileged(cmd),
        |_| {},
    );
    if !dropped {
        return;
    }
    ran.invalid(
        &format!("--events {target}: cannot write there"),
        "Permission denied",
    );
    assert!(ran.stdout.is_empty(), "nothing ran");
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
}

#[test]
fn nested_repeats_of_cpu_are_refused_by_check_with_the_limit_named() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let name = write(
        dir.path(),
        "spin.toml",
        "name = \"spin\"\n[[task]]\nname = \"spin\"\nsteps = [ { repeat = 10000000, steps = [ { repeat = 10000000, steps = [ { cpu = \"60m\" } ] } ] } ]\n",
    );
    run(&["check", &name], dir.path()).invalid("spin.toml:3:8: ", "step limit");
    let ran = run(&["run", &name, "--headless"], dir.path());
    ran.invalid("spin.toml:3:8: ", "limit");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // Fewer steps, still hours of work: the work limit.
    let name = write(
        dir.path(),
        "work.toml",
        "name = \"w\"\n[[task]]\nname = \"w\"\nsteps = [ { repeat = 1000, steps = [ { cpu = \"60m\" } ] } ]\n",
    );
    run(&["check", &name], dir.path()).invalid("work.toml:3:8: ", "the work limit is 120s");
    let name = write(
        dir.path(),
        "long.toml",
        "name = \"l\"\n[[task]]\nname = \"l\"\nsteps = [ { repeat = 1000, steps = [ { sleep = \"60m\" } ] } ]\n",
    );
    run(&["check", &name], dir.path()).invalid("long.toml:3:8: ", "scenario time limit is 3600s");
    // Slow motion on the real clock stretches the work: 2 s at 0.01x is 200 s.
    let slow = |speed: &str| {
        format!(
            "name = \"s\"\n{speed}[runtime]\nclock = \"real\"\n[[task]]\nname = \"s\"\nsteps = [ {{ cpu = \"2s\" }} ]\n"
        )
    };
    let name = write(dir.path(), "slow.toml", slow("speed = 0.01\n"));
    run(&["check", &name], dir.path()).invalid("slow.toml:6:8: ", "at the lesson's speed = 0.01");
    let name = write(dir.path(), "fast.toml", slow(""));
    run(&["check", &name], dir.path()).ok();
}

/// Threads of process `pid`.
fn threads_of(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Live (not yet reaped) children of process `pid`.
fn children_of(pid: u32) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let rest: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if rest.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) && rest[0] != "Z" {
            n += 1;
        }
    }
    n
}

#[test]
fn threads_and_child_processes_wait_their_turn_and_fork_bombs_are_refused() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = |name: &str, count: u32, step: &str| {
        write(
            d,
            name,
            format!(
                "name = \"s\"\n[runtime]\nclock = \"real\"\n[[task]]\nname = \"t\"\ncount = {count}\nsteps = [ {{ {step} }} ]\n"
            ),
        )
    };
    let name = scenario("t1500.toml", 1500, "thread = \"200ms\"");
    run(&["check", &name], d).invalid("t1500.toml:5:8: ", "the work limit is 120s");
    let name = scenario("bomb.toml", 1_000_000, "process = \"60m\"");
    run(&["check", &name], d).invalid("bomb.toml:5:8: ", "work limit");
    // Allowed amounts: they run, never more alive at once than the limits.
    let name = scenario("threads.toml", 600, "thread = \"5ms\"");
    let mut peak = 0;
    let ran = run_with(
        &["run", &name, "--json"],
        d,
        |_| {},
        |pid| peak = peak.max(threads_of(pid)),
    );
    let v: serde_json::Value = serde_json::from_str(&ran.ok()).unwrap();
    let not_ok: Vec<_> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"] != "ok")
        .collect();
    assert!(not_ok.is_empty(), "{not_ok:?}");
    assert!(peak > 0, "the run was watched");
    // The limit, the runtime's own threads and helpers, and threads that
    // handed back their turn and are still ending (without the limit: 600).
    assert!(peak <= MAX_THREADS + 32, "{peak} threads alive at once");
    let name = scenario("procs.toml", 300, "process = \"5ms\"");
    let mut peak = 0;
    let ran = run_with(
        &["run", &name, "--json"],
        d,
        |_| {},
        |pid| peak = peak.max(children_of(pid)),
    );
    let v: serde_json::Value = serde_json::from_str(&ran.ok()).unwrap();
    let not_ok: Vec<_> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"] != "ok")
        .collect();
    assert!(not_ok.is_empty(), "{not_ok:?}");
    assert!(peak > 0, "the run was watched");
    assert!(peak <= MAX_PROCESSES, "{peak} children alive at once");
}

#[test]
fn a_duration_that_overflows_is_refused_with_its_position() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let name = write(
        dir.path(),
        "sleep.toml",
        "name = \"s\"\n[[task]]\nname = \"s\"\nsteps = [ { sleep = \"340282366920938463463374607431768211.999us\" } ]\n",
    );
    run(&["check", &name], dir.path()).invalid("sleep.toml:4:21: ", "too large");
}

#[test]
fn damaged_replay_files_are_exit_2_naming_the_line_and_an_unended_one_is_noted() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ev = |t: &str, idx: u64, rest: &str| {
        format!(r#"{{"t_ms":{t},"task":"a","id":1,"state":"ready","idx":{idx},"step":0{rest}}}"#)
    };
    let done = |t: &str| -> String {
        format!(
            r#"{{"t_ms":{t},"task":"a","id":1,"state":"done","outcome":"ok","idx":0,"step":0}}"#
        )
    };
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "back",
            vec![HEADER.into(), spawned(5.0, 0, "a"), ev("4", 0, "")],
            "time goes back",
        ),
        (
            "huge",
            vec![HEADER.into(), spawned(1e308, 0, "a")],
            "expected milliseconds",
        ),
        (
            "negative",
            vec![HEADER.into(), spawned(-1.0, 0, "a")],
            "expected milliseconds",
        ),
        (
            "unknown",
            vec![HEADER.into(), spawned(0.0, 0, "a"), ev("1", 7, "")],
            "no earlier line spawned",
        ),
        (
            "twice",
            vec![HEADER.into(), spawned(0.0, 3, "a"), spawned(1.0, 3, "b")],
            "spawned twice",
        ),
        (
            "worker",
            vec![
                HEADER.into(),
                spawned(0.0, 0, "a"),
                r#"{"t_ms":1,"task":"a","id":1,"state":"running","idx":0,"worker":3,"step":0}"#
                    .into(),
            ],
            "worker 3",
        ),
        (
            "late",
            vec![
                HEADER.into(),
                spawned(0.0, 0, "a"),
                ev("1", 0, r#","late_ms":-5"#),
            ],
            "late_ms",
        ),
        (
            "nan",
            vec![
                HEADER.into(),
                spawned(0.0, 0, "a"),
                ev("1", 0, r#","due_ms":1e400"#),
            ],
            "",
        ),
        (
            "after-done",
            vec![
                HEADER.into(),
                spawned(0.0, 0, "a"),
                done("1"),
                r#"{"t_ms":2,"task":"a","id":1,"state":"running","idx":0,"worker":0,"step":0}"#
                    .into(),
            ],
            "task idx 0 is running after it was done (line 3)",
        ),
        (
            "done-twice",
            vec![HEADER.into(), spawned(0.0, 0, "a"), done("1"), done("1")],
            "is done after it was done",
        ),
        (
            "no-outcome",
            vec![
                HEADER.into(),
                spawned(0.0, 0, "a"),
                r#"{"t_ms":1,"task":"a","id":1,"state":"done","idx":0,"step":0}"#.into(),
            ],
            "the done line has no \"outcome\"; expected ok",
        ),
        (
            "wait",
            vec![
                HEADER.into(),
                spawned(0.0, 0, "a"),
                r#"{"t_ms":1,"task":"a","id":1,"state":"waiting","wait":"nap","idx":0,"step":0}"#
                    .into(),
            ],
            "unknown wait reason \"nap\"; expected one of: timer, io, channel, lock, join, \
             blocking, process, yield, other",
        ),
    ];
    for (name, lines, saying) in cases {
        let file = write(d, &format!("{name}.jsonl"), log(&lines));
        let at = format!("{file}:{}: ", lines.len());
        run(&["replay", &file, "--headless"], d).invalid(&at, saying);
    }
    // No end line: replayed, with a note, not an error.
    let file = write(
        d,
        "cut.jsonl",
        log(&[HEADER.into(), spawned(0.0, 0, "a"), ev("2", 0, "")]),
    );
    let ran = run(&["replay", &file, "--headless"], d);
    assert!(ran.ok().contains("1 task\n"));
    assert!(
        ran.stderr.contains("cut.jsonl: incomplete recording"),
        "{}",
        ran.stderr
    );
}

#[test]
fn console_addresses_warn_when_reachable_bind_the_real_port_and_report_the_os() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let name = write(
        d,
        "q.toml",
        "name = \"q\"\n[[task]]\nname = \"q\"\nsteps = [ { sleep = \"5ms\" } ]\n",
    );
    let attach = |ran: &Ran| {
        ran.stderr
            .lines()
            .find_map(|l| l.split("http://").nth(1))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no attach command in: {}", ran.stderr))
    };
    for open in ["--console=0.0.0.0:0", "--console=[::]:0"] {
        let ran = run(&["run", &name, "--headless", open], d);
        assert!(
            ran.stderr.contains("reachable from the network"),
            "{open}: {}",
            ran.stderr
        );
        // Where IPv6 is missing, binding [::] fails with the OS's reason.
        if ran.code != 0 {
            ran.invalid("cannot listen there", "");
        }
    }
    for local in ["--console=:0", "--console=localhost:0"] {
        let ran = run(&["run", &name, "--headless", local], d);
        assert_eq!(ran.code, 0, "{local}: {}", ran.stderr);
        assert!(!ran.stderr.contains("reachable"), "{}", ran.stderr);
        let at = attach(&ran);
        assert!(
            at.starts_with("127.0.0.1:") && !at.ends_with(":0"),
            "{local}: {at}"
        );
    }
    // Not an address of this machine: the OS says so, no other program blamed.
    let ran = run(&["run", &name, "--headless", "--console=192.0.2.1:7000"], d);
    ran.invalid(
        "--console 192.0.2.1:7000: cannot listen there",
        "Cannot assign requested address",
    );
    assert!(!ran.stderr.contains("another taskscope"), "{}", ran.stderr);
    // No permission (a low port, without the privilege to bind one).
    if unprivileged_port_start() <= 1 {
        common::skipped(&format!(
            "the low-port case: this machine lets anyone bind port 1 \
             (ip_unprivileged_port_start = {})",
            unprivileged_port_start()
        ));
    } else {
        let mut dropped = true;
        let ran = run_with(
            &["run", "create-task", "--headless", "--console=127.0.0.1:1"],
            d,
            |cmd| dropped = unprivileged(cmd),
            |_| {},
        );
        if dropped {
            ran.invalid("cannot listen there", "Permission denied");
            assert!(!ran.stderr.contains("another taskscope"), "{}", ran.stderr);
        }
    }
    // In use: that one is about another program.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let ran = run(
        &[
            "run",
            &name,
            "--headless",
            &format!("--console=127.0.0.1:{port}"),
        ],
        d,
    );
    ran.invalid("already in use", "another taskscope or program");
}

/// Capabilities that let root past file permissions and low ports.
const CAP_DAC_OVERRIDE: libc::c_ulong = 1;
const CAP_DAC_READ_SEARCH: libc::c_ulong = 2;
const CAP_NET_BIND_SERVICE: libc::c_ulong = 10;
/// The one that lets a process drop the others from its bounding set.
const CAP_SETPCAP: u32 = 8;

/// Whether the tests run as root (who passes file permissions).
fn is_root() -> bool {
    // SAFETY: getuid only reads.
    #[allow(unsafe_code)]
    unsafe {
        libc::getuid() == 0
    }
}

/// Whether this process may drop capabilities for its children: root's
/// bounding set includes CAP_SETPCAP (a container may leave it out).
fn can_drop_capabilities() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SETPCAP) != 0)
}

/// Runs the child without the privileges that pass file permissions and
/// bind low ports, when the tests run as root: it stays root (so it can
/// run the binary wherever the checkout is, a 0700 home included) but
/// loses CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_NET_BIND_SERVICE
/// from its bounding set, which exec cannot give back. Unprivileged, the
/// child already has none of them. Returns false (and says why) where that
/// cannot be done.
fn unprivileged(cmd: &mut Command) -> bool {
    if !is_root() {
        return true;
    }
    if !can_drop_capabilities() {
        common::skipped(
            "the unprivileged case: root without CAP_SETPCAP cannot run a child without its \
             privileges",
        );
        return false;
    }
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            for cap in [CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_NET_BIND_SERVICE] {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    true
}

/// The first port an unprivileged process may bind here (Linux's
/// `ip_unprivileged_port_start`; 1024 when it cannot be read).
fn unprivileged_port_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

#[test]
fn a_full_stdout_is_exit_1_and_a_closed_pipe_stays_quiet() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        vec!["list"],
        vec!["run", "breakfast-concurrent", "--headless"],
        vec!["run", "breakfast-concurrent", "--json"],
        vec!["check", "breakfast-concurrent"],
    ] {
        let ran = run_with(
            &args,
            dir.path(),
            |c| {
                c.stdout(full());
            },
            |_| {},
        );
        assert_eq!(ran.code, 1, "{args:?}: {}", ran.stderr);
        assert!(
            ran.stderr
                .contains("could not write to stdout: No space left"),
            "{}",
            ran.stderr
        );
    }
    // A reader that stops at once (`taskscope list | head -0`).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let ran = run_with(
        &["list"],
        dir.path(),
        |c| {
            c.stdout(writer);
        },
        |_| {},
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stderr.is_empty(), "{}", ran.stderr);
}

#[test]
fn a_screenshot_at_an_impossible_time_is_exit_2() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    for at in ["inf", "NaN", "-1", "1e300"] {
        let ran = run(
            &["screenshot", "breakfast-concurrent", "--", at, "x.svg"],
            dir.path(),
        );
        ran.invalid("<AT_MS>", "expected a time in ms");
    }
    run(
        &[
            "screenshot",
            "breakfast-concurrent",
            "200",
            "x.svg",
            "--width",
            "65535",
        ],
        dir.path(),
    )
    .invalid("--width", "");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The README's limits are the code's limits.
#[test]
fn the_readme_names_every_limit() {
    let _limit = crate::util::limit();
    use taskscope::scenario as s;
    let readme = std::fs::read_to_string("README.md").unwrap();
    let thousands = |n: u64| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    let rows = [
        format!("| tasks started in one run | {} |", thousands(s::MAX_TASKS)),
        format!("| polls in one run | about {} |", thousands(s::MAX_POLLS)),
        format!("(the step limit) | {} |", thousands(s::MAX_STEPS)),
        format!("(the work limit) | {} s |", s::MAX_WORK.as_secs()),
        format!(
            "(the scenario time limit; waits on locks and channels are not counted) | {} h |",
            s::MAX_RUN_TIME.as_secs() / 3600
        ),
        format!(
            "| one step's duration | {} h |",
            s::MAX_STEP_DURATION.as_secs() / 3600
        ),
        format!("| workers | {} |", s::MAX_WORKERS),
        format!("| scenario file | {} MiB", s::MAX_FILE_BYTES >> 20),
        format!(
            "at most {} OS threads of `thread` steps, {} blocking-pool threads",
            s::MAX_THREADS,
            s::MAX_THREADS
        ),
        format!(
            "and {} child processes of `process` steps",
            s::MAX_PROCESSES
        ),
        format!("{} characters", thousands(s::MAX_TEXT as u64)),
        format!("at most {} GiB,", taskscope::recording::MAX_LOG_BYTES >> 30),
        format!(
            "{} events and {} tasks",
            thousands(taskscope::recording::MAX_LOG_EVENTS as u64),
            thousands(taskscope::recording::MAX_LOG_TASKS)
        ),
    ];
    for row in rows {
        assert!(readme.contains(&row), "README lacks: {row}");
    }
}

/// Whether process `pid` has a thread called `name` (as the kernel keeps
/// it: the first 15 bytes).
fn has_thread(pid: u32, name: &str) -> bool {
    let name = &name[..name.len().min(15)];
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks.flatten().any(|t| {
                std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name)
            })
        })
        .unwrap_or(false)
}

#[test]
fn a_second_signal_ends_the_run_at_once_and_leaves_no_temporary_file() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A blocking-pool job cannot be cancelled: the runtime waits for it
    // after the first signal, which leaves time for the second.
    let name = write(
        d,
        "busy.toml",
        "name = \"busy\"\n[runtime]\nclock = \"real\"\n[[task]]\nname = \"b\"\nsteps = [ { spawn_blocking = \"20s\" } ]\n",
    );
    let mut first: Option<Instant> = None;
    let mut second = false;
    let ran = run_with(
        &[
            "run",
            &name,
            "--headless",
            "--events",
            "e.jsonl",
            "--trace",
            "t.json",
        ],
        d,
        |_| {},
        |pid| {
            let signal = |s| {
                // SAFETY: signalling our own child.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(pid as i32, s)
                }
            };
            match first {
                // Signals are watched, and the blocking-pool job has begun.
                None if has_thread(pid, "taskscope-signals")
                    && has_thread(pid, "taskscope-worker") =>
                {
                    signal(libc::SIGINT);
                    first = Some(Instant::now());
                }
                Some(at) if !second && at.elapsed() > Duration::from_millis(200) => {
                    signal(libc::SIGINT);
                    second = true;
                }
                _ => {}
            }
        },
    );
    assert!(second, "both signals were sent");
    assert_eq!(ran.code, 130, "{}", ran.stderr);
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["busy.toml"], "no temporary or half-written file");
}

#[test]
fn the_first_signal_stops_a_run_that_never_yields_with_its_files_complete() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Ten million cpu steps in one poll: allowed, seconds long, no yield.
    let name = write(
        d,
        "spin.toml",
        "name = \"spin\"\n[[task]]\nname = \"spin\"\nsteps = [ { repeat = 10000000, steps = [ { cpu = \"1us\" } ] } ]\n",
    );
    run(&["check", &name], d).ok();
    let mut sent = false;
    let ran = run_with(
        &["run", &name, "--headless", "--events", "e.jsonl"],
        d,
        |_| {},
        |pid| {
            if !sent && has_thread(pid, "taskscope-signals") && has_thread(pid, "taskscope-runtime")
            {
                // SAFETY: signalling our own child.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(pid as i32, libc::SIGINT);
                }
                sent = true;
            }
        },
    );
    assert!(sent, "the signal was sent");
    assert_eq!(ran.code, 130, "{}", ran.stderr);
    let events = std::fs::read_to_string(d.join("e.jsonl")).unwrap();
    assert!(events.lines().last().unwrap().contains("\"state\":\"end\""));
    assert!(
        events.contains("\"outcome\":\"cancelled\""),
        "the spinning task was cancelled"
    );
}
