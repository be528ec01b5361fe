//! One pump from a run into where its events go: a fold (the headless
//! model, the dashboard's history, a list kept whole) and the output files
//! (`--events`, `--trace`, `--svg`), as the run records them. Headless,
//! the dashboard and pictures all take a run in through it.

use std::time::Duration;

use crate::event::Event;
use crate::export::Outputs;
use crate::model::Model;
use crate::probe::Drained;
use crate::runtime::{Run, RunError, RunOptions};
use crate::target::Target;

/// Starts `target` with the driver for it: a scenario's steps, or your own
/// program's future.
pub fn start(target: &Target, options: RunOptions) -> Result<Run, RunError> {
    match target {
        Target::Scenario(scenario) => crate::runner::start(scenario.clone(), options),
        Target::Program(program) => crate::program::start(program, options),
    }
}

/// The output files of a run, written as its events are taken in. A file
/// that fails to write stops all of them (none is left half-written) and
/// says why in [`Feed::failed`].
#[derive(Default)]
pub struct Feed {
    outputs: Option<Outputs>,
    failed: Option<String>,
}

impl Feed {
    pub fn new(outputs: Option<Outputs>) -> Feed {
        Feed {
            outputs,
            failed: None,
        }
    }

    /// Takes in what `run` has recorded, waiting up to `wait` for the run
    /// to finish if nothing is ready: every event goes to the output files
    /// and then to `fold`.
    pub fn take(&mut self, run: &Run, wait: Duration, mut fold: impl FnMut(Event)) -> Drained {
        run.recorder.drain_each(wait, |e| {
            self.write(&e);
            fold(e);
        })
    }

    /// Writes one event to the output files (an event the run did not
    /// record: a task cancelled after the run ended).
    pub fn write(&mut self, e: &Event) {
        if let Some(outputs) = self.outputs.as_mut()
            && let Err(err) = outputs.event(e)
        {
            self.outputs = None;
            self.failed = Some(output_error(&err));
        }
    }

    /// Why the output files were given up, if they were.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Ends the output files with what `model` knows, and moves them into
    /// place.
    pub fn finish(&mut self, model: &Model) -> Result<(), String> {
        if let Some(failed) = &self.failed {
            return Err(failed.clone());
        }
        match self.outputs.take() {
            Some(outputs) => outputs.finish(model).map_err(|e| output_error(&e)),
            None => Ok(()),
        }
    }
}

/// The one message for an output file that could not be written.
fn output_error(e: &std::io::Error) -> String {
    format!("could not write an output file: {e}")
}
