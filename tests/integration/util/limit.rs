//! Time limits for tests, fitted to the build and the machine: each test
//! takes a [`Limit`] first, and one that runs past it ends the test binary
//! with a message naming it (a hang fails, it never waits forever);
//! [`deadline`] scales a test's own waits the same way; [`skipped`] says
//! on the terminal (not in the captured output) what a test could not try
//! here and why. Shared by the integration tests and the unit tests.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// A test's time limit unless it names its own, on a machine with two
/// free CPUs, in an optimized build (see [`slowness`]).
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

/// A debug build (what `cargo test` builds) is this much slower than an
/// optimized one on the work the tests time.
const DEBUG_BUILD: f64 = 3.0;

/// What the limits assume the machine has to spare.
const CPUS_ASSUMED: f64 = 2.0;

/// At most this much slower: past it a limit would no longer catch a hang
/// in reasonable time.
const MOST_SLOWNESS: f64 = 16.0;

/// How much longer than on the reference (an optimized build, two CPUs
/// free) things take here: the build profile, times the CPUs this process
/// may use (its affinity: `taskset -c 0` gives one) short of two, times
/// how loaded they are (the run queue's length per CPU, above one).
pub fn slowness() -> f64 {
    let profile = if cfg!(debug_assertions) {
        DEBUG_BUILD
    } else {
        1.0
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let machine = (CPUS_ASSUMED / cpus).max(1.0) * (load / cpus).max(1.0);
    (profile * machine).min(MOST_SLOWNESS)
}

/// `base` (what a wait takes at most on the reference) scaled to this
/// build and machine.
pub fn deadline(base: Duration) -> Duration {
    base.mul_f64(slowness())
}

/// A test's time limit, held while it runs (see the module docs).
#[must_use = "the limit holds until the value is dropped"]
pub struct Limit(u64);

struct Armed {
    test: String,
    limit: Duration,
    /// The slowness the limit was scaled by.
    scaled_by: f64,
    until: Instant,
}

static ARMED: Mutex<Option<HashMap<u64, Armed>>> = Mutex::new(None);

/// The calling test's limit: [`TEST_LIMIT`], scaled.
pub fn limit() -> Limit {
    limit_of(TEST_LIMIT)
}

/// The calling test's limit: `base` (on the reference), scaled.
pub fn limit_of(base: Duration) -> Limit {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static WATCHDOG: Once = Once::new();
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let scaled_by = slowness();
    let limit = base.mul_f64(scaled_by);
    let armed = Armed {
        test: this_test(),
        limit,
        scaled_by,
        until: Instant::now() + limit,
    };
    armed_tests()
        .get_or_insert_with(HashMap::new)
        .insert(id, armed);
    WATCHDOG.call_once(|| {
        std::thread::Builder::new()
            .name("test-watchdog".into())
            .spawn(watchdog)
            .expect("the watchdog thread starts");
    });
    Limit(id)
}

impl Drop for Limit {
    fn drop(&mut self) {
        if let Some(armed) = armed_tests().as_mut() {
            armed.remove(&self.0);
        }
    }
}

fn armed_tests() -> std::sync::MutexGuard<'static, Option<HashMap<u64, Armed>>> {
    // A test that panicked while holding it left nothing half-done.
    ARMED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running test's name (libtest runs each test on a thread named
/// after it).
fn this_test() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("a test")
        .to_string()
}

/// Ends the binary when a test runs past its limit: a thread cannot be
/// stopped from outside, and waiting for it is the hang this prevents.
fn watchdog() {
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = Instant::now();
        let late: Vec<String> = armed_tests()
            .iter()
            .flat_map(|m| m.values())
            .filter(|a| a.until <= now)
            .map(|a| {
                format!(
                    "test {} ran past its time limit of {:.0?} ({:.0?} scaled by {:.1} for this build \
                     and machine): it hangs or is far too slow",
                    a.test,
                    a.limit,
                    a.limit.div_f64(a.scaled_by),
                    a.scaled_by
                )
            })
            .collect();
        if !late.is_empty() {
            let mut err = std::io::stderr().lock();
            for line in &late {
                let _ = writeln!(err, "\n{line}");
            }
            let _ = writeln!(
                err,
                "stopping this test binary so that the suite does not hang (exit 101)"
            );
            let _ = err.flush();
            std::process::exit(101);
        }
    }
}

/// Says on the terminal, past libtest's capture, that the calling test
/// left out `what` on this machine, and why.
pub fn skipped(what: &str) {
    let _ = writeln!(std::io::stderr(), "\nskipped in {}: {what}", this_test());
}
