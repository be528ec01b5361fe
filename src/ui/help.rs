//! The `?` popup: every key, from the key table.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::theme;
use crate::app::App;
use crate::keys;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    let context = app.screen_context();
    let mut lines = vec![Line::from(Span::styled("keys", theme::HEADER))];
    for b in keys::bindings(context, false) {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>14}  ", keys::keys_label(b)), theme::KEY),
            Span::raw(b.does),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("states", theme::HEADER)));
    lines.push(Line::from(
        "◌ ready: woken or just spawned, waiting for a worker",
    ));
    lines.push(Line::from(
        "▶ running: being polled;  ■ running and holding its worker (cpu, block)",
    ));
    lines.push(Line::from(
        "‖ waiting: returned Pending, for a timer, io, channel, lock, join...",
    ));
    lines.push(Line::from("✓ done   ✗ panicked   ⊘ cancelled"));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Pause stops the scheduler itself: no poll starts while paused. On the virtual clock no time passes.",
        theme::DIM,
    )));
    super::scrolled_popup(lines, "help", false, app.scroll, area, buf);
}
