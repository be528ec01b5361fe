//! Drawing: `impl Widget for &App`. One file per panel under `ui/`; every
//! panel reads the app's state and nothing else.

mod detail;
pub mod fit;
mod help;
pub mod lanes;
pub mod narration;
mod picker;
mod runtime;
pub mod screenshot;
mod status;
mod tasks;
pub mod theme;
pub mod why;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use crate::app::{App, Mode, Popup, Session};
use crate::text;

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
            Some(Popup::Help) => help::render(self, popup_area(area, 90, 90), buf),
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

/// Draws `lines` wrapped in a bordered popup, scrolled from its top by
/// `scroll` lines (clamped to what there is); says where it is in the
/// title when there is more. Tells `app` how far it can scroll.
fn scrolled_popup(app: &App, lines: Vec<Line<'_>>, title: &str, area: Rect, buf: &mut Buffer) {
    let inner_w = area.width.saturating_sub(2).max(1) as usize;
    let inner_h = area.height.saturating_sub(2);
    let total: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let hidden = total
        .saturating_sub(inner_h as usize)
        .min(u16::MAX as usize) as u16;
    app.drawn.popup_max.set(hidden);
    app.drawn.popup_page.set(inner_h.saturating_sub(1).max(1));
    let top = app.scroll.min(hidden);
    let more = if hidden > 0 {
        format!(
            " · lines {}-{} of {} · ↑/↓ PgUp/PgDn Home/End",
            top + 1,
            (usize::from(top) + usize::from(inner_h)).min(total),
            total
        )
    } else {
        String::new()
    };
    let title = fit::cut(
        &format!(" {title} (Esc closes){more} "),
        usize::from(area.width.saturating_sub(3)),
    );
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((top, 0))
        .block(Block::bordered().title(title))
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

/// The rows of the run screen, top to bottom.
struct Rows {
    title: Rect,
    lesson: Rect,
    watch: Rect,
    narration: Rect,
    body: Rect,
    footer: Rect,
}

/// How the run screen's height is shared: the lesson, what to watch for
/// and the narration take two lines each where they need them and the
/// screen is tall enough, the body the rest.
fn rows(session: &Session, narration: &str, area: Rect) -> Rows {
    let tall = area.height >= 24;
    let max = if tall { 2 } else { 1 };
    let lesson = status::lines_for(LESSON, session.scenario.lesson(), area.width, max);
    let watch = status::lines_for(WATCH, &session.scenario.watch_for, area.width, max);
    let said = status::lines_for(" ", narration, area.width, max).max(1);
    let [title, lesson, watch, narration, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(lesson),
        Constraint::Length(watch),
        Constraint::Length(said),
        Constraint::Min(6),
        Constraint::Length(2),
    ])
    .areas(area);
    Rows {
        title,
        lesson,
        watch,
        narration,
        body,
        footer,
    }
}

const LESSON: &str = " lesson: ";
const WATCH: &str = " watch for: ";

fn run_screen(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(session) = &app.session else {
        return;
    };
    let said = match app.stopping_for() {
        Some(next) => format!(
            "stopping {}… (a job that cannot be cancelled runs to its end), then {next}",
            text::visible(&session.scenario.name)
        ),
        None => narration::text(session),
    };
    let r = rows(session, &said, area);
    status::title(session, r.title, buf);
    status::labelled(
        LESSON,
        &text::one_line(session.scenario.lesson()),
        r.lesson,
        buf,
    );
    status::labelled(
        WATCH,
        &text::one_line(&session.scenario.watch_for),
        r.watch,
        buf,
    );
    let cols = usize::from(r.narration.width.saturating_sub(2));
    for (i, line) in fit::wrap(&said, cols, 0, usize::from(r.narration.height))
        .into_iter()
        .enumerate()
    {
        let row = Rect {
            y: r.narration.y + i as u16,
            height: 1,
            ..r.narration
        };
        fit::line(
            vec![Span::raw(format!(" {line}"))],
            theme::NARRATION,
            row,
            buf,
        );
    }
    body(app, session, r.body, buf);
    status::footer(app, session, r.footer, buf);
}

/// The table, the why line, the runtime and the lanes.
fn body(app: &App, session: &Session, body: Rect, buf: &mut Buffer) {
    // The runtime panel beside the rest when there is room; else folded
    // into one line under the table.
    let (main, side) = if body.width >= 140 {
        let [m, s] = Layout::horizontal([Constraint::Min(100), Constraint::Length(32)]).areas(body);
        (m, Some(s))
    } else {
        (body, None)
    };
    // Too low for the folded runtime line: the table and lanes come first.
    let fold = side.is_none() && main.height >= 14;
    // Filtered once a frame: with 100,000 tasks this is the costly part.
    let visible = app.visible_tasks();
    let rows = visible.len().min(u16::MAX as usize) as u16;
    let strips = 1 + u16::from(fold);
    let lanes_want = lanes::rows_wanted(app, session, visible.len());
    let table_height = table_height(main.height.saturating_sub(strips), rows, lanes_want);
    let [table, why, folded, lanes_area] = Layout::vertical([
        Constraint::Length(table_height),
        Constraint::Length(1),
        Constraint::Length(u16::from(fold)),
        Constraint::Min(3),
    ])
    .areas(main);
    tasks::render(app, session, &visible, table, buf);
    if let Some(task) = app.selected_task() {
        let spans = vec![
            Span::styled(" why: ", theme::KEY),
            Span::styled(why::why(session, task), theme::KEY),
        ];
        fit::line(spans, Style::new(), why, buf);
    }
    lanes::render(app, session, &visible, lanes_area, buf);
    match side {
        Some(side) => runtime::render(session, side, buf),
        None if fold => runtime::folded(session, folded, buf),
        None => {}
    }
}

/// The table's height in `room` lines (the lanes get the rest): all its
/// `rows` if they fit beside all the lanes (`lanes`: pinned rows, all
/// rows), else about half, leaving the lanes their pinned rows and one
/// more where it can; never less than a row of the table.
fn table_height(room: u16, rows: u16, lanes: (u16, u16)) -> u16 {
    let (pinned, all_lanes) = (lanes.0.saturating_add(3), lanes.1.saturating_add(2));
    let all = rows.saturating_add(3).max(4);
    if all.saturating_add(all_lanes) <= room {
        return all;
    }
    let most = room.saturating_sub(pinned.min(room / 2).max(4));
    all.min((room / 2).max(room.saturating_sub(all_lanes)))
        .min(most)
        .max(4.min(room))
}
