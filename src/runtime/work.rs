//! Work that really uses a CPU, or charges it to the virtual clock.
//!
//! CPU work taskscope runs itself reads the clock every microsecond or so
//! as it burns: a gap between two reads longer than [`GAP`] is a moment the
//! OS took the CPU away. So each time slice it got is known exactly (with
//! the CPU it ran on), with no privileges: the way jitter tools such as
//! sysjitter and jHiccup see the OS.

use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Waker};
use std::time::Duration;

/// CPU time used so far by this thread (Linux), or wall time elsewhere.
pub fn thread_cpu_time() -> Duration {
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

/// A gap between two reads of the clock longer than this may be the OS
/// taking the CPU away (another thread's time slice is a millisecond or
/// more): it is, if the thread was switched out meanwhile (its context
/// switch count says so); else an interrupt or the hypervisor held the CPU,
/// and the OS still counts the thread as on it.
pub const GAP: Duration = Duration::from_micros(10);

/// How many times this thread has been switched out so far.
fn switches() -> i64 {
    // SAFETY: `usage` is a plain struct getrusage fills in.
    #[allow(unsafe_code)]
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_THREAD, &mut usage) != 0 {
            return 0;
        }
        usage.ru_nvcsw + usage.ru_nivcsw
    }
}

/// What a burn tells as it goes, in raw counts of the process's real clock
/// ([`crate::probe::real_clock`]).
pub trait Slices {
    /// On CPU `cpu` from `at`: at the start, and each time the OS gives the
    /// CPU back.
    fn on_cpu(&mut self, cpu: u16, at: u64);
    /// The OS took the CPU away at `at` (known once it gives it back).
    fn off_cpu(&mut self, at: u64);
    /// Still on the CPU at `at`: nothing told from now on is earlier.
    fn still(&mut self, _at: u64) {}
    /// The work ended at `at`, on a CPU (what follows is not its work).
    fn end(&mut self, _at: u64) {}
}

/// The CPU this thread runs on now.
pub fn current_cpu() -> u16 {
    // SAFETY: sched_getcpu takes no arguments and only reads.
    #[allow(unsafe_code)]
    let cpu = unsafe { libc::sched_getcpu() };
    u16::try_from(cpu).unwrap_or(0)
}

/// Burns `d` of CPU time on this thread, measured as the time it was on a
/// CPU (the slices `slices` is told of), ending early once `stop` is set.
pub fn burn_sliced(d: Duration, stop: &AtomicBool, slices: &mut impl Slices) {
    let clock = crate::probe::real_clock();
    let gap = GAP.as_nanos() as u64;
    let want = d.as_nanos().min(u128::from(u64::MAX)) as u64;
    let mut slice_start = clock.raw();
    let mut last = slice_start;
    let mut switched = switches();
    slices.on_cpu(current_cpu(), slice_start);
    // On a CPU before the slice in progress.
    let mut before = 0u64;
    let mut x = 1u64;
    loop {
        for _ in 0..64 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        let now = clock.raw();
        if clock.delta_as_nanos(last, now) > gap && switches() != switched {
            switched = switches();
            before += clock.delta_as_nanos(slice_start, last);
            slices.off_cpu(last);
            slice_start = now;
            slices.on_cpu(current_cpu(), now);
        }
        last = now;
        slices.still(now);
        if before + clock.delta_as_nanos(slice_start, now) >= want || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    slices.end(last);
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
