//! Work that really uses a CPU, or charges it to the virtual clock.

use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Waker};
use std::time::Duration;

/// CPU time used so far by this thread (Linux), or wall time elsewhere.
fn thread_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time used so far by this process.
pub fn process_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids are constants.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Burns `d` of this thread's CPU time: more wall time if the core is shared.
pub fn burn_cpu(d: Duration) {
    burn_cpu_until(d, &AtomicBool::new(false));
}

/// [`burn_cpu`], ending early once `stop` is set (the run is stopping).
pub fn burn_cpu_until(d: Duration, stop: &AtomicBool) {
    let start = thread_cpu_time();
    let mut x = 1u64;
    while thread_cpu_time().saturating_sub(start) < d && !stop.load(Ordering::Relaxed) {
        for _ in 0..2_000 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
    black_box(x);
}

/// Sleeps `d` (a blocking call), ending early once `stop` is set.
pub fn sleep_until_stopped(d: Duration, stop: &AtomicBool) {
    let end = std::time::Instant::now() + d;
    loop {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stop.load(Ordering::Relaxed) {
            return;
        }
        // Short enough that a stop is seen at once, long enough to cost nothing.
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Moves tokio's paused clock forward by `d` without leaving the poll, as if
/// the thread had been busy that long: timers due meanwhile fire late.
pub fn charge_virtual(d: Duration) {
    // `advance` moves the clock, then yields; polling it once does the move
    // and drops the yield, so the task keeps its worker.
    let mut advance = pin!(tokio::time::advance(d));
    let _ = advance
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
}
