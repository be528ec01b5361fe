//! Runs a scenario to the end without a screen: events are folded into the
//! model (and written to the output files asked for) while the run goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::export::Outputs;
use crate::model::{Model, RunInfo};
use crate::probe::Event;
use crate::runner::{self, Run, RunEnd, RunOptions};
use crate::scenario::Scenario;
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
            s.wall_ms = crate::summary::ms(self.end.elapsed);
        }
        s
    }
}

pub fn run_info(scenario: &Scenario) -> RunInfo {
    RunInfo {
        scenario: scenario.name.clone(),
        flavor: scenario.runtime.flavor.as_str().into(),
        workers: scenario.runtime.workers,
        clock: scenario.runtime.clock.as_str().into(),
    }
}

/// Runs `scenario` to its end; `outputs` receive every transition.
pub fn run(
    scenario: Arc<Scenario>,
    options: RunOptions,
    outputs: Option<Outputs>,
) -> Result<Finished, Error> {
    run_until(scenario, options, outputs, None)
}

/// [`run`], stopping early (tasks cancelled, files still complete) once
/// `interrupt` holds a signal number.
pub fn run_until(
    scenario: Arc<Scenario>,
    options: RunOptions,
    mut outputs: Option<Outputs>,
    interrupt: Option<&AtomicUsize>,
) -> Result<Finished, Error> {
    let mut model = Model::new(run_info(&scenario));
    model.reserve_tasks(scenario.starting_tasks());
    let io_error =
        |e: std::io::Error| Error::Failed(format!("could not write an output file: {e}"));
    let run = runner::start(scenario, options).map_err(|e| Error::Failed(e.to_string()))?;
    let mut fold = Fold {
        model: &mut model,
        outputs: &mut outputs,
        failed: None,
    };
    let (dropped, interrupted) = drain_to_end(&run, interrupt, &mut fold)?;
    if let Some(e) = fold.failed {
        return Err(io_error(e));
    }
    let end = run.wait().map_err(|e| Error::Failed(e.to_string()))?;
    model.finish(dropped, end.stalled.clone(), Some(end.runtime.clone()));
    if let Some(out) = outputs {
        out.finish(&model).map_err(io_error)?;
    }
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
) -> Result<crate::export::jsonl::Log, Error> {
    let info = run_info(&scenario);
    let run = runner::start(scenario, options).map_err(|e| Error::Failed(e.to_string()))?;
    let mut events = Vec::new();
    let (dropped, _) = drain_to_end(&run, None, &mut events)?;
    let end = run.wait().map_err(|e| Error::Failed(e.to_string()))?;
    Ok(crate::export::jsonl::Log {
        info,
        events,
        dropped,
        stalled: end.stalled,
        runtime: Some(end.runtime),
        complete: true,
    })
}

/// Where [`drain_to_end`] hands the events.
trait Sink {
    fn event(&mut self, e: Event);
    /// A drain's events have all been handed over; false: stop.
    fn drained(&mut self) -> bool {
        true
    }
}

impl Sink for Vec<Event> {
    fn event(&mut self, e: Event) {
        self.push(e);
    }
}

/// Folds events into the model and writes them to the output files, as
/// they come.
struct Fold<'a> {
    model: &'a mut Model,
    outputs: &'a mut Option<Outputs>,
    failed: Option<std::io::Error>,
}

impl Sink for Fold<'_> {
    fn event(&mut self, e: Event) {
        self.model.apply(&e);
        if self.failed.is_none()
            && let Some(out) = self.outputs.as_mut()
            && let Err(err) = out.event(&e)
        {
            self.failed = Some(err);
        }
    }

    fn drained(&mut self) -> bool {
        self.failed.is_none()
    }
}

/// Hands every event to `sink` until the run has finished, or until the
/// sink says to stop; stops the run once `interrupt` holds a signal.
/// Returns the events dropped and the signal, if any.
fn drain_to_end(
    run: &Run,
    interrupt: Option<&AtomicUsize>,
    sink: &mut impl Sink,
) -> Result<(u64, Option<i32>), Error> {
    let mut interrupted = None;
    loop {
        if interrupted.is_none()
            && let Some(signal) = interrupt
                .map(|i| i.load(Ordering::Relaxed))
                .filter(|s| *s != 0)
        {
            interrupted = Some(signal as i32);
            run.stop();
        }
        let drained = run
            .recorder
            .drain_each(Duration::from_millis(5), |e| sink.event(e));
        // The flag is read with the events, under one lock: nothing follows it.
        if !sink.drained() || drained.finished {
            return Ok((drained.dropped, interrupted));
        }
    }
}
