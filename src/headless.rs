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
        let mut s = Summary::from_model(&self.model);
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
    let (dropped, interrupted) = drain_to_end(&run, interrupt, |batch| {
        for e in batch.iter() {
            model.apply(e);
            if let Some(out) = outputs.as_mut() {
                out.event(e).map_err(io_error)?;
            }
        }
        batch.clear();
        Ok(())
    })?;
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
    let (dropped, _) = drain_to_end(&run, None, |batch| {
        events.append(batch);
        Ok(())
    })?;
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

/// Hands every batch of events to `each` until the run has finished (it
/// empties the batch or not, as it likes); stops the run once `interrupt`
/// holds a signal. Returns the events dropped and the signal, if any.
fn drain_to_end(
    run: &Run,
    interrupt: Option<&AtomicUsize>,
    mut each: impl FnMut(&mut Vec<Event>) -> Result<(), Error>,
) -> Result<(u64, Option<i32>), Error> {
    let mut batch = Vec::new();
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
        let drained = run.recorder.drain(&mut batch, Duration::from_millis(5));
        each(&mut batch)?;
        // The flag is read with the events, under one lock: nothing follows it.
        if drained.finished {
            return Ok((drained.dropped, interrupted));
        }
    }
}
