//! The run's controls: pause, step and pacing, each held where tokio itself
//! hands over, so every observer (the screen, tokio-console, a stopwatch)
//! sees the same story.
//!
//! - Pause and step hold a task *before* its poll, in tokio's
//!   `on_before_task_poll` hook: outside the task's span, so a held task is
//!   scheduled (ready), never busy. No poll starts while paused; a step lets
//!   exactly one through.
//! - On the virtual clock the run is paced to the wall at the chosen speed:
//!   a `cpu`/`block` charge holds its own poll for `d / speed` ([`Control::charge`]),
//!   and before the worker parks (`on_thread_park`) it waits until the wall
//!   clock has reached the earliest timer or reply the run knows of
//!   ([`Control::due`]); then tokio's auto-advance moves the clock there and
//!   the timer fires at the right wall moment. Waiting is idle time.
//! - On the real clock nothing is paced: pause only holds polls, and timers,
//!   threads and child processes go on.
//!
//! The paced clock is also what the screen shows as "now" on the virtual
//! clock. It is re-anchored to tokio's clock wherever the run syncs with it
//! (a charge starts, a wait ends), so it never drifts from scenario time.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::task::Id;

use crate::speed::Speed;

/// Longest single wait before the state is looked at again (a safety net:
/// every change notifies the waiters anyway).
const RECHECK: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub struct Control {
    state: Mutex<ControlState>,
    changed: Condvar,
    /// Pace the virtual clock to the wall (false on the real clock).
    paced: bool,
    /// The run is being stopped: nothing is held any more.
    open: AtomicBool,
}

#[derive(Debug)]
struct ControlState {
    paused: bool,
    /// Polls allowed through while paused.
    steps: u64,
    speed: Speed,
    /// The paced clock shows `anchor_t` at `anchor_wall`.
    anchor_wall: Instant,
    anchor_t: Duration,
    /// The scenario time the run is waiting for on the wall clock (a due
    /// timer or the end of a charge). The paced clock moves only toward it:
    /// polls that charge nothing take no scenario time, however long they
    /// take on the wall.
    target: Option<Duration>,
    /// The wait is a charge: the clock runs to its end even when paused (a
    /// poll that has started cannot be interrupted).
    charging: bool,
    /// Timers and replies the run waits for (scenario time -> how many).
    dues: BTreeMap<Duration, u32>,
    /// Something outside the pacer keeps tokio's clock from moving (bytes in
    /// flight on loopback): parking must not wait then.
    clock_held: usize,
    /// tokio ids of the scenario's tasks (only those are gated).
    tracked: HashSet<Id>,
    /// Polls let through the gate so far.
    released: u64,
    /// Polls held at the gate right now.
    held: usize,
    /// Scenario time zero on tokio's clock (virtual clock only).
    start: Option<tokio::time::Instant>,
}

/// What the screen needs to know about the controls, read in one go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlView {
    pub paused: bool,
    pub speed: Speed,
    /// The paced clock (virtual clock): scenario time the screen shows now.
    pub display: Duration,
    pub released: u64,
    /// Steps asked for and not yet taken (nothing was ready to poll).
    pub steps_pending: u64,
    /// Polls held at the gate right now.
    pub held: usize,
    /// Paused, but a charged poll is still running to its end.
    pub finishing: bool,
}

impl ControlView {
    /// The view of a run nobody controls (a replay).
    pub fn replay() -> ControlView {
        ControlView {
            paused: true,
            speed: Speed::REAL_TIME,
            display: Duration::ZERO,
            released: 0,
            steps_pending: 0,
            held: 0,
            finishing: false,
        }
    }
}

impl Control {
    pub fn new(paced: bool, paused: bool, speed: Speed) -> Arc<Control> {
        Arc::new(Control {
            state: Mutex::new(ControlState {
                paused,
                steps: 0,
                speed,
                anchor_wall: Instant::now(),
                anchor_t: Duration::ZERO,
                target: None,
                charging: false,
                dues: BTreeMap::new(),
                clock_held: 0,
                tracked: HashSet::new(),
                released: 0,
                held: 0,
                start: None,
            }),
            changed: Condvar::new(),
            paced,
            open: AtomicBool::new(false),
        })
    }

    pub fn is_paced(&self) -> bool {
        self.paced
    }

