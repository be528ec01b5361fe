//! The title line, the status line and the key hints.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;

use super::{fit, theme};
use crate::app::{App, Session};
use crate::keys;
use crate::scenario::Clock;

pub fn title(session: &Session, area: Rect, buf: &mut Buffer) {
    let rt = &session.scenario.runtime;
    let mut spans = vec![
        Span::styled(" taskscope ", theme::TITLE),
        Span::raw(format!(
            "· {} ",
            crate::text::visible(&session.scenario.name)
        )),
    ];
    // The warning first: on a narrow screen the rest is cut, not it.
    if let Some((wanted, here)) = session.cpus_short {
        spans.push(Span::styled(
            format!(
                "· {} here, not {wanted}: what would run at once takes turns ",
                crate::format::count(here as u64, "CPU", "CPUs")
            ),
            theme::PAUSED,
        ));
    }
    spans.push(Span::raw(format!(
        "· {} ({}) · {} clock",
        rt.flavor.as_str(),
        crate::format::count(rt.workers as u64, "worker", "workers"),
        rt.clock.as_str()
    )));
    fit::line(spans, Style::new(), area, buf);
}

/// How many lines `label` and `text` take on a screen `width` wide, at
/// most `max`.
pub fn lines_for(label: &str, text: &str, width: u16, max: usize) -> u16 {
    if text.is_empty() {
        return 0;
    }
    let cols = usize::from(width.saturating_sub(2));
    fit::lines_needed(text, cols, fit::width(label).saturating_sub(1), max) as u16
}

/// A labelled paragraph (the lesson, what to watch for) on the lines of
/// `area`, wrapped; the last line ends with `…` if more is left.
pub fn labelled(label: &str, text: &str, area: Rect, buf: &mut Buffer) {
    // Every line after the first one column in, as the label is.
    let cols = usize::from(area.width.saturating_sub(2));
    let lines = fit::wrap(
        text,
        cols,
        fit::width(label).saturating_sub(1),
        usize::from(area.height),
    );
    for (i, line) in lines.into_iter().enumerate() {
        let row = Rect {
            y: area.y + i as u16,
            height: 1,
            ..area
        };
        let lead = if i == 0 {
            label.to_string()
        } else {
            " ".to_string()
        };
        let spans = vec![
            Span::styled(lead, theme::HEADER),
            Span::styled(line, theme::LESSON),
        ];
        fit::line(spans, Style::new(), row, buf);
    }
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

/// The status line's badge: what the screen shows (live, paused, a
/// replay, history) and its colour.
fn badge(app: &App, session: &Session) -> (&'static str, Style) {
    let c = &session.control;
    if app.next.is_some() {
        (" STOPPING ", theme::PAUSED)
    } else if session.looks_live {
        (" LIVE ", theme::LIVE)
    } else if session.plays_back() && session.ended && session.history.at_live_edge() {
        (" DONE ", theme::LIVE)
    } else if session.plays_back() && c.paused {
        (" PLAYBACK · PAUSED ", theme::PAUSED)
    } else if session.plays_back() {
        (" PLAYBACK ", theme::LIVE)
    } else if session.is_replay() && c.paused {
        (" REPLAY · PAUSED ", theme::PAUSED)
    } else if session.is_replay() {
        (" REPLAY ", theme::LIVE)
    } else if !session.history.at_live_edge() {
        (" HISTORY ", theme::PAUSED)
    } else if session.ended {
        (" DONE ", theme::LIVE)
    } else if c.finishing {
        (
            " PAUSING: the poll in progress runs to its end ",
            theme::PAUSED,
        )
    } else if c.paused && c.steps_pending > 0 {
        (" PAUSED · step waiting for a ready task ", theme::PAUSED)
    } else if c.paused {
        (" PAUSED ", theme::PAUSED)
    } else {
        (" LIVE ", theme::LIVE)
    }
}

/// The clock and the pace, and what pausing cannot stop.
fn clock_words(session: &Session) -> String {
    match session.scenario.runtime.clock {
        Clock::Virtual => format!("· virtual clock · speed {}x ", session.control.speed),
        Clock::Real if session.plays_back() => format!(
            "· played back at {}x, {} behind: the OS can't be slowed ",
            session.control.speed,
            crate::format::time(session.behind().unwrap_or_default())
        ),
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
            text
        }
    }
}

pub fn footer(app: &App, session: &Session, area: Rect, buf: &mut Buffer) {
    let [status, hints] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Length(1),
        ratatui::layout::Constraint::Length(1),
    ])
    .areas(area);
    let (badge, style) = badge(app, session);
    let mut spans = vec![
        Span::styled(badge, style),
        Span::raw(format!(" t = {} ", crate::format::time(session.now()))),
    ];
    // A problem first: it is what the viewer must read.
    if let Some(e) = &app.error {
        spans.push(Span::styled(
            format!("{} ", crate::text::visible(e)),
            theme::ERROR,
        ));
    }
    if app.filtering || !app.filter.is_empty() {
        spans.push(Span::styled(
            format!("filter: {}", crate::text::visible(&app.filter)),
            theme::KEY,
        ));
        spans.push(Span::raw(if app.filtering {
            "▏ (Enter keeps it, Esc drops it) "
        } else {
            " "
        }));
    }
    // The clock and pace before the count of transitions: on a narrow
    // terminal the count is what is cut.
    spans.push(Span::raw(clock_words(session)));
    if session.lost() > 0 {
        spans.push(Span::styled(
            format!(
                "· {} lost (the recorder fell behind: some rows may be stale) ",
                crate::format::count(session.lost(), "event", "events")
            ),
            theme::ERROR,
        ));
    }
    spans.push(Span::styled(
        format!(
            "· {} / {} ",
            session.history.cursor(),
            crate::format::count(session.history.len(), "transition", "transitions")
        ),
        theme::DIM,
    ));
    if session.history.dropped() > 0 {
        spans.push(Span::styled(
            format!(
                "({} oldest dropped from history) ",
                session.history.dropped()
            ),
            theme::DIM,
        ));
    }
    if let Some(c) = &app.console {
        spans.push(Span::styled(format!("· console: {c}"), theme::KEY));
    }
    fit::line(spans, Style::new(), status, buf);
    hint_line(app, hints, buf);
}

/// The footer's key hints, from the key table, most important first, as
/// many whole ones as fit (help and quit always among them, so the way
/// out is always on screen); each by its first key (`?` lists them all).
pub fn hint_line(app: &App, area: Rect, buf: &mut Buffer) {
    let bindings = keys::bindings(app.context(), true);
    let short = |b: &keys::Binding| match b.action {
        keys::Action::Leave if !app.filter.is_empty() => "clear filter",
        _ => b.short,
    };
    let key = |b: &keys::Binding| b.keys.first().map_or(String::new(), keys::Key::to_string);
    let size = |b: &keys::Binding| key(b).chars().count() + short(b).chars().count() + 2;
    let cols = usize::from(area.width.saturating_sub(1));
    let must = |b: &keys::Binding| matches!(b.action, keys::Action::Help | keys::Action::Quit);
    let mut left = cols.saturating_sub(bindings.iter().filter(|b| must(b)).map(|b| size(b)).sum());
    let mut chosen = Vec::new();
    for b in bindings {
        if must(b) {
            chosen.push(b);
        } else if size(b) <= left {
            left -= size(b);
            chosen.push(b);
        }
    }
    let mut spans = Vec::new();
    for b in chosen {
        spans.push(Span::styled(key(b), theme::KEY));
        spans.push(Span::styled(format!(" {} ", short(b)), Style::new()));
    }
    fit::line(spans, Style::new(), area, buf);
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
