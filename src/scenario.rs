//! Scenarios: the lessons taskscope runs, as checked data.
//!
//! A scenario file (TOML) is parsed and validated by `validate`; what comes
//! out is a [`Scenario`] the runner can execute without further checks: every
//! name resolved to an index, every limit enforced, every duration parsed.

pub mod bundled;
mod validate;

use std::fmt;
use std::time::Duration;

pub use validate::{Diagnostic, ScenarioError, parse};

/// Most tasks one run may create (copies and spawned tasks included).
pub const MAX_TASKS: u64 = 1_000_000;
/// Most polls one run may plan for.
pub const MAX_POLLS: u64 = 10_000_000;
/// Deepest nesting of `repeat` blocks.
pub const MAX_REPEAT_DEPTH: usize = 4;
/// Longest single step duration.
pub const MAX_STEP_DURATION: Duration = Duration::from_secs(3600);
/// Most worker threads of a multi_thread runtime.
pub const MAX_WORKERS: usize = 64;
/// Largest scenario file accepted (reading stops there).
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// Most steps one run may take: every copy, every pass of every repeat.
pub const MAX_STEPS: u64 = 20_000_000;
/// Most work one run may do: cpu, block, spawn_blocking, thread and process
/// time summed over every copy and every pass of every repeat.
pub const MAX_WORK: Duration = Duration::from_secs(120);
/// Longest scenario time one run may plan: the longest chain of one task's
/// timed steps, one after another, and the tasks it spawns.
pub const MAX_RUN_TIME: Duration = Duration::from_secs(3600);
/// OS threads alive at once for `thread` steps, and for `spawn_blocking`
/// (the blocking pool's size); more wait their turn.
pub const MAX_THREADS: usize = 64;
/// Child processes alive at once for `process` steps; more wait their turn.
pub const MAX_PROCESSES: usize = 16;
/// Longest `note`, `fail` message, channel or mutex name, in characters.
pub const MAX_TEXT: usize = 1024;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// What to watch for on the run screen (one line).
    pub watch_for: String,
    /// The pace the lesson opens at on screen, if it says.
    pub speed: Option<f64>,
    /// The lanes it opens with: tasks and workers, or CPUs.
    pub view: View,
    /// Real clock: the run goes at its own pace and the screen plays it
    /// back behind it at `speed` (the OS cannot be slowed down).
    pub playback: bool,
    pub runtime: RuntimeSpec,
    pub channels: Vec<ChannelSpec>,
    pub mutexes: Vec<String>,
    pub tasks: Vec<TaskSpec>,
    /// What one run of it costs, as `check` counts it.
    pub cost: Cost,
}

/// What one run of a scenario costs: the rows it makes (tasks, threads,
/// jobs, processes) and the polls, and from them about how much memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub tasks: u64,
    pub polls: u64,
    /// cpu, block, spawn_blocking, thread and process time summed.
    pub work: Duration,
    /// The scenario time it lasts at least: its longest chain of timed
    /// steps, or the time a mutex is held by all its holders in turn.
    pub time: Duration,
    /// Bytes its file takes while read (each table and value parsed).
    pub reading: u64,
    /// Bytes its `fail` messages take, one per failing row.
    pub messages: u64,
}

/// Most events the dashboard's history keeps (older ones go first).
pub const EVENTS_KEPT: usize = 8_000_000;

/// Memory a run takes, measured (BENCHMARKS.md, README "Limits"): a base,
/// then per row and per event kept.
pub const MEMORY_BASE: u64 = 16 << 20;
/// Headless: a row's figures and summary.
pub const MEMORY_PER_ROW: u64 = 2 << 10;
/// On the dashboard: a row's view and its share of the history's snapshots.
pub const MEMORY_PER_ROW_ON_SCREEN: u64 = 4 << 10;
/// Reading the file: a table or value parsed (each `{`, `[`, `=`, `,`).
pub const MEMORY_PER_VALUE: u64 = 512;
/// On the dashboard: an event kept in the history (8 million at most).
pub const MEMORY_PER_EVENT: u64 = 32;
/// With `--console`: console-subscriber's figures and histograms of a task.
pub const MEMORY_PER_CONSOLE_TASK: u64 = 56 << 10;
/// The most a run may take with `--console` (console-subscriber's part).
pub const MAX_CONSOLE_MEMORY: u64 = 2 << 30;

