//! Leaving a run: for another lesson, the same one again, or the lessons.
//! The run is asked to stop and the screen says so at once; it is taken
//! in frame by frame until it has stopped (a blocking job cannot be
//! cancelled and may take a moment), and only then the next one starts.

use super::{App, Mode, Session};
use crate::keys::Action;
use crate::target::Target;

/// What comes once the run on screen has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The lesson at this place in the picker's list.
    Lesson(usize),
    /// The same run again, with the same controls.
    Restart,
    /// The picker.
    Picker,
}

impl App {
    /// Stops the run on screen, then `next`.
    pub(super) fn stop_then(&mut self, next: Next) {
        let Some(s) = self.session.as_mut() else {
            self.after_stopping(next, None);
            return;
        };
        s.begin_close();
        let left = s.scenario.name.clone();
        self.next = Some(next);
        self.popup = None;
        if next == Next::Picker {
            self.mode = Mode::Picker;
            self.filter.clear();
            // Back on the lesson just left.
            if let Some(i) = self.choices.iter().position(|c| c.name == left) {
                self.picked = i;
            }
        }
        // It may have stopped already.
        self.stopping();
    }

    /// A frame while the run stops: takes in what it records; once it has
    /// stopped, what comes next.
    pub(super) fn stopping(&mut self) {
        let Some(next) = self.next else {
            return;
        };
        let done = self.session.as_mut().is_none_or(Session::poll_close);
        if done {
            self.next = None;
            let old = self.session.take();
            self.after_stopping(next, old);
        }
    }

    fn after_stopping(&mut self, next: Next, old: Option<Session>) {
        match next {
            Next::Picker => {
                self.mode = Mode::Picker;
                self.filter.clear();
            }
            Next::Lesson(i) => {
                self.picked = i;
                self.start_picked();
            }
            Next::Restart => match old.as_ref().map(Session::again) {
                Some(Ok(new)) => {
                    let (cpu_view, zoom) = (self.cpu_view, self.zoom);
                    self.show(new);
                    // A restart keeps the lanes as they were.
                    (self.cpu_view, self.zoom) = (cpu_view, zoom);
                }
                Some(Err(e)) => {
                    // Refused (a limit at the new speed, say): the run that
                    // was stays on screen, with why.
                    self.error = Some(e.to_string());
                    self.session = old;
                }
                None => {}
            },
        }
    }

    /// While a run stops, the keys that still mean something: quitting,
    /// help, and choosing where to go next. Returns whether `action` was
    /// taken care of here.
    pub(super) fn switching(&mut self, action: Action) -> bool {
        match action {
            Action::Quit | Action::Help | Action::Close => false,
            Action::NextLesson | Action::PreviousLesson if self.mode == Mode::Run => false,
            Action::Open if self.mode == Mode::Picker => {
                self.next = Some(Next::Lesson(self.picked));
                true
            }
            Action::Up | Action::Down | Action::PageUp | Action::PageDown
                if self.mode == Mode::Picker =>
            {
                false
            }
            Action::Leave if self.mode == Mode::Run => {
                self.next = Some(Next::Picker);
                self.mode = Mode::Picker;
                true
            }
            _ => true,
        }
    }

    /// Runs the picker's chosen lesson (stopping the run on screen first).
    pub(super) fn start_picked(&mut self) {
        if self.session.is_some() {
            self.stop_then(Next::Lesson(self.picked));
            return;
        }
        let Some(scenario) = self
            .choices
            .get(self.picked)
            .and_then(|c| c.scenario.clone())
        else {
            return;
        };
        match self.open(Target::Scenario(scenario)) {
            Ok(s) => {
                self.show(s);
                self.from_picker = true;
                self.filter.clear();
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// The lesson `by` places along the picker's list from the one on
    /// screen, or the one it is switching to (the first or last one stays
    /// put).
    pub(super) fn open_lesson(&mut self, by: isize) {
        let current = match self.next {
            Some(Next::Lesson(i)) => i,
            _ => self
                .session
                .as_ref()
                .and_then(|s| self.choices.iter().position(|c| c.name == s.scenario.name))
                .unwrap_or(self.picked),
        };
        let next = current
            .saturating_add_signed(by)
            .min(self.choices.len().saturating_sub(1));
        if next == current && self.session.is_some() {
            self.error = Some("no more lessons that way".into());
            return;
        }
        self.picked = next;
        if self.next.is_some() {
            self.next = Some(Next::Lesson(next));
        } else {
            self.start_picked();
        }
    }

    /// The lesson the run on screen is stopping for, or the picker.
    pub fn stopping_for(&self) -> Option<String> {
        Some(match self.next? {
            Next::Lesson(i) => self.choices.get(i).map_or("?".into(), |c| c.name.clone()),
            Next::Restart => "the same run again".into(),
            Next::Picker => "the lessons".into(),
        })
    }
}
