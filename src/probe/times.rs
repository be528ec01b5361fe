//! A task's figures (polls, busy, scheduled, idle, slow polls), counted as
//! tokio-metrics' `TaskMonitor` counts them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::event::{NO_TIME, TaskStats, nanos as ns};

/// A task's figures, counted as tokio-metrics' `TaskMonitor` counts them,
/// from the times the probe stamps its transitions with (so in scenario
/// time, with no clock read of their own). Shared by scenario tasks and
/// your own code's (`crate::watch`).
#[derive(Debug)]
pub(crate) struct Times {
    /// When the current state began (ns of scenario time): until the
    /// first poll, the spawn.
    since: AtomicU64,
    polls: AtomicU64,
    busy: AtomicU64,
    scheduled: AtomicU64,
    idle: AtomicU64,
    slow_polls: AtomicU64,
    /// NO_TIME until the first poll starts.
    first_poll_delay: AtomicU64,
}

/// A poll longer than this is slow (tokio-metrics' default threshold).
pub const SLOW_POLL: Duration = tokio_metrics::TaskMonitor::DEFAULT_SLOW_POLL_THRESHOLD;

/// Adds to a figure only its task's poll or wake changes (no lock: one
/// change at a time, as the task's state allows).
fn add(figure: &AtomicU64, d: u64) {
    figure.store(
        figure.load(Ordering::Relaxed).saturating_add(d),
        Ordering::Relaxed,
    );
}

impl Times {
    pub(crate) fn stats(&self) -> TaskStats {
        let d = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
        let first = self.first_poll_delay.load(Ordering::Relaxed);
        TaskStats {
            polls: self.polls.load(Ordering::Relaxed),
            busy: d(&self.busy),
            scheduled: d(&self.scheduled),
            idle: d(&self.idle),
            slow_polls: self.slow_polls.load(Ordering::Relaxed),
            first_poll_delay: Duration::from_nanos(if first == NO_TIME { 0 } else { first }),
            os: None,
        }
    }

    /// A task spawned at `now`.
    pub(crate) fn spawned_at(now: Duration) -> Times {
        let now = ns(now);
        Times {
            since: AtomicU64::new(now),
            polls: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            scheduled: AtomicU64::new(0),
            idle: AtomicU64::new(0),
            slow_polls: AtomicU64::new(0),
            first_poll_delay: AtomicU64::new(NO_TIME),
        }
    }

    /// Spawned at `now` (for a probe made before its spawn was recorded).
    pub(crate) fn set_spawned(&self, now: Duration) {
        self.since.store(ns(now), Ordering::Relaxed);
    }

    /// Its first poll has started.
    pub(crate) fn has_started(&self) -> bool {
        self.first_poll_delay.load(Ordering::Relaxed) != NO_TIME
    }

    /// The time since the current state began, and `now` begins the next.
    fn lap(&self, now: Duration) -> u64 {
        let now = ns(now);
        // A load and a store, not a swap (a locked instruction): one change
        // at a time, as for the figures.
        let since = self.since.load(Ordering::Relaxed);
        self.since.store(now, Ordering::Relaxed);
        now.saturating_sub(since)
    }

    pub(crate) fn poll_start(&self, now: Duration) {
        let waited = self.lap(now);
        // As tokio-metrics counts: the wait for the first poll is its own.
        if self.has_started() {
            add(&self.scheduled, waited);
        } else {
            self.first_poll_delay.store(waited, Ordering::Relaxed);
        }
    }

    /// As tokio-metrics counts: a poll counts once it has ended.
    pub(crate) fn poll_end(&self, now: Duration) {
        let poll = self.lap(now);
        add(&self.polls, 1);
        add(&self.busy, poll);
        add(&self.slow_polls, u64::from(poll > ns(SLOW_POLL)));
    }

    pub(crate) fn woken(&self, now: Duration) {
        add(&self.idle, self.lap(now));
    }
}

impl Default for Times {
    fn default() -> Times {
        Times::spawned_at(Duration::ZERO)
    }
}
