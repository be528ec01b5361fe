//! Lanes: one row per worker and one per task, coloured by state over time
//! and scrolling with it, like `go tool trace` in a terminal.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use super::status::fmt_time;
use super::theme;
use crate::app::session::Lane;
use crate::app::{App, Session};

const LABEL: u16 = 14;
/// Column widths in scenario time, smallest first.
const SCALES_US: &[u64] = &[
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
    1_000_000, 2_000_000, 5_000_000,
];
/// The window shows at most this much time before it scrolls.
const WINDOW: Duration = Duration::from_secs(10);

/// The value in effect at `t` of a time-ordered list of changes.
fn at<T: Copy>(changes: &[(Duration, T)], t: Duration) -> Option<T> {
    let i = changes.partition_point(|(ct, _)| *ct <= t);
    i.checked_sub(1).map(|i| changes[i].1)
}

/// Whether any change in `[from, to)` is to a running state (short polls
/// stay visible when a column spans many of them).
fn ran_within(changes: &[(Duration, Lane)], from: Duration, to: Duration) -> Option<Lane> {
    let start = changes.partition_point(|(ct, _)| *ct < from);
    changes[start..]
        .iter()
        .take_while(|(ct, _)| *ct < to)
        .map(|(_, l)| *l)
        .find(|l| matches!(l, Lane::Running | Lane::Holding))
}

pub fn render(app: &App, session: &Session, visible: &[u32], area: Rect, buf: &mut Buffer) {
    let now = session.now();
    let cols = area.width.saturating_sub(LABEL + 2).max(1) as u64;
    let span = now.min(WINDOW).max(Duration::from_millis(1));
    let scale_us = SCALES_US
        .iter()
        .copied()
        .find(|s| s * cols >= span.as_micros() as u64)
        .unwrap_or(*SCALES_US.last().expect("not empty"));
    let scale = Duration::from_micros(scale_us);
    let end = now.max(scale * cols as u32);
    let start = end.saturating_sub(scale * cols as u32);
    let title = Line::from(vec![
        Span::styled(" lanes ", theme::HEADER),
        Span::styled(
            format!(
                "{} .. {}, {} per column · █ running ░ ready ─ waiting, red: holding its worker ",
                fmt_time(start),
                fmt_time(end),
                fmt_time(scale)
            ),
            theme::DIM,
        ),
    ]);
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let model = session.model();
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    let cell_time = |c: u64| start + scale * c as u32;
    // Workers first: which task each one ran, by the task's initial.
    for (w, changes) in session.worker_lanes.iter().enumerate() {
        if y >= bottom {
            return;
        }
        buf.set_stringn(
            inner.x,
            y,
            format!("worker {w}"),
            LABEL as usize,
            theme::HEADER,
        );
        for c in 0..cols {
            let t = cell_time(c);
            if t > now {
                break;
            }
            // A poll that starts within the column shows, however short.
            let started = {
                let i = changes.partition_point(|(ct, _)| *ct < t);
                changes[i..]
                    .iter()
                    .take_while(|(ct, _)| *ct < t + scale)
                    .find_map(|(_, c)| *c)
            };
            let (ch, style) = match started.or_else(|| at(changes, t).flatten()) {
                Some((task, holding)) => {
                    let initial = model
                        .task(task)
                        .and_then(|t| t.name.chars().next())
                        .unwrap_or('?');
                    let bg = if holding { Color::Red } else { Color::Green };
                    (initial, Style::new().fg(Color::Black).bg(bg))
                }
                None => ('·', theme::DIM),
            };
            buf.set_string(inner.x + LABEL + c as u16, y, ch.to_string(), style);
        }
        y += 1;
    }
    // Then the tasks shown in the table, from the selection down.
    let first = app.selected.min(visible.len().saturating_sub(1));
    for &idx in visible.iter().skip(first) {
        if y >= bottom {
            break;
        }
        let name = model
            .task(idx)
            .map_or("?".to_string(), |t| t.name.to_string());
        buf.set_stringn(inner.x, y, name, LABEL as usize - 1, Style::new());
        let changes = session
            .lanes
            .get(idx as usize)
            .map_or(&[][..], Vec::as_slice);
        for c in 0..cols {
            let t = cell_time(c);
            if t > now {
                break;
            }
            let cell = ran_within(changes, t, t + scale).or_else(|| at(changes, t));
            let (ch, style) = theme::lane(cell);
            buf.set_string(inner.x + LABEL + c as u16, y, ch.to_string(), style);
        }
        y += 1;
    }
}