    fn lock(&self) -> MutexGuard<'_, ControlState> {
        // Nothing panics while holding it; a poisoned lock is still valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(
        &'a self,
        s: MutexGuard<'a, ControlState>,
        at_most: Duration,
    ) -> MutexGuard<'a, ControlState> {
        self.changed
            .wait_timeout(s, at_most.min(RECHECK))
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    /// Marks scenario time zero (on the runtime's thread, before any task).
    pub fn start_clock(&self) {
        let mut s = self.lock();
        if self.paced {
            s.start = Some(tokio::time::Instant::now());
        }
        s.anchor_wall = Instant::now();
        s.anchor_t = Duration::ZERO;
    }

    /// Scenario time on tokio's clock (virtual clock, on the runtime thread).
    fn scenario_now(s: &ControlState) -> Option<Duration> {
        s.start
            .map(|start| tokio::time::Instant::now().saturating_duration_since(start))
    }

    /// The paced clock at wall time `wall`.
    fn paced_now(s: &ControlState, wall: Instant) -> Duration {
        let Some(target) = s.target else {
            return s.anchor_t;
        };
        if s.paused && !s.charging {
            return s.anchor_t;
        }
        let t = s.anchor_t
            + wall
                .saturating_duration_since(s.anchor_wall)
                .mul_f64(s.speed.get());
        t.min(target).max(s.anchor_t)
    }

    fn anchor(s: &mut ControlState, t: Duration) {
        s.anchor_t = t;
        s.anchor_wall = Instant::now();
    }

    /// Wall time until the paced clock reaches `t` (it is behind it).
    fn wall_until(s: &ControlState, t: Duration, now: Duration) -> Duration {
        t.saturating_sub(now).div_f64(s.speed.get())
    }

    /// A scenario task was spawned with tokio id `id`: gate its polls.
    pub fn track(&self, id: Id) {
        self.lock().tracked.insert(id);
    }

    /// A task ended: forget it.
    pub fn untrack(&self, id: Id) {
        self.lock().tracked.remove(&id);
    }

    /// tokio's `on_before_task_poll`: holds the poll of task `id` while
    /// paused, until a step (or a resume) lets it through.
    pub fn before_poll(&self, id: Id) {
        if self.open.load(Ordering::Acquire) {
            return;
        }
        let mut s = self.lock();
        if !s.tracked.contains(&id) {
            return;
        }
        while s.paused && !self.open.load(Ordering::Acquire) {
            if s.steps > 0 {
                s.steps -= 1;
                // The screen jumps to the moment this poll starts.
                if let Some(t) = Self::scenario_now(&s) {
                    let t = t.max(s.anchor_t);
                    Self::anchor(&mut s, t);
                }
                break;
            }
            s.held += 1;
            s = self.wait(s, RECHECK);
            s.held -= 1;
        }
        s.released += 1;
        self.changed.notify_all();
    }

    /// tokio's `on_thread_park` (virtual clock): nothing is ready to run, so
    /// tokio is about to move its clock to the next timer. Wait until the
    /// paced clock is there first.
    pub fn before_park(&self) {
        if !self.paced {
            return;
        }
        let mut s = self.lock();
        loop {
            if self.open.load(Ordering::Acquire) || s.clock_held > 0 {
                // Whatever moves the clock now, the screen follows the
                // events: stop moving toward a due time.
                let now = Self::paced_now(&s, Instant::now());
                s.target = None;
                Self::anchor(&mut s, now);
                return;
            }
            let due = s.dues.keys().next().copied();
            if s.paused {
                if s.steps > 0 {
                    // A step goes to the next wake-up at once.
                    if let Some(due) = due {
                        let t = due.max(s.anchor_t);
                        Self::anchor(&mut s, t);
                    }
                    s.target = None;
                    return;
                }
                s = self.wait(s, RECHECK);
                continue;
            }
            let Some(due) = due else { return };
            if s.target != Some(due) {
                s.target = Some(due);
                let from = s.anchor_t.min(due);
                Self::anchor(&mut s, from);
            }
            let now = Self::paced_now(&s, Instant::now());
            if now >= due {
                s.target = None;
                Self::anchor(&mut s, due);
                return;
            }
            let left = Self::wall_until(&s, due, now);
            s = self.wait(s, left);
        }
    }

    /// Virtual clock: a `cpu`/`block` step charged `d` to tokio's clock,
    /// starting at scenario time `start`. Holds the poll until the paced
    /// clock has run that long: a busy poll, as tokio-console sees it.
    pub fn charge(&self, start: Duration, d: Duration) {
        if !self.paced || self.open.load(Ordering::Acquire) {
            return;
        }
        let mut s = self.lock();
        Self::anchor(&mut s, start);
        let end = start + d;
        s.target = Some(end);
        s.charging = true;
        self.changed.notify_all();
        loop {
            if self.open.load(Ordering::Acquire) {
                break;
            }
            let now = Self::paced_now(&s, Instant::now());
            if now >= end {
                break;
            }
            let left = Self::wall_until(&s, end, now);
            s = self.wait(s, left);
        }
        s.target = None;
        s.charging = false;
        Self::anchor(&mut s, end);
        self.changed.notify_all();
    }

    /// Registers a timer or reply due at scenario time `at`, until the
    /// returned guard is dropped (when the wait is over, however it ends).
    pub fn due(self: &Arc<Self>, at: Duration) -> Option<Due> {
        if !self.paced {
            return None;
        }
        *self.lock().dues.entry(at).or_insert(0) += 1;
        Some(Due {
            control: self.clone(),
            at,
        })
    }

    /// Something holds tokio's clock (`true`) or let it go (`false`).
    pub fn hold_clock(&self, held: bool) {
        let mut s = self.lock();
        if held {
            s.clock_held += 1;
        } else {
            s.clock_held = s.clock_held.saturating_sub(1);
        }
        self.changed.notify_all();
    }

    /// Pauses or resumes. A poll in progress finishes first (tokio cannot
    /// interrupt it); no new one starts while paused.
    pub fn set_paused(&self, paused: bool) {
        let mut s = self.lock();
        if s.paused == paused {
            return;
        }
        let now = Self::paced_now(&s, Instant::now());
        Self::anchor(&mut s, now);
        s.paused = paused;
        s.steps = 0;
        self.changed.notify_all();
    }

    /// While paused: let exactly one more poll through. A step not yet
    /// taken (nothing was ready, or a poll is still running) is not added
    /// to: presses while waiting do not pile up.
    pub fn step(&self) {
        let mut s = self.lock();
        if s.paused && s.steps == 0 {
            s.steps = 1;
            self.changed.notify_all();
        }
    }

    pub fn set_speed(&self, speed: Speed) {
        let mut s = self.lock();
        let now = Self::paced_now(&s, Instant::now());
        Self::anchor(&mut s, now);
        s.speed = speed;
        self.changed.notify_all();
    }

    /// Lets everything through from now on (the run is being stopped).
    pub fn open(&self) {
        self.open.store(true, Ordering::Release);
        let _s = self.lock();
        self.changed.notify_all();
    }

    /// The paced clock now (virtual clock).
    pub fn now(&self) -> Duration {
        Self::paced_now(&self.lock(), Instant::now())
    }

    pub fn view(&self) -> ControlView {
        let s = self.lock();
        ControlView {
            paused: s.paused,
            speed: s.speed,
            display: Self::paced_now(&s, Instant::now()),
            released: s.released,
            steps_pending: s.steps,
            held: s.held,
            finishing: s.paused && s.charging,
        }
    }
}

