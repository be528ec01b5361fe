//! Driver 2, your own program: runs its future as the root task `main` of
//! the instrumented runtime, seen through tokio's hooks and tracing
//! instrumentation ([`crate::runtime::hooks`]), until it ends or the
//! viewer stops the run.

use std::sync::Arc;

use crate::event::RuntimeFigures;
use crate::probe::Recorder;
use crate::runtime::hooks::Watcher;
use crate::runtime::run::{Stop, start as start_run, stopped_note};
use crate::runtime::sampler::start_sampler;
use crate::runtime::{Ending, Run, RunEnd, RunError, RunOptions};
use crate::scenario::Clock;
use crate::target::{Program, RootFuture};

/// Starts your code's run on its own thread (the runner's counterpart for
/// a scenario, [`crate::runner::start`]).
pub fn start(program: &Program, options: RunOptions) -> Result<Run, RunError> {
    let future = program.take().ok_or_else(|| {
        RunError::Start(
            "your own code runs once a process: start the program again to watch it again".into(),
        )
    })?;
    let spec = *program.runtime();
    let recorder = Recorder::new(options.capacity.max(16), spec.clock == Clock::Virtual);
    let watcher = Watcher::install(
        recorder.clone(),
        options.control.clone(),
        spec.clock,
        options.thread_tracing.clone(),
    )
    .ok_or_else(|| RunError::Start("taskscope::watch runs once a process".into()))?;
    let control = options.control.clone();
    let w = watcher.clone();
    start_run(&spec, recorder, control, watcher, move |stop| {
        root(future, w, options, stop)
    })
}

/// The runtime's main future: your code as the task `main`, until it ends
/// or the viewer stops the run.
async fn root(
    future: RootFuture,
    watcher: Arc<Watcher>,
    options: RunOptions,
    stop: Stop,
) -> Result<RunEnd, String> {
    watcher.start_clock();
    if let Some(every) = options.sample_every {
        let w = watcher.clone();
        start_sampler(
            watcher.recorder().clone(),
            every,
            Box::new(move || w.live_stats()),
        );
    }
    let main = tokio::task::Builder::new()
        .name("main")
        .spawn(future)
        .map_err(|e| format!("could not start your code: {e}"))?;
    let (ending, stalled) = tokio::select! {
        joined = main => match joined {
            Ok(Ok(())) => (Ending::Complete, None),
            // As tokio's main: the error said, the run a failure.
            Ok(Err(e)) => (Ending::Complete, Some(format!("main returned an error: {e}"))),
            Err(e) if e.is_panic() => (
                Ending::Complete,
                Some(format!(
                    "main panicked: {}",
                    crate::probe::panic_message(e.into_panic().as_ref())
                )),
            ),
            Err(_) => (Ending::Complete, Some("main was cancelled".into())),
        },
        _ = stop.requested() => {
            if let Some(c) = options.control.as_ref() {
                c.open();
            }
            let at = watcher.recorder().elapsed();
            (Ending::Stopped, Some(stopped_note(at, watcher.live())))
        }
    };
    Ok(RunEnd {
        elapsed: watcher.recorder().elapsed(),
        stalled,
        ending,
        runtime: RuntimeFigures::default(),
    })
}
