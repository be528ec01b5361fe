//! A run on screen: where its events come from, the history the viewer
//! scrubs through, and the controls of the run behind it.
//!
//! The run itself is paced (see [`crate::runtime::control`]), so every event
//! arrives when the viewer should see it and is shown at once. Everything
//! the screen draws is a function of the history up to its cursor: the
//! model there, the lanes drawn from its events, and the live figures
//! sampled before that moment.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::export::Outputs;
use crate::feed::{self, Feed};
use crate::model::Model;
use crate::model::history::{self, History};
use crate::probe::Sample;
use crate::runtime::control::{Control, ControlView};
use crate::runtime::{Ending, Run, RunError, RunOptions};
use crate::scenario::{Clock, Scenario};
use crate::speed::Speed;
use crate::target::{StepInfo, Target};

/// Samples kept (at one every 250 ms, about 17 minutes of them).
const SAMPLES_KEPT: usize = 4096;
/// How long quitting waits for the run to cancel its tasks.
const STOP_WAIT: Duration = Duration::from_millis(1500);

/// Where a session's events come from.
enum Source {
    Live {
        run: Option<Run>,
        control: Arc<Control>,
    },
    /// A recorded log: everything is known; playing moves the cursor with
    /// the clock, at the chosen speed.
    Replay { playing: bool, last: Instant },
}

mod ask;
mod pauses;
mod stopping;

use pauses::Pauses;

pub struct Session {
    /// What runs: started again by a restart.
    target: Target,
    /// The scenario the screen describes the run by (for your own code:
    /// its name and runtime, no steps).
    pub scenario: Arc<Scenario>,
    /// What the screen may ask about the run's steps.
    pub steps: StepInfo,
    source: Source,
    options: RunOptions,
    pub history: History,
    /// Scenario time shown at the live edge.
    display: Duration,
    pub control: ControlView,
    /// tokio-metrics samples, with the scenario time each was taken at.
    samples: VecDeque<(Duration, Arc<Sample>)>,
    /// The run has ended and everything has been shown.
    pub ended: bool,
    pub end_note: Option<String>,
    /// How the run ended (live runs, once ended).
    pub ending: Option<Ending>,
    /// Events the probe had to drop (real clock, consumer too slow).
    dropped: u64,
    /// Files every transition goes to as it is recorded (`--events` etc.).
    feed: Feed,
    /// A problem writing the output files.
    pub output_error: Option<String>,
    /// In a replay: the scenario time shown, when set by [`Session::show_at`].
    replay_at: Option<Duration>,
    /// Drawn as the live run screen would be (for pictures of a moment).
    pub looks_live: bool,
    /// The speed the run started at (on the real clock it cannot change
    /// during the run).
    pub run_speed: Speed,
    /// A lesson played back behind its run (`playback = true`): the run
    /// goes at its own pace and the screen plays what it recorded at the
    /// chosen speed, since the OS cannot be slowed down.
    playback: Option<Playing>,
    /// Played back: the screen's speed, once changed (the run's stays).
    playback_speed: Option<Speed>,
    /// The CPUs the lesson asks for (two for a lesson drawn per CPU) and
    /// the fewer this machine gives it: what it cannot show here.
    pub cpus_short: Option<(usize, usize)>,
    /// When the viewer held the scheduler (real clock: timers go on).
    pauses: Pauses,
    /// Stopping: until when it waits for the run to cancel its tasks.
    closing: Option<Instant>,
    closed: bool,
}

/// The screen playing a run back: whether it plays, and since when.
#[derive(Debug, Clone, Copy)]
struct Playing {
    on: bool,
    last: Instant,
}

