//! The dashboard's state and how it changes: `update(message)`, Elm style.
//! Drawing is in [`crate::ui`]; terminal and threads in [`crate::tui`].

pub mod session;

use std::sync::Arc;

use crate::keys::{self, Action, Context, Key};
use crate::model::State;
use crate::runtime::{RunError, RunOptions};
use crate::scenario::{Scenario, bundled};
use crate::speed::Speed;
use crate::target::Target;
pub use session::Session;

/// What the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Picker,
    Run,
}

/// A popup over the run screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popup {
    Help,
    Detail,
}

pub enum Message {
    Key(Key),
    /// Time to take in new events and redraw.
    Tick,
}

/// One row of the picker.
pub struct Choice {
    pub name: String,
    pub description: String,
    pub scenario: Option<Arc<Scenario>>,
}

pub struct App {
    pub mode: Mode,
    pub popup: Option<Popup>,
    pub choices: Vec<Choice>,
    pub picked: usize,
    pub session: Option<Session>,
    /// Selected row of the (filtered) task table.
    pub selected: usize,
    pub filter: String,
    /// Typing into the filter.
    pub filtering: bool,
    pub quit: bool,
    /// How runs start: options, paused, and the speed asked for on the
    /// command line (else each lesson opens at its own pace).
    pub run_options: RunOptions,
    pub start_paused: bool,
    pub speed: Option<Speed>,
    /// The run on screen was opened from the picker (Esc goes back there).
    pub from_picker: bool,
    /// A problem to show in the status bar.
    pub error: Option<String>,
    /// Rows that fit in the task table (set by the drawing).
    pub page: usize,
    /// The command that attaches tokio-console to this run, if served.
    pub console: Option<String>,
    /// The lanes' time a column, set by zooming (None: the window fits the
    /// run, or its last 10 s).
    pub zoom: Option<std::time::Duration>,
    /// The lanes show one lane per CPU instead of workers and tasks.
    pub cpu_view: bool,
    /// The lanes' time a column as last drawn (set by the drawing).
    pub lanes_scale: std::cell::Cell<std::time::Duration>,
    /// The automatic window's time a column as last drawn.
    pub lanes_auto: std::cell::Cell<std::time::Duration>,
    /// Lines the open popup is scrolled by (from its top for help, from
    /// its newest line for a task's detail).
    pub scroll: u16,
}

impl App {
    /// The picker of bundled scenarios.
    pub fn picker(run_options: RunOptions, start_paused: bool, speed: Option<Speed>) -> App {
        let choices = bundled::all()
            .filter_map(Result::ok)
            .map(|s| Choice {
                name: s.name.clone(),
                description: s.description.clone(),
                scenario: Some(Arc::new(s)),
            })
            .collect();
        App {
            mode: Mode::Picker,
            popup: None,
            choices,
            picked: 0,
            session: None,
            selected: 0,
            filter: String::new(),
            filtering: false,
            quit: false,
            run_options,
            start_paused,
            speed,
            from_picker: false,
            error: None,
            page: 10,
            console: None,
            zoom: None,
            cpu_view: false,
            lanes_scale: std::cell::Cell::new(std::time::Duration::from_millis(100)),
            lanes_auto: std::cell::Cell::new(std::time::Duration::from_millis(100)),
            scroll: 0,
        }
    }

    /// Straight to the run screen of `target`.
    pub fn running(
        target: impl Into<Target>,
        run_options: RunOptions,
        start_paused: bool,
        speed: Option<Speed>,
    ) -> Result<App, RunError> {
        let mut app = App::picker(run_options, start_paused, speed);
        let session = app.open(target.into())?;
        app.lanes_for(&session);
        app.session = Some(session);
        app.mode = Mode::Run;
        Ok(app)
    }

    /// A live run of `target` with this app's controls: at the speed
    /// asked for, else at the lesson's own pace.
    fn open(&self, target: Target) -> Result<Session, RunError> {
        let speed = self
            .speed
            .or(target.scenario().speed.map(Speed::clamped))
            .unwrap_or_default();
        Session::start(target, self.run_options.clone(), self.start_paused, speed)
    }

    /// The lanes a session's lesson opens with: by CPU or by task, and
    /// for one played back behind its run, zoomed in on its time slices.
    fn lanes_for(&mut self, session: &Session) {
        self.cpu_view = session.scenario.view == crate::scenario::View::Cpus;
        self.zoom = session.plays_back().then_some(crate::model::lanes::FINEST);
    }

    /// A session made elsewhere (a replay).
    pub fn with_session(session: Session) -> App {
        let mut app = App::picker(RunOptions::default(), true, None);
        app.session = Some(session);
        app.mode = Mode::Run;
        app
    }

    pub fn context(&self) -> Context {
        match self.popup {
            Some(_) => Context::Popup,
            None => self.screen_context(),
        }
    }

    /// The screen under any popup: picker, live run, or replay.
    pub fn screen_context(&self) -> Context {
        match self.mode {
            Mode::Picker => Context::Picker,
            Mode::Run if self.session.as_ref().is_some_and(Session::shows_replay) => {
                Context::Replay
            }
            Mode::Run if self.session.as_ref().is_some_and(|s| !s.steps.restartable) => {
                Context::Program
            }
            Mode::Run => Context::Run,
        }
    }

    pub fn update(&mut self, message: Message) {
        match message {
            Message::Tick => {
                if let Some(s) = self.session.as_mut() {
                    s.tick();
                }
            }
            Message::Key(key) if self.filtering => self.filter_key(key),
            Message::Key(key) => {
                if let Some(action) = keys::action(self.context(), key) {
                    self.act(action);
                }
            }
        }
    }

