//! Signals your program waits for (`tokio::signal::ctrl_c()`, say): tokio
//! traces none, and its signal driver wakes the waiting task from inside
//! the I/O driver's turn, as a socket's readiness would. What tells them
//! apart is that a signal has just arrived: each one taskscope can see
//! (SIGINT, SIGTERM, SIGHUP, SIGQUIT, which it handles anyway) is counted,
//! with when it came. A wait tokio did not name, begun before a signal and
//! woken by the drivers within [`WINDOW`] of it, was a wait on the signal.
//! A guess, said as one: a socket woken in that moment reads as a signal.

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How soon after a signal the drivers' wake of a waiting task is taken
/// to be the signal's (tokio's driver handles it in the next turn of a
/// worker: microseconds on an idle runtime, a few ms on a busy one).
pub(crate) const WINDOW: Duration = Duration::from_millis(50);

/// Signals seen so far.
static SEEN: AtomicU64 = AtomicU64::new(0);
/// When the last one came (CLOCK_MONOTONIC, ns).
static LAST_AT: AtomicU64 = AtomicU64::new(0);

/// Now on CLOCK_MONOTONIC, in ns (async-signal-safe).
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    #[allow(unsafe_code)]
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Starts counting the signals (once a process; beside every other
/// handler of them, which still run).
pub(crate) fn count() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            // SAFETY: the action only reads the clock and stores two
            // atomics, which is async-signal-safe.
            #[allow(unsafe_code)]
            let _ = unsafe {
                signal_hook::low_level::register(signal, || {
                    LAST_AT.store(monotonic_ns(), Ordering::SeqCst);
                    SEEN.fetch_add(1, Ordering::SeqCst);
                })
            };
        }
    });
}

/// The signals seen so far (a wait records it as it begins).
pub(crate) fn seen() -> u64 {
    SEEN.load(Ordering::Relaxed)
}

/// Whether a wait that began when [`seen`] said `at_wait`, woken by the
/// drivers now, was a wait on a signal.
pub(crate) fn woke(at_wait: u64) -> bool {
    if SEEN.load(Ordering::SeqCst) == at_wait {
        return false;
    }
    let since = monotonic_ns().saturating_sub(LAST_AT.load(Ordering::SeqCst));
    since < WINDOW.as_nanos() as u64
}

/// A signal, as the handler counts it (for tests).
#[cfg(test)]
fn arrived() {
    LAST_AT.store(monotonic_ns(), Ordering::SeqCst);
    SEEN.fetch_add(1, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_driver_wake_soon_after_a_signal_that_came_during_the_wait_is_the_signals() {
        let _limit = crate::test_limit::limit();
        let before = seen();
        assert!(!woke(before), "no signal since the wait began");
        arrived();
        assert!(woke(before), "a signal came during the wait, just now");
        assert!(!woke(seen()), "the wait began after the signal");
        LAST_AT.store(
            monotonic_ns() - 2 * WINDOW.as_nanos() as u64,
            Ordering::SeqCst,
        );
        assert!(!woke(before), "the signal came long before the wake");
    }
}
