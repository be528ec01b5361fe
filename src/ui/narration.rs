//! The narration line: what just happened, in a learner's words.

use crate::app::Session;
use crate::model::State;
use crate::probe::{Change, Outcome, WakeBy};
use crate::ui::status::fmt_time;

/// One sentence about the newest thing worth saying, with the names,
/// notes and messages from the scenario shown through the sanitizer.
pub fn text(session: &Session) -> String {
    crate::text::visible(&sentence(session)).into_owned()
}

fn sentence(session: &Session) -> String {
    let model = session.model();
    let name = |t: u32| {
        model
            .task(t)
            .map_or("?".to_string(), |t| t.name.to_string())
    };
    // A held worker is the headline: everyone else is stuck behind it.
    if let Some((worker, task, held)) = session.holding().into_iter().max_by_key(|h| h.2) {
        let label = session
            .step_of(task)
            .map(|(a, _)| session.scenario.label(a).to_string())
            .unwrap_or_default();
        let mut s = format!(
            "{}: {label} holds worker {worker} ({})",
            name(task),
            fmt_time(held)
        );
        if let Some((other, since)) = model
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.state == State::Ready)
            .map(|(i, t)| (i as u32, t.since))
            .min_by_key(|(_, since)| *since)
        {
            s.push_str(&format!(
                "; {} ready for {}",
                name(other),
                fmt_time(session.now().saturating_sub(since))
            ));
        }
        if let Some((late_task, late)) = model
            .tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.overdue(session.now()).map(|l| (i as u32, l)))
            .max_by_key(|(_, l)| *l)
        {
            s.push_str(&format!(
                "; {}'s {} {} overdue",
                name(late_task),
                match model.task(late_task).map(|t| &t.state) {
                    Some(State::Waiting(crate::probe::Wait::Io)) => "reply",
                    _ => "timer",
                },
                fmt_time(late)
            ));
        }
        return s;
    }
    if session.ended && session.history.at_live_edge() {
        let wall = model.wall();
        return match &session.end_note {
            Some(note) => format!("stopped at {}: {note}", fmt_time(wall)),
            None => format!(
                "all {} tasks done at {}. r runs it again, ← scrubs back, q quits",
                model.tasks.len(),
                fmt_time(wall)
            ),
        };
    }
    let cursor = session.history.cursor();
    let Some(e) = cursor.checked_sub(1).and_then(|p| session.history.event(p)) else {
        return "starting...".into();
    };
    let who = name(e.task);
    let step = |with_note: bool| {
        session
            .step_of(e.task)
            .map(|(a, note)| match (note, with_note) {
                (Some(n), true) => format!("{} ({n})", session.scenario.label(a)),
                _ => session.scenario.label(a).to_string(),
            })
            .unwrap_or_default()
    };
    match &e.change {
        Change::Spawned {
            parent: Some(p), ..
        } => format!("{} spawned {who}", name(*p)),
        Change::Spawned { .. } => format!("{who} was spawned: ready, waiting for a worker"),
        Change::Running { worker } => format!("worker {worker} polls {who}: {}", step(true)),
        Change::Waiting { wait, .. } => format!(
            "{who} returned Pending: waiting on {} for {}",
            wait.as_str(),
            step(true)
        ),
        Change::Ready { by, late } => {
            let by = match by {
                WakeBy::Task(t) => format!("woken by {}", name(*t)),
                WakeBy::Timer => "woken by its timer".into(),
                WakeBy::Io => "woken by the I/O driver".into(),
                WakeBy::Runtime => "woken by the runtime".into(),
            };
            match late {
                Some(l) => format!(
                    "{who} {by}, {} late: the worker was busy when it was due",
                    fmt_time(*l)
                ),
                None => format!("{who} {by}: ready again"),
            }
        }
        Change::Done { outcome, .. } => match outcome {
            Outcome::Ok => format!("{who} finished"),
            Outcome::Panicked(m) => format!("{who} panicked: {m} (the other tasks go on)"),
            Outcome::Cancelled => format!("{who} was cancelled"),
        },
    }
}
