//! A run on screen: where its events come from, which of them the screen
//! shows yet, and the history the viewer scrubs through.
//!
//! Events arrive as the runtime records them, which on the virtual clock can
//! be ahead of what the viewer should see (a charged `block 300ms` ends the
//! instant it starts). They wait in `pending` until the displayed scenario
//! time reaches them, so the screen shows things as they happen at the
//! chosen speed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::export::Outputs;
use crate::model::history::{self, History};
use crate::model::{Model, State};
use crate::probe::{Change, Event, Sample, TaskIdx};
use crate::runner::control::{Gate, GateView};
use crate::runner::{self, Run, RunOptions};
use crate::scenario::{Action, Clock, Scenario};

/// How a lane cell looks: what the task was doing then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Ready,
    Running,
    /// Running a `cpu` or `block` step: holding its worker.
    Holding,
    Waiting(crate::probe::Wait),
    Done,
}

/// A worker lane's change: from then on it runs this task (and whether the
/// task holds it), or nothing.
pub type WorkerChange = (Duration, Option<(TaskIdx, bool)>);

/// Where a session's events come from.
enum Source {
    Live {
        run: Option<Run>,
        gate: Arc<Gate>,
    },
    /// A recorded log: everything is known; playing moves the cursor with
    /// the clock, at the chosen speed.
    Replay {
        playing: bool,
        last: std::time::Instant,
    },
}

pub struct Session {
    pub scenario: Arc<Scenario>,
    source: Source,
    options: RunOptions,
    pub history: History,
    pending: VecDeque<Event>,
    /// Scenario time the screen shows (at the live edge).
    pub display: Duration,
    pub gate: GateView,
    pub sample: Option<Arc<Sample>>,
    /// Per task, when its lane changed and to what.
    pub lanes: Vec<Vec<(Duration, Lane)>>,
    /// Per worker, when it started or stopped running which task.
    pub worker_lanes: Vec<Vec<WorkerChange>>,
    /// After a step: show events until this poll has ended.
    step: StepState,
    /// The run has ended and everything has been shown.
    pub ended: bool,
    pub end_note: Option<String>,
    /// Files every transition goes to as it is recorded (`--events` etc.).
    outputs: Option<Outputs>,
    /// In a replay: the scenario time shown, when set by [`Session::show_at`].
    replay_at: Option<Duration>,
    /// Drawn as the live run screen would be (for pictures of a moment).
    pub looks_live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepState {
    Idle,
    /// Granted; waiting for the gate to release poll number `.0 + 1`.
    Granted(u64),
    /// Showing the released poll of this task until it ends.
    Showing(TaskIdx),
}

impl Session {
    /// Starts `scenario` live, paced by a gate.
    pub fn start(
        scenario: Arc<Scenario>,
        mut options: RunOptions,
        paused: bool,
        speed: f64,
    ) -> Result<Session, runner::RunError> {
        let paced = scenario.runtime.clock == Clock::Virtual;
        let gate = Arc::new(Gate::new(paced, paused, speed));
        options.gate = Some(gate.clone());
        options.sample_every = Some(Duration::from_millis(250));
        let run = runner::start(scenario.clone(), options.clone())?;
        let info = crate::headless::run_info(&scenario);
        let source = Source::Live {
            run: Some(run),
            gate: gate.clone(),
        };
        Ok(Session::new(scenario, source, options, info, gate.view()))
    }

    fn new(
        scenario: Arc<Scenario>,
        source: Source,
        options: RunOptions,
        info: crate::model::RunInfo,
        gate: GateView,
    ) -> Session {
        Session {
            gate,
            source,
            history: History::new(info, history::DEFAULT_LIMIT),
            options,
            scenario,
            pending: VecDeque::new(),
            display: Duration::ZERO,
            sample: None,
            lanes: Vec::new(),
            worker_lanes: Vec::new(),
            step: StepState::Idle,
            ended: false,
            end_note: None,
            outputs: None,
            replay_at: None,
            looks_live: false,
        }
    }

