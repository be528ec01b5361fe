//! One table of key bindings: dispatch, the footer hints and the `?` help
//! all read it, so what the screen says is always what the keys do.

use std::fmt;

/// A key press, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Backspace,
    Left,
    Right,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    CtrlC,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Char(' ') => write!(f, "space"),
            Key::Char(c) => write!(f, "{c}"),
            Key::Enter => write!(f, "Enter"),
            Key::Esc => write!(f, "Esc"),
            Key::Backspace => write!(f, "Backspace"),
            Key::Left => write!(f, "←"),
            Key::Right => write!(f, "→"),
            Key::Up => write!(f, "↑"),
            Key::Down => write!(f, "↓"),
            Key::PageUp => write!(f, "PgUp"),
            Key::PageDown => write!(f, "PgDn"),
            Key::Home => write!(f, "Home"),
            Key::End => write!(f, "End"),
            Key::CtrlC => write!(f, "Ctrl-C"),
        }
    }
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    TogglePause,
    /// Release exactly one poll (while paused).
    Step,
    /// One transition back in history.
    Back,
    /// One transition forward in history; at the live edge, a step.
    Forward,
    /// Back to the live edge (a popup: to its bottom).
    Live,
    /// To the oldest transition kept, pausing (a popup: to its top).
    First,
    Faster,
    Slower,
    Restart,
    /// The next / previous lesson of the picker's list.
    NextLesson,
    PreviousLesson,
    /// Clears a kept filter; else back to the lessons (the picker), or,
    /// in a replay, quit.
    Leave,
    /// Open the selected task's detail, or run the selected scenario.
    Open,
    Filter,
    Help,
    /// Close the open popup.
    Close,
    Up,
    Down,
    PageUp,
    PageDown,
    /// The lanes: less time a column (around the moment shown).
    ZoomIn,
    /// The lanes: more time a column, up to the whole run.
    ZoomOut,
    /// The lanes: one per task and worker, or one per CPU.
    CpuView,
    /// Finished tasks: folded into one count by name, or shown.
    FoldDone,
}

/// The screens and popups keys are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Picker,
    Run,
    /// The run screen of your own code (`taskscope::watch`): a run's keys,
    /// but it runs once and has no lessons beside it.
    Program,
    /// The run screen of a recorded run (`taskscope replay`).
    Replay,
    /// The task detail or help popup.
    Popup,
}

pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    /// What it does, in a few words (the help and the README).
    pub does: &'static str,
    /// What it does in a word or two (the footer).
    pub short: &'static str,
    pub contexts: &'static [Context],
    /// Its place in the footer's key bar, most important first (1); 0:
    /// only in `?` help. The bar shows what fits, in this order.
    pub footer: u8,
}

use Context::{Picker, Popup, Replay, Run};

