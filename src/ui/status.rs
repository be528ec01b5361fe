//! The title line, the status line and the key hints.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme;
use crate::app::{App, Session};
use crate::keys;
use crate::scenario::Clock;

pub fn title(session: &Session, area: Rect, buf: &mut Buffer) {
    let rt = &session.scenario.runtime;
    let mut spans = vec![
        Span::styled(" taskscope ", theme::TITLE),
        Span::raw(format!(
            "· {} · {} ({} worker{}) · {} clock",
            crate::text::visible(&session.scenario.name),
            rt.flavor.as_str(),
            rt.workers,
            if rt.workers == 1 { "" } else { "s" },
            rt.clock.as_str()
        )),
    ];
    if let Some((wanted, here)) = session.cpus_short {
        spans.push(Span::styled(
            format!(" · {here} CPU here, not {wanted}: its halves take turns"),
            theme::PAUSED,
        ));
    }
    Line::from(spans).render(area, buf);
}

/// The lesson in one sentence and what to watch for, each on its line.
pub fn lesson(session: &Session, lesson: Rect, watch: Rect, buf: &mut Buffer) {
    Line::from(vec![
        Span::styled(" lesson: ", theme::HEADER),
        Span::styled(
            crate::text::one_line(session.scenario.lesson()),
            theme::LESSON,
        ),
    ])
    .render(lesson, buf);
    Line::from(vec![
        Span::styled(" watch for: ", theme::HEADER),
        Span::styled(
            crate::text::one_line(&session.scenario.watch_for),
            theme::LESSON,
        ),
    ])
    .render(watch, buf);
}

/// A count in at most 4 characters for a narrow column: `9999`, `12k`,
/// `123k`, `1.2M`, `12M`, `123M`, `1.2G` (rounded down: never more than
/// it is).
pub fn fmt_count(n: u64) -> String {
    let short = |n: u64, unit: u64, suffix: &str| {
        if n < 10 * unit {
            format!("{}.{}{suffix}", n / unit, n % unit * 10 / unit)
        } else {
            format!("{}{suffix}", n / unit)
        }
    };
    if n < 10_000 {
        n.to_string()
    } else if n < 1_000_000 {
        format!("{}k", n / 1000)
    } else if n < 1_000_000_000 {
        short(n, 1_000_000, "M")
    } else {
        short(n.min(999_000_000_000), 1_000_000_000, "G")
    }
}

/// The footer's badge: what the screen shows (live, paused, history,
/// replay, playback, done) and its style.
fn badge(session: &Session) -> (&'static str, ratatui::style::Style) {
    if session.looks_live {
        (" LIVE ", theme::LIVE)
    } else if session.plays_back() && session.ended && session.history.at_live_edge() {
        (" DONE ", theme::LIVE)
    } else if session.plays_back() && session.control.paused {
        (" PLAYBACK · PAUSED ", theme::PAUSED)
    } else if session.plays_back() {
        (" PLAYBACK ", theme::LIVE)
    } else if session.is_replay() && session.control.paused {
        (" REPLAY · PAUSED ", theme::PAUSED)
    } else if session.is_replay() {
        (" REPLAY ", theme::LIVE)
    } else if !session.history.at_live_edge() {
        (" HISTORY ", theme::PAUSED)
    } else if session.ended {
        (" DONE ", theme::LIVE)
    } else if session.control.finishing {
        (
            " PAUSING: the poll in progress runs to its end ",
            theme::PAUSED,
        )
    } else if session.control.paused && session.control.steps_pending > 0 {
        (" PAUSED · step waiting for a ready task ", theme::PAUSED)
    } else if session.control.paused {
        (" PAUSED ", theme::PAUSED)
    } else {
        (" LIVE ", theme::LIVE)
    }
}

pub fn footer(app: &App, session: &Session, area: Rect, buf: &mut Buffer) {
    let [status, hints] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Length(1),
        ratatui::layout::Constraint::Length(1),
    ])
    .areas(area);
    let (badge, style) = badge(session);
    let mut spans = vec![
        Span::styled(badge, style),
        Span::raw(format!(" t = {} ", crate::format::time(session.now()))),
        Span::styled(
            format!(
                "· {} / {} transitions ",
                session.history.cursor(),
                session.history.len()
            ),
            theme::DIM,
        ),
    ];
    match session.scenario.runtime.clock {
        Clock::Virtual => spans.push(Span::raw(format!(
            "· virtual clock · speed {}x ",
            session.control.speed
        ))),
        Clock::Real if session.plays_back() => {
            let behind = session.behind().unwrap_or_default();
            spans.push(Span::raw(format!(
                "· real clock, played back at {}x, {} behind: the OS can't be slowed ",
                session.control.speed,
                crate::format::time(behind)
            )));
        }
        Clock::Real => {
            let mut text = "· real clock ".to_string();
            if !session.run_speed.is_real_time() {
                text.push_str(&format!("· speed {}x ", session.run_speed));
            }
            if session.control.speed != session.run_speed && !session.is_replay() {
                text.push_str(&format!("(r restarts at {}x) ", session.control.speed));
            }
            if session.control.paused && !session.ended {
                text.push_str("· timers, threads, processes go on ");
            }
            spans.push(Span::raw(text));
        }
    }
    if session.history.dropped() > 0 {
        spans.push(Span::styled(
            format!(
                " ({} oldest dropped from history)",
                session.history.dropped()
            ),
            theme::DIM,
        ));
    }
    if app.filtering || !app.filter.is_empty() {
        spans.push(Span::styled(
            format!("  filter: {}", crate::text::visible(&app.filter)),
            theme::KEY,
        ));
        if app.filtering {
            spans.push(Span::raw("▏ (Enter to keep)"));
        }
    }
    if let Some(c) = &app.console {
        spans.push(Span::styled(format!("  · console: {c}"), theme::KEY));
    }
    if let Some(e) = &app.error {
        spans.push(Span::styled(
            format!("  {}", crate::text::visible(e)),
            theme::ERROR,
        ));
    }
    Line::from(spans).render(status, buf);
    hint_line(app, hints, buf);
}

/// The footer's key hints, from the key table. When they do not all fit,
/// help and quit come first, so the way out is always on screen.
pub fn hint_line(app: &App, area: Rect, buf: &mut Buffer) {
    let mut bindings: Vec<_> = keys::bindings(app.context(), true).collect();
    let width: usize = bindings
        .iter()
        .map(|b| keys::keys_label(b).chars().count() + b.short.chars().count() + 2)
        .sum();
    if width > usize::from(area.width) {
        bindings.sort_by_key(|b| !matches!(b.short, "help" | "quit"));
    }
    let mut spans = Vec::new();
    for b in bindings {
        spans.push(Span::styled(keys::keys_label(b), theme::KEY));
        spans.push(Span::styled(format!(" {} ", b.short), Style::new()));
    }
    Line::from(spans).render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::fmt_count;

    #[test]
    fn counts_fit_a_narrow_column_and_never_round_up() {
        let _limit = crate::test_limit::limit();
        let cases = [
            (0, "0"),
            (9_999, "9999"),
            (10_000, "10k"),
            (123_456, "123k"),
            (999_999, "999k"),
            (1_234_001, "1.2M"),
            (1_999_999, "1.9M"),
            (12_345_678, "12M"),
            (999_999_999, "999M"),
            (1_500_000_000, "1.5G"),
            (u64::MAX, "999G"),
        ];
        for (n, shown) in cases {
            assert_eq!(fmt_count(n), shown, "{n}");
            assert!(fmt_count(n).len() <= 4, "{n}");
        }
    }
}
