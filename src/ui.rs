//! Drawing: `impl Widget for &App`. One file per panel under `ui/`; every
//! panel reads the app's state and nothing else.

mod detail;
mod help;
pub mod lanes;
pub mod narration;
mod picker;
mod runtime;
pub mod screenshot;
mod status;
mod tasks;
pub mod theme;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

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

/// Draws `lines` wrapped in a bordered popup, scrolled: from the top by
/// `scroll` lines, or (`from_end`) so that the last line shows, `scroll`
/// lines up from there. Says so in the title when there is more.
fn scrolled_popup(
    lines: Vec<Line<'_>>,
    title: &str,
    from_end: bool,
    scroll: u16,
    area: Rect,
    buf: &mut Buffer,
) {
    let inner_w = area.width.saturating_sub(2).max(1) as usize;
    let inner_h = area.height.saturating_sub(2);
    let total: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let hidden = total
        .saturating_sub(inner_h as usize)
        .min(u16::MAX as usize) as u16;
    let top = if from_end {
        hidden.saturating_sub(scroll)
    } else {
        scroll.min(hidden)
    };
    let more = if hidden > 0 { " · ↑/↓ scroll" } else { "" };
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((top, 0))
        .block(Block::bordered().title(format!(" {title} (Esc closes){more} ")))
        .render(area, buf);
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
    let watch = !session.scenario.watch_for.is_empty();
    let [title, lesson, watch_area, narration, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(!session.scenario.description.is_empty())),
        Constraint::Length(u16::from(watch)),
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(2),
    ])
    .areas(area);
    status::title(session, title, buf);
    status::lesson(session, lesson, watch_area, buf);
    Line::from(narration::text(session))
        .style(theme::NARRATION)
        .render(narration, buf);
    // The runtime panel beside the rest when there is room; else folded
    // into one line under the table.
    let (main, side) = if body.width >= 140 {
        let [m, s] = Layout::horizontal([Constraint::Min(100), Constraint::Length(32)]).areas(body);
        (m, Some(s))
    } else {
        (body, None)
    };
    // Too low for the folded runtime line: the table and lanes come first.
    let fold = side.is_none() && area.height >= 24;
    // Filtered once a frame: with 100,000 tasks this is the costly part.
    let visible = app.visible_tasks();
    let rows = visible.len().min(u16::MAX as usize) as u16;
    let strips = 1 + u16::from(fold);
    // About half the height, more on a small screen while the lanes keep
    // three lines.
    let share = main.height.saturating_sub(strips) * 55 / 100;
    let spare = main.height.saturating_sub(strips + 3);
    let table_height = rows.saturating_add(3).min(share.max(spare.min(8))).max(4);
    let [table, why, folded, lanes_area] = Layout::vertical([
        Constraint::Length(table_height),
        Constraint::Length(1),
        Constraint::Length(u16::from(fold)),
        Constraint::Min(3),
    ])
    .areas(main);
    tasks::render(app, session, &visible, table, buf);
    if let Some(task) = app.selected_task() {
        Line::from(format!(" why: {}", narration::why(session, task)))
            .style(theme::KEY)
            .render(why, buf);
    }
    lanes::render(app, session, &visible, lanes_area, buf);
    match side {
        Some(side) => runtime::render(session, side, buf),
        None if fold => runtime::folded(session, folded, buf),
        None => {}
    }
    status::footer(app, session, footer, buf);
}
