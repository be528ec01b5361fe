//! The one place a tokio runtime is built: current_thread or multi_thread
//! with N workers, the virtual or the real clock, CPU pinning, and tokio's
//! runtime hooks, where pause, step and pacing hold a poll and a driver
//! sees its tasks.

use std::sync::Arc;

use super::control::Control;
use super::os;
use crate::probe::Recorder;
use crate::scenario::{Clock, Flavor, MAX_THREADS, RuntimeSpec};

thread_local! {
    /// This thread is one of the runtime's (a worker, the blocking pool,
    /// the run's own thread).
    static RUNTIME_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the current thread as the runtime's.
pub(crate) fn runtime_thread_started() {
    RUNTIME_THREAD.with(|r| r.set(true));
}

/// Whether this thread is one of the runtime's.
pub(crate) fn is_runtime_thread() -> bool {
    RUNTIME_THREAD.with(std::cell::Cell::get)
}

/// What a driver sees of tokio's runtime hooks; each runs on the thread
/// where tokio calls it. Pause, step, pacing and pinning are the
/// runtime's own and need no driver.
pub trait Hooks: Send + Sync + 'static {
    /// A task was spawned (inside `spawn`, before it can be scheduled);
    /// true: it is one of the run's tasks, and pause and step gate it.
    fn spawned(&self, id: tokio::task::Id) -> bool;

    /// Whether the driver wants [`Hooks::before_poll`] and
    /// [`Hooks::after_poll`] (each a call per poll).
    fn wants_polls(&self) -> bool {
        false
    }

    /// A poll of task `id` opens (after the gate let it through).
    fn before_poll(&self, _id: tokio::task::Id) {}

    /// The poll on this thread has closed.
    fn after_poll(&self) {}

    /// Task `id` has ended.
    fn terminated(&self, _id: tokio::task::Id) {}

    /// This thread is about to park (tokio may move its paused clock).
    fn parked(&self) {}

    /// A thread of the runtime (a worker, a blocking-pool thread, the run's
    /// own) starts, on itself.
    fn thread_started(&self) {}
}

/// The runtime for `spec`, recording into `recorder`, held and paced by
/// `control`, its tasks seen by `hooks`.
pub fn build(
    spec: &RuntimeSpec,
    recorder: &Arc<Recorder>,
    control: Option<Arc<Control>>,
    hooks: Arc<dyn Hooks>,
) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match spec.flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(spec.workers);
            b
        }
    };
    let virtual_clock = spec.clock == Clock::Virtual;
    let cpus = os::RunCpus::of_this_thread(spec.cpus);
    let pinned = spec.cpus.is_some();
    // multi_thread starts its workers first, as it is built: with
    // `pin_workers`, worker w on the run's w-th CPU.
    let workers = match (spec.pin_workers, spec.flavor) {
        (true, Flavor::MultiThread) => spec.workers,
        _ => 0,
    };
    let started = std::sync::atomic::AtomicUsize::new(0);
    let h = hooks.clone();
    builder
        .enable_all()
        .thread_name("taskscope-worker")
        // spawn_blocking jobs beyond this wait their turn (tokio's default
        // would let 512 threads be alive at once).
        .max_blocking_threads(MAX_THREADS)
        .start_paused(virtual_clock)
        // Workers and blocking-pool threads alike.
        .on_thread_start(move || {
            runtime_thread_started();
            h.thread_started();
            let n = started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n < workers {
                cpus.pin(Some(n));
            } else if pinned {
                cpus.pin(None);
            }
        });
    let (h, c) = (hooks.clone(), control.clone());
    // Runs inside `spawn`, before the task can be scheduled, so the spawn
    // is recorded before anything the task does.
    builder.on_task_spawn(move |meta| {
        if h.spawned(meta.id())
            && let Some(c) = &c
        {
            c.track(meta.id());
        }
    });
    let (h, c) = (hooks.clone(), control.clone());
    builder.on_task_terminate(move |meta| {
        if let Some(c) = &c {
            c.untrack(meta.id());
        }
        h.terminated(meta.id());
    });
    if control.is_some() || hooks.wants_polls() {
        // Pause and step hold a poll before it starts: outside the task's
        // span, so a held task is scheduled, not busy, for tokio-console.
        let (h, c) = (hooks.clone(), control.clone());
        let polls = hooks.wants_polls();
        builder.on_before_task_poll(move |meta| {
            if let Some(c) = &c {
                c.before_poll(meta.id());
            }
            if polls {
                h.before_poll(meta.id());
            }
        });
    }
    if hooks.wants_polls() {
        let h = hooks.clone();
        builder.on_after_task_poll(move |_| h.after_poll());
    }
    let pace = control.filter(|c| c.is_paced());
    let recorder = recorder.clone();
    builder.on_thread_park(move || {
        hooks.parked();
        if virtual_clock {
            // tokio moves its paused clock only when the runtime parks (and
            // fires the timers due there, in the park): from then on the
            // probe reads it again; between parks it counts on from its
            // last read. The pacer waits for the wall clock first.
            if let Some(c) = &pace {
                c.before_park();
            }
            recorder.clock_moved();
        }
    });
    builder.build()
}

/// A plain runtime for a service thread of taskscope's own (tokio-console's
/// server): not instrumented, not paced, never shown.
pub fn service() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
