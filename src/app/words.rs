//! The words a task's row shows: its state and its step. The table draws
//! them and the filter matches them with the name, so `/holding` finds the
//! rows that say HOLDING and `/stove` the steps that use the stove.

use std::time::Duration;

use super::Session;
use crate::event::TaskIdx;
use crate::format;
use crate::model::{State, TaskView};
use crate::probe::Outcome;
use crate::text;

/// A state in words: `waiting (timer)`, `done (panicked)`.
pub fn state_name(state: &State) -> String {
    match state {
        State::Ready => "ready".into(),
        State::Running { worker } if crate::event::is_cpu(*worker) => "on a CPU".into(),
        State::Running { worker } => format!("running on worker {worker}"),
        State::Waiting(w) => format!("waiting ({})", w.as_str()),
        State::Done(o) => format!("done ({})", o.as_str()),
    }
}

/// How late the timer or reply task `t` waits for is at the moment shown,
/// and whether the viewer's pause made it so (the run was held when it
/// came due, so no worker was busy).
pub fn overdue(session: &Session, t: &TaskView) -> Option<(Duration, bool)> {
    let now = session.now();
    let late = t.overdue(now)?;
    let due = t.due()?;
    Some((late, session.paused_between(due, now)))
}

/// The state column of task `idx`: the state's name, or what matters more
/// about it now (a held worker, an OS row with no CPU, the phase of an io
/// step, a late timer or reply and why, a join that got a panic).
pub fn state_text(session: &Session, idx: TaskIdx, holds: bool) -> String {
    let model = session.model();
    let Some(t) = model.task(idx) else {
        return String::new();
    };
    match &t.state {
        State::Running { worker } if holds => format!("HOLDING worker {worker}"),
        State::Ready if t.kind.is_os() => "runnable: no CPU".into(),
        State::Waiting(w) => match overdue(session, t) {
            Some((_, true)) => format!("{} due in the pause", due_word(t)),
            Some((late, false)) => format!("{} overdue {}", due_word(t), format::time(late)),
            None if session.connecting(t) => "connecting".into(),
            None if *w == crate::probe::Wait::Io && t.due().is_some() => {
                "waiting for the reply".into()
            }
            None => state_name(&t.state),
        },
        State::Done(Outcome::Ok) if model.join_error(idx).is_some() => "done (JoinError)".into(),
        state => state_name(state),
    }
}

/// What a waiting task is due: its timer, or its reply.
fn due_word(t: &TaskView) -> &'static str {
    match t.state {
        State::Waiting(crate::probe::Wait::Io) => "reply",
        _ => "timer",
    }
}

/// The step column of task `idx`: the step's label and its note (an io
/// step's note only once its request is out: connecting, nothing is sent
/// yet).
pub fn step_text(session: &Session, idx: TaskIdx) -> (String, String) {
    let Some((action, note)) = session.step_of(idx) else {
        return Default::default();
    };
    let label = text::visible(&session.scenario.label(action).to_string()).into_owned();
    let connecting = session.model().task(idx).is_some_and(TaskView::connecting);
    let note = if connecting {
        "nothing sent yet".to_string()
    } else {
        text::visible(note.unwrap_or("")).into_owned()
    };
    (label, note)
}

/// Whether task `idx`'s row shows `needle` (lower case) in its name, its
/// state or its step, as the table words them.
pub fn shows(session: &Session, idx: TaskIdx, holds: bool, needle: &str) -> bool {
    let Some(t) = session.model().task(idx) else {
        return false;
    };
    if t.name.to_lowercase().contains(needle) {
        return true;
    }
    if state_text(session, idx, holds)
        .to_lowercase()
        .contains(needle)
    {
        return true;
    }
    let (label, note) = step_text(session, idx);
    label.to_lowercase().contains(needle) || note.to_lowercase().contains(needle)
}
