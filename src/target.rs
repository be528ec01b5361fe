//! What a run runs: a scenario's steps, or a program's own future. The
//! command layer makes the [`Target`]; the drivers below take it apart
//! (`runner/` a scenario, `program/` your future), and the screen asks it
//! only what it shows ([`StepInfo`]), never which of the two it is.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::scenario::{Clock, RuntimeSpec, Scenario};
use crate::speed::Speed;

/// Your own code's tasks have no steps: step 0 is their code, and this
/// step is a lesson helper's work holding its worker (`lesson::cpu`,
/// `lesson::block`), drawn as a scenario's `cpu` and `block` are.
pub const HOLDING_STEP: u32 = 1;

/// What a run runs.
#[derive(Debug, Clone)]
pub enum Target {
    /// A lesson or a scenario file: tasks made of steps.
    Scenario(Arc<Scenario>),
    /// A program under `taskscope::watch`: its own future as the root task.
    Program(Arc<Program>),
}

impl From<Arc<Scenario>> for Target {
    fn from(scenario: Arc<Scenario>) -> Target {
        Target::Scenario(scenario)
    }
}

impl Target {
    /// The scenario the screen and the outputs describe the run by: the
    /// lesson itself, or for a program one with its name and runtime and
    /// no steps.
    pub fn scenario(&self) -> &Arc<Scenario> {
        match self {
            Target::Scenario(s) => s,
            Target::Program(p) => &p.shown,
        }
    }

    /// What the screen may ask about the run's steps.
    pub fn steps(&self) -> StepInfo {
        match self {
            Target::Scenario(_) => StepInfo {
                holding_step: None,
                labelled: true,
                unnamed_waits: false,
                restartable: true,
            },
            Target::Program(_) => StepInfo {
                holding_step: Some(HOLDING_STEP),
                labelled: false,
                unnamed_waits: true,
                restartable: false,
            },
        }
    }

    /// The same target on another clock, if that combination can run.
    pub fn with_clock(&self, clock: Clock) -> Result<Target, String> {
        let scenario = self.scenario().with_clock(clock)?;
        Ok(match self {
            Target::Scenario(_) => Target::Scenario(Arc::new(scenario)),
            Target::Program(p) => Target::Program(Arc::new(Program {
                shown: Arc::new(scenario),
                future: Mutex::new(p.take()),
            })),
        })
    }
}

/// What the screen knows of a run's steps, whichever driver runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepInfo {
    /// The step at which a task holds its worker, where the steps are not
    /// a scenario's (None: a scenario's `cpu` and `block` steps hold it).
    holding_step: Option<u32>,
    /// Tasks are made of labelled steps (a scenario's); else a task has
    /// only its code, and the step column's room goes to its figures.
    pub labelled: bool,
    /// Waits may be ones tokio does not name (`other`, in the legend).
    pub unnamed_waits: bool,
    /// The run can be started again in this process (`r`, the lessons).
    pub restartable: bool,
}

impl StepInfo {
    /// Whether step `step` of task kind `spec` holds its worker: a `cpu`
    /// or `block` step, or a lesson helper's work.
    pub fn holds_worker(&self, scenario: &Scenario, spec: u32, step: u32) -> bool {
        match self.holding_step {
            Some(holding) => step == holding,
            None => scenario.holds_worker(spec, step),
        }
    }
}

/// A program's root future, boxed: what `main` returned, as an error's
/// text if it returned one.
pub type RootFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A program under `taskscope::watch`: its root future until its run takes
/// it (it runs once), and how it is shown.
pub struct Program {
    shown: Arc<Scenario>,
    future: Mutex<Option<RootFuture>>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Program")
    }
}

impl Program {
    /// Your code as a run called `name`, on `runtime`, opening on screen at
    /// `pace` (the virtual clock's).
    pub fn new(
        name: &str,
        runtime: RuntimeSpec,
        pace: Option<Speed>,
        future: RootFuture,
    ) -> Program {
        let mut shown = Scenario::unknown(name);
        shown.description = "Your own code, watched: each task's state from tokio's own hooks \
                             and instrumentation."
            .into();
        shown.runtime = runtime;
        shown.speed = pace.map(Speed::get);
        Program {
            shown: Arc::new(shown),
            future: Mutex::new(Some(future)),
        }
    }

    /// The root future, the first time only.
    pub fn take(&self) -> Option<RootFuture> {
        self.future.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The runtime it runs on.
    pub fn runtime(&self) -> &RuntimeSpec {
        &self.shown.runtime
    }
}
