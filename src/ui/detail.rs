//! A task's detail: its figures and its transitions.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::theme;
use crate::app::{App, Session, state_name};
use crate::format;
use crate::model::{Model, TaskView};
use crate::probe::{Change, TaskIdx};
use crate::text;

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
    lines.push(Line::from(Span::styled(
        "transitions (newest last)",
        theme::HEADER,
    )));
    lines.extend(transitions(session, idx, t));
    super::scrolled_popup(lines, "task detail", true, app.scroll, area, buf);
}

/// Who the task is, why it is not running, and when it spawned, first ran
/// and ended.
fn about(session: &Session, idx: TaskIdx, t: &TaskView) -> Vec<Line<'static>> {
    let model = session.model();
    vec![
        Line::from(vec![
            Span::styled(text::visible(&t.name).into_owned(), theme::HEADER),
            Span::raw(if t.kind.is_os() {
                format!("  {}  {}", t.kind.as_str(), state_name(&t.state))
            } else {
                format!("  tokio id {}  {}", t.id, state_name(&t.state))
            }),
        ]),
        Line::from(Span::styled(
            format!("why: {}", super::narration::why(session, idx)),
            theme::KEY,
        )),
        Line::from(format!(
            "spawned at {}{}, first polled {}, done {}",
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
/// process that ended) and as tokio-metrics counts them.
fn figures(session: &Session, idx: TaskIdx, t: &TaskView, lines: &mut Vec<Line<'static>>) {
    let f = t.figures(session.now());
    if t.kind.is_os() {
        lines.push(Line::from(format!(
            "seen every millisecond: on a CPU {}, runnable (waiting for a CPU) {}",
            format::time(f.busy),
            format::time(f.scheduled)
        )));
    } else {
        lines.push(Line::from(format!(
        "events: {} polls, busy {}, ready {} (first poll after {}), waiting {}, longest poll {}, {} late wake-ups (worst {})",
        f.polls,
        format::time(f.busy),
        format::time(f.scheduled),
        format::time(t.first_poll_at().unwrap_or(session.now()).saturating_sub(t.spawned_at())),
        format::time(f.idle),
        format::time(t.max_poll()),
        t.late_wakes,
        format::time(t.max_late())
    )));
    }
    if let Some(os) = t.stats.as_ref().and_then(|s| s.os) {
        lines.push(Line::from(format!(
            "the OS measured: {} on a CPU, {} runnable but waiting for a CPU, {} time slices",
            format::time(os.cpu),
            format::time(os.runqueue),
            os.slices
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
            "counted as tokio-metrics counts ({when}; a poll counts when it ends, and scheduled time leaves out the first poll's wait): {} polls, busy {}, scheduled {}, idle {}, {} slow polls, first poll after {}",
            s.polls,
            format::time(s.busy),
            format::time(s.scheduled),
            format::time(s.idle),
            s.slow_polls,
            format::time(s.first_poll_delay)
        )));
    }
}

/// Its newest transitions up to the moment shown, oldest first.
fn transitions(session: &Session, idx: TaskIdx, t: &TaskView) -> Vec<Line<'static>> {
    // The newest transitions, as many as anyone would scroll through.
    let room = 1000;
    let cursor = session.history.cursor();
    let mut mine: Vec<Line> = session
        .history
        .events()
        .rev()
        .filter(|(p, e)| *p < cursor && e.task == idx)
        .take(room)
        .map(|(_, e)| {
            let what = transition(session.model(), &e.change);
            let step = session
                .scenario
                .tasks
                .get(t.spec as usize)
                .and_then(|s| s.steps.get(e.step as usize))
                .map(|s| text::visible(&session.scenario.label(&s.action).to_string()).into_owned())
                .unwrap_or_default();
            Line::from(vec![
                Span::styled(format!("{:>10}  ", format::time(e.t)), theme::DIM),
                Span::raw(format!("{what:<34} ")),
                Span::styled(step, theme::DIM),
            ])
        })
        .collect();
    mine.reverse();
    mine
}

/// One transition, in a few words.
fn transition(model: &Model, change: &Change) -> String {
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
        Change::Waiting { wait, .. } => format!("waiting ({})", wait.as_str()),
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
                Some(l) => format!("ready (woken by {by}, {} late)", format::time(*l)),
                None => format!("ready (woken by {by})"),
            }
        }
        Change::Done { outcome, .. } => format!("done ({})", outcome.as_str()),
    }
}
