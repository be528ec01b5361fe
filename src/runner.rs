//! Driver 1, a scenario: spawns the scenario's tasks (named and probed)
//! on the instrumented runtime, each running its steps (`step`), and
//! watches for the end of the run: every task done, a deadlock, or a stop.
//! What happened inside goes to the [`Recorder`] as events.

mod step;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc, watch};

use crate::event::RuntimeFigures;
use crate::probe::{Recorder, TaskIdx, TaskProbe};
use crate::runtime::build::Hooks;
use crate::runtime::control::Control;
use crate::runtime::os::RunCpus;
use crate::runtime::run::{Stop, start as start_run, stopped_note};
use crate::runtime::sampler::start_sampler;
use crate::runtime::{Ending, Run, RunEnd, RunError, RunOptions, io};
use crate::scenario::{Clock, MAX_PROCESSES, MAX_THREADS, Scenario};
use crate::speed::Speed;

/// Starts `scenario` on its own thread; events flow into the returned
/// run's recorder until it is finished.
pub fn start(scenario: Arc<Scenario>, options: RunOptions) -> Result<Run, RunError> {
    let lossless = scenario.runtime.clock == Clock::Virtual;
    let recorder = Recorder::new(options.capacity.max(16), lossless);
    let scale = if lossless {
        Speed::REAL_TIME
    } else {
        options.time_scale
    };
    recorder.set_time_scale(scale.get());
    let hooks = Arc::new(SpawnHook {
        recorder: options.probe.then(|| recorder.clone()),
    });
    let spec = scenario.runtime;
    let rec = recorder.clone();
    let control = options.control.clone();
    // Taken here, before the run's threads are pinned.
    let cpus = Arc::new(RunCpus::of_this_thread(spec.cpus));
    start_run(&spec, recorder, control, hooks, move |stop| {
        main(scenario, rec, options, stop, cpus)
    })
}

thread_local! {
    /// The task being spawned on this thread, for the spawn hook.
    static SPAWNING: std::cell::RefCell<Option<Spawning>> = const { std::cell::RefCell::new(None) };
}

struct Spawning {
    probe: Arc<TaskProbe>,
    name: Arc<str>,
    parent: Option<TaskIdx>,
}

/// A scenario's tasks are spawned by the runner, which says so first: the
/// spawn hook records each one (the probe is off: no hook).
struct SpawnHook {
    recorder: Option<Arc<Recorder>>,
}

impl Hooks for SpawnHook {
    fn spawned(&self, id: tokio::task::Id) -> bool {
        let Some(recorder) = &self.recorder else {
            return false;
        };
        let Some(s) = SPAWNING.with(|s| s.borrow_mut().take()) else {
            return false;
        };
        let id = id.to_string().parse().unwrap_or(0);
        recorder.spawned(&s.probe, s.name, id, s.parent);
        true
    }
}

/// How many copies of each `[[task]]` were spawned and have finished.
#[derive(Debug, Clone, Copy, Default)]
struct SpecCounts {
    spawned: u64,
    finished: u64,
}

/// Everything the tasks of one run share.
pub(crate) struct Shared {
    scenario: Arc<Scenario>,
    recorder: Option<Arc<Recorder>>,
    worker_exe: Option<PathBuf>,
    io: Arc<io::IoServer>,
    next_task: AtomicU32,
    /// Tasks spawned and not yet finished.
    live: AtomicUsize,
    /// Live tasks parked on a channel, lock or join (for deadlock detection).
    sync_waiting: AtomicUsize,
    /// Bumped at every step, so a stall can be told from slow progress.
    progress: AtomicU64,
    all_done: Notify,
    specs: Vec<watch::Sender<SpecCounts>>,
    channels: Vec<(mpsc::Sender<()>, tokio::sync::Mutex<mpsc::Receiver<()>>)>,
    mutexes: Vec<Arc<tokio::sync::Mutex<()>>>,
    aborts: Mutex<Vec<tokio::task::AbortHandle>>,
    control: Option<Arc<Control>>,
    /// The run is being stopped (see [`Run::stop`]).
    stopping: Arc<AtomicBool>,
    /// Turns for `thread` steps and for `process` steps: at most
    /// [`MAX_THREADS`] threads and [`MAX_PROCESSES`] children alive at once.
    threads: Arc<Semaphore>,
    processes: Semaphore,
    /// Joins ended `thread` step threads, then gives their turn back.
    reaper: crate::runtime::os::Reaper,
    /// Scenario time zero on tokio's clock.
    start: tokio::time::Instant,
    /// Real clock: scenario time per wall time (1 = real time).
    scale: f64,
    /// Live figures are sampled (the dashboard).
    sampled: bool,
    /// The CPUs the run may use (what `cpus` and `on_cpu` pick from).
    cpus: Arc<crate::runtime::os::RunCpus>,
    /// Every task's probe, for the sampler.
    probes: Mutex<Vec<Arc<TaskProbe>>>,
    /// Tests: a tokio-metrics TaskMonitor around each probed task.
    monitors: Option<Arc<crate::runtime::TaskMonitors>>,
}