    /// Writes every transition of this run to `outputs`.
    pub fn record_to(&mut self, outputs: Outputs) {
        self.outputs = Some(outputs);
    }

    /// Ends the output files with what is known now, and moves them into place.
    fn close_events(&mut self) {
        if let Some(outputs) = self.outputs.take() {
            let mut model = self.history.live().clone();
            for e in &self.pending {
                model.apply(e);
            }
            if let Err(e) = outputs.finish(&model) {
                self.end_note = Some(format!("could not write an output file: {e}"));
            }
        }
    }

    /// A recorded run, shown from its start.
    pub fn replay(scenario: Arc<Scenario>, log: crate::export::jsonl::Log) -> Session {
        let source = Source::Replay {
            playing: false,
            last: std::time::Instant::now(),
        };
        let gate = GateView {
            paused: true,
            speed: 1.0,
            display: Duration::ZERO,
            last_released: None,
            released: 0,
            waiting_at: None,
        };
        let mut s = Session::new(scenario, source, RunOptions::default(), log.info, gate);
        s.pending = log.events.into();
        s.end_note = log.stalled;
        while let Some(e) = s.pending.pop_front() {
            s.ingest(e);
        }
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

    /// The model the screen shows (at the cursor).
    pub fn model(&self) -> &Model {
        self.history.model()
    }

    /// Scenario time the screen shows.
    pub fn now(&self) -> Duration {
        match self.replay_at {
            Some(t) if self.is_replay() => t.max(self.model().now),
            _ if self.history.at_live_edge() && !self.is_replay() => {
                self.display.max(self.model().now)
            }
            _ => self.model().now,
        }
    }

    /// In a replay: shows the run as it was at scenario time `t`.
    pub fn show_at(&mut self, t: Duration) {
        let pos = self.history.events().take_while(|(_, e)| e.t <= t).count() as u64;
        self.history.seek(self.history.first() + pos);
        self.replay_at = Some(t);
    }

    fn gate(&self) -> Option<&Arc<Gate>> {
        match &self.source {
            Source::Live { gate, .. } => Some(gate),
            Source::Replay { .. } => None,
        }
    }

    fn ingest(&mut self, e: Event) {
        let lane = match &e.change {
            Change::Spawned { .. } | Change::Ready { .. } => Some(Lane::Ready),
            Change::Running { worker } => {
                let holding = self.holds_worker(&e);
                let w = usize::from(*worker);
                if self.worker_lanes.len() <= w {
                    self.worker_lanes.resize(w + 1, Vec::new());
                }
                self.worker_lanes[w].push((e.t, Some((e.task, holding))));
                Some(if holding {
                    Lane::Holding
                } else {
                    Lane::Running
                })
            }
            Change::Waiting { wait, .. } => Some(Lane::Waiting(*wait)),
            Change::Done { .. } => Some(Lane::Done),
        };
        // A poll that ends frees its worker.
        if !matches!(e.change, Change::Running { .. } | Change::Spawned { .. })
            && let Some(State::Running { worker }) =
                self.history.live().task(e.task).map(|t| t.state.clone())
            && let Some(lane) = self.worker_lanes.get_mut(usize::from(worker))
        {
            lane.push((e.t, None));
        }
        if let Some(lane) = lane {
            let i = e.task as usize;
            if self.lanes.len() <= i {
                self.lanes.resize(i + 1, Vec::new());
            }
            self.lanes[i].push((e.t, lane));
        }
        self.history.push(e);
    }

    /// Whether the task's step at this event holds its worker (cpu, block).
    fn holds_worker(&self, e: &Event) -> bool {
        let spec = self
            .history
            .live()
            .task(e.task)
            .map_or(0, |t| t.spec as usize);
        self.scenario
            .tasks
            .get(spec)
            .and_then(|t| t.steps.get(e.step as usize))
            .is_some_and(|s| s.action.holds_worker())
    }

    /// The step the task is on, and its note.
    pub fn step_of(&self, task: TaskIdx) -> Option<(&Action, Option<&str>)> {
        let t = self.model().task(task)?;
        let step = self
            .scenario
            .tasks
            .get(t.spec as usize)?
            .steps
            .get(t.step as usize)?;
        Some((&step.action, step.note.as_deref()))
    }

    /// Takes in what the run recorded and moves the display on.
    pub fn tick(&mut self) {
        if let Source::Replay { playing, last } = &mut self.source {
            let elapsed = last.elapsed();
            *last = std::time::Instant::now();
            let playing = *playing;
            if playing {
                let end = self.history.live().now;
                let at = self.now() + elapsed.mul_f64(self.gate.speed);
                self.show_at(at.min(end));
                if at >= end {
                    self.toggle_pause();
                }
            }
            return;
        }
        let Source::Live { run, gate } = &mut self.source else {
            return;
        };
        let mut batch = Vec::new();
        let mut finished = false;
        if let Some(r) = run.as_ref() {
            finished = r.recorder.drain(&mut batch, Duration::ZERO).finished;
            self.sample = r.recorder.sample().or(self.sample.take());
        }
        if let Some(outputs) = self.outputs.as_mut() {
            for e in &batch {
                if let Err(err) = outputs.event(e) {
                    self.outputs = None;
                    self.end_note = Some(format!("could not write an output file: {err}"));
                    break;
                }
            }
        }
        self.pending.extend(batch);
        self.gate = gate.view();
        let paced = self.scenario.runtime.clock == Clock::Virtual;
        if finished && let Some(r) = run.take() {
            match r.wait() {
                Ok(end) => {
                    self.end_note = end.stalled.clone();
                    self.history
                        .live_mut()
                        .finish(0, end.stalled, Some(end.runtime));
                }
                Err(e) => self.end_note = Some(e.to_string()),
            }
        }
        let run_over = run.is_none();
        if !paced && let Some(r) = run.as_ref() {
            // Real clock: time is real; the gate only holds polls.
            self.display = r.recorder.elapsed();
            self.show_until(Duration::MAX);
        } else if !self.gate.paused {
            // Virtual clock: show what happened up to the paced time (after
            // the run is over too, so its end plays out at the same pace).
            self.display = self.display.max(self.gate.display);
            self.show_until(self.display);
        }
        // Paused: nothing new shows but through a step, except the tasks
        // the run starts with (spawned before any poll).
        while let Some(e) = self.pending.front()
            && matches!(e.change, Change::Spawned { parent: None, .. })
        {
            let e = self.pending.pop_front().expect("peeked");
            self.ingest(e);
        }
        self.advance_step();
        if run_over {
            self.close_events();
        }
        if run_over && self.pending.is_empty() {
            self.ended = true;
            if let Some(t) = self
                .history
                .live()
                .tasks
                .iter()
                .filter_map(|t| t.done_at)
                .max()
            {
                // Freeze at the end: no earlier than the last task's end,
                // no later than the last event.
                self.display = self.display.max(t).min(self.history.live().now);
            }
        }
    }

    fn show_until(&mut self, limit: Duration) {
        while let Some(e) = self.pending.front() {
            if e.t > limit {
                break;
            }
            let e = self.pending.pop_front().expect("peeked");
            self.ingest(e);
        }
    }

    /// After a step: show the released poll through to its end.
    fn advance_step(&mut self) {
        loop {
            match self.step {
                StepState::Idle => return,
                StepState::Granted(before) => match self.gate.last_released {
                    Some((task, t)) if self.gate.released > before => {
                        self.display = self.display.max(t);
                        self.step = StepState::Showing(task);
                    }
                    _ => return,
                },
                StepState::Showing(task) => {
                    let mut seen_start = false;
                    while let Some(e) = self.pending.pop_front() {
                        let ends_poll = e.task == task
                            && seen_start
                            && !matches!(e.change, Change::Running { .. });
                        if e.task == task && matches!(e.change, Change::Running { .. }) {
                            seen_start = true;
                        }
                        self.display = self.display.max(e.t);
                        self.ingest(e);
                        if ends_poll {
                            self.step = StepState::Idle;
                            return;
                        }
                    }
                    return;
                }
            }
        }
    }

    pub fn toggle_pause(&mut self) {
        if let Source::Replay { playing, .. } = &mut self.source {
            *playing = !*playing;
            self.gate.paused = !*playing;
            return;
        }
        if let Some(gate) = self.gate() {
            let paused = !self.gate.paused;
            gate.set_paused(paused);
            self.gate = gate.view();
            if paused {
                // Freeze what is on screen now.
                self.display = self.now();
            }
        }
        self.history.seek(u64::MAX);
    }

    pub fn pause(&mut self) {
        if !self.gate.paused {
            self.toggle_pause();
        }
    }

    /// One step while paused, at the live edge: the next transition already
    /// recorded (a wake-up) if there is one, else exactly one more poll.
    /// Either way one task changes state (more only if that poll wakes others).
    pub fn step(&mut self) {
        if self.is_replay() {
            self.replay_seek(self.history.cursor() + 1);
            return;
        }
        self.history.seek(u64::MAX);
        if !self.gate.paused || self.step != StepState::Idle {
            return;
        }
        if let Some(e) = self.pending.pop_front() {
            self.display = self.display.max(e.t);
            self.ingest(e);
        } else if let Some(gate) = self.gate() {
            let before = gate.view().released;
            gate.step();
            self.step = StepState::Granted(before);
        }
    }

    pub fn back(&mut self) {
        if self.is_replay() {
            self.replay_seek(self.history.cursor().saturating_sub(1));
            return;
        }
        self.pause();
        let to = self.history.cursor().saturating_sub(1);
        self.history.seek(to);
    }

    /// In a replay: moves to `pos` and shows the time of its newest event.
    fn replay_seek(&mut self, pos: u64) {
        self.history.seek(pos);
        self.replay_at = Some(self.model().now);
    }

    /// Forward one transition; at the live edge, a step.
    pub fn forward(&mut self) {
        if self.is_replay() {
            self.replay_seek(self.history.cursor() + 1);
        } else if self.history.at_live_edge() {
            self.step();
        } else {
            let to = self.history.cursor() + 1;
            self.history.seek(to);
        }
    }

    pub fn go_live(&mut self) {
        self.history.seek(u64::MAX);
    }

    pub fn set_speed(&mut self, speed: f64) {
        if self.is_replay() {
            self.gate.speed = speed;
        }
        if let Some(gate) = self.gate() {
            gate.set_speed(speed);
            self.gate = gate.view();
        }
    }

    /// Stops the run (if live) without waiting for it.
    pub fn stop(&mut self) {
        if let Source::Live { run, gate } = &mut self.source {
            gate.open();
            if let Some(r) = run.as_ref() {
                r.stop();
            }
        }
    }

    /// In a replay: back to the start, paused.
    pub fn rewind(&mut self) {
        if let Source::Replay { playing, .. } = &mut self.source {
            *playing = false;
            self.gate.paused = true;
            self.replay_seek(0);
        }
    }

    /// A fresh run of the same scenario, with the same controls.
    pub fn restart(&mut self) -> Result<Session, runner::RunError> {
        self.stop();
        Session::start(
            self.scenario.clone(),
            self.options.clone(),
            self.gate.paused,
            self.gate.speed,
        )
    }

    /// The worker a task has been holding, and since when, if it is.
    pub fn holding(&self) -> Vec<(u16, TaskIdx, Duration)> {
        let model = self.model();
        model
            .workers
            .iter()
            .enumerate()
            .filter_map(|(w, lane)| {
                let task = lane.current?;
                let t = model.task(task)?;
                let holds = self
                    .scenario
                    .tasks
                    .get(t.spec as usize)
                    .and_then(|s| s.steps.get(t.step as usize))
                    .is_some_and(|s| s.action.holds_worker());
                holds.then(|| (w as u16, task, self.now().saturating_sub(lane.since)))
            })
            .collect()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
        self.close_events();
    }
}
