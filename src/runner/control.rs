//! The gate: pause, step and pacing, enforced where tokio starts a poll.
//!
//! Every poll of a scenario task passes [`Gate::before_poll`] first. While
//! paused, no poll starts (so on the virtual clock no scenario time passes);
//! a step lets exactly one through. Unpaused on the virtual clock, a poll
//! waits until the wall clock has caught up with its scenario time at the
//! chosen speed: tokio makes the same decisions as in an unpaced run, and
//! only real delays are added. On the real clock nothing is paced.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::probe::TaskIdx;

#[derive(Debug)]
pub struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
    /// Pace polls to the wall clock (virtual clock only).
    paced: bool,
}

#[derive(Debug)]
struct GateState {
    paused: bool,
    /// Polls allowed through while paused.
    steps: u64,
    speed: f64,
    /// Scenario time `anchor_t` is shown at wall time `anchor_wall`.
    anchor_wall: Instant,
    anchor_t: Duration,
    /// Stop gating altogether (the run is being stopped).
    open: bool,
    /// The newest poll let through, and when in scenario time.
    last_released: Option<(TaskIdx, Duration)>,
    /// Polls let through so far.
    released: u64,
    /// A poll is held at the gate, due at this scenario time.
    waiting_at: Option<Duration>,
}

/// What the dashboard needs to know about the gate, read in one go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateView {
    pub paused: bool,
    pub speed: f64,
    /// Scenario time the screen should show now.
    pub display: Duration,
    pub last_released: Option<(TaskIdx, Duration)>,
    pub released: u64,
    /// A poll is held, due at this time (None: the runtime is busy or idle).
    pub waiting_at: Option<Duration>,
}

impl Gate {
    pub fn new(paced: bool, paused: bool, speed: f64) -> Gate {
        Gate {
            state: Mutex::new(GateState {
                paused,
                steps: 0,
                speed: speed.clamp(0.01, 100.0),
                anchor_wall: Instant::now(),
                anchor_t: Duration::ZERO,
                open: false,
                last_released: None,
                released: 0,
                waiting_at: None,
            }),
            changed: Condvar::new(),
            paced,
        }
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Scenario time shown at wall time `now`.
    fn display(&self, s: &GateState, now: Instant) -> Duration {
        if s.paused || !self.paced {
            return s.anchor_t;
        }
        s.anchor_t
            + now
                .saturating_duration_since(s.anchor_wall)
                .mul_f64(s.speed)
    }

    /// Holds the calling worker until poll of `task` at scenario time `t`
    /// may start.
    pub fn before_poll(&self, task: TaskIdx, t: Duration) {
        let mut s = self.lock();
        loop {
            if s.open {
                break;
            }
            if s.paused {
                if s.steps > 0 {
                    s.steps -= 1;
                    s.anchor_t = s.anchor_t.max(t);
                    break;
                }
                s.waiting_at = Some(t);
                s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            if !self.paced {
                break;
            }
            let now = Instant::now();
            let shown = self.display(&s, now);
            if shown >= t {
                break;
            }
            s.waiting_at = Some(t);
            let wait = (t - shown).div_f64(s.speed);
            s = self
                .changed
                .wait_timeout(s, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        s.waiting_at = None;
        s.last_released = Some((task, t));
        s.released += 1;
        if !self.paced {
            s.anchor_t = s.anchor_t.max(t);
        }
    }

    /// Pauses or resumes at scenario time `shown` (what the screen shows).
    pub fn set_paused(&self, paused: bool) {
        let mut s = self.lock();
        if s.paused == paused {
            return;
        }
        let now = Instant::now();
        s.anchor_t = self.display(&s, now);
        s.anchor_wall = now;
        s.paused = paused;
        s.steps = 0;
        self.changed.notify_all();
    }

    /// While paused: let exactly one more poll through.
    pub fn step(&self) {
        let mut s = self.lock();
        if s.paused {
            s.steps += 1;
            self.changed.notify_all();
        }
    }

    pub fn set_speed(&self, speed: f64) {
        let mut s = self.lock();
        let now = Instant::now();
        s.anchor_t = self.display(&s, now);
        s.anchor_wall = now;
        s.speed = speed.clamp(0.01, 100.0);
        self.changed.notify_all();
    }

    /// Lets everything through from now on (the run is being stopped).
    pub fn open(&self) {
        self.lock().open = true;
        self.changed.notify_all();
    }

    pub fn view(&self) -> GateView {
        let s = self.lock();
        GateView {
            paused: s.paused,
            speed: s.speed,
            display: self.display(&s, Instant::now()),
            last_released: s.last_released,
            released: s.released,
            waiting_at: s.waiting_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_paused_gate_lets_exactly_one_poll_through_per_step() {
        let gate = Arc::new(Gate::new(true, true, 1.0));
        let g = gate.clone();
        let worker = std::thread::spawn(move || {
            for i in 0..3 {
                g.before_poll(i, Duration::ZERO);
            }
        });
        // Nothing passes until a step is granted.
        while gate.view().waiting_at.is_none() {
            std::thread::yield_now();
        }
        assert_eq!(gate.view().released, 0);
        gate.step();
        while gate.view().released < 1 || gate.view().waiting_at.is_none() {
            std::thread::yield_now();
        }
        assert_eq!(gate.view().released, 1);
        assert_eq!(gate.view().last_released, Some((0, Duration::ZERO)));
        gate.set_paused(false);
        worker.join().unwrap();
        assert_eq!(gate.view().released, 3);
    }

    #[test]
    fn an_open_gate_never_holds() {
        let gate = Gate::new(true, true, 1.0);
        gate.open();
        gate.before_poll(0, Duration::from_secs(3600));
        assert_eq!(gate.view().released, 1);
    }

    #[test]
    fn pausing_freezes_the_displayed_time() {
        let gate = Gate::new(true, false, 1.0);
        gate.set_paused(true);
        let a = gate.view().display;
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(gate.view().display, a);
    }
}
