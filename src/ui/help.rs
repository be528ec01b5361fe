//! The `?` popup: every key, from the key table, and what every symbol
//! and lane glyph means.

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
    for line in [
        "◌ ready: woken or just spawned, waiting for a worker",
        "▶ running: being polled;  ■ running and holding its worker (cpu, block)",
        "‖ waiting: returned Pending, for a timer, io (connecting, then the reply), a channel, a lock, a join...",
        "✓ done   ✗ panicked   ⊘ cancelled",
    ] {
        lines.push(Line::from(line));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("lanes", theme::HEADER)));
    for (glyph, words) in theme::LEGEND {
        lines.push(Line::from(vec![
            Span::styled(format!("{glyph:>3}  "), theme::KEY),
            Span::raw(*words),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Pause stops the scheduler itself: no poll starts while paused. On the virtual clock no time passes.",
        theme::DIM,
    )));
    super::scrolled_popup(app, lines, "help", area, buf);
}