impl Cost {
    /// Whether a run at `speed` stays within the work and scenario time
    /// limits (the real clock stretches every duration by 1 / speed; on the
    /// virtual clock `speed` paces the screen only, pass 1).
    pub fn check_at(&self, speed: f64) -> Result<(), String> {
        let stretch = if speed > 0.0 && speed < 1.0 {
            1.0 / speed
        } else {
            1.0
        };
        let work = self.work.mul_f64(stretch);
        if work > MAX_WORK {
            return Err(format!(
                "at speed {speed} it would do {} of work; the work limit is {} (every duration \
                 is stretched {stretch:.0}x)",
                crate::format::time(work),
                crate::format::exact(MAX_WORK)
            ));
        }
        let time = self.time.mul_f64(stretch);
        if time > MAX_RUN_TIME {
            return Err(format!(
                "at speed {speed} it would last {}; the scenario time limit is {} (every \
                 duration is stretched {stretch:.0}x)",
                crate::format::time(time),
                crate::format::exact(MAX_RUN_TIME)
            ));
        }
        Ok(())
    }

    /// Transitions a run records: a spawn and an end per row, and a start
    /// and an end per poll.
    pub fn events(&self) -> u64 {
        self.tasks
            .saturating_mul(2)
            .saturating_add(self.polls.saturating_mul(2))
    }

    /// About the peak memory of a headless run.
    pub fn headless_bytes(&self) -> u64 {
        MEMORY_BASE
            .saturating_add(self.tasks.saturating_mul(MEMORY_PER_ROW))
            .saturating_add(self.reading)
            .saturating_add(self.messages)
    }

    /// About the peak memory of the dashboard's run.
    pub fn dashboard_bytes(&self) -> u64 {
        let kept = self.events().min(EVENTS_KEPT as u64);
        MEMORY_BASE
            .saturating_add(self.tasks.saturating_mul(MEMORY_PER_ROW_ON_SCREEN))
            .saturating_add(kept.saturating_mul(MEMORY_PER_EVENT))
            .saturating_add(self.reading)
            .saturating_add(self.messages)
    }

    /// What `--console` adds.
    pub fn console_bytes(&self) -> u64 {
        self.tasks.saturating_mul(MEMORY_PER_CONSOLE_TASK)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeSpec {
    pub flavor: Flavor,
    /// Worker threads; always 1 on current_thread.
    pub workers: usize,
    pub clock: Clock,
    /// Pin the run (workers, threads, child processes) to this many CPUs.
    pub cpus: Option<usize>,
    /// Each worker on a CPU of its own: worker w on the run's w-th.
    pub pin_workers: bool,
}

/// The lanes a lesson opens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// A lane per worker and per task.
    #[default]
    Tasks,
    /// A lane per CPU: which thread or process each one runs.
    Cpus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    CurrentThread,
    MultiThread,
}

impl Flavor {
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "current_thread",
            Flavor::MultiThread => "multi_thread",
        }
    }
}

/// Which clock scenario time runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// tokio's paused clock: exact, repeatable, instant when unpaced.
    Virtual,
    /// The wall clock.
    Real,
}

impl Clock {
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::Virtual => "virtual",
            Clock::Real => "real",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub name: String,
    pub capacity: usize,
}

/// One `[[task]]` table: a name, how many copies, and what each copy does.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub name: String,
    pub autostart: bool,
    pub count: u32,
    /// Steps flattened in file order; a `Repeat` covers the steps after it.
    pub steps: Vec<Step>,
}

impl TaskSpec {
    /// Name of copy `copy` (0-based) of this task.
    pub fn instance_name(&self, copy: u32) -> String {
        if self.count > 1 {
            format!("{}-{}", self.name, copy + 1)
        } else {
            self.name.clone()
        }
    }

    /// Whether any step hands work outside the runtime (needs the real clock).
    pub fn leaves_runtime(&self) -> bool {
        self.steps.iter().any(|s| s.action.leaves_runtime())
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    pub note: Option<String>,
    /// A thread's, job's or process's own CPU: the run's `on_cpu`-th (from
    /// 0), else any of the run's.
    pub on_cpu: Option<u16>,
}

/// What a step does. Indices refer to the scenario's tasks, channels, mutexes.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Sleep(Duration),
    Io(Duration),
    Cpu {
        work: Duration,
        yield_every: Option<Duration>,
    },
    Block(Duration),
    Yield,
    SpawnBlocking(Duration),
    Thread(Duration),
    Process(Duration),
    Spawn(usize),
    Join(usize),
    Send(usize),
    Recv(usize),
    Lock(usize),
    Unlock(usize),
    Fail(String),
    /// Run the next `len` flattened steps `times` times.
    Repeat {
        times: u32,
        len: usize,
    },
}

