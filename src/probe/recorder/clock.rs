//! The recorder's clock: scenario time since the run started, as the probe
//! stamps events. Virtual: tokio's paused clock, which only the runtime's
//! thread may read and which moves only when a step charges time or the
//! runtime parks, so events are stamped from a cursor in between. Real: the
//! CPU's time-stamp counter, read as a raw count (cheap) and scaled to
//! nanoseconds, and by the run's time scale, only for the lap since start.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::ThreadId;
use std::time::Duration;

use crate::event::nanos as ns;
use crate::probe::CURRENT;

/// Scenario time zero, on the clock the run uses.
enum Start {
    /// tokio's clock: the paused (virtual) clock, read under its lock.
    Tokio(tokio::time::Instant),
    /// The real clock, read cheaply: the CPU's time-stamp counter where it
    /// is reliable, as a raw count (scaled to nanoseconds only for the
    /// lap since `raw`).
    Real { clock: quanta::Clock, raw: u64 },
}

/// The real clock, calibrated once per process (calibrating takes a while).
/// Its raw counts are the same in every process of the machine (the CPU's
/// time-stamp counter, or the monotonic clock where that is unreliable),
/// so a child process's raw counts are read with the parent's clock.
pub(crate) fn real_clock() -> quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new).clone()
}

/// One run's clock (see the module docs); times are ns of scenario time.
pub(super) struct Clock {
    /// The run is on tokio's paused (virtual) clock.
    paused: bool,
    start: OnceLock<Start>,
    /// Virtual clock: the runtime's thread, the only one that may read
    /// tokio's paused clock (elsewhere `Instant::now` is the wall's).
    runtime_thread: OnceLock<ThreadId>,
    /// Virtual clock only: scenario time (ns) as of the newest clock read,
    /// plus what `cpu` and `block` steps charged since. The paused clock
    /// moves only by such charges and when the runtime parks, so events
    /// are timed from this until then.
    cursor: AtomicU64,
    /// The cursor is behind tokio's clock (it parked and moved on).
    stale: AtomicBool,
    /// The clock is no longer read (see [`Clock::hold`]).
    held: AtomicBool,
    /// Real clock: scenario time per wall time (f64 bits): below 1 the run
    /// plays in slow motion, every duration stretched by the runner.
    scale: AtomicU64,
}

impl Clock {
    /// A clock on tokio's paused clock (`paused`) or the real one, not
    /// started yet (it reads 0 until [`Clock::start`]).
    pub(super) fn new(paused: bool) -> Clock {
        Clock {
            paused,
            start: OnceLock::new(),
            runtime_thread: OnceLock::new(),
            cursor: AtomicU64::new(0),
            stale: AtomicBool::new(false),
            held: AtomicBool::new(false),
            scale: AtomicU64::new(1.0f64.to_bits()),
        }
    }

    /// Real clock: scenario time runs at `scale` times the wall's.
    pub(super) fn set_scale(&self, scale: f64) {
        self.scale.store(scale.to_bits(), Ordering::Relaxed);
    }

    /// Scenario time per wall time.
    #[inline]
    pub(super) fn scale(&self) -> f64 {
        f64::from_bits(self.scale.load(Ordering::Relaxed))
    }

    /// Marks scenario time zero, on the runtime's thread.
    pub(super) fn start(&self) {
        let _ = self.runtime_thread.set(std::thread::current().id());
        let _ = self.start.set(if self.paused {
            Start::Tokio(tokio::time::Instant::now())
        } else {
            let clock = real_clock();
            let raw = clock.raw();
            Start::Real { clock, raw }
        });
        self.cursor.store(0, Ordering::Relaxed);
    }

    /// This is the runtime's thread.
    #[inline]
    pub(super) fn on_runtime_thread(&self) -> bool {
        self.runtime_thread.get() == Some(&std::thread::current().id())
    }

