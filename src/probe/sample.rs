//! The live figures a sampler publishes while a run goes on (the
//! dashboard's panels): tokio-metrics' runtime figures and the figures of
//! the tasks not yet done.

use std::time::Duration;

use crate::event::{TaskIdx, TaskStats};

/// Live tokio-metrics figures, sampled by the runner while a run goes on.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Scenario time it was taken at.
    pub at: Duration,
    pub runtime: RuntimeSample,
    /// Figures of tasks not yet done.
    pub tasks: Vec<(TaskIdx, TaskStats)>,
}

impl Sample {
    /// The same sample without the tasks' figures.
    pub fn runtime_only(&self) -> Sample {
        Sample {
            at: self.at,
            runtime: self.runtime,
            tasks: Vec::new(),
        }
    }
}

/// From tokio-metrics' `RuntimeMonitor`, over the last sampling interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RuntimeSample {
    pub workers: usize,
    /// Share of the interval the workers were busy (0..=1).
    pub busy_ratio: f64,
    pub global_queue: usize,
    pub local_queues: usize,
    pub blocking_queue: usize,
    pub blocking_threads: usize,
    pub polls: u64,
    /// Steals so far in the run (a busy worker hands its count in when it
    /// next parks).
    pub steals: u64,
    pub parks: u64,
}