impl Session {
    /// Starts `target` live, paced by its controls.
    pub fn start(
        target: impl Into<Target>,
        mut options: RunOptions,
        paused: bool,
        speed: Speed,
    ) -> Result<Session, RunError> {
        let target = target.into();
        let paced = target.scenario().runtime.clock == Clock::Virtual;
        let playback = !paced && target.scenario().playback;
        // Played back, the run itself is never held: pausing stops the
        // screen, not the OS.
        let control = Control::new(paced, paused && !playback, speed);
        options.control = Some(control.clone());
        // The real clock cannot be paced: the run plays in slow (or fast)
        // motion instead, every duration stretched, at the speed it starts.
        options.time_scale = if paced || playback {
            Speed::REAL_TIME
        } else {
            speed
        };
        // Slow motion stretches every duration: the limits count it so.
        target
            .scenario()
            .cost
            .check_at(options.time_scale.get())
            .map_err(RunError::Refused)?;
        options.sample_every = Some(Duration::from_millis(250));
        // Drained every frame: a smaller buffer is room enough, and it
        // counts in the dashboard's memory.
        options.capacity = options.capacity.min(crate::probe::DASHBOARD_CAPACITY);
        let run = feed::start(&target, options.clone())?;
        let info = crate::headless::run_info(target.scenario());
        let view = control.view();
        let source = Source::Live {
            run: Some(run),
            control,
        };
        let mut session = Session::new(target, source, options, info, view);
        session
            .history
            .reserve_tasks(session.scenario.starting_tasks());
        let here = std::thread::available_parallelism().map_or(1, |n| n.get());
        session.cpus_short = cpus_short(&session.scenario, here);
        if !paced && !playback && paused {
            session.pauses.held(true, Duration::ZERO);
        }
        if playback {
            session.playback = Some(Playing {
                on: !paused,
                last: Instant::now(),
            });
            session.replay_at = Some(Duration::ZERO);
            session.control.paused = paused;
        }
        Ok(session)
    }

    fn new(
        target: Target,
        source: Source,
        options: RunOptions,
        info: crate::model::RunInfo,
        control: ControlView,
    ) -> Session {
        Session {
            control,
            source,
            history: History::new(info, history::DEFAULT_LIMIT),
            options,
            scenario: target.scenario().clone(),
            steps: target.steps(),
            target,
            display: Duration::ZERO,
            samples: VecDeque::new(),
            ended: false,
            end_note: None,
            ending: None,
            dropped: 0,
            feed: Feed::default(),
            output_error: None,
            replay_at: None,
            looks_live: false,
            run_speed: control.speed,
            playback: None,
            playback_speed: None,
            cpus_short: None,
            pauses: Pauses::default(),
            closing: None,
            closed: false,
        }
    }

    /// Writes every transition of this run to `outputs`.
    pub fn record_to(&mut self, outputs: Outputs) {
        self.feed = Feed::new(Some(outputs));
    }

    /// A recorded run, shown from its start.
    pub fn replay(scenario: Arc<Scenario>, mut log: crate::recording::Log) -> Session {
        let mut history = History::new(log.info.clone(), history::REPLAY_LIMIT);
        for e in std::mem::take(&mut log.events) {
            history.push(e);
        }
        Session::replay_history(scenario, history, log)
    }

    /// A recorded run already in `history` (read straight into it); `log`
    /// says how the recording ended.
    pub fn replay_history(
        scenario: Arc<Scenario>,
        history: History,
        log: crate::recording::Log,
    ) -> Session {
        let note = log.incomplete_note();
        let source = Source::Replay {
            playing: false,
            last: Instant::now(),
        };
        let mut s = Session::new(
            Target::Scenario(scenario),
            source,
            RunOptions::default(),
            log.info,
            ControlView::replay(),
        );
        // Played at the lesson's own pace, as its run was.
        s.control.speed = s.scenario.speed.map(Speed::clamped).unwrap_or_default();
        s.run_speed = s.control.speed;
        s.history = history;
        s.history
            .live_mut()
            .finish(log.dropped, log.stalled.clone(), log.runtime);
        s.end_note = match note {
            Some(note) => Some(note.to_string()),
            None => log.stalled,
        };
        s.ended = true;
        s.history.seek(0);
        s
    }

