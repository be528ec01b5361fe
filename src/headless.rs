//! Runs a scenario to the end without a screen: events are folded into the
//! model (and written as JSON lines if asked) while the run goes on.

use std::sync::Arc;
use std::time::Duration;

use crate::export::AtomicFile;
use crate::export::jsonl::LineWriter;
use crate::model::{Model, RunInfo};
use crate::runner::{self, RunEnd, RunOptions};
use crate::scenario::Scenario;
use crate::{Error, summary::Summary};

/// What a finished headless run produced.
pub struct Finished {
    pub model: Model,
    pub end: RunEnd,
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

/// Runs `scenario` to its end; `events` receives every transition.
pub fn run(
    scenario: Arc<Scenario>,
    options: RunOptions,
    mut events: Option<AtomicFile>,
) -> Result<Finished, Error> {
    let info = run_info(&scenario);
    let mut model = Model::new(info.clone());
    let mut lines = LineWriter::default();
    let io_error =
        |e: std::io::Error| Error::Failed(format!("could not write the events file: {e}"));
    if let Some(file) = events.as_mut() {
        lines.header(file.writer(), &info).map_err(io_error)?;
    }
    let run = runner::start(scenario, options).map_err(|e| Error::Failed(e.to_string()))?;
    let mut batch = Vec::new();
    let dropped = loop {
        let drained = run.recorder.drain(&mut batch, Duration::from_millis(5));
        for e in &batch {
            model.apply(e);
            if let Some(file) = events.as_mut() {
                lines.event(file.writer(), e).map_err(io_error)?;
            }
        }
        batch.clear();
        // The flag is read with the events, under one lock: nothing follows it.
        if drained.finished {
            break drained.dropped;
        }
    };
    let end = run.wait().map_err(|e| Error::Failed(e.to_string()))?;
    model.finish(dropped, end.stalled.clone(), Some(end.runtime.clone()));
    if let Some(mut file) = events {
        lines.end(file.writer(), &model).map_err(io_error)?;
        file.commit().map_err(io_error)?;
    }
    Ok(Finished { model, end })
}