    /// The runtime parked (and tokio may have moved its paused clock on):
    /// the next event reads the clock again.
    #[inline]
    pub(super) fn moved(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    /// Scenario time now, read from the clock (virtual: on the runtime's
    /// thread only).
    #[inline]
    pub(super) fn read(&self) -> u64 {
        match self.start.get() {
            None => 0,
            Some(Start::Tokio(start)) => {
                ns(tokio::time::Instant::now().saturating_duration_since(*start))
            }
            Some(Start::Real { clock, raw }) => {
                let wall = clock.delta_as_nanos(*raw, clock.raw());
                match self.scale() {
                    1.0 => wall,
                    scale => (wall as f64 * scale) as u64,
                }
            }
        }
    }

    /// Real clock: the scenario time (ns) of the raw count `raw` of
    /// [`real_clock`] (0 before the start; the virtual clock has none).
    pub(super) fn at_raw(&self, raw: u64) -> u64 {
        match self.start.get() {
            Some(Start::Real { clock, raw: start }) => {
                let wall = clock.delta_as_nanos(*start, raw.max(*start));
                match self.scale() {
                    1.0 => wall,
                    scale => (wall as f64 * scale) as u64,
                }
            }
            _ => 0,
        }
    }

    /// Scenario time now, as the probe stamps an event (ns), from a thread
    /// that is (`on_runtime`) or is not the runtime's.
    #[inline]
    pub(super) fn now_on(&self, on_runtime: bool) -> u64 {
        if !self.paused {
            return self.read();
        }
        if on_runtime
            && !self.held.load(Ordering::Relaxed)
            && self.stale.load(Ordering::Relaxed)
            && self.stale.swap(false, Ordering::Relaxed)
        {
            let now = self.read().max(self.cursor.load(Ordering::Relaxed));
            self.cursor.store(now, Ordering::Relaxed);
            return now;
        }
        self.cursor.load(Ordering::Relaxed)
    }

    /// Virtual clock: the runtime is shutting down (tokio's clock cannot be
    /// read there): what is recorded from now on is stamped with the last
    /// time read.
    pub(super) fn hold(&self) {
        self.held.store(true, Ordering::Relaxed);
    }

    /// Virtual clock: `d` was charged to tokio's clock inside a poll.
    #[inline]
    pub(super) fn charge(&self, d: Duration) {
        self.cursor.fetch_add(ns(d), Ordering::Relaxed);
    }

    /// Scenario time now, as the probe would stamp an event.
    pub(super) fn elapsed(&self) -> Duration {
        let on_runtime = self.on_runtime_thread();
        Duration::from_nanos(if self.paused && CURRENT.with(|c| c.get()).is_none() {
            // Off a poll the paused clock may have moved: read it.
            self.moved();
            self.now_on(on_runtime)
        } else {
            self.now_on(on_runtime)
        })
    }

    /// Scenario time as seen from off the runtime: the real clock, or on
    /// the virtual clock the newest time the probe saw.
    pub(super) fn off_runtime(&self) -> Duration {
        Duration::from_nanos(if self.paused {
            self.cursor.load(Ordering::Relaxed)
        } else {
            self.read()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_clock_moves_only_by_charges_until_it_is_read_again() {
        let _limit = crate::test_limit::limit();
        // Not started: tokio's clock is never read, only the cursor.
        let clock = Clock::new(true);
        clock.charge(Duration::from_millis(5));
        clock.charge(Duration::from_millis(2));
        assert_eq!(clock.off_runtime(), Duration::from_millis(7));
        assert_eq!(clock.now_on(false), 7_000_000);
        // Stale, but only the runtime's thread reads the clock again.
        clock.moved();
        assert_eq!(clock.now_on(false), 7_000_000);
        // Read again: never behind what was charged.
        assert_eq!(clock.now_on(true), 7_000_000);
    }

    #[test]
    fn a_real_clock_runs_at_its_scale() {
        let _limit = crate::test_limit::limit();
        let clock = Clock::new(false);
        assert_eq!(clock.now_on(true), 0, "not started");
        clock.set_scale(0.0);
        clock.start();
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(clock.now_on(false), 0, "scaled to a standstill");
        clock.set_scale(1.0);
        assert!(clock.off_runtime() >= Duration::from_millis(1));
    }
}
