//! The lessons' work, for your own code: what a scenario's `cpu`, `block`,
//! `io` and `process` steps do, as functions a program under
//! [`crate::watch`] calls, so the talk's demos run as real Rust with the
//! same numbers as their TOML twins.
//!
//! On the virtual clock, time moves only in tokio's timers: work inside a
//! poll takes no time at all. [`cpu`] and [`block`] charge their time to
//! the clock there (the poll holds its worker that long, as it would on
//! the real clock); on the real clock they really burn a CPU or sleep.
//! Outside `taskscope::watch` they work on the wall clock.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::event::{NO_TIME, Wait, nanos};
use crate::runtime::hooks::{Watcher, active, hinted};
use crate::runtime::work;
use crate::target::HOLDING_STEP;

/// Set in a [`process`] helper's child: the CPU time it burns, in ns.
const CHILD_JOB: &str = "TASKSCOPE_LESSON_CPU_NS";
/// Longest work a child process is given.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// Hands-on work: the task keeps its worker for `d` (CPU-bound), shown
/// as holding it.
pub fn cpu(d: Duration) {
    match active() {
        Some(w) if w.is_virtual() => holding(w, || charge(w, d)),
        Some(w) => holding(w, || work::burn_cpu(d)),
        None => work::burn_cpu(d),
    }
}

/// A blocking call inside async code (`std::thread::sleep(d)`): the worker
/// is held, and every other task on it waits; shown as holding it.
pub fn block(d: Duration) {
    match active() {
        Some(w) if w.is_virtual() => holding(w, || charge(w, d)),
        Some(w) => holding(w, || std::thread::sleep(d)),
        None => std::thread::sleep(d),
    }
}

/// Runs `work` inside the current poll, the task shown as holding its
/// worker meanwhile (as a scenario's `cpu` and `block` steps are).
fn holding(w: &Watcher, work: impl FnOnce()) {
    let Some(task) = crate::probe::CURRENT.with(std::cell::Cell::get) else {
        // Not in a task's poll (a blocking job's thread): just the work.
        return work();
    };
    w.recorder().poll_step(task, HOLDING_STEP);
    work();
    w.recorder().poll_step(task, 0);
}

/// Burns `d` of CPU on the current thread, on any clock (for a
/// `spawn_blocking` job or a thread of your own: the real clock only).
pub fn burn(d: Duration) {
    work::burn_cpu(d);
}

/// Moves the virtual clock on by `d` inside the current poll.
fn charge(w: &Watcher, d: Duration) {
    let start = w.recorder().elapsed();
    work::charge_virtual(d);
    w.recorder().charged(d);
    if let Some(c) = w.control() {
        c.charge(start, d);
    }
}

/// A request to a server that answers `d` after it is sent (a loopback
/// server of taskscope's own, over a real socket): IO-bound waiting.
pub async fn io(d: Duration) {
    let Some(w) = active() else {
        tokio::time::sleep(d).await;
        return;
    };
    let server = match w.io_server().await {
        Ok(s) => s,
        Err(e) => panic!("could not start the lesson's io server: {e}"),
    };
    let due = Arc::new(AtomicU64::new(NO_TIME));
    let at = due.clone();
    let recorder = w.recorder().clone();
    let sent = move |queued: Duration| {
        let when = recorder.elapsed() + d.saturating_sub(queued);
        at.store(nanos(when), std::sync::atomic::Ordering::Relaxed);
    };
    let request = hinted(Wait::Io, due, server.request(d, sent));
    if let Err(e) = request.await {
        panic!("io request failed: {e}");
    }
}

/// Work handed to a child process that burns `d` of CPU: the OS runs it,
/// beside the runtime (the real clock only).
pub async fn process(d: Duration) {
    let Some(exe) = crate::runtime::os::own_executable() else {
        panic!("could not find this program's own executable to start it again");
    };
    let mut command = std::process::Command::new(exe);
    command
        .env(CHILD_JOB, d.min(CHILD_LIMIT).as_nanos().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    // It dies with taskscope, however taskscope ends.
    crate::runtime::os::die_with_parent(&mut command);
    let child = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .status();
    let status = hinted(Wait::Process, Arc::new(AtomicU64::new(NO_TIME)), child);
    match status.await {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("the child process failed: {s}"),
        Err(e) => panic!("could not start a child process: {e}"),
    }
}

/// In a [`process`] helper's child: its work, done; else None.
pub(crate) fn child_job() -> Option<ExitCode> {
    let nanos = std::env::var(CHILD_JOB).ok()?;
    let d = nanos
        .parse::<u64>()
        .map(Duration::from_nanos)
        .unwrap_or_default()
        .min(CHILD_LIMIT);
    work::burn_cpu(d);
    Some(ExitCode::SUCCESS)
}