    /// Whether the screen should present this as a replay.
    pub fn shows_replay(&self) -> bool {
        self.is_replay() && !self.looks_live
    }

    pub fn is_replay(&self) -> bool {
        matches!(self.source, Source::Replay { .. })
    }

    /// The screen plays the run back behind it (see `playback`).
    pub fn plays_back(&self) -> bool {
        self.playback.is_some()
    }

    /// The cursor moves by time, not with the live edge: a replay, or a
    /// run played back.
    fn by_time(&self) -> bool {
        self.is_replay() || self.plays_back()
    }

    /// How far behind its run the screen is (played back).
    pub fn behind(&self) -> Option<Duration> {
        self.playback?;
        Some(self.history.live().now.saturating_sub(self.now()))
    }

    /// The model the screen shows (at the cursor).
    /// Events the recorder could not keep (it fell behind the run): the
    /// rows of the tasks they were about may be stale.
    pub fn lost(&self) -> u64 {
        self.dropped.max(self.history.live().dropped)
    }

    /// Task `t` is in an io step's first phase, connecting (a lesson's:
    /// your own code's io waits are its sockets, with no reply due).
    pub fn connecting(&self, t: &crate::model::TaskView) -> bool {
        t.connecting() && !self.steps.unnamed_waits
    }

    pub fn model(&self) -> &Model {
        self.history.model()
    }

    /// Scenario time the screen shows: the live moment at the live edge,
    /// else the time of the transition at the cursor.
    pub fn now(&self) -> Duration {
        match self.replay_at {
            Some(t) if self.by_time() => t.max(self.model().now),
            _ if self.history.at_live_edge() && !self.is_replay() => {
                self.display.max(self.model().now)
            }
            _ => self.model().now,
        }
    }

    /// In a replay: shows the run as it was at scenario time `t`.
    pub fn show_at(&mut self, t: Duration) {
        let pos = self.history.position_after(t);
        self.history.seek(pos);
        self.replay_at = Some(t);
    }

    fn control_handle(&self) -> Option<&Arc<Control>> {
        match &self.source {
            Source::Live { control, .. } => Some(control),
            Source::Replay { .. } => None,
        }
    }

    /// The newest tokio-metrics sample taken no later than the moment shown.
    pub fn sample(&self) -> Option<&Sample> {
        let now = self.now();
        let i = self.samples.partition_point(|(t, _)| *t <= now);
        i.checked_sub(1).map(|i| &*self.samples[i].1)
    }

    /// Takes in what the run recorded and moves the display on.
    pub fn tick(&mut self) {
        if let Source::Replay { playing, last } = &mut self.source {
            let elapsed = last.elapsed();
            *last = Instant::now();
            if *playing {
                let end = self.history.live().now;
                let at = self.now() + elapsed.mul_f64(self.control.speed.get());
                self.show_at(at.min(end));
                if at >= end {
                    self.toggle_pause();
                }
            }
            return;
        }
        self.take_in();
        self.play_back();
    }

    /// Played back: the screen moves on by the wall time since the last
    /// frame times the speed, never past what the run has recorded; at
    /// the run's end it stops.
    fn play_back(&mut self) {
        let Some(p) = self.playback.as_mut() else {
            return;
        };
        let elapsed = p.last.elapsed();
        p.last = Instant::now();
        let on = p.on;
        self.control.paused = !on;
        if let Some(speed) = self.playback_speed {
            self.control.speed = speed;
        }
        // Events came in meanwhile: the cursor stays at the moment shown.
        let shown = self.replay_at.unwrap_or_default();
        if on {
            let end = self.history.live().now;
            let at = shown + elapsed.mul_f64(self.control.speed.get());
            self.show_at(at.min(end));
            if self.ended && at >= end {
                self.toggle_pause();
            }
        } else {
            self.show_at(shown);
        }
    }

