//! The dashboard's state and how it changes: `update(message)`, Elm style.
//! Drawing is in [`crate::ui`]; terminal and threads in [`crate::tui`].

pub mod session;
mod switch;
pub mod words;

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use crate::keys::{self, Action, Context, Key};
use crate::model::State;
use crate::runtime::{RunError, RunOptions};
use crate::scenario::{Scenario, bundled};
use crate::speed::Speed;
use crate::target::Target;
pub use session::Session;
pub use switch::Next;
pub use words::state_name;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Finished tasks of your own code's run past which they are folded.
pub const AUTO_FOLD: usize = 100;

/// The time one frame gives to keys: a flood of different keys (a screen
/// of a million tasks takes long for each) never holds up the screen or
/// Ctrl-C for longer.
const KEYS_PER_FRAME: std::time::Duration = std::time::Duration::from_millis(150);

pub struct App {
    pub mode: Mode,
    pub popup: Option<Popup>,
    pub choices: Vec<Choice>,
    pub picked: usize,
    pub session: Option<Session>,
    /// Selected row of the (filtered) task table.
    pub selected: usize,
    /// The selection follows the running task (until the viewer moves it).
    pub follow: bool,
    pub filter: String,
    /// Typing into the filter.
    pub filtering: bool,
    pub quit: bool,
    /// How runs start: options, paused, and the speed asked for on the
    /// command line (else each lesson opens at its own pace).
    pub run_options: RunOptions,
    pub start_paused: bool,
    pub speed: Option<Speed>,
    /// The run on screen was opened from the picker.
    pub from_picker: bool,
    /// A problem to show in the status bar.
    pub error: Option<String>,
    /// The command that attaches tokio-console to this run, if served.
    pub console: Option<String>,
    /// The lanes' time a column, set by zooming (None: the window fits the
    /// run, or its last 10 s).
    pub zoom: Option<Duration>,
    /// The lanes show one lane per CPU instead of workers and tasks.
    pub cpu_view: bool,
    /// Finished tasks are folded into a count by name, as the viewer chose
    /// with `d`; None: as [`App::folds_done`] decides.
    pub fold_done: Option<bool>,
    /// What the drawing measured, for the keys that depend on it.
    pub drawn: Drawn,
    /// Lines the open popup is scrolled by, from its top.
    pub scroll: u16,
    /// The open popup paused the lesson: closing it resumes it.
    popup_paused: bool,
    /// The run on screen is stopping; then this comes.
    pub next: Option<Next>,
}

/// What the last frame measured: set by the drawing (which has the app
/// only to read), read by the keys.
#[derive(Debug)]
pub struct Drawn {
    /// Rows that fit in the task table.
    pub page: Cell<usize>,
    /// The table's first row shown.
    pub table_top: Cell<usize>,
    /// The lanes' first row shown.
    pub lanes_top: Cell<usize>,
    /// The lanes' time a column.
    pub lanes_scale: Cell<Duration>,
    /// The automatic window's time a column.
    pub lanes_auto: Cell<Duration>,
    /// The open popup: lines that fit, and the most it can scroll.
    pub popup_page: Cell<u16>,
    pub popup_max: Cell<u16>,
}

impl Default for Drawn {
    fn default() -> Drawn {
        Drawn {
            page: Cell::new(10),
            table_top: Cell::new(0),
            lanes_top: Cell::new(0),
            lanes_scale: Cell::new(Duration::from_millis(100)),
            lanes_auto: Cell::new(Duration::from_millis(100)),
            popup_page: Cell::new(10),
            popup_max: Cell::new(u16::MAX),
        }
    }
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
            follow: true,
            filter: String::new(),
            filtering: false,
            quit: false,
            run_options,
            start_paused,
            speed,
            from_picker: false,
            error: None,
            console: None,
            zoom: None,
            cpu_view: false,
            fold_done: None,
            drawn: Drawn::default(),
            scroll: 0,
            popup_paused: false,
            next: None,
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
        app.show(session);
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

