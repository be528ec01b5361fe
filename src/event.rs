//! The event vocabulary: one [`Event`] per task transition.
//!
//! Events are what every output is computed from (summary, JSON lines,
//! dashboard, exports, replay), so they hold everything those need and
//! nothing that only one of them wants.

use std::sync::Arc;
use std::time::Duration;

/// `d` in nanoseconds, at most `u64::MAX - 1` (584 years; `u64::MAX`
/// stands for "no time" where a time may be missing). The one conversion
/// the probe, the recorder, the model and the history share.
pub fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
        .min(NO_TIME - 1)
}

/// "No time", where a time kept as nanoseconds may be missing.
pub const NO_TIME: u64 = u64::MAX;

/// An optional time as nanoseconds, [`NO_TIME`] for none.
pub fn opt_nanos(d: Option<Duration>) -> u64 {
    d.map_or(NO_TIME, nanos)
}

/// The time [`opt_nanos`] kept, if any.
pub fn from_opt_nanos(v: u64) -> Option<Duration> {
    (v != NO_TIME).then(|| Duration::from_nanos(v))
}

/// Index of a task within one run (0 = first spawned). Not tokio's id.
pub type TaskIdx = u32;

/// One transition of one task at scenario time `t`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Scenario time since the run started.
    pub t: Duration,
    pub task: TaskIdx,
    /// Index of the task's current step (flattened, file order).
    pub step: u32,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Created (and so ready). `spec` is the index of its `[[task]]`;
    /// `id` is tokio's task id (the OS's thread or process id for a thread
    /// or child process).
    Spawned {
        name: Arc<str>,
        id: u64,
        spec: u32,
        parent: Option<TaskIdx>,
        kind: Kind,
    },
    /// Woken: waiting for a worker again. `waited` is what the wait it
    /// ends turned out to be, when that was learnt only now (your own code:
    /// a wait tokio does not trace, recorded as [`Wait::Other`], is a join
    /// when the task it waited on ended, io when the I/O driver woke it).
    Ready {
        by: WakeBy,
        late: Option<Duration>,
        waited: Option<Wait>,
    },
    /// A poll started on `worker`, or (already running) its step changed;
    /// for a thread or child process ([`ON_CPU`]): it runs on a CPU.
    Running { worker: u16 },
    /// The poll returned Pending; `wait` is what the current step awaits,
    /// `due` when its timer or reply is due (scenario time).
    Waiting { wait: Wait, due: Option<Duration> },
    /// Finished, with the task's tokio-metrics figures.
    Done {
        outcome: Outcome,
        stats: Arc<TaskStats>,
    },
    /// Still running: the OS took its worker's thread away for `gone`, in
    /// the middle of its poll, and has just given it back (seen by a
    /// `cpu` step on the real clock).
    OffCpu { gone: Duration },
}

impl Change {
    /// The state name used in JSON lines.
    pub fn state(&self) -> &'static str {
        match self {
            Change::Spawned { .. } => "spawned",
            Change::Ready { .. } => "ready",
            Change::Running { .. } => "running",
            Change::Waiting { .. } => "waiting",
            Change::Done { .. } => "done",
            Change::OffCpu { .. } => "off_cpu",
        }
    }
}

/// The `worker` of a thread or child process running: on a CPU, not on a
/// tokio worker, which CPU not known (code taskscope did not write, seen
/// only by sampling).
pub const ON_CPU: u16 = u16::MAX;

/// A thread or process on CPU `cpu`, known exactly, is `worker = CPU_ZERO +
/// cpu` (tokio workers are numbered far below).
const CPU_ZERO: u16 = 0xF000;

/// The most CPUs a run's rows are told apart on.
pub const MAX_CPUS: u16 = ON_CPU - CPU_ZERO;

/// The `worker` of a thread or process running on CPU `cpu`.
pub fn on_cpu(cpu: u16) -> u16 {
    CPU_ZERO + cpu.min(MAX_CPUS - 1)
}

/// Whether a running `worker` is a CPU (a thread or process row), not a
/// tokio worker.
pub fn is_cpu(worker: u16) -> bool {
    worker >= CPU_ZERO
}

/// The CPU a thread or process row runs on, when known exactly.
pub fn cpu_of(worker: u16) -> Option<u16> {
    (is_cpu(worker) && worker != ON_CPU).then(|| worker - CPU_ZERO)
}

/// What a row of the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// A tokio task.
    #[default]
    Task,
    /// An OS thread started by a `thread` step.
    Thread,
    /// A job on tokio's blocking pool (`spawn_blocking`).
    Blocking,
    /// A child process started by a `process` step.
    Process,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Thread => "thread",
            Kind::Blocking => "blocking",
            Kind::Process => "process",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Task, Kind::Thread, Kind::Blocking, Kind::Process]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// Scheduled by the OS, not by tokio.
    pub fn is_os(self) -> bool {
        self != Kind::Task
    }
}