/// Every binding. Order is the order of the help.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Char(' ')],
        action: Action::TogglePause,
        does: "pause/resume the scheduler",
        short: "pause",
        contexts: &[Run],
        footer: 4,
    },
    Binding {
        keys: &[Key::Char('n')],
        action: Action::Step,
        does: "step: exactly one poll (pauses first)",
        short: "step",
        contexts: &[Run],
        footer: 5,
    },
    Binding {
        keys: &[Key::Left],
        action: Action::Back,
        does: "back one transition (pauses)",
        short: "back",
        contexts: &[Run],
        footer: 10,
    },
    Binding {
        keys: &[Key::Right],
        action: Action::Forward,
        does: "forward one transition; at the live edge, step",
        short: "forward",
        contexts: &[Run],
        footer: 11,
    },
    Binding {
        keys: &[Key::Home],
        action: Action::First,
        does: "back to the oldest transition kept (pauses)",
        short: "first",
        contexts: &[Run],
        footer: 0,
    },
    Binding {
        keys: &[Key::End],
        action: Action::Live,
        does: "jump back to the live edge, following the running task",
        short: "live",
        contexts: &[Run],
        footer: 0,
    },
    Binding {
        keys: &[Key::Char('+'), Key::Char('=')],
        action: Action::Faster,
        does: "faster (real clock: from the next restart)",
        short: "faster",
        contexts: &[Run],
        footer: 15,
    },
    Binding {
        keys: &[Key::Char('-')],
        action: Action::Slower,
        does: "slower: slow motion (real clock: from the next restart)",
        short: "slower",
        contexts: &[Run],
        footer: 14,
    },
    Binding {
        keys: &[Key::Char('r')],
        action: Action::Restart,
        does: "restart the scenario",
        short: "restart",
        contexts: &[Run],
        footer: 12,
    },
    Binding {
        keys: &[Key::Char(']')],
        action: Action::NextLesson,
        does: "the next lesson",
        short: "next",
        contexts: &[Run],
        footer: 2,
    },
    Binding {
        keys: &[Key::Char('[')],
        action: Action::PreviousLesson,
        does: "the previous lesson",
        short: "prev",
        contexts: &[Run],
        footer: 3,
    },
    Binding {
        keys: &[Key::Char(' ')],
        action: Action::TogglePause,
        does: "play/pause the recording",
        short: "play",
        contexts: &[Replay],
        footer: 4,
    },
    Binding {
        keys: &[Key::Char('n'), Key::Right],
        action: Action::Forward,
        does: "next transition",
        short: "next",
        contexts: &[Replay],
        footer: 5,
    },
    Binding {
        keys: &[Key::Left],
        action: Action::Back,
        does: "previous transition",
        short: "previous",
        contexts: &[Replay],
        footer: 6,
    },
    Binding {
        keys: &[Key::Char('+'), Key::Char('=')],
        action: Action::Faster,
        does: "play faster",
        short: "faster",
        contexts: &[Replay],
        footer: 15,
    },
    Binding {
        keys: &[Key::Char('-')],
        action: Action::Slower,
        does: "play slower",
        short: "slower",
        contexts: &[Replay],
        footer: 14,
    },
    Binding {
        keys: &[Key::End],
        action: Action::Live,
        does: "to the last transition",
        short: "end",
        contexts: &[Replay],
        footer: 13,
    },
    Binding {
        keys: &[Key::Char('r'), Key::Home],
        action: Action::Restart,
        does: "back to the start",
        short: "start",
        contexts: &[Replay],
        footer: 12,
    },
    Binding {
        keys: &[Key::Up, Key::Char('k')],
        action: Action::Up,
        does: "select the previous row (the view stops following the running task)",
        short: "up",
        contexts: &[Picker, Run, Replay],
        footer: 0,
    },
    Binding {
        keys: &[Key::Down, Key::Char('j')],
        action: Action::Down,
        does: "select the next row (the view stops following the running task)",
        short: "down",
        contexts: &[Picker, Run, Replay],
        footer: 0,
    },
    Binding {
        keys: &[Key::PageUp],
        action: Action::PageUp,
        does: "a page up",
        short: "page up",
        contexts: &[Picker, Run, Replay],
        footer: 0,
    },
    Binding {
        keys: &[Key::PageDown],
        action: Action::PageDown,
        does: "a page down",
        short: "page down",
        contexts: &[Picker, Run, Replay],
        footer: 0,
    },
    Binding {
        keys: &[Key::Enter],
        action: Action::Open,
        does: "open: run the scenario / show the task's detail",
        short: "open",
        contexts: &[Picker, Run, Replay],
        footer: 9,
    },
    Binding {
        keys: &[Key::Char('/')],
        action: Action::Filter,
        does: "filter tasks by name or state, in the words shown",
        short: "filter",
        contexts: &[Run, Replay],
        footer: 16,
    },
    Binding {
        keys: &[Key::Char('z')],
        action: Action::ZoomIn,
        does: "zoom the lanes in (less time a column, down to 100 µs)",
        short: "zoom in",
        contexts: &[Run, Replay],
        footer: 18,
    },
    Binding {
        keys: &[Key::Char('x')],
        action: Action::ZoomOut,
        does: "zoom the lanes out (more time a column, up to the whole run)",
        short: "zoom out",
        contexts: &[Run, Replay],
        footer: 19,
    },
    Binding {
        keys: &[Key::Char('v')],
        action: Action::CpuView,
        does: "lanes by CPU: which thread or process each CPU runs",
        short: "CPUs",
        contexts: &[Run, Replay],
        footer: 17,
    },
    Binding {
        keys: &[Key::Char('d')],
        action: Action::FoldDone,
        does: "finished tasks: folded into a count by name (live ones first), or shown",
        short: "fold done",
        contexts: &[Run, Replay],
        // The table's title names it when something is folded.
        footer: 0,
    },
    Binding {
        keys: &[Key::Char('?')],
        action: Action::Help,
        does: "help: every key (pauses a live lesson until closed)",
        short: "help",
        contexts: &[Picker, Run, Replay],
        footer: 7,
    },
    Binding {
        keys: &[Key::Up, Key::Char('k')],
        action: Action::Up,
        does: "scroll up",
        short: "up",
        contexts: &[Popup],
        footer: 20,
    },
    Binding {
        keys: &[Key::Down, Key::Char('j')],
        action: Action::Down,
        does: "scroll down",
        short: "down",
        contexts: &[Popup],
        footer: 21,
    },
    Binding {
        keys: &[Key::PageUp],
        action: Action::PageUp,
        does: "scroll a page up",
        short: "page up",
        contexts: &[Popup],
        footer: 22,
    },
    Binding {
        keys: &[Key::PageDown],
        action: Action::PageDown,
        does: "scroll a page down",
        short: "page down",
        contexts: &[Popup],
        footer: 23,
    },
    Binding {
        keys: &[Key::Home],
        action: Action::First,
        does: "to the top",
        short: "top",
        contexts: &[Popup],
        footer: 24,
    },
    Binding {
        keys: &[Key::End],
        action: Action::Live,
        does: "to the bottom",
        short: "bottom",
        contexts: &[Popup],
        footer: 25,
    },
    Binding {
        keys: &[Key::Esc, Key::Char('q'), Key::Enter, Key::Char('?')],
        action: Action::Close,
        does: "close the popup (a lesson it paused goes on)",
        short: "close",
        contexts: &[Popup],
        footer: 1,
    },
    Binding {
        keys: &[Key::Esc],
        action: Action::Leave,
        does: "clear the filter; else back to the lessons",
        short: "lessons",
        contexts: &[Run],
        footer: 1,
    },
    Binding {
        keys: &[Key::Esc],
        action: Action::Leave,
        does: "clear the filter; else quit",
        short: "quit",
        contexts: &[Replay],
        footer: 0,
    },
    Binding {
        keys: &[Key::Char('q'), Key::CtrlC],
        action: Action::Quit,
        does: "quit",
        short: "quit",
        contexts: &[Run, Replay],
        footer: 8,
    },
    Binding {
        keys: &[Key::Char('q'), Key::Esc, Key::CtrlC],
        action: Action::Quit,
        does: "quit",
        short: "quit",
        contexts: &[Picker],
        footer: 8,
    },
    Binding {
        keys: &[Key::CtrlC],
        action: Action::Quit,
        does: "quit",
        short: "quit",
        contexts: &[Popup],
        footer: 0,
    },
];