impl Shared {
    fn new(
        scenario: Arc<Scenario>,
        recorder: &Arc<Recorder>,
        options: &RunOptions,
        stop: &Stop,
        io: Arc<io::IoServer>,
        start: tokio::time::Instant,
        cpus: Arc<RunCpus>,
    ) -> Shared {
        Shared {
            recorder: options.probe.then(|| recorder.clone()),
            worker_exe: options.worker_exe.clone(),
            io,
            next_task: AtomicU32::new(0),
            live: AtomicUsize::new(0),
            sync_waiting: AtomicUsize::new(0),
            progress: AtomicU64::new(0),
            all_done: Notify::new(),
            specs: scenario
                .tasks
                .iter()
                .map(|_| watch::Sender::new(SpecCounts::default()))
                .collect(),
            channels: scenario
                .channels
                .iter()
                .map(|c| {
                    let (tx, rx) = mpsc::channel(c.capacity);
                    (tx, tokio::sync::Mutex::new(rx))
                })
                .collect(),
            mutexes: scenario
                .mutexes
                .iter()
                .map(|_| Arc::new(tokio::sync::Mutex::new(())))
                .collect(),
            aborts: Mutex::new(Vec::new()),
            control: options.control.clone(),
            stopping: stop.flag(),
            threads: Arc::new(Semaphore::new(MAX_THREADS)),
            processes: Semaphore::new(MAX_PROCESSES),
            reaper: crate::runtime::os::Reaper::default(),
            start,
            scale: recorder.time_scale(),
            sampled: options.sample_every.is_some(),
            probes: Mutex::new(Vec::new()),
            cpus,
            monitors: options.task_monitors.clone(),
            scenario,
        }
    }

    /// The figures of the tasks not yet done (the sampler's).
    fn live_figures(&self) -> Vec<(TaskIdx, crate::event::TaskStats)> {
        self.probes
            .lock()
            .map(|mut p| {
                // A task that is done has its figures in its done event.
                p.retain(|p| !p.is_done());
                p.iter().map(|p| (p.idx(), p.stats())).collect()
            })
            .unwrap_or_default()
    }

    /// Spawns every copy of task `spec`; `parent` is the spawning task.
    fn spawn_copies(self: &Arc<Self>, spec: usize, parent: Option<TaskIdx>) {
        let count = self.scenario.tasks[spec].count;
        for copy in 0..count {
            self.spawn_one(spec, copy, parent);
        }
    }

    fn spawn_one(self: &Arc<Self>, spec: usize, copy: u32, parent: Option<TaskIdx>) {
        let idx = self.next_task.fetch_add(1, Ordering::Relaxed);
        let task = &self.scenario.tasks[spec];
        let name: Arc<str> = task.instance_name(copy).into();
        self.live.fetch_add(1, Ordering::SeqCst);
        self.specs[spec].send_modify(|c| c.spawned += 1);
        // tokio-console shows this name in its own terminal: sanitized too.
        let shown = crate::text::visible(&name);
        let builder = tokio::task::Builder::new().name(&shown);
        let spawned = match &self.recorder {
            Some(recorder) => {
                let probe = TaskProbe::new(idx, spec as u32, recorder.clone());
                // Only a sampler reads them (the dashboard's live figures).
                if self.sampled
                    && let Ok(mut probes) = self.probes.lock()
                {
                    probes.push(probe.clone());
                }
                let future = probe.instrument(step::run_task(
                    self.clone(),
                    spec,
                    name.clone(),
                    Some(probe.clone()),
                ));
                SPAWNING.with(|s| {
                    *s.borrow_mut() = Some(Spawning {
                        probe,
                        name: name.clone(),
                        parent,
                    })
                });
                let handle = match &self.monitors {
                    Some(m) => builder.spawn(m.monitor(&name).instrument(future)),
                    None => builder.spawn(future),
                };
                SPAWNING.with(|s| s.borrow_mut().take());
                handle
            }
            None => builder.spawn(step::run_task(self.clone(), spec, name.clone(), None)),
        };
        match spawned {
            Ok(handle) => self
                .aborts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(handle.abort_handle()),
            Err(_) => self.task_ended(spec),
        }
    }

