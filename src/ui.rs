//! Drawing: `impl Widget for &App`. One file per panel under `ui/`; every
//! panel reads the app's state and nothing else.

mod detail;
mod help;
pub mod lanes;
pub mod narration;
mod picker;
mod runtime;
mod status;
pub mod svg;
mod tasks;
pub mod theme;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use crate::app::{App, Mode, Popup};

/// The smallest screen the dashboard draws on.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            too_small(area, buf);
            return;
        }
        match self.mode {
            Mode::Picker => picker::render(self, area, buf),
            Mode::Run => run_screen(self, area, buf),
        }
        match self.popup {
            Some(Popup::Help) => help::render(self, popup_area(area, 70, 80), buf),
            Some(Popup::Detail) => detail::render(self, popup_area(area, 80, 85), buf),
            None => {}
        }
    }
}

fn too_small(area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    let text = format!(
        "terminal too small: {}x{}\nneed at least {MIN_WIDTH}x{MIN_HEIGHT}\n(q quits)",
        area.width, area.height
    );
    let y = area.y + area.height.saturating_sub(3) / 2;
    Paragraph::new(text)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(
            Rect {
                y,
                height: 3.min(area.height),
                ..area
            },
            buf,
        );
}

/// A rectangle `pw`% wide and `ph`% high in the middle of `area`.
fn popup_area(area: Rect, pw: u16, ph: u16) -> Rect {
    let w = area.width * pw / 100;
    let h = area.height * ph / 100;
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn run_screen(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(session) = &app.session else {
        return;
    };
    let [title, narration, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(8),
        Constraint::Length(2),
    ])
    .areas(area);
    status::title(session, title, buf);
    Line::from(narration::text(session))
        .style(theme::NARRATION)
        .render(narration, buf);
    let (main, side) = if body.width >= 130 {
        let [m, s] = Layout::horizontal([Constraint::Min(60), Constraint::Length(30)]).areas(body);
        (m, Some(s))
    } else {
        (body, None)
    };
    // Filtered once a frame: with 100,000 tasks this is the costly part.
    let visible = app.visible_tasks();
    let rows = visible.len().min(u16::MAX as usize) as u16;
    let table_height = rows
        .saturating_add(3)
        .clamp(4, (main.height * 45 / 100).max(4));
    let [table, lanes_area] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Min(3)]).areas(main);
    tasks::render(app, session, &visible, table, buf);
    lanes::render(app, session, &visible, lanes_area, buf);
    if let Some(side) = side {
        runtime::render(session, side, buf);
    }
    status::footer(app, session, footer, buf);
}
