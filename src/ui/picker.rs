//! The scenario picker: every bundled lesson and what it teaches.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, StatefulWidget, Widget, Wrap};

use super::{status, theme};
use crate::app::App;
use crate::text;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let [title, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(area);
    Line::from(vec![
        Span::styled(" taskscope ", theme::TITLE),
        Span::raw("· pick a scenario: each one is a lesson about how tokio schedules tasks"),
    ])
    .render(title, buf);
    let [list_area, about] =
        Layout::horizontal([Constraint::Length(26), Constraint::Min(20)]).areas(body);
    let items: Vec<ListItem> = app
        .choices
        .iter()
        .map(|c| ListItem::new(text::visible(&c.name).into_owned()))
        .collect();
    let mut state = ListState::default().with_selected(Some(app.picked));
    StatefulWidget::render(
        List::new(items)
            .block(Block::bordered().title(" scenarios "))
            .highlight_style(theme::SELECTED)
            .highlight_symbol("▶ "),
        list_area,
        buf,
        &mut state,
    );
    let chosen = app.choices.get(app.picked);
    let mut lines = vec![];
    if let Some(c) = chosen {
        lines.push(Line::from(Span::styled(
            text::visible(&c.name).into_owned(),
            theme::HEADER,
        )));
        lines.push(Line::from(""));
        lines.push(Line::from(text::one_line(&c.description)));
        if let Some(s) = &c.scenario {
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                format!(
                    "{} ({} worker{}), {} clock, {} task kind{}",
                    s.runtime.flavor.as_str(),
                    s.runtime.workers,
                    if s.runtime.workers == 1 { "" } else { "s" },
                    s.runtime.clock.as_str(),
                    s.tasks.len(),
                    if s.tasks.len() == 1 { "" } else { "s" }
                ),
                theme::DIM,
            )));
        }
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled("Enter runs it.", theme::KEY)));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(" what it shows "))
        .render(about, buf);
    status::hint_line(app, footer, buf);
}
