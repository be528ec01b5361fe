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

/// Glyph and style of one lane cell.
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
    }
}

/// The lanes' legend, glyph by glyph.
pub const LANE_LEGEND: &str = "█ run ▓ hold worker ░ ready · waits: t timer i io c chan l lock j join b thread p proc y yield · | due ! late";

/// Glyph and style of one lane cell; `first` marks the first column of a
/// stretch of waiting, which shows what it waits for.
pub fn lane(cell: Cell, first: bool) -> (char, Style) {
    match cell {
        Cell::Empty | Cell::Done => (' ', Style::new()),
        Cell::Ready => ('░', Style::new().fg(Color::Yellow)),
        Cell::Running => ('█', Style::new().fg(Color::Green)),
        Cell::Holding => ('▓', Style::new().fg(Color::Red)),
        Cell::Sampled => ('~', Style::new().fg(Color::Green)),
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
    }
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
