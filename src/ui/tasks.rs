//! The task table: one row per task, only the visible rows drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table, Widget};

use super::status::fmt_count;
use super::theme;
use crate::app::{App, Session, state_name};
use crate::format;
use crate::model::{State, TaskView};
use crate::text;

pub fn render(app: &App, session: &Session, visible: &[u32], area: Rect, buf: &mut Buffer) {
    let model = session.model();
    let block = Block::bordered().title(Line::from(vec![
        Span::styled(" tasks ", theme::HEADER),
        Span::styled(
            format!("{} of {} ", visible.len(), model.tasks.len()),
            theme::DIM,
        ),
    ]));
    let rows_fit = area.height.saturating_sub(3) as usize;
    // Keep the selection in view; draw only the rows that fit.
    let first = app.selected.saturating_sub(rows_fit.saturating_sub(1));
    let holding = session.holding();
    let rows = visible
        .iter()
        .enumerate()
        .skip(first)
        .take(rows_fit)
        .map(|(row, &idx)| {
            let holds = holding.iter().any(|h| h.1 == idx);
            let r = task_row(session, idx, holds);
            if first + row == app.selected {
                r.style(theme::SELECTED)
            } else {
                r
            }
        });
    // Narrow screens keep name, state and step; the figures need room.
    // Your own code has no steps: its state and figures take their room.
    let wide = area.width >= 100;
    let unlabelled = !session.steps.labelled;
    let header = Row::new([
        "task", "id", "state", "step", "polls", "busy", "sched", "idle", "slow",
    ])
    .style(theme::HEADER);
    Table::new(rows, widths(unlabelled, wide))
        .column_spacing(1)
        .header(header)
        .block(block)
        .style(Style::new())
        .render(area, buf);
}

/// Task `idx`'s row (`holds`: it holds its worker).
fn task_row(session: &Session, idx: u32, holds: bool) -> Row<'static> {
    let t = &session.model().tasks[idx as usize];
    let (symbol, style) = theme::state(&t.state, holds);
    let state = state_text(session, t, holds);
    let (step, note) = session
        .step_of(idx)
        .map(|(a, n)| {
            let label = session.scenario.label(a).to_string();
            (
                text::visible(&label).into_owned(),
                text::visible(n.unwrap_or("")).into_owned(),
            )
        })
        .unwrap_or_default();
    // From the events up to the moment shown: they grow live.
    let mut f = t.figures(session.now());
    // A thread or process that ended: the OS's exact figures.
    if let Some(os) = t.stats.as_ref().and_then(|s| s.os) {
        f.busy = os.cpu;
        f.scheduled = os.runqueue;
    }
    Row::new(vec![
        Cell::from(Span::styled(
            format!("{symbol} {}", text::visible(&t.name)),
            style,
        )),
        Cell::from(if t.kind.is_os() && t.id == 0 {
            "-".to_string()
        } else {
            t.id.to_string()
        }),
        Cell::from(Span::styled(state, style)),
        Cell::from(Line::from(vec![
            Span::raw(step),
            Span::styled(format!(" {note}"), theme::DIM),
        ])),
        Cell::from(if t.kind.is_os() {
            "-".into()
        } else {
            fmt_count(f.polls)
        }),
        Cell::from(format::time(f.busy)),
        Cell::from(format::time(f.scheduled)),
        Cell::from(format::time(f.idle)),
        Cell::from(if t.kind.is_os() {
            "-".into()
        } else {
            fmt_count(t.slow_polls)
        }),
    ])
}

/// The state column: the state's name, or what matters more about it now
/// (a held worker, an OS row with no CPU, an overdue timer or reply).
fn state_text(session: &Session, t: &TaskView, holds: bool) -> String {
    let mut state = state_name(&t.state);
    if holds && let State::Running { worker } = t.state {
        state = format!("HOLDING worker {worker}");
    }
    if t.kind.is_os() && t.state == State::Ready {
        state = "runnable: no CPU".into();
    }
    if let (Some(late), State::Waiting(w)) = (t.overdue(session.now()), &t.state) {
        state = format!("{} overdue {}", w.as_str(), format::time(late));
    }
    state
}

/// The columns' widths: your own code's table (no steps), or a lesson's,
/// `wide` or narrow.
fn widths(unlabelled: bool, wide: bool) -> Vec<Constraint> {
    if unlabelled {
        let (id, idle, slow) = if wide { (5, 8, 4) } else { (0, 0, 0) };
        vec![
            Constraint::Length(if wide { 16 } else { 14 }),
            Constraint::Length(id),
            Constraint::Fill(1),
            Constraint::Length(0),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(idle),
            Constraint::Length(slow),
        ]
    } else if wide {
        vec![
            Constraint::Length(16),
            Constraint::Length(5),
            Constraint::Length(22),
            Constraint::Fill(1),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(4),
        ]
    } else {
        vec![
            Constraint::Length(14),
            Constraint::Length(0),
            Constraint::Length(18),
            Constraint::Fill(1),
            Constraint::Length(5),
            Constraint::Length(0),
            Constraint::Length(0),
            Constraint::Length(0),
            Constraint::Length(0),
        ]
    }
}
