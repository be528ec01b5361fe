//! A task's detail: who it is, its figures, and its transitions, oldest
//! first; it opens at its top.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::theme;
use crate::app::{App, Session, state_name};
use crate::format::{self, count};
use crate::model::TaskView;
use crate::probe::{Change, TaskIdx};
use crate::text;
use std::time::Duration;

/// The transitions the detail lists at most (the newest).
const ROOM: usize = 1000;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    let (Some(session), Some(idx)) = (&app.session, app.selected_task()) else {
        return;
    };
    let Some(t) = session.model().task(idx) else {
        return;
    };
    let mut lines = about(session, idx, t);
    figures(session, idx, t, &mut lines);
    lines.push(Line::from(""));
    let (mine, older, short) = transitions(session, idx, t);
    let dropped = session.history.dropped();
    let mut head = "transitions, oldest first".to_string();
    if older > 0 {
        head.push_str(&format!(
            " ({} older not listed: the newest {ROOM} are)",
            count(older as u64, "transition", "transitions")
        ));
    }
    if short > 0 {
        head.push_str(&format!(
            " ({} by the OS, each under {}, not listed)",
            count(short as u64, "short take", "short takes"),
            format::time(SHORT_TAKE)
        ));
    }
    if dropped > 0 {
        head.push_str(&format!(
            " (the history dropped the run's oldest {})",
            count(dropped, "transition", "transitions")
        ));
    }
    lines.push(Line::from(Span::styled(head, theme::HEADER)));
    lines.extend(mine);
    super::scrolled_popup(app, lines, "task detail", area, buf);
}

/// Who the task is, why it is not running, and when it spawned, first ran
/// and ended.
fn about(session: &Session, idx: TaskIdx, t: &TaskView) -> Vec<Line<'static>> {
    let model = session.model();
    let state =
        crate::app::words::state_text(session, idx, session.holding().iter().any(|h| h.1 == idx));
    let first = if t.kind.is_os() {
        "first on a CPU at"
    } else {
        "first polled at"
    };
    vec![
        Line::from(vec![
            Span::styled(text::visible(&t.name).into_owned(), theme::HEADER),
            Span::raw(if t.kind.is_os() {
                format!("  {}  {state}", t.kind.as_str())
            } else {
                format!("  tokio id {}  {state}", t.id)
            }),
        ]),
        Line::from(Span::styled(
            format!("why: {}", super::why::why(session, idx)),
            theme::KEY,
        )),
        Line::from(format!(
            "spawned at {}{}, {first} {}, done at {}",
            format::time(t.spawned_at()),
            t.parent
                .and_then(|p| model.task(p))
                .map(|p| format!(" by {}", text::visible(&p.name)))
                .unwrap_or_default(),
            t.first_poll_at().map_or("-".into(), format::time),
            t.done_at().map_or("-".into(), format::time)
        )),
    ]
}

/// Its figures: from the events, as the OS measured them (a thread or
/// process that ended) and as tokio-metrics counts them. `sched` means
/// one thing everywhere: woken but not yet polled, the first poll's wait
/// apart.
fn figures(session: &Session, idx: TaskIdx, t: &TaskView, lines: &mut Vec<Line<'static>>) {
    let f = t.figures(session.now());
    if t.kind.is_os() {
        lines.push(Line::from(format!(
            "from the events: on a CPU {}, runnable (waiting for a CPU) {}",
            format::time(f.busy),
            format::time(f.scheduled + f.first_poll)
        )));
    } else {
        lines.push(Line::from(format!(
            "from the events: {}, busy {}, sched {} (woken, not yet polled), first poll after {}, \
             idle {}, longest poll {}, {} (worst {})",
            count(f.polls, "poll", "polls"),
            format::time(f.busy),
            format::time(f.scheduled),
            format::time(f.first_poll),
            format::time(f.idle),
            format::time(t.max_poll()),
            count(t.late_wakes, "late wake-up", "late wake-ups"),
            format::time(t.max_late())
        )));
    }
    if let Some(os) = t.stats.as_ref().and_then(|s| s.os) {
        lines.push(Line::from(format!(
            "the OS measured: {} on a CPU, {} runnable but waiting for a CPU, {}",
            format::time(os.cpu),
            format::time(os.runqueue),
            count(os.slices, "time slice", "time slices")
        )));
    }
    // Its figures, as tokio-metrics counts them: the final ones once done,
    // else the newest sample taken no later than the moment shown.
    let stats = match &t.stats {
        Some(s) => Some(((**s).clone(), "at its end".to_string())),
        None => session.sample().and_then(|s| {
            s.tasks
                .iter()
                .find(|(i, _)| *i == idx)
                .map(|(_, st)| (st.clone(), format!("sampled at {}", format::time(s.at))))
        }),
    };
    if let Some((s, when)) = stats.filter(|_| !t.kind.is_os()) {
        lines.push(Line::from(format!(
            "as tokio-metrics counts ({when}; a poll counts when it ends): {}, busy {}, sched {}, \
             first poll after {}, idle {}, {}",
            count(s.polls, "poll", "polls"),
            format::time(s.busy),
            format::time(s.scheduled),
            format::time(s.first_poll_delay),
            format::time(s.idle),
            count(s.slow_polls, "slow poll", "slow polls")
        )));
    }
}