/// Who made a task ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeBy {
    /// Another task, while it was being polled (a send, an unlock, its end).
    Task(TaskIdx),
    /// The timer driver: a `sleep` ran out.
    Timer,
    /// The I/O driver: a socket became readable.
    Io,
    /// Anything else: a yield, a thread or process finishing, the scheduler.
    Runtime,
    /// The OS: a thread or process was pre-empted and waits for a CPU.
    Os,
}

impl WakeBy {
    /// Who, in a word: the waking task's name (from `name`), or `timer`,
    /// `io`, `runtime`, `os`.
    pub fn describe(self, name: impl Fn(TaskIdx) -> String) -> String {
        match self {
            WakeBy::Task(t) => name(t),
            WakeBy::Timer => "timer".into(),
            WakeBy::Io => "io".into(),
            WakeBy::Runtime => "runtime".into(),
            WakeBy::Os => "os".into(),
        }
    }
}

impl WakeBy {
    /// As one number (for atomics and the recorder's entries).
    pub(crate) fn encode(self) -> u64 {
        match self {
            WakeBy::Task(t) => u64::from(t) + 4,
            WakeBy::Timer => 0,
            WakeBy::Io => 1,
            WakeBy::Runtime => 2,
            WakeBy::Os => 3,
        }
    }

    pub(crate) fn decode(v: u64) -> WakeBy {
        match v {
            0 => WakeBy::Timer,
            1 => WakeBy::Io,
            2 => WakeBy::Runtime,
            3 => WakeBy::Os,
            t => WakeBy::Task((t - 4) as TaskIdx),
        }
    }
}

/// What a waiting task waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Wait {
    Timer = 0,
    Io,
    Channel,
    Lock,
    Join,
    Blocking,
    Process,
    Yield,
    /// Something tokio does not say (your own code): a `Notify`, an mpsc
    /// `recv`, a future of your own.
    Other,
    /// A signal (your own code's `tokio::signal::ctrl_c()`, say): known at
    /// its wake, which tokio's signal driver makes.
    Signal,
}

impl Wait {
    pub const ALL: [Wait; 10] = [
        Wait::Timer,
        Wait::Io,
        Wait::Channel,
        Wait::Lock,
        Wait::Join,
        Wait::Blocking,
        Wait::Process,
        Wait::Yield,
        Wait::Other,
        Wait::Signal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Wait::Timer => "timer",
            Wait::Io => "io",
            Wait::Channel => "channel",
            Wait::Lock => "lock",
            Wait::Join => "join",
            Wait::Blocking => "blocking",
            Wait::Process => "process",
            Wait::Yield => "yield",
            Wait::Other => "other",
            Wait::Signal => "signal",
        }
    }

    pub fn parse(s: &str) -> Option<Wait> {
        Wait::ALL.into_iter().find(|w| w.as_str() == s)
    }

    pub(crate) fn from_u8(v: u8) -> Wait {
        Wait::ALL
            .get(usize::from(v))
            .copied()
            .unwrap_or(Wait::Yield)
    }

    /// The wait `was` turned out to be, if a wake says (`waited`: only a
    /// wait tokio did not name, shown as `other` or as a guess, gets one).
    pub fn refined(was: Wait, waited: Option<Wait>) -> Wait {
        waited.unwrap_or(was)
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// It panicked, with this message.
    Panicked(String),
    /// The runtime stopped before it finished.
    Cancelled,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Panicked(_) => "panicked",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// A task's figures at its end: counted by the probe as tokio-metrics'
/// `TaskMonitor` counts them, or the OS's for a thread or child process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskStats {
    pub polls: u64,
    pub busy: Duration,
    pub scheduled: Duration,
    pub idle: Duration,
    pub slow_polls: u64,
    pub first_poll_delay: Duration,
    /// A thread or child process: what the OS measured of it.
    pub os: Option<OsStats>,
}

/// The OS scheduler's figures for a thread or process (Linux schedstat).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OsStats {
    /// Time on a CPU.
    pub cpu: Duration,
    /// Time runnable but waiting for a CPU (in a run queue).
    pub runqueue: Duration,
    /// Time slices: how many times it was put on a CPU.
    pub slices: u64,
}

/// The run this model describes (from the log's header).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInfo {
    pub scenario: String,
    pub flavor: String,
    pub workers: usize,
    pub clock: String,
    /// The CPU each worker is pinned to (`pin_workers`), else empty.
    pub worker_cpus: Vec<u16>,
}

/// Worker figures from tokio-metrics' `RuntimeMonitor`, for the whole run.
/// Busy time is wall-clock time, whatever the scenario's clock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeFigures {
    pub polls: u64,
    pub busy: Duration,
    pub steals: u64,
    pub parks: u64,
    pub remote_schedules: u64,
    pub forced_yields: u64,
    pub io_ready: u64,
}
