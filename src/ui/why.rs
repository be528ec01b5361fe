//! The selected task's "why is it not running?" line, in a learner's
//! words: ready behind whom, waiting for what and until when, and when a
//! timer is late, whether a busy worker or the viewer's pause made it so.

use super::narration::name_of;
use crate::app::Session;
use crate::event::is_cpu;
use crate::format;
use crate::model::{Model, State, TaskView};
use crate::probe::{Outcome, TaskIdx, Wait};
use crate::scenario::Action;

/// Why the task is not running now (or what it is doing), in one line.
pub fn why(session: &Session, task: TaskIdx) -> String {
    crate::text::visible(&why_sentence(session, task)).into_owned()
}

fn why_sentence(session: &Session, task: TaskIdx) -> String {
    let model = session.model();
    let Some(t) = model.task(task) else {
        return String::new();
    };
    let now = session.now();
    let since = format::time(now.saturating_sub(t.since()));
    let body = match &t.state {
        State::Running { worker } if is_cpu(*worker) => format!("on a CPU for {since}"),
        State::Ready if t.kind.is_os() => {
            format!("runnable for {since}: the OS gave the CPU to someone else")
        }
        State::Running { worker } => {
            if session.holding().iter().any(|h| h.1 == task) {
                format!(
                    "running on worker {worker} for {since}, holding it: nobody else can run there"
                )
            } else {
                format!("running on worker {worker} for {since}")
            }
        }
        State::Ready => format!("ready for {since}: {}", behind(session, model)),
        State::Waiting(w) => waiting(session, task, t, *w, &since),
        State::Done(Outcome::Ok) => match model.join_error(task) {
            Some(p) => format!(
                "done at {}: its join of {} returned Err(JoinError), as {} panicked",
                format::time(t.since()),
                name_of(model, p),
                name_of(model, p)
            ),
            None => format!("done at {}", format::time(t.since())),
        },
        State::Done(Outcome::Panicked(m)) => format!("panicked: {m}"),
        State::Done(Outcome::Cancelled) => "cancelled".into(),
    };
    format!("{}: {body}", t.name)
}

/// What a ready task waits behind.
fn behind(session: &Session, model: &Model) -> String {
    if let Some((w, holder, held)) = session.holding().into_iter().max_by_key(|h| h.2) {
        return format!(
            "{} holds worker {w} ({} so far)",
            name_of(model, holder),
            format::time(held)
        );
    }
    let busy: Vec<String> = model
        .workers
        .iter()
        .enumerate()
        .filter_map(|(w, lane)| {
            lane.current
                .map(|c| format!("worker {w} runs {}", name_of(model, c)))
        })
        .collect();
    if busy.is_empty() {
        "in the ready queue, for the next worker free to take it".into()
    } else {
        busy.join(", ")
    }
}

/// Why a waiting task waits: what for, and until when.
fn waiting(session: &Session, task: TaskIdx, t: &TaskView, w: Wait, since: &str) -> String {
    let s = &session.scenario;
    let name = |i: u32| name_of(session.model(), i);
    let step = session.action(t.spec, t.step);
    match (w, step) {
        (Wait::Timer, _) => due(session, t, "its timer"),
        (Wait::Io, _) if session.connecting(t) => format!(
            "connecting for {since}, nothing sent yet: it sends its request once polled again"
        ),
        (Wait::Io, _) if t.due().is_none() => format!(
            "waiting {since} on io (a socket, say): tokio's I/O driver wakes it when it is ready"
        ),
        (Wait::Io, _) => due(session, t, "its reply"),
        (Wait::Lock, Some(Action::Lock(m))) => {
            let r = session.resources();
            let holder = r.holders.get(*m).copied().flatten();
            format!(
                "waiting {since} for {}{}",
                s.mutexes[*m],
                holder.map_or(String::new(), |h| format!(", held by {}", name(h)))
            )
        }
        (Wait::Channel, Some(Action::Send(c))) => {
            let r = session.resources();
            format!(
                "waiting {since} to send on {}: full ({} of {})",
                s.channels[*c].name,
                r.fill.get(*c).copied().unwrap_or(0),
                s.channels[*c].capacity
            )
        }
        (Wait::Channel, Some(Action::Recv(c))) => {
            format!(
                "waiting {since} for a message on {}: empty",
                s.channels[*c].name
            )
        }
        (Wait::Join, Some(Action::Join(j))) => {
            format!("waiting {since} for {} to finish", s.tasks[*j].name)
        }
        (Wait::Blocking | Wait::Process, _) => {
            let rows: Vec<String> = session
                .model()
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    r.kind.is_os() && r.parent == Some(task) && !matches!(r.state, State::Done(_))
                })
                .map(|(i, _)| {
                    let state = crate::app::words::state_text(session, i as u32, false);
                    format!("{} ({state})", name(i as u32))
                })
                .collect();
            if rows.is_empty() {
                let what = if w == Wait::Process {
                    "process"
                } else {
                    "thread"
                };
                format!("waiting {since} for its {what}")
            } else {
                format!("waiting {since} for {}", rows.join(", "))
            }
        }
        (Wait::Yield, _) => format!("yielded {since} ago: waiting for its turn"),
        (w, _) => format!("waiting {since} on {}", w.as_str()),
    }
}

/// When `what` (its timer, its reply) is due; if it is late, why: a
/// worker busy then, or the viewer's pause (a paused scheduler runs
/// nothing, not even its timers; on the real clock time goes on).
fn due(session: &Session, t: &TaskView, what: &str) -> String {
    let now = session.now();
    let Some(d) = t.due() else {
        return format!("waiting on {what}");
    };
    match crate::app::words::overdue(session, t) {
        Some((late, true)) => format!(
            "{what} was due at {}, during the pause: a paused scheduler runs nothing, its timers \
             neither ({} ago)",
            format::time(d),
            format::time(late)
        ),
        Some((late, false)) => format!(
            "{what} was due at {}: {} overdue, the worker was busy then",
            format::time(d),
            format::time(late)
        ),
        None if d > now => format!(
            "{what} is due at {} ({} from now)",
            format::time(d),
            format::time(d - now)
        ),
        None => format!("{what} is due at {}: now", format::time(d)),
    }
}