    /// `session` on the run screen, from its top, following its running
    /// task, with the lanes its lesson opens with: by CPU or by task, and
    /// for one played back behind its run, zoomed in on its time slices.
    fn show(&mut self, session: Session) {
        self.cpu_view = session.scenario.view == crate::scenario::View::Cpus;
        self.fold_done = None;
        self.zoom = session.plays_back().then_some(crate::model::lanes::FINEST);
        self.session = Some(session);
        self.mode = Mode::Run;
        self.selected = 0;
        self.follow = true;
        self.drawn.table_top.set(0);
        self.drawn.lanes_top.set(0);
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
                self.tick();
            }
            Message::Key(key) => self.press(key, 1),
        }
    }

    /// Takes in every message that came since the last frame: runs of one
    /// key pressed again and again are taken as one press that goes as
    /// far, so keys never queue behind a slow screen. Ctrl-C goes first,
    /// whatever came before it; keys that find the frame's time for keys
    /// ([`KEYS_PER_FRAME`]) spent are dropped, but a `q` among them.
    pub fn update_all(&mut self, messages: impl IntoIterator<Item = Message>) {
        let keys: Vec<Key> = messages
            .into_iter()
            .filter_map(|m| match m {
                Message::Key(k) => Some(k),
                Message::Tick => None,
            })
            .collect();
        if keys.contains(&Key::CtrlC) {
            self.press(Key::CtrlC, 1);
            return;
        }
        let started = std::time::Instant::now();
        let mut runs = keys.chunk_by(|a, b| a == b);
        while let Some(run) = runs.next() {
            self.press(run[0], run.len());
            if self.quit {
                return;
            }
            if started.elapsed() > KEYS_PER_FRAME {
                if runs.any(|r| r[0] == Key::Char('q')) {
                    self.press(Key::Char('q'), 1);
                }
                return;
            }
        }
    }

    fn tick(&mut self) {
        if self.next.is_some() {
            self.stopping();
        } else if let Some(s) = self.session.as_mut() {
            s.tick();
        }
        self.follow_running();
    }

    /// `key`, pressed `times` times in a row.
    fn press(&mut self, key: Key, times: usize) {
        if self.filtering {
            for _ in 0..times {
                self.filter_key(key);
            }
            return;
        }
        // Esc clears a kept filter first, on any run screen (your own
        // code's too, which has no lessons to go back to).
        if key == Key::Esc && !self.filter.is_empty() && self.popup.is_none() {
            self.filter.clear();
            self.selected = 0;
            return;
        }
        let Some(action) = keys::action(self.context(), key) else {
            return;
        };
        let times = times.max(1);
        if self.next.is_some() {
            // Stopping a run: the keys that still mean something.
            for _ in 0..times {
                self.act(action);
            }
            return;
        }
        match action {
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                self.move_by(action, times);
            }
            Action::Back => self.on_session(|s| s.back_by(times as u64)),
            Action::Forward if self.popup.is_none() => {
                self.on_session(|s| s.forward_by(times as u64));
            }
            // A toggle pressed twice is no toggle.
            Action::TogglePause | Action::CpuView if times.is_multiple_of(2) => {}
            Action::TogglePause | Action::CpuView => self.act(action),
            _ => {
                for _ in 0..times {
                    self.act(action);
                }
            }
        }
        self.follow_running();
    }

    fn filter_key(&mut self, key: Key) {
        match key {
            Key::Enter => self.filtering = false,
            // Esc while typing: no filter after all.
            Key::Esc => {
                self.filtering = false;
                self.filter.clear();
            }
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
        if self.next.is_some() && self.switching(action) {
            return;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.open_popup(Popup::Help),
            Action::Close => self.close_popup(),
            Action::Open => match self.mode {
                Mode::Picker => self.start_picked(),
                Mode::Run => self.open_popup(Popup::Detail),
            },
            Action::Filter => {
                self.filtering = true;
                self.filter.clear();
            }
            Action::Restart if self.session.as_ref().is_some_and(Session::is_replay) => {
                self.on_session(Session::rewind);
            }
            Action::Restart => self.stop_then(Next::Restart),
            Action::TogglePause => self.on_session(Session::toggle_pause),
            Action::Step => self.on_session(Session::step),
            Action::Back => self.on_session(Session::back),
            Action::Forward => self.on_session(Session::forward),
            Action::Live if self.popup.is_some() => {
                self.scroll = self.drawn.popup_max.get();
            }
            Action::First if self.popup.is_some() => self.scroll = 0,
            Action::Live => {
                self.on_session(Session::go_live);
                self.follow = true;
            }
            Action::First => self.on_session(Session::go_first),
            Action::ZoomIn | Action::ZoomOut => {
                let (now, auto) = (self.drawn.lanes_scale.get(), self.drawn.lanes_auto.get());
                self.zoom = crate::model::lanes::zoom(now, action == Action::ZoomIn, auto);
                // Pressed again before a frame: from the new scale.
                self.drawn.lanes_scale.set(self.zoom.unwrap_or(auto));
            }
            Action::CpuView => self.cpu_view = !self.cpu_view,
            Action::FoldDone => {
                // The selection stays on its task where it can.
                let task = self.selected_task();
                self.fold_done = Some(!self.folds_done());
                let visible = self.visible_tasks();
                self.selected = task
                    .and_then(|t| visible.iter().position(|v| *v == t))
                    .unwrap_or(0);
            }
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
            Action::Leave if !self.filter.is_empty() => {
                self.filter.clear();
                self.selected = 0;
            }
            Action::Leave if self.screen_context() == Context::Replay => self.quit = true,
            Action::Leave => self.stop_then(Next::Picker),
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                self.move_by(action, 1);
            }
        }
    }

    fn on_session(&mut self, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.session.as_mut() {
            f(s);
        }
    }

    /// Opens `popup`; a live lesson (or a replay playing) pauses under it
    /// until it closes, so what it says stays true while it is read.
    fn open_popup(&mut self, popup: Popup) {
        self.popup = Some(popup);
        self.scroll = 0;
        if self.popup_paused || self.mode != Mode::Run {
            return;
        }
        if let Some(s) = self.session.as_mut()
            && !s.control.paused
            && !s.ended
        {
            s.pause();
            self.popup_paused = true;
        }
    }

    fn close_popup(&mut self) {
        self.popup = None;
        if std::mem::take(&mut self.popup_paused)
            && let Some(s) = self.session.as_mut()
            && s.control.paused
        {
            s.toggle_pause();
        }
    }

    /// Moves the selection (or scrolls the popup) `times` rows or pages.
    fn move_by(&mut self, action: Action, times: usize) {
        let page = match self.popup {
            Some(_) => usize::from(self.drawn.popup_page.get().max(1)),
            None => self.drawn.page.get().max(1),
        };
        let by = match action {
            Action::Up => -(times as isize),
            Action::Down => times as isize,
            Action::PageUp => -((times * page) as isize),
            _ => (times * page) as isize,
        };
        if self.popup.is_some() {
            let max = i64::from(self.drawn.popup_max.get());
            self.scroll = (i64::from(self.scroll) + by as i64).clamp(0, max) as u16;
            return;
        }
        match self.mode {
            Mode::Picker => {
                let max = self.choices.len().saturating_sub(1);
                self.picked = self.picked.saturating_add_signed(by).min(max);
            }
            Mode::Run => {
                // The viewer chooses: the view stops following.
                self.follow = false;
                let max = self.visible_tasks().len().saturating_sub(1);
                self.selected = self.selected.saturating_add_signed(by).min(max);
            }
        }
    }

    /// Following: the selection is on the task that runs now (a task
    /// holding or polled on a worker, else the newest tokio task to
    /// change), so its row and lane are in view and the why line is
    /// about it.
    fn follow_running(&mut self) {
        if !self.follow || self.popup.is_some() || self.mode != Mode::Run {
            return;
        }
        let Some(focus) = self.session.as_ref().and_then(focus) else {
            return;
        };
        if self.filter.is_empty() && !self.folds_done() {
            self.selected = focus as usize;
        } else if let Some(i) = self.visible_tasks().iter().position(|t| *t == focus) {
            self.selected = i;
        }
    }

    /// Whether finished tasks are folded: as the viewer chose, else for
    /// your own code once more than [`AUTO_FOLD`] have finished (a
    /// server's live connections first; a program of a few tasks, as the
    /// examples are, keeps every row).
    pub fn folds_done(&self) -> bool {
        self.fold_done.unwrap_or_else(|| {
            self.session.as_ref().is_some_and(|s| {
                !s.steps.restartable
                    && s.model()
                        .tasks
                        .iter()
                        .filter(|t| matches!(t.state, State::Done(_)))
                        .nth(AUTO_FOLD)
                        .is_some()
            })
        })
    }

    /// Task indices shown in the table, after the filter (which matches
    /// the words the rows show), without the finished ones when they are
    /// folded.
    pub fn visible_tasks(&self) -> Vec<u32> {
        let Some(s) = &self.session else {
            return Vec::new();
        };
        let model = s.model();
        let count = model.tasks.len() as u32;
        let fold = self.folds_done();
        let live = |i: &u32| !fold || !matches!(model.tasks[*i as usize].state, State::Done(_));
        if self.filter.is_empty() {
            return (0..count).filter(live).collect();
        }
        let needle = self.filter.to_lowercase();
        let holding = s.holding();
        (0..count)
            .filter(live)
            .filter(|&i| words::shows(s, i, holding.iter().any(|h| h.1 == i), &needle))
            .collect()
    }

    /// The task the selection is on.
    pub fn selected_task(&self) -> Option<u32> {
        self.visible_tasks().get(self.selected).copied()
    }
}

/// The task a following view shows: one polled on a worker now (the one
/// holding its worker first), else the newest tokio task to change.
fn focus(s: &Session) -> Option<u32> {
    let model = s.model();
    if let Some((_, task, _)) = s.holding().first() {
        return Some(*task);
    }
    if let Some(t) = model.workers.iter().find_map(|w| w.current) {
        return Some(t);
    }
    let cursor = s.history.cursor();
    (cursor.saturating_sub(64)..cursor)
        .rev()
        .filter_map(|p| s.history.light(p))
        .map(|(_, task, _, _)| task)
        .find(|t| model.task(*t).is_some_and(|v| !v.kind.is_os()))
}
