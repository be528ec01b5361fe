//! The runner: builds the scenario's tokio runtime on its own OS thread,
//! spawns the scenario's tasks (named and probed) and reports how
//! the run ended. What happened inside goes to the [`Recorder`] as events.

pub mod control;
pub(crate) mod io;
pub mod os;
mod step;
pub mod work;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc, watch};

use crate::model::RuntimeFigures;
use crate::probe::{Recorder, RuntimeSample, Sample, TaskIdx, TaskProbe};
use crate::scenario::{Clock, Flavor, MAX_PROCESSES, MAX_THREADS, Scenario};
use crate::speed::Speed;
use control::Control;

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// false: the same tasks without the probe (a baseline).
    pub probe: bool,
    /// The binary started for `process` steps (`taskscope __worker ...`).
    pub worker_exe: PathBuf,
    /// Events buffered between the runtime and the consumer.
    pub capacity: usize,
    /// Pause, step and pacing (the dashboard's controls, and `--console`).
    pub control: Option<Arc<Control>>,
    /// Publish live figures (tokio-metrics' runtime ones, the tasks') this
    /// often (the dashboard's panels).
    pub sample_every: Option<Duration>,
    /// Real clock: scenario time per wall time. 0.1 plays the run in 10x
    /// slow motion: every step's duration is stretched tenfold and the
    /// clock reads a tenth of the wall's. (The virtual clock is paced by
    /// `control` instead.)
    pub time_scale: Speed,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            probe: true,
            worker_exe: std::env::current_exe().unwrap_or_else(|_| "taskscope".into()),
            capacity: crate::probe::DEFAULT_CAPACITY,
            control: None,
            sample_every: None,
            time_scale: Speed::REAL_TIME,
        }
    }
}

/// A run in progress.
pub struct Run {
    pub recorder: Arc<Recorder>,
    stop: Arc<Notify>,
    /// Set on stop: tasks end their step early and wait to be cancelled.
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<Result<RunEnd, String>>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// Scenario time when the last task finished (or was cancelled).
    pub elapsed: Duration,
    /// Why the run ended early, if it did.
    pub stalled: Option<String>,
    pub ending: Ending,
    /// tokio-metrics' runtime figures over the whole run.
    pub runtime: RuntimeFigures,
}

/// How a run came to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every task finished.
    Complete,
    /// Tasks waited forever on each other and were cancelled.
    Deadlock,
    /// Stopped from outside (quit, a signal): the rest was cancelled.
    Stopped,
}

/// Errors that stop a run from starting or finishing.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not start the runtime: {0}")]
    Start(String),
    #[error("the runtime failed: {0}")]
    Failed(String),
}

impl Run {
    /// Asks the run to cancel its tasks and end soon.
    pub fn stop(&self) {
        // A task that never yields (a long cpu step, a repeat of them) would
        // keep the cancel from running: it sees this flag instead.
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.notify_one();
    }

    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the runtime thread to end.
    pub fn wait(self) -> Result<RunEnd, RunError> {
        match self.thread.join() {
            Ok(Ok(end)) => Ok(end),
            Ok(Err(e)) => Err(RunError::Failed(e)),
            Err(p) => Err(RunError::Failed(crate::probe::panic_message(p.as_ref()))),
        }
    }
}

impl Run {
    /// A run started elsewhere (your own code's, [`crate::watch`]).
    pub(crate) fn from_parts(
        recorder: Arc<Recorder>,
        stop: Arc<Notify>,
        stopping: Arc<AtomicBool>,
        thread: JoinHandle<Result<RunEnd, String>>,
    ) -> Run {
        Run {
            recorder,
            stop,
            stopping,
            thread,
        }
    }
}

