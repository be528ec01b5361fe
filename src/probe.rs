//! The probe: turns scheduling into [`Event`]s without touching tokio's
//! internals.
//!
//! Each task's future is wrapped in [`Probed`] (`wrap`), which records a
//! poll's start and end and hands the inner future a waker of its own, so
//! every wake-up is seen with who caused it. A task's figures (polls, busy,
//! scheduled, idle) are counted as tokio-metrics' `TaskMonitor` counts
//! them, from the same clock reads (`times`). A task's state changes with
//! compare-and-swap (`state`), so a wake from another thread and the end
//! of its poll never record the same change twice. Threads, jobs and
//! processes are rows of their own (`os_row`).
//! The step interpreter tells the probe what the task is about to wait for
//! ([`TaskProbe::set_wait`]); the probe records what really happened.
//!
//! Events go into a [`Recorder`]: a buffer per thread (a poll is one entry)
//! that a consumer drains, in time order, while the run goes on.

mod os_row;
pub(crate) mod recorder;
mod sample;
mod state;
mod times;
mod wrap;

/// The event types live at the bottom of the crate ([`crate::event`]).
pub use crate::event;

use std::cell::Cell;

pub use event::{Change, Event, Kind, ON_CPU, OsStats, Outcome, TaskIdx, TaskStats, Wait, WakeBy};

pub use os_row::OsRow;
pub use recorder::Hold;
pub(crate) use recorder::PollEnd;
pub(crate) use recorder::clock::real_clock;
pub use recorder::{DASHBOARD_CAPACITY, DEFAULT_CAPACITY, Drained, Recorder};
pub use sample::{RuntimeSample, Sample};
pub(crate) use state::{TaskState, WakeSource, Woken, classify_wake, lateness};
pub use times::SLOW_POLL;
pub(crate) use times::Times;
pub use wrap::{Probed, TaskProbe};

thread_local! {
    /// The task being polled on this thread, for "who woke whom".
    pub(crate) static CURRENT: Cell<Option<TaskIdx>> = const { Cell::new(None) };
    /// A scenario's `fail` step is panicking on this thread, on purpose.
    static FAILING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is polling a scenario task, or failing one
/// on purpose (a `fail` step, with or without the probe): for panic hooks.
pub fn in_task() -> bool {
    CURRENT.with(Cell::get).is_some() || FAILING.with(|f| f.replace(false))
}

/// A scenario's `fail` step: panics with `message`, a panic the panic hook
/// knows is the scenario's own (not an internal error).
pub fn fail(message: &str) -> ! {
    FAILING.with(|f| f.set(true));
    std::panic::panic_any(message.to_string())
}

/// The text of a panic payload, at most
/// [`crate::text::MAX_NAME_CHARS`] characters (what a recording keeps).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "panicked"
    };
    text.chars().take(crate::text::MAX_NAME_CHARS).collect()
}