    fn filter_key(&mut self, key: Key) {
        match key {
            Key::Enter | Key::Esc => self.filtering = false,
            Key::CtrlC => self.quit = true,
            Key::Backspace => {
                self.filter.pop();
            }
            Key::Char(c) => self.filter.push(c),
            _ => {}
        }
        self.selected = 0;
    }

    fn act(&mut self, action: Action) {
        self.error = None;
        match action {
            Action::Quit => self.quit = true,
            Action::Help => {
                self.popup = Some(Popup::Help);
                self.scroll = 0;
            }
            Action::Close => self.popup = None,
            Action::Up | Action::Down if self.popup.is_some() => {
                // Help scrolls down from its top; a detail up from its end.
                let down = (action == Action::Down) == (self.popup == Some(Popup::Help));
                self.scroll = if down {
                    self.scroll.saturating_add(1)
                } else {
                    self.scroll.saturating_sub(1)
                };
            }
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-(self.page.max(1) as isize)),
            Action::PageDown => self.move_selection(self.page.max(1) as isize),
            Action::Open => match self.mode {
                Mode::Picker => self.start_picked(),
                Mode::Run => {
                    self.popup = Some(Popup::Detail);
                    self.scroll = 0;
                }
            },
            Action::Filter => {
                self.filtering = true;
                self.filter.clear();
            }
            Action::Restart if self.session.as_ref().is_some_and(Session::is_replay) => {
                self.on_session(Session::rewind);
            }
            Action::Restart => {
                if let Some(s) = self.session.as_mut() {
                    match s.restart() {
                        Ok(new) => {
                            self.session = Some(new);
                            self.selected = 0;
                        }
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
            }
            Action::TogglePause => self.on_session(Session::toggle_pause),
            Action::Step => self.on_session(Session::step),
            Action::Back => self.on_session(Session::back),
            Action::Forward => self.on_session(Session::forward),
            Action::Live => self.on_session(Session::go_live),
            Action::First => self.on_session(Session::go_first),
            Action::ZoomIn | Action::ZoomOut => {
                let (now, auto) = (self.lanes_scale.get(), self.lanes_auto.get());
                self.zoom = crate::model::lanes::zoom(now, action == Action::ZoomIn, auto);
            }
            Action::CpuView => self.cpu_view = !self.cpu_view,
            Action::Faster | Action::Slower => {
                let now = self
                    .session
                    .as_ref()
                    .map_or(self.speed.unwrap_or_default(), |s| s.control.speed);
                let speed = now.next(action == Action::Faster);
                self.on_session(|s| s.set_speed(speed));
            }
            Action::NextLesson => self.open_lesson(1),
            Action::PreviousLesson => self.open_lesson(-1),
            Action::Leave if self.from_picker => {
                if let Some(mut s) = self.session.take() {
                    s.close();
                }
                self.mode = Mode::Picker;
                self.filter.clear();
            }
            Action::Leave => self.quit = true,
        }
    }

    fn on_session(&mut self, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.session.as_mut() {
            f(s);
        }
    }

    fn start_picked(&mut self) {
        let Some(scenario) = self
            .choices
            .get(self.picked)
            .and_then(|c| c.scenario.clone())
        else {
            return;
        };
        if let Some(mut old) = self.session.take() {
            old.close();
        }
        match self.open(Target::Scenario(scenario)) {
            Ok(s) => {
                self.lanes_for(&s);
                self.session = Some(s);
                self.mode = Mode::Run;
                self.from_picker = true;
                self.selected = 0;
                self.filter.clear();
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// The lesson `by` places along the picker's list from the one on
    /// screen (the first or last one stays put).
    fn open_lesson(&mut self, by: isize) {
        let current = self
            .session
            .as_ref()
            .and_then(|s| self.choices.iter().position(|c| c.name == s.scenario.name))
            .unwrap_or(self.picked);
        let next = current
            .saturating_add_signed(by)
            .min(self.choices.len().saturating_sub(1));
        if next == current && self.session.is_some() {
            self.error = Some("no more lessons that way".into());
            return;
        }
        self.picked = next;
        self.start_picked();
    }

    fn move_selection(&mut self, by: isize) {
        match self.mode {
            Mode::Picker => {
                let max = self.choices.len().saturating_sub(1);
                self.picked = self.picked.saturating_add_signed(by).min(max);
            }
            Mode::Run => {
                let max = self.visible_tasks().len().saturating_sub(1);
                self.selected = self.selected.saturating_add_signed(by).min(max);
            }
        }
    }

    /// Task indices shown in the table, after the filter.
    pub fn visible_tasks(&self) -> Vec<u32> {
        let Some(s) = &self.session else {
            return Vec::new();
        };
        let needle = self.filter.to_lowercase();
        s.model()
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                needle.is_empty()
                    || t.name.to_lowercase().contains(&needle)
                    || state_name(&t.state).contains(&needle)
            })
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// The task the selection is on.
    pub fn selected_task(&self) -> Option<u32> {
        self.visible_tasks().get(self.selected).copied()
    }
}

/// A state in words: `waiting (timer)`, `done (panicked)`.
pub fn state_name(state: &State) -> String {
    match state {
        State::Ready => "ready".into(),
        State::Running { worker } if crate::event::is_cpu(*worker) => "on a CPU".into(),
        State::Running { worker } => format!("running on worker {worker}"),
        State::Waiting(w) => format!("waiting ({})", w.as_str()),
        State::Done(o) => format!("done ({})", o.as_str()),
    }
}