/// A registered due time; dropping it unregisters it.
#[derive(Debug)]
pub struct Due {
    control: Arc<Control>,
    at: Duration,
}

impl Drop for Due {
    fn drop(&mut self) {
        let mut s = self.control.lock();
        if let Some(n) = s.dues.get_mut(&self.at) {
            *n -= 1;
            if *n == 0 {
                s.dues.remove(&self.at);
            }
        }
        self.control.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real tokio task ids (tokio makes them; they cannot be built by hand).
    fn ids(n: usize) -> Vec<Id> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        (0..n).map(|_| rt.spawn(async {}).id()).collect()
    }

    /// Waits for `cond`, failing (not hanging) after a generous deadline.
    fn eventually(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + crate::test_limit::deadline(Duration::from_secs(5));
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Runs `f` (which must not wait) on a thread of its own and fails,
    /// rather than hanging, if it has not returned within a second (scaled
    /// to the build and machine).
    fn returns_at_once(what: &str, f: impl FnOnce() + Send + 'static) {
        let (done, returned) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            f();
            let _ = done.send(());
        });
        let limit = crate::test_limit::deadline(Duration::from_secs(1));
        assert!(
            returned.recv_timeout(limit).is_ok(),
            "{what} waited past {limit:?} instead of returning at once"
        );
    }

    #[test]
    fn a_paused_gate_lets_exactly_one_poll_through_per_step() {
        let _limit = crate::test_limit::limit();
        let control = Control::new(false, true, Speed::clamped(1.0));
        let id = ids(1)[0];
        control.track(id);
        let c = control.clone();
        let worker = std::thread::spawn(move || {
            for _ in 0..3 {
                c.before_poll(id);
            }
        });
        eventually("the first poll to be held", || control.view().held == 1);
        assert_eq!(control.view().released, 0);
        control.step();
        eventually("one poll released and the next held", || {
            let v = control.view();
            v.released == 1 && v.held == 1
        });
        control.set_paused(false);
        worker.join().unwrap();
        assert_eq!(control.view().released, 3);
    }

    #[test]
    fn polls_of_tasks_that_are_not_the_scenarios_pass_a_paused_gate() {
        let _limit = crate::test_limit::limit();
        let control = Control::new(false, true, Speed::clamped(1.0));
        control.before_poll(ids(1)[0]);
        assert_eq!(
            control.view().released,
            0,
            "untracked polls are not counted"
        );
        assert_eq!(control.view().held, 0);
    }

    #[test]
    fn an_open_gate_never_holds() {
        let _limit = crate::test_limit::limit();
        let control = Control::new(true, true, Speed::clamped(1.0));
        let id = ids(1)[0];
        control.track(id);
        control.open();
        control.before_poll(id);
        control.before_park();
        assert_eq!(control.view().held, 0);
    }

    #[test]
    fn the_paced_clock_stands_still_while_nothing_is_awaited() {
        let _limit = crate::test_limit::limit();
        // Polls that charge nothing take no scenario time, however long
        // they take on the wall.
        let control = Control::new(true, false, Speed::clamped(1.0));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(control.view().display, Duration::ZERO);
    }

    #[test]
    fn pausing_freezes_the_paced_clock() {
        let _limit = crate::test_limit::limit();
        let control = Control::new(true, false, Speed::clamped(1.0));
        control.set_paused(true);
        let a = control.view().display;
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(control.view().display, a);
    }

    #[test]
    fn a_charge_holds_for_its_duration_over_the_speed_even_when_paused() {
        let _limit = crate::test_limit::limit();
        let control = Control::new(true, true, Speed::clamped(10.0));
        let started = Instant::now();
        control.charge(Duration::ZERO, Duration::from_millis(200));
        // 200 ms of scenario time at 10x is 20 ms of wall time, at least.
        assert!(started.elapsed() >= Duration::from_millis(20));
        // Paused: the clock stops at the charge's end.
        assert_eq!(control.view().display, Duration::from_millis(200));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(control.view().display, Duration::from_millis(200));
    }

    #[test]
    fn parking_waits_for_the_earliest_due_time_at_the_chosen_speed() {
        let _limit = crate::test_limit::limit();
        let control = Control::new(true, false, Speed::clamped(10.0));
        let _late = control.due(Duration::from_secs(60));
        let _soon = control.due(Duration::from_millis(300));
        let started = Instant::now();
        control.before_park();
        // 300 ms at 10x: at least 30 ms of wall time; then the clock is there.
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(control.view().display >= Duration::from_millis(300));
        assert!(control.view().display < Duration::from_secs(60));
    }

    #[test]
    fn a_dropped_due_no_longer_paces() {
        let _limit = crate::test_limit::limit();
        let control = Control::new(true, false, Speed::clamped(0.01));
        drop(control.due(Duration::from_secs(3600)));
        // Nothing known is due: parking does not wait (were the hour still
        // known, it would wait 100 hours at 0.01x).
        let c = control.clone();
        returns_at_once("parking with only a dropped due", move || c.before_park());
        assert_eq!(control.view().display, Duration::ZERO, "the clock stays");
    }

    #[test]
    fn a_step_while_paused_lets_the_clock_jump_to_the_next_wake_up() {
        let _limit = crate::test_limit::limit();
        let control = Control::new(true, true, Speed::clamped(1.0));
        let _due = control.due(Duration::from_secs(5));
        control.step();
        control.before_park();
        assert_eq!(control.view().display, Duration::from_secs(5));
        assert_eq!(control.view().steps_pending, 1, "the poll takes the step");
    }

    #[test]
    fn a_held_clock_makes_parking_return_at_once_even_when_paused() {
        let _limit = crate::test_limit::limit();
        let control = Control::new(true, true, Speed::clamped(1.0));
        let _due = control.due(Duration::from_secs(5));
        control.hold_clock(true);
        let c = control.clone();
        returns_at_once("parking on a held clock", move || c.before_park());
        assert_eq!(control.view().display, Duration::ZERO);
    }
}