    /// Bookkeeping when a task ends in any way.
    fn task_ended(&self, spec: usize) {
        self.specs[spec].send_modify(|c| c.finished += 1);
        if self.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.all_done.notify_one();
        }
    }

    /// Scenario time now, on tokio's clock.
    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.start)
    }

    /// How long `d` of scenario time takes on tokio's clock: stretched in
    /// a slow-motion real-clock run.
    fn wall(&self, d: Duration) -> Duration {
        if self.scale == 1.0 {
            d
        } else {
            d.div_f64(self.scale)
        }
    }

    /// A timer the pacer knows of: on screen it fires at the right wall
    /// moment.
    async fn sleep(&self, d: Duration) {
        let _due = self.control.as_ref().and_then(|c| c.due(self.now() + d));
        tokio::time::sleep(self.wall(d)).await;
    }

    /// Live tasks that are stuck: everyone waits on a channel, lock or join.
    fn looks_stalled(&self) -> bool {
        let live = self.live.load(Ordering::SeqCst);
        live > 0 && self.sync_waiting.load(Ordering::SeqCst) >= live
    }
}

/// The runtime's main future: start the tasks, wait for them all.
async fn main(
    scenario: Arc<Scenario>,
    recorder: Arc<Recorder>,
    options: RunOptions,
    stop: Stop,
    cpus: Arc<RunCpus>,
) -> Result<RunEnd, String> {
    recorder.start_clock();
    if let Some(c) = &options.control {
        c.start_clock();
    }
    let start = tokio::time::Instant::now();
    let virtual_clock = scenario.runtime.clock == Clock::Virtual;
    let io = io::IoServer::start(virtual_clock, start, options.control.clone())
        .await
        .map_err(|e| format!("could not start the loopback server for io steps: {e}"))?;
    let shared = Arc::new(Shared::new(
        scenario.clone(),
        &recorder,
        &options,
        &stop,
        io,
        start,
        cpus,
    ));
    if let Some(every) = options.sample_every {
        let s = shared.clone();
        start_sampler(recorder.clone(), every, Box::new(move || s.live_figures()));
    }
    for (spec, task) in scenario.tasks.iter().enumerate() {
        if task.autostart {
            shared.spawn_copies(spec, None);
        }
    }
    let (ending, stalled) = wait_for_the_end(&shared, &recorder, &stop).await;
    shared.io.close();
    Ok(RunEnd {
        elapsed: recorder.elapsed(),
        stalled,
        ending,
        runtime: RuntimeFigures::default(),
    })
}

/// Waits until every task has ended, the run is stopped, or the tasks left
/// wait on each other forever (checked once a second of scenario time on
/// the virtual clock, ten times a second on the real one); cancels what is
/// left in the last two cases.
async fn wait_for_the_end(
    shared: &Arc<Shared>,
    recorder: &Recorder,
    stop: &Stop,
) -> (Ending, Option<String>) {
    let virtual_clock = shared.scenario.runtime.clock == Clock::Virtual;
    let check_every = if virtual_clock {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(100)
    };
    let mut suspect: Option<u64> = None;
    loop {
        let done = shared.all_done.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        if shared.live.load(Ordering::SeqCst) == 0 {
            return (Ending::Complete, None);
        }
        tokio::select! {
            _ = &mut done => {}
            _ = stop.requested() => {
                let at = shown_moment(shared, recorder).await;
                let n = cancel_all(shared).await;
                return (Ending::Stopped, Some(stopped_note(at, n)));
            }
            _ = shared.sleep(check_every) => {
                let progress = shared.progress.load(Ordering::SeqCst);
                if !shared.looks_stalled() {
                    suspect = None;
                } else if suspect == Some(progress) {
                    let n = cancel_all(shared).await;
                    let who = crate::format::count(n as u64, "task", "tasks");
                    let why = format!(
                        "{who} waited forever on a channel, mutex or join that nothing could \
                         complete (a deadlock); {} cancelled",
                        if n == 1 { "it was" } else { "they were" }
                    );
                    return (Ending::Deadlock, Some(why));
                } else {
                    suspect = Some(progress);
                }
            }
        }
    }
}

/// A stop cancels at the moment the viewer saw, not at the next timer (the
/// paced clock is ahead of tokio's while the run waits for the wall
/// clock): tokio's clock is moved on to it.
async fn shown_moment(shared: &Shared, recorder: &Recorder) -> Duration {
    if let Some(c) = &shared.control {
        let shown = c.now();
        c.open();
        if shared.scenario.runtime.clock == Clock::Virtual && shown > shared.now() {
            tokio::time::advance(shown - shared.now()).await;
            recorder.clock_moved();
        }
    }
    shared.now()
}

/// Cancels every task; returns how many were still live.
async fn cancel_all(shared: &Arc<Shared>) -> usize {
    let live = shared.live.load(Ordering::SeqCst);
    let aborts = std::mem::take(&mut *shared.aborts.lock().unwrap_or_else(|e| e.into_inner()));
    for a in &aborts {
        a.abort();
    }
    while shared.live.load(Ordering::SeqCst) > 0 {
        tokio::task::yield_now().await;
    }
    live
}