impl Action {
    pub fn leaves_runtime(&self) -> bool {
        matches!(
            self,
            Action::SpawnBlocking(_) | Action::Thread(_) | Action::Process(_)
        )
    }

    /// Whether this step holds its worker without yielding (cpu or block).
    pub fn holds_worker(&self) -> bool {
        matches!(self, Action::Cpu { .. } | Action::Block(_))
    }
}

impl Scenario {
    /// How many tasks the run starts with (the tasks they spawn come on top).
    pub fn starting_tasks(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.autostart)
            .map(|t| t.count as usize)
            .sum()
    }

    /// Whether step `step` of task kind `spec` holds its worker: a `cpu` or
    /// `block` step.
    pub fn holds_worker(&self, spec: u32, step: u32) -> bool {
        self.tasks
            .get(spec as usize)
            .and_then(|t| t.steps.get(step as usize))
            .is_some_and(|s| s.action.holds_worker())
    }
}

/// A step rendered for people: `sleep 100ms`, `join toast`.
pub struct StepLabel<'a> {
    pub scenario: &'a Scenario,
    pub action: &'a Action,
}

impl fmt::Display for StepLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.scenario;
        let d = |d: &Duration| crate::format::exact(*d);
        match self.action {
            Action::Sleep(t) => write!(f, "sleep {}", d(t)),
            Action::Io(t) => write!(f, "io {}", d(t)),
            Action::Cpu {
                work,
                yield_every: None,
            } => write!(f, "cpu {}", d(work)),
            Action::Cpu {
                work,
                yield_every: Some(e),
            } => write!(f, "cpu {} (yield every {})", d(work), d(e)),
            Action::Block(t) => write!(f, "block {}", d(t)),
            Action::Yield => write!(f, "yield"),
            Action::SpawnBlocking(t) => write!(f, "spawn_blocking {}", d(t)),
            Action::Thread(t) => write!(f, "thread {}", d(t)),
            Action::Process(t) => write!(f, "process {}", d(t)),
            Action::Spawn(i) => write!(f, "spawn {}", s.tasks[*i].name),
            Action::Join(i) => write!(f, "join {}", s.tasks[*i].name),
            Action::Send(i) => write!(f, "send {}", s.channels[*i].name),
            Action::Recv(i) => write!(f, "recv {}", s.channels[*i].name),
            Action::Lock(i) => write!(f, "lock {}", s.mutexes[*i]),
            Action::Unlock(i) => write!(f, "unlock {}", s.mutexes[*i]),
            Action::Fail(m) => write!(f, "fail {m:?}"),
            Action::Repeat { times, .. } => write!(f, "repeat {times}"),
        }
    }
}

impl Scenario {
    /// The first sentence of the description: the lesson in one line.
    pub fn lesson(&self) -> &str {
        let text = self.description.trim();
        let end = text
            .char_indices()
            .find(|&(i, c)| {
                matches!(c, '.' | '!' | '?')
                    && text[i + c.len_utf8()..]
                        .chars()
                        .next()
                        .is_none_or(char::is_whitespace)
            })
            .map_or(text.len(), |(i, c)| i + c.len_utf8());
        &text[..end]
    }

    /// A stand-in for a scenario only known by name (a replayed log of a
    /// file that is not bundled): no steps to label.
    pub fn unknown(name: &str) -> Scenario {
        Scenario {
            name: name.to_string(),
            description: String::new(),
            watch_for: String::new(),
            speed: None,
            view: View::Tasks,
            playback: false,
            runtime: RuntimeSpec {
                flavor: Flavor::CurrentThread,
                workers: 1,
                clock: Clock::Virtual,
                cpus: None,
                pin_workers: false,
            },
            channels: Vec::new(),
            mutexes: Vec::new(),
            tasks: Vec::new(),
            cost: Cost::default(),
        }
    }

