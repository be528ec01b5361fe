//! The scenario picker: every bundled lesson and what it teaches.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, StatefulWidget, Widget, Wrap};

use super::{fit, status, theme};
use crate::app::App;
use crate::format::count;
use crate::text;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let [title, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut head = vec![
        Span::styled(" taskscope ", theme::TITLE),
        Span::raw("· pick a scenario: each one is a lesson about how tokio schedules tasks"),
    ];
    if let (Some(next), Some(s)) = (app.stopping_for(), &app.session) {
        head.truncate(1);
        head.push(Span::styled(
            format!(
                "· stopping {}…, then {next}",
                text::visible(&s.scenario.name)
            ),
            theme::PAUSED,
        ));
    }
    fit::line(head, ratatui::style::Style::new(), title, buf);
    let [list_area, about] =
        Layout::horizontal([Constraint::Length(26), Constraint::Min(20)]).areas(body);
    let items: Vec<ListItem> = app
        .choices
        .iter()
        .map(|c| ListItem::new(fit::cut(&text::visible(&c.name), 22)))
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
            let tasks: u64 = s.tasks.iter().map(|t| u64::from(t.count)).sum();
            lines.push(Line::from(Span::styled(
                format!(
                    "{} ({}), {} clock, {}",
                    s.runtime.flavor.as_str(),
                    count(s.runtime.workers as u64, "worker", "workers"),
                    s.runtime.clock.as_str(),
                    count(tasks, "task", "tasks")
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
