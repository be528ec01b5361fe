//! Runs a target to the end without a screen: events are folded into the
//! model (and written to the output files asked for) while the run goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::event::Event;
use crate::export::Outputs;
use crate::feed::{self, Feed};
use crate::model::{Model, RunInfo};
use crate::runtime::{Run, RunEnd, RunOptions};
use crate::scenario::Scenario;
use crate::target::Target;
use crate::{Error, summary::Summary};

/// What a finished headless run produced.
pub struct Finished {
    pub model: Model,
    pub end: RunEnd,
    /// The signal that stopped the run early, if one did.
    pub interrupted: Option<i32>,
}

impl Finished {
    pub fn summary(&self) -> Summary {
        self.summary_rows(usize::MAX)
    }

    /// [`Finished::summary`] with only the first `rows` tasks' figures.
    pub fn summary_rows(&self, rows: usize) -> Summary {
        let mut s = Summary::first_rows(&self.model, rows);
        if self.model.tasks.is_empty() {
            // Probe off: no events, only the runner's own clock.
            s.wall_ms = crate::format::ms(self.end.elapsed);
        }
        s
    }
}

pub fn run_info(scenario: &Scenario) -> RunInfo {
    let rt = &scenario.runtime;
    // Pinned workers run on known CPUs: taken from this thread, as the
    // runtime takes them (nothing of the run is pinned yet).
    let worker_cpus = if rt.pin_workers {
        let cpus = crate::runtime::os::RunCpus::of_this_thread(rt.cpus);
        (0..rt.workers)
            .filter_map(|w| cpus.nth(w))
            .map(|c| u16::try_from(c).unwrap_or(u16::MAX))
            .collect()
    } else {
        Vec::new()
    };
    RunInfo {
        scenario: scenario.name.clone(),
        flavor: rt.flavor.as_str().into(),
        workers: rt.workers,
        clock: rt.clock.as_str().into(),
        worker_cpus,
    }
}

/// Runs `target` to its end; `outputs` receive every transition.
pub fn run(
    target: impl Into<Target>,
    options: RunOptions,
    outputs: Option<Outputs>,
) -> Result<Finished, Error> {
    run_until(target.into(), options, outputs, None)
}

/// [`run`], stopping early (tasks cancelled, files still complete) once
/// `interrupt` holds a signal number.
pub fn run_until(
    target: Target,
    options: RunOptions,
    outputs: Option<Outputs>,
    interrupt: Option<Interrupt<'_>>,
) -> Result<Finished, Error> {
    let mut model = Model::new(run_info(target.scenario()));
    model.reserve_tasks(target.scenario().starting_tasks());
    let run = feed::start(&target, options).map_err(|e| Error::Failed(e.to_string()))?;
    let mut feed = Feed::new(outputs);
    let (dropped, interrupted) = take_to_the_end(&run, interrupt, &mut feed, |e| model.apply(&e));
    if let Some(failed) = feed.failed() {
        return Err(Error::Failed(failed.into()));
    }
    let end = run.wait().map_err(|e| Error::Failed(e.to_string()))?;
    model.finish(dropped, end.stalled.clone(), Some(end.runtime.clone()));
    feed.finish(&model).map_err(Error::Failed)?;
    Ok(Finished {
        model,
        end,
        interrupted,
    })
}

/// Runs `scenario` to its end and keeps every event: the log a `--events`
/// file would hold, in memory (for pictures and tests).
pub fn record(
    scenario: Arc<Scenario>,
    options: RunOptions,
) -> Result<crate::recording::Log, Error> {
    record_until(scenario, options, None).map(|(log, _)| log)
}

/// [`record`], stopping early once `interrupt` holds a signal (returned).
pub fn record_until(
    scenario: Arc<Scenario>,
    options: RunOptions,
    interrupt: Option<Interrupt<'_>>,
) -> Result<(crate::recording::Log, Option<i32>), Error> {
    let info = run_info(&scenario);
    let run = feed::start(&Target::Scenario(scenario), options)
        .map_err(|e| Error::Failed(e.to_string()))?;
    let mut events = Vec::new();
    let (dropped, interrupted) =
        take_to_the_end(&run, interrupt, &mut Feed::default(), |e| events.push(e));
    let end = run.wait().map_err(|e| Error::Failed(e.to_string()))?;
    let log = crate::recording::Log {
        info,
        events,
        dropped,
        stalled: end.stalled,
        runtime: Some(end.runtime),
        complete: true,
    };
    Ok((log, interrupted))
}

/// A signal's flag, and how long the run has to end by itself once it is
/// set (your program's own Ctrl-C) before it is stopped (None: at once).
#[derive(Clone, Copy)]
pub struct Interrupt<'a> {
    pub signal: &'a AtomicUsize,
    pub grace: Option<Duration>,
}

impl<'a> From<&'a AtomicUsize> for Interrupt<'a> {
    fn from(signal: &'a AtomicUsize) -> Interrupt<'a> {
        Interrupt {
            signal,
            grace: None,
        }
    }
}

/// Takes every event in until the run has finished, or until an output
/// file fails; stops the run once `interrupt` holds a signal (after its
/// grace). Returns the events dropped and the signal that stopped the run,
/// if one did (a run that ended by itself within the grace was not).
fn take_to_the_end(
    run: &Run,
    interrupt: Option<Interrupt<'_>>,
    feed: &mut Feed,
    mut fold: impl FnMut(Event),
) -> (u64, Option<i32>) {
    let mut signalled: Option<(i32, std::time::Instant)> = None;
    let mut stopped = false;
    loop {
        if let Some(i) = interrupt {
            let signal = i.signal.load(Ordering::Relaxed);
            if signalled.is_none() && signal != 0 {
                signalled = Some((signal as i32, std::time::Instant::now()));
            }
            if let Some((_, at)) = signalled
                && !stopped
                && i.grace.is_none_or(|g| at.elapsed() >= g)
            {
                stopped = true;
                run.stop();
            }
        }
        let drained = feed.take(run, Duration::from_millis(5), &mut fold);
        // The flag is read with the events, under one lock: nothing follows it.
        if feed.failed().is_some() || drained.finished {
            let interrupted = signalled.filter(|_| stopped).map(|(s, _)| s);
            return (drained.dropped, interrupted);
        }
    }
}
