//! Stopping a live run: asked, then taken in frame by frame until it has
//! cancelled its tasks (or its time is up), so the screen never freezes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{STOP_WAIT, Session, Source};
use crate::event::{Change, Event, Outcome, TaskIdx};
use crate::model::State;
use crate::runtime::Ending;
use crate::runtime::run::stopped_note;

impl Session {
    /// Ends the output files with what is known now, and moves them into place.
    pub(super) fn close_outputs(&mut self) {
        if let Err(e) = self.feed.finish(self.history.live()) {
            self.output_error = Some(e);
        }
    }

    /// Asks the run (if live) to stop, without waiting for it.
    pub fn stop(&mut self) {
        if let Source::Live { run, control } = &mut self.source {
            // Told first, so tokio sees a wake-up and does not move its
            // clock on when the controls let go.
            if let Some(r) = run.as_ref() {
                r.stop();
            }
            control.open();
        }
    }

    /// Takes the run in until it ends by itself or `grace` has passed;
    /// whether it ended.
    pub fn wait_for_end(&mut self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        while !self.ended && Instant::now() < deadline {
            self.take_in();
            std::thread::sleep(Duration::from_millis(5));
        }
        self.ended
    }

    /// Stops the run and ends its files: what it recorded while cancelling
    /// its tasks is taken in; a task it could not cancel in time (stuck in a
    /// blocking call) is recorded as cancelled now.
    pub fn close(&mut self) {
        self.begin_close();
        while !self.poll_close() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Asks the run to stop; [`Session::poll_close`] then finishes.
    pub fn begin_close(&mut self) {
        if self.closing.is_none() {
            self.stop();
            self.closing = Some(Instant::now() + STOP_WAIT);
        }
    }

    /// Whether it is stopping (see [`Session::begin_close`]).
    pub fn is_closing(&self) -> bool {
        self.closing.is_some() && !self.closed
    }

    /// Takes in what the stopping run recorded; true once it has stopped
    /// (or its time is up: what it could not cancel is cancelled now) and
    /// its files are ended. Never waits.
    pub fn poll_close(&mut self) -> bool {
        if self.closed {
            return true;
        }
        self.begin_close();
        let deadline = self.closing.unwrap_or_else(Instant::now);
        if !self.ended {
            self.take_in();
        }
        if !self.ended && Instant::now() < deadline {
            return false;
        }
        if !self.ended {
            self.cancel_the_rest();
        }
        self.close_outputs();
        self.closed = true;
        true
    }

    /// Records every unfinished task as cancelled at the moment shown.
    pub(super) fn cancel_the_rest(&mut self) {
        let at = self.display.max(self.history.live().now);
        let unfinished: Vec<(TaskIdx, u32)> = self
            .history
            .live()
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| !matches!(t.state, State::Done(_)))
            .map(|(i, t)| (i as TaskIdx, t.step))
            .collect();
        let n = unfinished.len();
        for (task, step) in unfinished {
            let e = Event {
                t: at,
                task,
                step,
                change: Change::Done {
                    outcome: Outcome::Cancelled,
                    stats: Arc::default(),
                },
            };
            self.feed.write(&e);
            self.history.push(e);
        }
        let note = stopped_note(at, n);
        self.history
            .live_mut()
            .finish(self.dropped, Some(note.clone()), None);
        self.end_note = Some(note);
        self.ending = Some(Ending::Stopped);
        self.ended = true;
    }
}
