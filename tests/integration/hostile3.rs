//! Hostile round three: what `check` allows, `run` carries out within its
//! memory budget (README "Limits"); the speed a run really goes at counts
//! against the work limit; children never outlive taskscope; `compare`
//! holds one scenario at a time, hears signals and says a deadlock. Each
//! run of the binary is bounded: an address-space limit and a deadline.

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary's address space at most (a run past it aborts).
const ADDRESS_SPACE: u64 = 2 << 30;
/// Long enough for a debug build on a busy machine (scaled to this build
/// and machine: 120 s for a debug build on two free CPUs), short of a hang.
fn deadline() -> Duration {
    crate::util::deadline(Duration::from_secs(40))
}

/// What one bounded run of the binary gave.
struct Ran {
    code: Option<i32>,
    /// Its first MiB (the test's own memory counts in the next fork's peak:
    /// hundreds of MB read here would show as every later run's).
    stdout: String,
    /// How long its stdout was, in bytes.
    stdout_bytes: u64,
    stderr: String,
    /// Its peak resident memory, in KB (the OS's own count, read while it
    /// runs).
    peak_kb: i64,
}

/// Runs the binary with `args` in `dir` (with `env`), under the address
/// space limit and the deadline; its peak memory from `wait4`.
fn run_bounded(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Ran {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskscope"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
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
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let mut sampled = 0;
    let (status, usage) = loop {
        sampled = sampled.max(peak_after_exec(pid));
        let mut status = 0;
        // SAFETY: a zeroed rusage is valid; wait4 fills it for our child.
        #[allow(unsafe_code)]
        let (done, usage) = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            let done = libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage);
            (done, usage)
        };
        if done == pid {
            break (status, usage);
        }
        if started.elapsed() > deadline() {
            // SAFETY: killing our own child.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            panic!("{args:?} did not end within {:?}", deadline());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Reaped by wait4: std's handle has nothing left to wait for.
    std::mem::forget(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ran {
        code,
        stdout: first_mib(out.path()),
        stdout_bytes: std::fs::metadata(out.path()).map_or(0, |m| m.len()),
        stderr: first_mib(err.path()),
        // wait4's figure counts the test process's own memory at the fork
        // (Linux carries it through exec): the binary's own peak, as its
        // /proc status said last, when the run lasted long enough to read.
        peak_kb: if sampled > 0 {
            sampled
        } else {
            usage.ru_maxrss
        },
    }
}

/// The peak resident memory (KB) of process `pid` once it runs the binary
/// (before its exec it is a copy of the test process): 0 before, or gone.
fn peak_after_exec(pid: libc::pid_t) -> i64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    if !status.lines().any(|l| l == "Name:\ttaskscope") {
        return 0;
    }
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The first MiB of the file at `path`, as text.
fn first_mib(path: &Path) -> String {
    use std::io::Read;
    let mut bytes = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(1 << 20).read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

#[test]
fn a_run_of_thousands_of_thread_steps_keeps_the_memory_of_the_threads_alive_at_once() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    // 64 tasks x 150 threads, one after another each: 9,600 threads.
    let name = write(
        dir.path(),
        "threads.toml",
        "name = \"threads\"\n[runtime]\nclock = \"real\"\n[[task]]\nname = \"t\"\ncount = 64\n\
         steps = [ { repeat = 150, steps = [ { thread = \"0ns\" } ] } ]\n",
    );
    let ran = run_bounded(&["run", &name, "--headless"], dir.path(), &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    // Each thread kept its 48 KB buffer to the end: over 100 MB here.
    assert!(
        ran.peak_kb < 80 * 1024,
        "{} KB at the peak for 9,600 threads",
        ran.peak_kb
    );
}

#[test]
fn console_is_refused_for_a_run_whose_tasks_it_could_not_hold() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let ran = run_bounded(
        &["run", "scale-100k", "--headless", "--console=127.0.0.1:0"],
        dir.path(),
        &[],
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("--console: "), "{}", ran.stderr);
    assert!(ran.stderr.contains("100000 rows"), "{}", ran.stderr);
    assert!(ran.peak_kb < 200 * 1024, "{} KB", ran.peak_kb);
}

#[test]
fn check_says_what_a_scenario_costs_and_the_readme_says_the_budget() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let ran = run_bounded(&["check", "scale-100k"], dir.path(), &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(ran.stdout.contains("100000 rows"), "{}", ran.stdout);
    assert!(ran.stdout.contains("memory about"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("GB more with --console"),
        "{}",
        ran.stdout
    );
    use taskscope::scenario as s;
    let readme = std::fs::read_to_string("README.md").unwrap();
    for row in [
        format!("| a run, to begin with | {} MB |", s::MEMORY_BASE >> 20),
        format!(
            "| a row (task, thread, job or process), headless | {} KB |",
            s::MEMORY_PER_ROW >> 10
        ),
        format!(
            "| a row on the dashboard | {} KB |",
            s::MEMORY_PER_ROW_ON_SCREEN >> 10
        ),
        format!(
            "history (8,000,000 at most, the oldest go first) | {} bytes |",
            s::MEMORY_PER_EVENT
        ),
        format!(
            "each table and value (`{{`, `[`, `=`, `,`) | {} bytes |",
            s::MEMORY_PER_VALUE
        ),
        format!(
            "figures and histograms of it) | {} KB, up to {} GB",
            s::MEMORY_PER_CONSOLE_TASK >> 10,
            s::MAX_CONSOLE_MEMORY >> 30
        ),
    ] {
        assert!(readme.contains(&row), "README lacks {row:?}");
    }
    assert_eq!(s::EVENTS_KEPT, 8_000_000);
}

#[test]
fn compare_holds_one_scenario_at_a_time() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    // A scenario of 3 MB (its description), compared 60 times: 180 MB of
    // files, each read when its turn comes.
    let text = format!(
        "name = \"big\"\ndescription = \"\"\"{}\"\"\"\n[[task]]\nname = \"t\"\nsteps = [ {{ yield = true }} ]\n",
        "word ".repeat(600_000)
    );
    let name = write(dir.path(), "big.toml", &text);
    let args: Vec<&str> = std::iter::once("compare")
        .chain(std::iter::repeat_n(name.as_str(), 60))
        .collect();
    let ran = run_bounded(&args, dir.path(), &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(ran.stdout.matches("big ").count(), 60, "{}", ran.stdout);
    assert!(ran.peak_kb < 300 * 1024, "{} KB at the peak", ran.peak_kb);
}

#[test]
fn compare_says_a_deadlock_and_exits_1_as_run_does() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let name = write(
        dir.path(),
        "stuck.toml",
        "name = \"stuck\"\n[[channel]]\nname = \"c\"\ncapacity = 1\n[[task]]\nname = \"t\"\nsteps = [ { recv = \"c\" } ]\n",
    );
    let ran = run_bounded(&["compare", &name], dir.path(), &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stdout.contains("(deadlock)"), "{}", ran.stdout);
    assert!(ran.stderr.contains("deadlock"), "{}", ran.stderr);
    let ran = run_bounded(&["compare", &name, "--json"], dir.path(), &[]);
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stdout.contains("\"ending\": \"deadlock\""),
        "{}",
        ran.stdout
    );
}

/// Live processes whose environment carries `mark`.
fn marked(mark: &str) -> Vec<u32> {
    let needle = format!("TASKSCOPE_TEST_MARK={mark}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim().starts_with('Z'))
        });
        if !zombie && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < deadline(),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "reads /proc")]