/// Whether `b` works in `context`.
fn applies(b: &Binding, context: Context) -> bool {
    match context {
        Context::Program => {
            b.contexts.contains(&Context::Run)
                && !matches!(
                    b.action,
                    Action::Restart | Action::NextLesson | Action::PreviousLesson | Action::Leave
                )
        }
        _ => b.contexts.contains(&context),
    }
}

/// The action bound to `key` in `context`.
pub fn action(context: Context, key: Key) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| applies(b, context) && b.keys.contains(&key))
        .map(|b| b.action)
}

/// The bindings of `context`, for the footer (`footer_only`: those it
/// shows, most important first) or the help (all, in the table's order).
pub fn bindings(context: Context, footer_only: bool) -> Vec<&'static Binding> {
    let mut all: Vec<&'static Binding> = BINDINGS
        .iter()
        .filter(move |b| applies(b, context) && (b.footer > 0 || !footer_only))
        .collect();
    if footer_only {
        all.sort_by_key(|b| b.footer);
    }
    all
}

/// `space`, `+/=`: how a binding's keys are written.
pub fn keys_label(b: &Binding) -> String {
    b.keys
        .iter()
        .map(Key::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_means_two_things_in_one_context() {
        let _limit = crate::test_limit::limit();
        for ctx in [
            Context::Picker,
            Context::Run,
            Context::Replay,
            Context::Popup,
        ] {
            let mut seen = Vec::new();
            for b in BINDINGS.iter().filter(|b| b.contexts.contains(&ctx)) {
                for k in b.keys {
                    assert!(!seen.contains(k), "{k} is bound twice in {ctx:?}");
                    seen.push(*k);
                }
            }
        }
    }

    #[test]
    fn the_design_keys_do_what_the_design_says() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            action(Context::Run, Key::Char(' ')),
            Some(Action::TogglePause)
        );
        assert_eq!(action(Context::Run, Key::Char('n')), Some(Action::Step));
        assert_eq!(action(Context::Run, Key::Right), Some(Action::Forward));
        assert_eq!(action(Context::Run, Key::Left), Some(Action::Back));
        assert_eq!(action(Context::Run, Key::Char('q')), Some(Action::Quit));
        assert_eq!(action(Context::Run, Key::Esc), Some(Action::Leave));
        assert_eq!(action(Context::Picker, Key::Esc), Some(Action::Quit));
        assert_eq!(action(Context::Run, Key::CtrlC), Some(Action::Quit));
        assert_eq!(action(Context::Popup, Key::Esc), Some(Action::Close));
        assert_eq!(action(Context::Popup, Key::CtrlC), Some(Action::Quit));
        assert_eq!(action(Context::Picker, Key::Enter), Some(Action::Open));
        assert_eq!(action(Context::Replay, Key::Esc), Some(Action::Leave));
        assert_eq!(
            action(Context::Popup, Key::PageDown),
            Some(Action::PageDown)
        );
        assert_eq!(action(Context::Popup, Key::Home), Some(Action::First));
    }

    #[test]
    fn the_footer_puts_the_way_to_the_lessons_and_the_lesson_keys_first() {
        let _limit = crate::test_limit::limit();
        let shorts: Vec<&str> = bindings(Context::Run, true)
            .iter()
            .map(|b| b.short)
            .collect();
        assert_eq!(&shorts[..5], ["lessons", "next", "prev", "pause", "step"]);
        // Your own code has no lessons beside it.
        let program: Vec<&str> = bindings(Context::Program, true)
            .iter()
            .map(|b| b.short)
            .collect();
        assert_eq!(&program[..2], ["pause", "step"]);
    }
}