/// Starts `scenario` on its own thread; events flow into the returned
/// run's recorder until it is finished.
pub fn start(scenario: Arc<Scenario>, options: RunOptions) -> Result<Run, RunError> {
    if let Some(program) = scenario.code.clone() {
        return crate::watch::start(scenario, &program, options);
    }
    let lossless = scenario.runtime.clock == Clock::Virtual;
    let recorder = Recorder::new(options.capacity.max(16), lossless);
    let scale = if lossless {
        Speed::REAL_TIME
    } else {
        options.time_scale
    };
    recorder.set_time_scale(scale.get());
    let runtime = build_runtime(&scenario, &recorder, &options)
        .map_err(|e| RunError::Start(e.to_string()))?;
    let rec = recorder.clone();
    let cpus = scenario.runtime.cpus;
    let stop = Arc::new(Notify::new());
    let stop_rx = stop.clone();
    let stopping = Arc::new(AtomicBool::new(false));
    let stopping_rx = stopping.clone();
    let thread = std::thread::Builder::new()
        .name("taskscope-runtime".into())
        .spawn(move || {
            // The runtime's own thread runs current_thread's tasks: pinned
            // like the workers.
            if let Some(cpus) = cpus {
                os::pin(cpus);
            }
            let mut metrics = tokio_metrics::RuntimeMonitor::new(runtime.handle()).intervals();
            let result =
                runtime.block_on(main(scenario, rec.clone(), options, stop_rx, stopping_rx));
            runtime.shutdown_timeout(Duration::from_secs(2));
            // Workers hand in their counts when they park or stop, so the
            // figures are complete only once the runtime is shut down.
            let m = metrics.next().unwrap_or_default();
            rec.finish();
            result.map(|end| RunEnd {
                runtime: RuntimeFigures {
                    polls: m.total_polls_count,
                    busy: m.total_busy_duration,
                    steals: m.total_steal_count,
                    parks: m.total_park_count,
                    remote_schedules: m.num_remote_schedules,
                    forced_yields: m.budget_forced_yield_count,
                    io_ready: m.io_driver_ready_count,
                },
                ..end
            })
        })
        .map_err(|e| RunError::Start(e.to_string()))?;
    Ok(Run {
        recorder,
        stop,
        stopping,
        thread,
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

fn build_runtime(
    scenario: &Scenario,
    recorder: &Arc<Recorder>,
    options: &RunOptions,
) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match scenario.runtime.flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(scenario.runtime.workers);
            b
        }
    };
    builder
        .enable_all()
        .thread_name("taskscope-worker")
        // spawn_blocking jobs beyond this wait their turn (tokio's default
        // would let 512 threads be alive at once).
        .max_blocking_threads(MAX_THREADS);
    if let Some(cpus) = scenario.runtime.cpus {
        // Workers and blocking-pool threads alike.
        builder.on_thread_start(move || os::pin(cpus));
    }
    if scenario.runtime.clock == Clock::Virtual {
        builder.start_paused(true);
    }
    let control = options.control.clone();
    if options.probe {
        let recorder = recorder.clone();
        let control = control.clone();
        // Runs inside `spawn`, before the task can be scheduled, so the
        // spawn is recorded before anything the task does.
        builder.on_task_spawn(move |meta| {
            if let Some(s) = SPAWNING.with(|s| s.borrow_mut().take()) {
                let id = meta.id().to_string().parse().unwrap_or(0);
                recorder.spawned(&s.probe, s.name, id, s.parent);
                if let Some(c) = &control {
                    c.track(meta.id());
                }
            }
        });
    }
    let pace = control.clone().filter(|c| c.is_paced());
    if scenario.runtime.clock == Clock::Virtual {
        // tokio moves its paused clock only when the runtime parks (and
        // fires the timers due there, in the park): from then on the probe
        // reads it again; between parks it counts on from its last read.
        let recorder = recorder.clone();
        builder.on_thread_park(move || {
            // Waits for the wall clock before tokio moves its own clock on.
            if let Some(c) = &pace {
                c.before_park();
            }
            recorder.clock_moved();
        });
    }
    if let Some(control) = control {
        // Pause and step hold a poll before it starts: outside the task's
        // span, so a held task is scheduled, not busy, for tokio-console.
        let c = control.clone();
        builder.on_before_task_poll(move |meta| c.before_poll(meta.id()));
        builder.on_task_terminate(move |meta| control.untrack(meta.id()));
    }
    builder.build()
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
    worker_exe: PathBuf,
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
    /// Scenario time zero on tokio's clock.
    start: tokio::time::Instant,
    /// Real clock: scenario time per wall time (1 = real time).
    scale: f64,
    /// Watches threads, blocking jobs and child processes (when probed).
    os: Option<Arc<os::OsWatch>>,
    /// Live figures are sampled (the dashboard).
    sampled: bool,
    /// Every task's probe, for the sampler.
    probes: Mutex<Vec<Arc<TaskProbe>>>,
}

