//! `taskscope compare`: the talk's table, measured. Each scenario runs
//! headless; wall time is scenario time, CPU time is what the work cost:
//! charged CPU on the virtual clock, the process's (and its children's)
//! measured CPU on the real clock.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::runtime::{Ending, RunOptions};
use crate::scenario::{Action, Clock, Flavor, Scenario};

/// Which way of getting breakfast done a scenario shows.
pub fn model_of(s: &Scenario) -> &'static str {
    let any = |f: fn(&Action) -> bool| {
        s.tasks
            .iter()
            .flat_map(|t| &t.steps)
            .any(|st| f(&st.action))
    };
    let instances: u64 = s.tasks.iter().map(|t| u64::from(t.count)).sum();
    if any(|a| matches!(a, Action::Process(_))) {
        "processes"
    } else if any(|a| matches!(a, Action::Thread(_) | Action::SpawnBlocking(_)))
        || (s.runtime.flavor == Flavor::MultiThread && s.runtime.workers > 1)
    {
        "threads"
    } else if instances > 1 {
        "cooperative"
    } else {
        "sequential"
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub scenario: String,
    pub model: String,
    pub clock: String,
    pub wall_ms: f64,
    pub cpu_ms: f64,
    /// CPU time over wall time: above 1 means work ran in parallel.
    pub parallelism: f64,
    /// The first scenario's wall time over this one's (none when the
    /// first took no time).
    pub speedup: Option<f64>,
    /// How the run ended: `complete`, `deadlock` (its tasks waited on each
    /// other forever and were cancelled) or `stopped`.
    pub ending: String,
}

/// CPU time of this process and of its finished children.
fn process_cpu() -> Duration {
    let get = |who| {
        let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `u` is writable memory for one rusage; `who` is a constant.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::getrusage(who, u.as_mut_ptr()) };
        if rc != 0 {
            return Duration::ZERO;
        }
        // SAFETY: getrusage succeeded, so it filled the whole struct.
        #[allow(unsafe_code)]
        let u = unsafe { u.assume_init() };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    get(libc::RUSAGE_SELF) + get(libc::RUSAGE_CHILDREN)
}

/// The scenarios an argument names: `breakfast` is the four breakfasts.
pub fn expand(arg: &str) -> Vec<String> {
    if arg == "breakfast" {
        [
            "breakfast-sequential",
            "breakfast-concurrent",
            "breakfast-threads",
            "breakfast-processes",
        ]
        .map(String::from)
        .to_vec()
    } else {
        vec![arg.to_string()]
    }
}

/// Runs the scenario each of `names` names, one after another (loaded by
/// `load` only when its turn comes: one scenario in memory at a time), and
/// measures it; stops early once `interrupt` holds a signal.
pub fn measure(
    names: &[String],
    load: impl Fn(&str) -> Result<Scenario, Error>,
    options: &RunOptions,
    interrupt: Option<&AtomicUsize>,
) -> Result<Vec<Row>, Error> {
    let mut rows: Vec<Row> = Vec::new();
    for name in names {
        if interrupt.is_some_and(|i| i.load(Ordering::Relaxed) != 0) {
            break;
        }
        let s = Arc::new(load(name)?);
        let before = process_cpu();
        let finished = crate::headless::run_until(
            s.clone().into(),
            options.clone(),
            None,
            interrupt.map(Into::into),
        )?;
        let measured = process_cpu().saturating_sub(before);
        let summary = finished.summary();
        let cpu = match s.runtime.clock {
            Clock::Virtual => summary.tasks.iter().map(|t| t.busy_ms).sum::<f64>(),
            Clock::Real => measured.as_secs_f64() * 1000.0,
        };
        let wall = summary.wall_ms;
        let first = rows.first().map_or(wall, |r| r.wall_ms);
        rows.push(Row {
            scenario: s.name.clone(),
            model: model_of(&s).into(),
            clock: s.runtime.clock.as_str().into(),
            wall_ms: wall,
            cpu_ms: (cpu * 10.0).round() / 10.0,
            parallelism: if wall > 0.0 {
                (cpu / wall * 100.0).round() / 100.0
            } else {
                0.0
            },
            speedup: (first > 0.0 && wall > 0.0).then(|| (first / wall * 100.0).round() / 100.0),
            ending: match finished.end.ending {
                Ending::Complete => "complete",
                Ending::Deadlock => "deadlock",
                Ending::Stopped => "stopped",
            }
            .into(),
        });
    }
    Ok(rows)
}

pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<12} {:<8} {:>10} {:>10} {:>12} {:>8}",
        "scenario", "model", "clock", "wall ms", "cpu ms", "parallelism", "speedup"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{} {:<12} {:<8} {:>10.1} {:>10.1} {:>12.2} {:>8}{}",
            crate::text::cell(&r.scenario, 24),
            r.model,
            r.clock,
            r.wall_ms,
            r.cpu_ms,
            r.parallelism,
            r.speedup.map_or("-".into(), |x| format!("{x:.2}x")),
            if r.ending == "complete" {
                String::new()
            } else {
                format!("  ({})", r.ending)
            }
        );
    }
    out.push_str(
        "\nwall: scenario time until the last task ended. cpu: charged CPU on the virtual clock,\n\
         measured CPU (this process and its children) on the real clock. parallelism: cpu / wall.\n\
         speedup: the first scenario's wall time over this one's.\n",
    );
    out
}
