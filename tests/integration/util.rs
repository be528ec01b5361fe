//! Helpers shared by the integration tests.

mod limit;

pub use limit::{deadline, limit, limit_of, skipped};

use std::sync::Arc;

use taskscope::headless::{self, Finished};
use taskscope::runtime::RunOptions;
use taskscope::scenario::{self, Scenario, bundled};
use taskscope::summary::Summary;

pub fn options() -> RunOptions {
    RunOptions {
        worker_exe: Some(env!("CARGO_BIN_EXE_taskscope").into()),
        ..RunOptions::default()
    }
}

pub fn bundled(name: &str) -> Scenario {
    bundled::get(name).expect("bundled").expect("valid")
}

pub fn inline(toml: &str) -> Scenario {
    scenario::parse("inline", toml.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn run(scenario: Scenario) -> Finished {
    headless::run(Arc::new(scenario), options(), None).unwrap_or_else(|e| panic!("{e}"))
}

pub fn summary(scenario: Scenario) -> Summary {
    run(scenario).summary()
}

/// Whether `a` is within `pct` percent of `b`.
pub fn near(a: f64, b: f64, pct: f64) -> bool {
    (a - b).abs() <= b.abs() * pct / 100.0
}

/// Every event of one run, in order.
pub fn record(scenario: Scenario) -> Vec<taskscope::probe::Event> {
    headless::record(Arc::new(scenario), options())
        .unwrap_or_else(|e| panic!("{e}"))
        .events
}

/// The run's index of the task spawned under `name`.
pub fn task_index(events: &[taskscope::probe::Event], name: &str) -> u32 {
    events
        .iter()
        .find_map(|e| match &e.change {
            taskscope::probe::Change::Spawned { name: n, .. } if &**n == name => Some(e.task),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no task called {name}"))
}

/// The path of example `name`, built beside the tests (`cargo test`
/// builds every example).
pub fn example(name: &str) -> std::path::PathBuf {
    let mut dir = std::env::current_exe().expect("the test's own path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is not built: cargo test builds the examples",
        path.display()
    );
    path
}

/// The binary, as a command that is killed (failing its test) if it runs
/// past 40 s on the reference machine (scaled: two minutes in a debug build).
pub fn taskscope() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("taskscope").expect("the binary builds");
    cmd.timeout(deadline(std::time::Duration::from_secs(40)));
    cmd
}

/// Runs `cmd`, asserts it succeeded (its stderr in the message), returns
/// its stdout.
pub fn ok_stdout(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// A named pipe (FIFO) made at `path`.
pub fn make_fifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a node.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}
