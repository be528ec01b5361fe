//! The one theme: colours and symbols for every state, so a state reads by
//! its symbol even without colour.

use ratatui::style::{Color, Modifier, Style};

use crate::model::State;
use crate::model::lanes::Cell;
use crate::probe::{Outcome, Wait};

pub const TITLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const HEADER: Style = Style::new().add_modifier(Modifier::BOLD);
pub const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
pub const KEY: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub const LIVE: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Green)
    .add_modifier(Modifier::BOLD);
pub const PAUSED: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Yellow)
    .add_modifier(Modifier::BOLD);
pub const ERROR: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub const LESSON: Style = Style::new().fg(Color::Cyan);
pub const NARRATION: Style = Style::new().fg(Color::White).add_modifier(Modifier::ITALIC);

fn wait_color(w: Wait) -> Color {
    match w {
        Wait::Timer => Color::Blue,
        Wait::Io => Color::Cyan,
        Wait::Channel | Wait::Lock | Wait::Join => Color::Magenta,
        Wait::Blocking | Wait::Process => Color::LightBlue,
        Wait::Yield => Color::Yellow,
        Wait::Other => Color::Gray,
        Wait::Signal => Color::LightRed,
    }
}

/// Symbol and colour of a task state; `holding` marks a worker held by cpu/block.
pub fn state(state: &State, holding: bool) -> (&'static str, Style) {
    match state {
        State::Ready => ("◌", Style::new().fg(Color::Yellow)),
        State::Running { .. } if holding => (
            "■",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        State::Running { .. } => (
            "▶",
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        State::Waiting(w) => ("‖", Style::new().fg(wait_color(*w))),
        State::Done(Outcome::Ok) => ("✓", DIM),
        State::Done(Outcome::Panicked(_)) => ("✗", Style::new().fg(Color::Red)),
        State::Done(Outcome::Cancelled) => ("⊘", DIM),
    }
}

/// The letter a stretch of waiting starts with on a lane (so lanes read
/// without colour too).
pub fn wait_letter(w: Wait) -> char {
    match w {
        Wait::Timer => 't',
        Wait::Io => 'i',
        Wait::Channel => 'c',
        Wait::Lock => 'l',
        Wait::Join => 'j',
        Wait::Blocking => 'b',
        Wait::Process => 'p',
        Wait::Yield => 'y',
        Wait::Other => 'o',
        Wait::Signal => 's',
    }
}

/// A running cell of your own code's lane by how much of its column the
/// task ran, in eighths: `▁` a moment (any poll shows), `█` all of it.
pub fn share_glyph(eighths: u8) -> char {
    ['▁', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'][usize::from(eighths.min(8))]
}

/// The letter an io step's first phase starts with: connecting, before
/// its request goes out (the reply's wait is `i`).
pub const CONNECTING: char = 'n';

/// The glyph of a poll a worker stole from another worker's queue (its
/// first column; the rest of it is underlined).
pub const STOLEN: char = '»';

/// Every glyph the lanes draw and what it means, in the legend's order.
pub const LEGEND: &[(&str, &str)] = &[
    ("█", "run"),
    ("▓", "hold worker"),
    ("░", "ready"),
    ("─", "waiting"),
    ("t", "timer"),
    ("n", "connecting"),
    ("i", "io reply"),
    ("c", "channel"),
    ("l", "lock"),
    ("j", "join"),
    ("b", "thread or blocking job"),
    ("p", "process"),
    ("y", "yield"),
    ("o", "other"),
    ("s", "signal"),
    ("|", "due"),
    ("!", "late"),
    ("✗", "panicked"),
    ("·", "idle"),
    ("◦", "CPU: none of this run's (idle, or another program)"),
    ("▁", "ran a little of the column (▁ to █)"),
    ("A-Z", "task letters"),
    ("α-ω *", "more task letters"),
    ("»", "stolen"),
    ("×", "OS took the thread"),
    ("~", "not measured"),
    ("0-9", "messages in the channel"),
];

/// The legend's entry for glyph `c` as drawn (letters of tasks and digits
/// of channels by their first).
pub fn legend_entry(c: char) -> Option<usize> {
    let key = if c.is_ascii_uppercase() {
        'A'
    } else if c == '*' || ('α'..='ω').contains(&c) {
        'α'
    } else if ('▁'..='▇').contains(&c) {
        '▁'
    } else if c.is_ascii_digit() || c == '+' {
        '0'
    } else {
        c
    };
    LEGEND.iter().position(|(g, _)| g.starts_with(key))
}

/// The legend of the entries `used` (bits by [`LEGEND`] index).
pub fn legend(used: u64) -> String {
    LEGEND
        .iter()
        .enumerate()
        .filter(|(i, _)| used & (1 << i) != 0)
        .map(|(_, (g, w))| format!("{g} {w}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Glyph and style of one lane cell; `first` marks the first column of a
/// stretch of waiting, which shows what it waits for.
pub fn lane(cell: Cell, first: bool) -> (char, Style) {
    match cell {
        Cell::Empty | Cell::Done => (' ', Style::new()),
        Cell::Ready => ('░', Style::new().fg(Color::Yellow)),
        Cell::Running => ('█', Style::new().fg(Color::Green)),
        Cell::Holding => ('▓', Style::new().fg(Color::Red)),
        Cell::Sampled => ('~', Style::new().fg(Color::Green)),
        Cell::Connecting if first => (CONNECTING, Style::new().fg(wait_color(Wait::Io))),
        Cell::Connecting => ('─', Style::new().fg(wait_color(Wait::Io))),
        Cell::Waiting(w) if first => (wait_letter(w), Style::new().fg(wait_color(w))),
        Cell::Waiting(w) => ('─', Style::new().fg(wait_color(w))),
        Cell::Due(w) => (
            '|',
            Style::new().fg(wait_color(w)).add_modifier(Modifier::BOLD),
        ),
        Cell::Overdue(_) => (
            '!',
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        Cell::Panicked => (
            '✗',
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    }
}

/// A worker lane's cell: the task's letter on green (red: holding the
/// worker); a stolen poll underlined, its first column the steal glyph.
pub fn polling(letter: char, holding: bool, stolen: bool, first: bool) -> (char, Style) {
    let bg = if holding { Color::Red } else { Color::Green };
    let mut style = Style::new().fg(Color::Black).bg(bg);
    if stolen {
        style = style.add_modifier(Modifier::UNDERLINED | Modifier::BOLD);
    }
    (if stolen && first { STOLEN } else { letter }, style)
}

/// A row's colour in the CPU lanes: neighbours in turn look apart.
pub fn cpu_row(task: crate::probe::TaskIdx) -> Style {
    const COLOURS: [Color; 6] = [
        Color::Cyan,
        Color::Yellow,
        Color::Magenta,
        Color::Green,
        Color::Blue,
        Color::Red,
    ];
    Style::new()
        .fg(Color::Black)
        .bg(COLOURS[task as usize % COLOURS.len()])
}
