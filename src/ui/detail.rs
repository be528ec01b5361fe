//! A task's detail: its figures and its transitions.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::status::fmt_time;
use super::theme;
use crate::app::{App, state_name};
use crate::probe::{Change, WakeBy};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    let (Some(session), Some(idx)) = (&app.session, app.selected_task()) else {
        return;
    };
    let model = session.model();
    let Some(t) = model.task(idx) else { return };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(t.name.to_string(), theme::HEADER),
            Span::raw(format!("  tokio id {}  {}", t.id, state_name(&t.state))),
        ]),
        Line::from(format!(
            "spawned at {}{}, first polled {}, done {}",
            fmt_time(t.spawned_at),
            t.parent
                .and_then(|p| model.task(p))
                .map(|p| format!(" by {}", p.name))
                .unwrap_or_default(),
            t.first_poll_at.map_or("-".into(), fmt_time),
            t.done_at.map_or("-".into(), fmt_time)
        )),
    ];
    let stats = t.stats.clone().or_else(|| {
        session.sample.as_ref().and_then(|s| {
            s.tasks
                .iter()
                .find(|(i, _)| *i == idx)
                .map(|(_, s)| s.clone())
        })
    });
    if let Some(s) = stats {
        lines.push(Line::from(format!(
            "tokio-metrics: {} polls, busy {}, scheduled {}, idle {}, {} slow polls, first poll after {}",
            s.polls,
            fmt_time(s.busy),
            fmt_time(s.scheduled),
            fmt_time(s.idle),
            s.slow_polls,
            fmt_time(s.first_poll_delay)
        )));
    }
    lines.push(Line::from(format!(
        "events: {} polls, longest {}, {} late wake-ups (worst {})",
        t.polls,
        fmt_time(t.max_poll),
        t.late_wakes,
        fmt_time(t.max_late)
    )));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "transitions (newest last)",
        theme::HEADER,
    )));
    let room = area.height.saturating_sub(lines.len() as u16 + 3) as usize;
    let cursor = session.history.cursor();
    let mut mine: Vec<Line> = session
        .history
        .events()
        .rev()
        .filter(|(p, e)| *p < cursor && e.task == idx)
        .take(room)
        .map(|(_, e)| {
            let what = match &e.change {
                Change::Spawned { .. } => "spawned".to_string(),
                Change::Running { worker } => format!("running on worker {worker}"),
                Change::Waiting { wait, .. } => format!("waiting ({})", wait.as_str()),
                Change::Ready { by, late } => {
                    let by = match by {
                        WakeBy::Task(b) => {
                            model.task(*b).map_or("?".into(), |b| b.name.to_string())
                        }
                        WakeBy::Timer => "timer".into(),
                        WakeBy::Io => "io".into(),
                        WakeBy::Runtime => "runtime".into(),
                    };
                    match late {
                        Some(l) => format!("ready (woken by {by}, {} late)", fmt_time(*l)),
                        None => format!("ready (woken by {by})"),
                    }
                }
                Change::Done { outcome, .. } => format!("done ({})", outcome.as_str()),
            };
            let step = session
                .scenario
                .tasks
                .get(t.spec as usize)
                .and_then(|s| s.steps.get(e.step as usize))
                .map(|s| session.scenario.label(&s.action).to_string())
                .unwrap_or_default();
            Line::from(vec![
                Span::styled(format!("{:>10}  ", fmt_time(e.t)), theme::DIM),
                Span::raw(format!("{what:<34} ")),
                Span::styled(step, theme::DIM),
            ])
        })
        .collect();
    mine.reverse();
    lines.extend(mine);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" task detail (Esc closes) "))
        .render(area, buf);
}