    pub fn label<'a>(&'a self, action: &'a Action) -> StepLabel<'a> {
        StepLabel {
            scenario: self,
            action,
        }
    }

    /// Whether any task hands work to threads, the blocking pool or processes.
    pub fn leaves_runtime(&self) -> bool {
        self.tasks.iter().any(TaskSpec::leaves_runtime)
    }

    /// The same scenario on another clock, if that combination can run.
    pub fn with_clock(&self, clock: Clock) -> Result<Scenario, String> {
        if clock == Clock::Virtual {
            if self.runtime.flavor == Flavor::MultiThread {
                return Err("the virtual clock needs flavor = \"current_thread\" \
                     (tokio can only pause time on a current_thread runtime); use --clock real"
                    .into());
            }
            if self.leaves_runtime() {
                return Err("this scenario hands work to threads, the blocking pool or \
                     processes, which take real time; use --clock real"
                    .into());
            }
        }
        let mut s = self.clone();
        s.runtime.clock = clock;
        Ok(s)
    }
}

/// Parses `300ms`, `2s`, `1.5s`, `20us`, `10ns`, `1m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit_ns: u128 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "" => return Err("a unit is missing (ns, us, ms, s or m)".into()),
        other => return Err(format!("`{other}` is not a unit (ns, us, ms, s or m)")),
    };
    let num = num.replace('_', "");
    if num.is_empty() {
        return Err("a number is missing".into());
    }
    let (int, frac) = num.split_once('.').unwrap_or((&num, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err("not a number".into());
    }
    let int: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| "the number is too large")?
    };
    let mut ns = int.checked_mul(unit_ns).ok_or("the number is too large")?;
    if !frac.is_empty() {
        let digits = frac.len().min(18) as u32;
        let f: u128 = frac[..digits as usize]
            .parse()
            .map_err(|_| "not a number")?;
        ns = ns
            .checked_add(f * unit_ns / 10u128.pow(digits))
            .ok_or("the number is too large")?;
    }
    let ns = u64::try_from(ns).map_err(|_| "the number is too large")?;
    Ok(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        let _limit = crate::test_limit::limit();
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("20us"), Ok(Duration::from_micros(20)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1_000ms"), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let _limit = crate::test_limit::limit();
        assert!(parse_duration("3").unwrap_err().contains("unit"));
        assert!(parse_duration("3 parsecs").unwrap_err().contains("parsecs"));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("ms").unwrap_err().contains("number"));
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
        // Just under u128::MAX once in ns: the fraction must not wrap it.
        assert!(parse_duration("340282366920938463463374607431768211.999us").is_err());
        assert!(parse_duration("1.5.s").is_err());
    }

    #[test]
    fn durations_format_back_exactly() {
        let _limit = crate::test_limit::limit();
        for text in ["300ms", "2s", "20us", "7ns", "1500ms"] {
            assert_eq!(crate::format::exact(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn a_speed_written_in_hex_or_octal_is_read_with_its_radix() {
        let _limit = crate::test_limit::limit();
        let read = |speed: &str| {
            let text = format!(
                "name = \"s\"\nspeed = {speed}\n[[task]]\nname = \"t\"\nsteps = [ {{ yield = true }} ]\n"
            );
            parse("s.toml", text.as_bytes()).map(|s| s.speed)
        };
        assert_eq!(read("0x10").unwrap(), Some(16.0));
        assert_eq!(read("0o17").unwrap(), Some(15.0));
        assert_eq!(read("0b11").unwrap(), Some(3.0));
        assert_eq!(read("1_0").unwrap(), Some(10.0));
        assert!(read("0x100").is_err(), "256 is past the fastest");
    }

    #[test]
    fn a_run_at_a_slower_speed_is_held_to_the_limits_stretched() {
        let _limit = crate::test_limit::limit();
        let cost = Cost {
            work: Duration::from_secs(8),
            time: Duration::from_secs(10),
            ..Cost::default()
        };
        assert!(cost.check_at(1.0).is_ok());
        assert!(cost.check_at(0.1).is_ok(), "80 s of work");
        let why = cost.check_at(0.01).unwrap_err();
        assert!(why.contains("the work limit is 120s"), "{why}");
        let long = Cost {
            time: Duration::from_secs(600),
            ..Cost::default()
        };
        assert!(
            long.check_at(0.1)
                .unwrap_err()
                .contains("scenario time limit")
        );
    }
}