    /// Live: everything the run has recorded so far goes into the history
    /// (and the output files).
    fn take_in(&mut self) {
        let Source::Live { run, control } = &mut self.source else {
            return;
        };
        let mut finished = false;
        if let Some(r) = run.as_ref() {
            let history = &mut self.history;
            let drained = self.feed.take(r, Duration::ZERO, |e| history.push(e));
            finished = drained.finished;
            self.dropped = drained.dropped;
            if let Some(failed) = self.feed.failed() {
                self.output_error = Some(failed.to_string());
            }
            if let Some(sample) = r.recorder.sample() {
                keep_sample(&mut self.samples, sample);
            }
        }
        self.control = control.view();
        let paced = control.is_paced();
        // The real clock's time (the virtual clock's is the paced one).
        let clock = run
            .as_ref()
            .filter(|_| !paced)
            .map(|r| r.recorder.elapsed());
        if finished && let Some(r) = run.take() {
            self.end_run(r);
        }
        if self.ended {
            return;
        }
        self.display = self.display.max(if paced {
            self.control.display
        } else {
            clock.unwrap_or_default()
        });
    }

    /// The run's thread has finished: record how it ended.
    fn end_run(&mut self, run: Run) {
        match run.wait() {
            Ok(end) => {
                self.end_note = end.stalled.clone();
                self.ending = Some(end.ending);
                self.history
                    .live_mut()
                    .finish(self.dropped, end.stalled, Some(end.runtime));
            }
            Err(e) => {
                self.end_note = Some(e.to_string());
                self.ending = Some(Ending::Stopped);
            }
        }
        self.ended = true;
        // Freeze at the last thing that happened.
        self.display = self.history.live().now;
        self.close_outputs();
    }

    pub fn toggle_pause(&mut self) {
        if let Source::Replay { playing, .. } = &mut self.source {
            *playing = !*playing;
            self.control.paused = !*playing;
            return;
        }
        if let Some(p) = self.playback.as_mut() {
            p.on = !p.on;
            p.last = Instant::now();
            self.control.paused = !p.on;
            return;
        }
        if let Some(control) = self.control_handle() {
            control.set_paused(!self.control.paused);
            self.control = control.view();
        }
        if let Some(at) = self.real_clock() {
            self.pauses.held(self.control.paused, at);
        }
        self.history.seek(u64::MAX);
    }

    /// A live real-clock run's scenario time now (not played back).
    fn real_clock(&self) -> Option<Duration> {
        match &self.source {
            Source::Live {
                run: Some(r),
                control,
            } if !control.is_paced() && !self.plays_back() => Some(r.recorder.elapsed()),
            _ => None,
        }
    }

    /// Whether the viewer held the scheduler at some moment from `from`
    /// to `to` (scenario time): what came due then was late because of
    /// the pause.
    pub fn paused_between(&self, from: Duration, to: Duration) -> bool {
        self.pauses.overlap(from, to)
    }

    pub fn pause(&mut self) {
        if !self.control.paused {
            self.toggle_pause();
        }
    }

    /// Paused, at the live edge: let exactly one more poll through (the next
    /// one that becomes ready, if none is). Running: pause first.
    pub fn step(&mut self) {
        if self.by_time() {
            self.replay_seek(self.history.cursor() + 1);
            return;
        }
        self.history.seek(u64::MAX);
        if !self.control.paused {
            self.pause();
            return;
        }
        if let Some(control) = self.control_handle() {
            control.step();
            self.control = control.view();
        }
    }

    pub fn back(&mut self) {
        self.back_by(1);
    }

    /// Back `n` transitions at once (keys pressed faster than drawn).
    pub fn back_by(&mut self, n: u64) {
        if self.by_time() {
            self.replay_seek(self.history.cursor().saturating_sub(n));
            return;
        }
        self.pause();
        let to = self.history.cursor().saturating_sub(n);
        self.history.seek(to);
    }

    /// In a replay: moves to `pos` and shows the time of its newest event.
    fn replay_seek(&mut self, pos: u64) {
        self.history.seek(pos);
        self.replay_at = Some(self.model().now);
    }

    /// Forward one transition; at the live edge, a step.
    pub fn forward(&mut self) {
        self.forward_by(1);
    }

