//! The live figures the dashboard's panels show: tokio-metrics' runtime
//! figures and the figures of the tasks not yet done, sampled on a thread
//! of their own while the run goes on.

use std::sync::Arc;
use std::time::Duration;

use crate::event::TaskIdx;
use crate::probe::{Recorder, RuntimeSample, Sample};

/// The live figures of the tasks not yet done.
pub(crate) type LiveTasks = Box<dyn Fn() -> Vec<(TaskIdx, crate::event::TaskStats)> + Send>;

/// Publishes live tokio-metrics figures every `every` until the run ends.
pub(crate) fn start_sampler(recorder: Arc<Recorder>, every: Duration, tasks: LiveTasks) {
    let handle = tokio::runtime::Handle::current();
    let _ = std::thread::Builder::new()
        .name("taskscope-sampler".into())
        .spawn(move || {
            let mut intervals = tokio_metrics::RuntimeMonitor::new(&handle).intervals();
            // Steals so far (each interval counts its own).
            let mut steals = 0;
            while !recorder.is_finished() {
                std::thread::sleep(every);
                let m = intervals.next().unwrap_or_default();
                let elapsed = m.elapsed.as_secs_f64() * m.workers_count.max(1) as f64;
                let tasks = tasks();
                recorder.publish(Sample {
                    at: recorder.time_off_runtime(),
                    runtime: RuntimeSample {
                        workers: m.workers_count,
                        busy_ratio: if elapsed > 0.0 {
                            (m.total_busy_duration.as_secs_f64() / elapsed).min(1.0)
                        } else {
                            0.0
                        },
                        global_queue: m.global_queue_depth,
                        local_queues: m.total_local_queue_depth,
                        blocking_queue: m.blocking_queue_depth,
                        blocking_threads: m.blocking_threads_count,
                        polls: m.total_polls_count,
                        steals: {
                            steals += m.total_steal_count;
                            steals
                        },
                        parks: m.total_park_count,
                    },
                    tasks,
                });
            }
        });
}
