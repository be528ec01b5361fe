//! Lanes: one row per worker and one per task, coloured by state over time
//! and scrolling with it, like `go tool trace` in a terminal. The cells come
//! from the history up to the cursor ([`crate::model::lanes`]).

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use super::status::fmt_time;
use super::theme;
use crate::app::{App, Session};
use crate::model::lanes::{self, Window, WorkerCell};

const LABEL: u16 = 14;
/// Column widths in scenario time, smallest first.
const SCALES_US: &[u64] = &[
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
    1_000_000, 2_000_000, 5_000_000,
];
/// The window shows at most this much time before it scrolls.
const WINDOW: Duration = Duration::from_secs(10);

/// The window of time a lanes area `cols` wide shows when the moment shown
/// is `now`.
pub fn window(now: Duration, cols: usize) -> Window {
    let cols = cols.max(1);
    let span = now.min(WINDOW).max(Duration::from_millis(1));
    let scale_us = SCALES_US
        .iter()
        .copied()
        .find(|s| s * cols as u64 >= span.as_micros() as u64)
        .unwrap_or(*SCALES_US.last().expect("not empty"));
    let scale = Duration::from_micros(scale_us);
    let end = now.max(scale * cols as u32);
    Window {
        start: end.saturating_sub(scale * cols as u32),
        scale,
        cols,
        until: now,
    }
}

pub fn render(app: &App, session: &Session, visible: &[u32], area: Rect, buf: &mut Buffer) {
    let now = session.now();
    let cols = area.width.saturating_sub(LABEL + 2).max(1) as usize;
    let w = window(now, cols);
    let title = Line::from(vec![
        Span::styled(" lanes ", theme::HEADER),
        Span::styled(
            format!(
                "{} .. {}, {} per column · █ running ░ ready ─ waiting, red: holding its worker ",
                fmt_time(w.start),
                fmt_time(w.start + w.scale * cols as u32),
                fmt_time(w.scale)
            ),
            theme::DIM,
        ),
    ]);
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let model = session.model();
    let workers = model.workers.len();
    // The tasks shown in the table, from the selection down, as many as fit.
    let first = app.selected.min(visible.len().saturating_sub(1));
    let rows = (inner.height as usize).saturating_sub(workers);
    let shown: Vec<u32> = visible.iter().skip(first).take(rows).copied().collect();
    let cells = lanes::compute(
        &session.history,
        session.history.cursor(),
        &w,
        &shown,
        |spec, step| session.holds_worker(spec, step),
    );
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    // Workers first: which task each one ran, by the task's initial.
    for (n, row) in cells.workers.iter().enumerate() {
        if y >= bottom {
            return;
        }
        buf.set_stringn(
            inner.x,
            y,
            format!("worker {n}"),
            LABEL as usize,
            theme::HEADER,
        );
        for (c, cell) in row.iter().enumerate() {
            let (ch, style) = match cell {
                WorkerCell::Empty => continue,
                WorkerCell::Idle => ('·', theme::DIM),
                WorkerCell::Polling(task, holding) => {
                    let initial = model
                        .task(*task)
                        .and_then(|t| crate::text::visible(&t.name).chars().next())
                        .unwrap_or('?');
                    let bg = if *holding { Color::Red } else { Color::Green };
                    (initial, Style::new().fg(Color::Black).bg(bg))
                }
            };
            buf.set_string(inner.x + LABEL + c as u16, y, ch.to_string(), style);
        }
        y += 1;
    }
    for (&idx, row) in shown.iter().zip(&cells.tasks) {
        if y >= bottom {
            break;
        }
        let name = model.task(idx).map_or("?".to_string(), |t| {
            crate::text::visible(&t.name).into_owned()
        });
        buf.set_stringn(inner.x, y, name, LABEL as usize - 1, Style::new());
        for (c, cell) in row.iter().enumerate() {
            let (ch, style) = theme::lane(*cell);
            buf.set_string(inner.x + LABEL + c as u16, y, ch.to_string(), style);
        }
        y += 1;
    }
}