/// The OS taking a worker's thread away for less than this is not listed
/// one by one (a busy machine does it every few µs): only counted.
const SHORT_TAKE: Duration = Duration::from_micros(100);

/// Its newest transitions up to the moment shown (at most [`ROOM`]),
/// oldest first, how many older ones are left out, and how many short
/// takes by the OS (under [`SHORT_TAKE`]) are counted, not listed.
fn transitions(
    session: &Session,
    idx: TaskIdx,
    t: &TaskView,
) -> (Vec<Line<'static>>, usize, usize) {
    let cursor = session.history.cursor();
    let all = session
        .history
        .events()
        .rev()
        .filter(|(p, e)| *p < cursor && e.task == idx);
    let mut mine: Vec<Line> = Vec::new();
    let (mut older, mut short) = (0, 0);
    for (_, e) in all {
        if matches!(e.change, Change::OffCpu { gone } if gone < SHORT_TAKE) {
            short += 1;
            continue;
        }
        if mine.len() == ROOM {
            older += 1;
            continue;
        }
        let what = transition(session, e.t, &e.change);
        let step = session
            .scenario
            .tasks
            .get(t.spec as usize)
            .and_then(|s| s.steps.get(e.step as usize))
            .map(|s| text::visible(&session.scenario.label(&s.action).to_string()).into_owned())
            .unwrap_or_default();
        mine.push(Line::from(vec![
            Span::styled(format!("{:>10}  ", format::time(e.t)), theme::DIM),
            Span::raw(format!("{what:<34} ")),
            Span::styled(step, theme::DIM),
        ]));
    }
    mine.reverse();
    (mine, older, short)
}

/// One transition, in a few words.
fn transition(session: &Session, at: Duration, change: &Change) -> String {
    let model = session.model();
    match change {
        Change::Spawned { .. } => "spawned".to_string(),
        Change::Running { worker } if crate::event::is_cpu(*worker) => {
            match crate::event::cpu_of(*worker) {
                Some(cpu) => format!("on CPU {cpu}"),
                None => "on a CPU".to_string(),
            }
        }
        Change::Running { worker } => format!("running on worker {worker}"),
        Change::OffCpu { gone } => format!(
            "the OS took its worker's thread away for {}",
            format::time(*gone)
        ),
        Change::Waiting {
            wait: crate::probe::Wait::Io,
            due: None,
        } => "connecting (io)".to_string(),
        Change::Waiting {
            wait: crate::probe::Wait::Io,
            due: Some(d),
        } => format!("waiting for the reply, due {}", format::time(*d)),
        Change::Waiting { wait, .. } => state_name(&crate::model::State::Waiting(*wait)),
        Change::Ready {
            by: crate::probe::WakeBy::Os,
            ..
        } => "pre-empted: runnable, waiting for a CPU".to_string(),
        Change::Ready { by, late, .. } => {
            let by = by.describe(|b| {
                model
                    .task(b)
                    .map_or("?".into(), |b| text::visible(&b.name).into_owned())
            });
            match late {
                // Late because the viewer held the run, not the workers.
                Some(l) if session.paused_between(at.saturating_sub(*l), at) => format!(
                    "ready (woken by {by}, {} late: the pause held it)",
                    format::time(*l)
                ),
                Some(l) => format!("ready (woken by {by}, {} late)", format::time(*l)),
                None => format!("ready (woken by {by})"),
            }
        }
        Change::Done { outcome, .. } => format!("done ({})", outcome.as_str()),
    }
}