impl Shared {
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
                let handle = builder.spawn(future);
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
    stop: Arc<Notify>,
    stopping: Arc<AtomicBool>,
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
    let shared = Arc::new(Shared {
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
        stopping,
        threads: Arc::new(Semaphore::new(MAX_THREADS)),
        processes: Semaphore::new(MAX_PROCESSES),
        start,
        scale: recorder.time_scale(),
        sampled: options.sample_every.is_some(),
        os: (options.probe && scenario.tasks.iter().any(|t| t.leaves_runtime()))
            .then(os::OsWatch::start),
        probes: Mutex::new(Vec::new()),
        scenario: scenario.clone(),
    });
    if let Some(every) = options.sample_every {
        let s = shared.clone();
        let tasks = move || {
            s.probes
                .lock()
                .map(|mut p| {
                    // A task that is done has its figures in its done event.
                    p.retain(|p| !p.is_done());
                    p.iter().map(|p| (p.idx(), p.stats())).collect()
                })
                .unwrap_or_default()
        };
        start_sampler(recorder.clone(), every, Box::new(tasks));
    }
    for (spec, task) in scenario.tasks.iter().enumerate() {
        if task.autostart {
            shared.spawn_copies(spec, None);
        }
    }
    // Checked this often for tasks that can never be woken again.
    let check_every = if virtual_clock {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(100)
    };
    let mut suspect: Option<u64> = None;
    let mut stalled = None;
    let mut ending = Ending::Complete;
    loop {
        let done = shared.all_done.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        if shared.live.load(Ordering::SeqCst) == 0 {
            break;
        }
        tokio::select! {
            _ = &mut done => {}
            _ = stop.notified() => {
                if let Some(c) = &shared.control {
                    // Cancelled at the moment the viewer saw, not at the
                    // next timer (the paced clock is ahead of tokio's while
                    // the run waits for the wall clock).
                    let shown = c.now();
                    c.open();
                    if virtual_clock && shown > shared.now() {
                        tokio::time::advance(shown - shared.now()).await;
                        recorder.clock_moved();
                    }
                }
                let at = shared.now();
                let n = cancel_all(&shared).await;
                stalled = Some(format!(
                    "the run was stopped at {:.1} ms; {n} unfinished task(s) were cancelled",
                    at.as_secs_f64() * 1000.0
                ));
                ending = Ending::Stopped;
                break;
            }
            _ = shared.sleep(check_every) => {
                let progress = shared.progress.load(Ordering::SeqCst);
                if shared.looks_stalled() {
                    if suspect == Some(progress) {
                        let n = cancel_all(&shared).await;
                        stalled = Some(format!(
                            "{n} task(s) waited forever on a channel, mutex or join that nothing \
                             could complete (a deadlock); they were cancelled"
                        ));
                        ending = Ending::Deadlock;
                        break;
                    }
                    suspect = Some(progress);
                } else {
                    suspect = None;
                }
            }
        }
    }
    shared.io.close();
    if let Some(w) = &shared.os {
        w.stop();
    }
    Ok(RunEnd {
        elapsed: recorder.elapsed(),
        stalled,
        ending,
        runtime: RuntimeFigures::default(),
    })
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

/// The live figures of the tasks not yet done.
pub(crate) type LiveTasks = Box<dyn Fn() -> Vec<(TaskIdx, crate::probe::TaskStats)> + Send>;

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