    /// Forward `n` transitions at once; at the live edge, a step.
    pub fn forward_by(&mut self, n: u64) {
        if self.by_time() {
            self.replay_seek(self.history.cursor().saturating_add(n));
        } else if self.history.at_live_edge() {
            self.step();
        } else {
            let to = self.history.cursor().saturating_add(n);
            self.history.seek(to);
        }
    }

    /// Back to the oldest transition the history keeps (pausing a live
    /// run, as any move back does).
    pub fn go_first(&mut self) {
        if self.by_time() {
            self.rewind();
            return;
        }
        self.pause();
        self.history.seek(0);
    }

    pub fn go_live(&mut self) {
        if self.by_time() {
            self.replay_seek(u64::MAX);
            return;
        }
        self.history.seek(u64::MAX);
    }

    pub fn set_speed(&mut self, speed: Speed) {
        if self.by_time() {
            self.control.speed = speed;
        }
        if self.plays_back() {
            // The run goes at its own pace: only the screen changes speed.
            self.playback_speed = Some(speed);
            return;
        }
        if let Some(control) = self.control_handle() {
            control.set_speed(speed);
            self.control = control.view();
        }
    }

    /// In a replay (or a run played back): back to the start, paused.
    pub fn rewind(&mut self) {
        if let Source::Replay { playing, .. } = &mut self.source {
            *playing = false;
            self.control.paused = true;
            self.replay_seek(0);
        }
        if let Some(p) = self.playback.as_mut() {
            p.on = false;
            self.control.paused = true;
            self.replay_seek(0);
        }
    }

    /// A fresh run of the same scenario, with the same controls (once
    /// this one has stopped).
    pub fn again(&self) -> Result<Session, RunError> {
        // Played back to its end, it stopped there: it plays again.
        let done = self.plays_back() && self.ended && self.history.at_live_edge();
        Session::start(
            self.target.clone(),
            self.options.clone(),
            self.control.paused && !done,
            self.control.speed,
        )
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.is_replay() {
            self.close();
        }
    }
}

/// Keeps `sample` if it is new: only the newest keeps every task's figures
/// (100,000 tasks are 10 MB a sample), older ones keep the runtime's.
fn keep_sample(samples: &mut VecDeque<(Duration, Arc<Sample>)>, sample: Arc<Sample>) {
    if samples.back().is_some_and(|(_, s)| Arc::ptr_eq(s, &sample)) {
        return;
    }
    if samples.len() >= SAMPLES_KEPT {
        samples.pop_front();
    }
    if let Some((_, older)) = samples.back_mut()
        && !older.tasks.is_empty()
    {
        *older = Arc::new(older.runtime_only());
    }
    samples.push_back((sample.at, sample));
}

/// The CPUs `scenario` asks for (two for a lesson drawn per CPU: work at
/// once needs two) when this machine gives it fewer, `here`.
fn cpus_short(scenario: &Scenario, here: usize) -> Option<(usize, usize)> {
    let shows_cpus = scenario.view == crate::scenario::View::Cpus;
    (scenario.runtime.cpus)
        .or(shows_cpus.then_some(2))
        .filter(|wanted| *wanted > here)
        .map(|wanted| (wanted, here))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::View;

    #[test]
    fn a_lesson_drawn_per_cpu_warns_on_one_cpu_and_one_asking_for_more_cpus_on_fewer() {
        let _limit = crate::test_limit::limit();
        let mut scenario = Scenario::unknown("threads");
        assert_eq!(cpus_short(&scenario, 1), None, "a task view needs no CPUs");
        scenario.view = View::Cpus;
        assert_eq!(cpus_short(&scenario, 1), Some((2, 1)));
        assert_eq!(cpus_short(&scenario, 2), None);
        scenario.runtime.cpus = Some(4);
        assert_eq!(cpus_short(&scenario, 2), Some((4, 2)));
        assert_eq!(cpus_short(&scenario, 8), None);
    }
}