fn children_never_outlive_taskscope_killed_or_signalled_mid_compare() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let name = write(
        dir.path(),
        "cooks.toml",
        "name = \"cooks\"\n[runtime]\nclock = \"real\"\n[[task]]\nname = \"c\"\ncount = 2\nsteps = [ { process = \"20s\" } ]\n",
    );
    for (command, signal) in [("compare", libc::SIGTERM), ("run", libc::SIGKILL)] {
        let mark = format!("{}-{command}", std::process::id());
        let mut child = Command::new(env!("CARGO_BIN_EXE_taskscope"))
            .args([command, &name])
            .args(if command == "run" {
                &["--headless"][..]
            } else {
                &[][..]
            })
            .current_dir(dir.path())
            .env("TASKSCOPE_TEST_MARK", &mark)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // taskscope and its two children.
        wait_until("the children", || marked(&mark).len() >= 3);
        // SAFETY: signalling our own child.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let status = child.wait().unwrap();
        if signal == libc::SIGTERM {
            assert_eq!(status.code(), Some(143), "{command}");
        }
        wait_until(&format!("{command}'s children to be gone"), || {
            marked(&mark).is_empty()
        });
    }
}

#[test]
fn mutex_holders_one_after_another_count_against_the_scenario_time_limit() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let name = write(
        dir.path(),
        "queue.toml",
        "name = \"queue\"\n[[mutex]]\nname = \"m\"\n[[task]]\nname = \"t\"\ncount = 170\n\
         steps = [ { lock = \"m\" }, { sleep = \"60m\" }, { unlock = \"m\" } ]\n",
    );
    let ran = run_bounded(&["check", &name], dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stdout);
    assert!(ran.stderr.contains("queue.toml:"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("would hold it about 170h in all"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("the scenario time limit is 3600s"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_slower_speed_counts_against_the_work_limit_however_it_is_asked_for() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let name = write(
        dir.path(),
        "cooks.toml",
        "name = \"cooks\"\n[runtime]\nclock = \"real\"\n[[task]]\nname = \"c\"\ncount = 4\nsteps = [ { thread = \"2s\" } ]\n",
    );
    // 8 s of work: fine at full speed, 800 s at 0.01x.
    let ran = run_bounded(&["check", &name], dir.path(), &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let ran = run_bounded(
        &["run", &name, "--headless", "--speed", "0.01"],
        dir.path(),
        &[],
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("--speed 0.01: "), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("the work limit is 120s"),
        "{}",
        ran.stderr
    );
}

#[test]
fn an_unknown_key_of_megabytes_is_named_short_and_found_at_once() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let key = "x".repeat(3 << 20);
    let name = write(
        dir.path(),
        "key.toml",
        &format!(
            "name = \"k\"\n{key} = 1\n[[task]]\nname = \"t\"\nsteps = [ {{ yield = true }} ]\n"
        ),
    );
    let started = Instant::now();
    let ran = run_bounded(&["check", &name], dir.path(), &[]);
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr.contains("unknown key `xxxx"),
        "{}",
        &ran.stderr[..200]
    );
    assert!(
        ran.stderr.len() < 1000,
        "{} bytes of message",
        ran.stderr.len()
    );
    // No edit distance over megabytes (it took 9 s).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A file of nothing but nested tables, 4 MiB, is refused before it is
/// parsed (parsed, it took 1 GB; the bound lets through what an 80,000
/// task join chain holds, about 300 MB), with where it passed the bound.
#[test]
fn a_file_of_a_million_tables_is_refused_before_it_is_parsed() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let line = "x1={a={b={c={d={e={f={g={}}}}}}}}\n";
    let name = write(
        dir.path(),
        "tables.toml",
        &line.repeat((4 << 20) / line.len()),
    );
    let ran = run_bounded(&["check", &name], dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("more than 600000 tables and values"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(ran.peak_kb < 50_000, "{} KB", ran.peak_kb);
    // Two million numbers in one array under an unknown key: parsed, 320 MB.
    let numbers = format!("x = [{}1]\n", "1,".repeat(2_000_000));
    let name = write(dir.path(), "numbers.toml", &numbers);
    let ran = run_bounded(&["check", &name], dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("tables and values"), "{}", ran.stderr);
    assert!(ran.peak_kb < 50_000, "{} KB", ran.peak_kb);
}

/// Many problems: the first 20 in the file's order, then how many more.
#[test]
fn many_problems_are_listed_in_file_order_and_the_rest_counted() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let keys: String = (0..30).map(|i| format!("x{i} = 1\n")).collect();
    let name = write(
        dir.path(),
        "keys.toml",
        &format!("name = \"k\"\n{keys}[[task]]\nname = \"t\"\nsteps = [ {{ yield = true }} ]\n"),
    );
    let ran = run_bounded(&["check", &name], dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    let lines: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.contains("keys.toml:"))
        .collect();
    assert_eq!(lines.len(), 21, "{}", ran.stderr);
    let at: Vec<usize> = lines
        .iter()
        .map(|l| l.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
    assert!(lines[20].contains("and 10 more problems"), "{}", lines[20]);
}

/// Tasks each waiting for the next (a join, or a message) before a long
/// sleep of their own last the sum of their sleeps: counted against the
/// scenario time limit, as a chain of spawns is.
#[test]
fn a_chain_of_joins_or_of_messages_counts_against_the_scenario_time_limit() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    for (kind, wait, pass) in [
        ("join", "{ join = \"t{next}\" }", ""),
        ("channel", "{ recv = \"c{next}\" }", "{ send = \"c{me}\" }"),
    ] {
        let mut text = format!("name = \"{kind}-relay\"\n");
        for i in 0..40 {
            text.push_str(&format!("[[channel]]\nname = \"c{i}\"\ncapacity = 1\n"));
        }
        for i in 0..40 {
            let me = i.to_string();
            let next = (i + 1).to_string();
            let mut steps = Vec::new();
            if i + 1 < 40 {
                steps.push(wait.replace("{next}", &next));
            }
            steps.push("{ sleep = \"50m\" }".into());
            if !pass.is_empty() {
                steps.push(pass.replace("{me}", &me));
            }
            text.push_str(&format!(
                "[[task]]\nname = \"t{i}\"\nsteps = [{}]\n",
                steps.join(", ")
            ));
        }
        if kind == "channel" {
            text.push_str("[[task]]\nname = \"drain\"\nsteps = [{ recv = \"c0\" }]\n");
        }
        let name = write(dir.path(), &format!("{kind}.toml"), &text);
        let ran = run_bounded(&["check", &name], dir.path(), &[]);
        assert_eq!(ran.code, Some(2), "{kind}: {}", ran.stderr);
        assert!(
            ran.stderr.contains("would last about 33h"),
            "{kind}: {}",
            ran.stderr
        );
    }
}

#[test]
fn a_named_pipe_nobody_writes_or_reads_is_refused_at_once_not_waited_on() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let pipe = dir.path().join("pipe.toml");
    crate::util::make_fifo(&pipe);
    // Reading: nothing writes, so it is empty (not waited on).
    let ran = run_bounded(&["check", "pipe.toml"], dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("the file is empty"), "{}", ran.stderr);
    let ran = run_bounded(&["replay", "pipe.toml", "--headless"], dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("no header line"), "{}", ran.stderr);
    // Writing: nothing reads, so nothing could be written.
    let args = ["run", "create-task", "--headless", "--events", "pipe.toml"];
    let ran = run_bounded(&args, dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("a pipe that nothing reads from"),
        "{}",
        ran.stderr
    );
    // With a reader, the events go through the pipe.
    let reader = std::thread::spawn(move || std::fs::read_to_string(pipe).unwrap());
    let mut ran;
    loop {
        ran = run_bounded(&args, dir.path(), &[]);
        // The reader may not have opened its end yet: then it is refused.
        if ran.code == Some(0) {
            break;
        }
        assert!(ran.stderr.contains("nothing reads"), "{}", ran.stderr);
        std::thread::sleep(Duration::from_millis(50));
    }
    let events = reader.join().unwrap();
    assert!(events.lines().count() > 10, "{events}");
}

/// Thread steps wait their turn until the thread before has wholly ended:
/// let go when its work ended, exiting threads piled up (thousands of
/// stacks mapped at once, 500,000 such tasks ran out of memory maps and
/// aborted). The process's memory maps are counted while it runs.
#[test]
fn threads_that_ended_give_their_stack_back_before_the_next_one_starts() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let name = write(
        dir.path(),
        "threads.toml",
        "name = \"threads\"\n[runtime]\nclock = \"real\"\n[[task]]\nname = \"t\"\n\
         count = 30000\nsteps = [ { thread = \"1us\" } ]\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["run", &name, "--headless"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let maps = format!("/proc/{}/maps", child.id());
    let started = Instant::now();
    let mut most = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(&maps) {
            most = most.max(text.lines().count());
        }
        assert!(
            started.elapsed() < deadline(),
            "no end within {:?}",
            deadline()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "{status}");
    // 64 threads' stacks and guards, the runtime's and the binary's: a few
    // hundred maps.
    assert!(most > 0 && most < 1500, "{most} memory maps at once");
}

/// What `check` says a run takes holds for a headless run with `--json`
/// too: the summary is written as it is made, not held whole beside the
/// run (a million tasks' JSON is 600 MB).
#[test]
fn a_json_summary_stays_within_what_check_says_a_run_takes() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let name = write(
        dir.path(),
        "many.toml",
        "name = \"many\"\n[[task]]\nname = \"t\"\ncount = 400000\n\
         steps = [ { yield = true } ]\n",
    );
    let checked = run_bounded(&["check", &name], dir.path(), &[]);
    let said_mb: f64 = checked
        .stdout
        .split("memory about ")
        .nth(1)
        .and_then(|s| s.strip_suffix(" headless").or(s.split(" headless").next()))
        .and_then(|s| s.strip_suffix(" MB"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no estimate in MB: {}", checked.stdout));
    let ran = run_bounded(&["run", &name, "--headless", "--json"], dir.path(), &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout_bytes > 200 << 20,
        "{} bytes of JSON",
        ran.stdout_bytes
    );
    let peak_mb = ran.peak_kb as f64 / 1024.0;
    assert!(
        peak_mb < said_mb,
        "{peak_mb:.0} MB at the peak; check said about {said_mb} MB"
    );
}

/// A run whose events go to a pipe nothing reads cannot stop cleanly (its
/// writes wait): the first SIGINT still ends it, 10 s later, saying why.
#[test]
fn a_run_stuck_on_an_output_nothing_reads_still_ends_after_one_signal() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let pipe = dir.path().join("events.jsonl");
    crate::util::make_fifo(&pipe);
    // Open for reading, never read: the pipe fills and writes wait.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&pipe)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["run", "many-tasks", "--headless", "--events"])
        .arg(&pipe)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: signalling our own child.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let signalled = Instant::now();
    let out = child.wait_with_output().unwrap();
    drop(reader);
    assert_eq!(out.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not end within 10 s"), "{stderr}");
    assert!(
        signalled.elapsed() < deadline(),
        "{:?}",
        signalled.elapsed()
    );
}

/// 100,000 processes of 1 µs each: tiny work, but starting each one takes
/// milliseconds (about 3 ms here), so the run would last many minutes.
/// Each start counts as work: refused by `check`.
#[test]
fn starting_a_process_or_a_thread_counts_against_the_work_limit() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    // (the step, how many tasks, how many times each, whether it passes)
    for (kind, count, times, ok) in [
        ("process", 100_000, 1, false),
        ("process", 2_000, 1, true),
        ("thread", 1_000, 2_000, false),
        ("thread", 1_000, 100, true),
    ] {
        let name = write(
            dir.path(),
            "tiny.toml",
            &format!(
                "name = \"tiny\"\n[runtime]\nclock = \"real\"\n[[task]]\nname = \"t\"\n\
                 count = {count}\nsteps = [ {{ repeat = {times}, steps = [ {{ {kind} = \"1us\" }} ] }} ]\n"
            ),
        );
        let ran = run_bounded(&["check", &name], dir.path(), &[]);
        if ok {
            assert_eq!(
                ran.code,
                Some(0),
                "{kind} x {count} x {times}: {}",
                ran.stderr
            );
        } else {
            assert_eq!(
                ran.code,
                Some(2),
                "{kind} x {count} x {times}: {}",
                ran.stdout
            );
            assert!(
                ran.stderr
                    .contains("starting a thread counts at least 100us, a process 5ms"),
                "{}",
                ran.stderr
            );
        }
    }
}

/// A `fail` step panics on purpose: with the probe off too, that is the
/// scenario's outcome, never called an internal error.
#[test]
fn a_fail_step_is_no_internal_error_with_the_probe_off() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    for probe in ["on", "off"] {
        let args = ["run", "panic-in-task", "--headless", "--probe", probe];
        let ran = run_bounded(&args, dir.path(), &[]);
        assert_eq!(ran.code, Some(0), "--probe {probe}: {}", ran.stderr);
        assert!(
            !ran.stderr.contains("internal error"),
            "--probe {probe}: {}",
            ran.stderr
        );
    }
}

/// What `check` says a run takes counts reading the file (190,000 steps:
/// 16 MB said, 273 MB used) and the `fail` messages its rows keep.
#[test]
fn check_counts_reading_the_file_and_the_fail_messages_in_a_runs_memory() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let steps = vec!["{yield=true}"; 150_000].join(",");
    let many_steps = format!("name=\"steps\"\n[[task]]\nname=\"t\"\nsteps=[{steps}]\n");
    let long_fail = format!(
        "name=\"fails\"\n[[task]]\nname=\"t\"\ncount=100000\nsteps=[{{fail=\"{}\"}}]\n",
        "x".repeat(1000)
    );
    for (file, text) in [("steps.toml", many_steps), ("fails.toml", long_fail)] {
        let name = write(dir.path(), file, &text);
        let checked = run_bounded(&["check", &name], dir.path(), &[]);
        let said_mb: f64 = checked
            .stdout
            .split("memory about ")
            .nth(1)
            .and_then(|s| s.split(" MB headless").next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{file}: no estimate in MB: {}", checked.stdout));
        let ran = run_bounded(&["run", &name, "--headless"], dir.path(), &[]);
        assert_eq!(ran.code, Some(0), "{file}: {}", ran.stderr);
        let peak_mb = ran.peak_kb as f64 / 1024.0;
        assert!(
            peak_mb < said_mb,
            "{file}: {peak_mb:.0} MB at the peak; check said about {said_mb} MB"
        );
    }
}
