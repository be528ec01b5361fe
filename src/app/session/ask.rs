//! What the screen asks a session about its scenario: a task's step and
//! note, the mutexes and channels, the workers held.

use std::time::Duration;

use super::Session;
use crate::event::TaskIdx;
use crate::scenario::Action;

impl Session {
    /// The step the task is on, and its note.
    pub fn step_of(&self, task: TaskIdx) -> Option<(&Action, Option<&str>)> {
        let t = self.model().task(task)?;
        let step = self
            .scenario
            .tasks
            .get(t.spec as usize)?
            .steps
            .get(t.step as usize)?;
        Some((&step.action, step.note.as_deref()))
    }

    /// What step `step` of task kind `spec` does to a mutex or channel.
    pub fn step_use(&self, spec: u32, step: u32) -> crate::model::resources::StepUse {
        use crate::model::resources::StepUse;
        match self.action(spec, step) {
            Some(Action::Lock(m)) => StepUse::Lock(*m),
            Some(Action::Unlock(m)) => StepUse::Unlock(*m),
            Some(Action::Send(c)) => StepUse::Send(*c),
            Some(Action::Recv(c)) => StepUse::Recv(*c),
            _ => StepUse::Other,
        }
    }

    /// Mutexes and channels at the moment shown.
    pub fn resources(&self) -> crate::model::resources::Resources {
        use crate::model::resources;
        let cursor = self.history.cursor();
        let events = (self.history.dropped()..cursor)
            .filter_map(|p| self.history.light(p))
            .map(|(_, task, step, change)| (task, step, change));
        resources::compute(
            events,
            self.model(),
            self.scenario.mutexes.len(),
            self.scenario.channels.len(),
            |spec, step| self.step_use(spec, step),
        )
    }

    /// What step `step` of task kind `spec` does.
    pub fn action(&self, spec: u32, step: u32) -> Option<&Action> {
        self.scenario
            .tasks
            .get(spec as usize)
            .and_then(|t| t.steps.get(step as usize))
            .map(|s| &s.action)
    }

    /// Whether step `step` of task kind `spec` holds its worker (cpu, block).
    pub fn holds_worker(&self, spec: u32, step: u32) -> bool {
        self.steps.holds_worker(&self.scenario, spec, step)
    }

    /// The worker a task has been holding, and since when, if it is.
    pub fn holding(&self) -> Vec<(u16, TaskIdx, Duration)> {
        let model = self.model();
        model
            .workers
            .iter()
            .enumerate()
            .filter_map(|(w, lane)| {
                let task = lane.current?;
                let t = model.task(task)?;
                self.holds_worker(t.spec, t.step)
                    .then(|| (w as u16, task, self.now().saturating_sub(lane.since)))
            })
            .collect()
    }
}
