//! The top-level sections of a scenario: its name and words, `[runtime]`,
//! `[[channel]]`, `[[mutex]]` and `[[task]]`, read in file order, then the
//! checks across them (names declared twice, names resolved, cycles,
//! locking, and what one run may cost).

use std::collections::HashMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::diagnostic::kind;
use super::{Checker, ReadTask, Value};
use crate::scenario::{
    ChannelSpec, Clock, Cost, Flavor, MAX_TASKS, MAX_WORKERS, RuntimeSpec, Scenario, TaskSpec, View,
};

/// The top level as read, key by key, before the checks across sections.
struct TopLevel<'v, 'i> {
    name: Option<(String, Range<usize>)>,
    description: String,
    watch: String,
    speed: Option<f64>,
    view: View,
    playback: Option<(bool, Range<usize>)>,
    runtime: Option<&'v Value<'i>>,
    channels: Vec<(ChannelSpec, Range<usize>)>,
    mutexes: Vec<(String, Range<usize>)>,
    tasks: Vec<&'v Value<'i>>,
}

/// `[runtime]` as read, before the keys are checked against each other.
struct RuntimeKeys {
    flavor: Flavor,
    workers: Option<(usize, Range<usize>)>,
    clock: Option<(Clock, Range<usize>)>,
    cpus: Option<usize>,
    pin_workers: bool,
}

impl Checker<'_> {
    pub(super) fn scenario(&mut self, top: &DeTable<'_>) -> Option<Scenario> {
        let sections = self.top_level(top);
        let (name, name_span) = match sections.name {
            Some((n, span)) => (n, span),
            None => {
                self.at(
                    0..0,
                    "missing `name = \"...\"`: every scenario has a name".into(),
                );
                (String::new(), 0..0)
            }
        };
        if sections.tasks.is_empty() && top.get("task").is_none() {
            self.at(
                name_span,
                "no `[[task]]` tables; expected at least one task with `name` and `steps`".into(),
            );
        }
        self.check_unique(&sections.channels, "channel");
        self.check_unique(&sections.mutexes, "mutex");
        let mut read = self.read_tasks(&sections.tasks);
        let uses_outside = read.iter().any(|t| t.spec.leaves_runtime());
        let runtime = self.runtime(sections.runtime, uses_outside, &read);
        let mut scenario = Scenario {
            name,
            description: sections.description.trim().to_string(),
            watch_for: sections
                .watch
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            speed: sections.speed,
            view: sections.view,
            playback: self.playback(sections.playback, runtime.clock),
            runtime,
            channels: sections.channels.into_iter().map(|(c, _)| c).collect(),
            mutexes: sections.mutexes.into_iter().map(|(m, _)| m).collect(),
            tasks: Vec::new(),
            cost: Cost::default(),
        };
        self.resolve(&mut read, &scenario);
        self.check_graph(&read);
        self.check_locks(&read);
        // A slow-motion lesson on the real clock stretches every duration.
        let stretch = match (scenario.runtime.clock, scenario.speed) {
            (Clock::Real, Some(speed)) if speed < 1.0 => 1.0 / speed,
            _ => 1.0,
        };
        scenario.cost = self.check_scale(&read, stretch).unwrap_or_default();
        scenario.tasks = read.into_iter().map(|t| t.spec).collect();
        Some(scenario)
    }

    /// Every top-level key, read in file order; `[runtime]` and the
    /// `[[task]]` tables are kept to be read once the rest is known.
    fn top_level<'v, 'i>(&mut self, top: &'v DeTable<'i>) -> TopLevel<'v, 'i> {
        let mut sections = TopLevel {
            name: None,
            description: String::new(),
            watch: String::new(),
            speed: None,
            view: View::Tasks,
            playback: None,
            runtime: None,
            channels: Vec::new(),
            mutexes: Vec::new(),
            tasks: Vec::new(),
        };
        for (key, value) in top.iter() {
            match key.get_ref().as_ref() {
                "name" => sections.name = self.text(value, "name").map(|n| (n, value.span())),
                "description" => {
                    sections.description = self.string(value, "description").unwrap_or_default()
                }
                "watch" => sections.watch = self.text(value, "watch").unwrap_or_default(),
                "speed" => sections.speed = self.speed(value),
                "view" => match self.string(value, "view").as_deref() {
                    Some("tasks") => sections.view = View::Tasks,
                    Some("cpus") => sections.view = View::Cpus,
                    Some(other) => self.at(
                        value.span(),
                        format!("`view = \"{other}\"`; expected \"tasks\" or \"cpus\""),
                    ),
                    None => {}
                },
                "playback" => {
                    sections.playback = self.boolean(value, "playback").map(|b| (b, value.span()))
                }
                "runtime" => sections.runtime = Some(value),
                "channel" => {
                    for t in self.tables(value, "channel") {
                        if let Some(c) = self.channel(t) {
                            sections.channels.push(c);
                        }
                    }
                }
                "mutex" => {
                    for t in self.tables(value, "mutex") {
                        if let Some(m) = self.mutex(t) {
                            sections.mutexes.push(m);
                        }
                    }
                }
                "task" => sections.tasks = self.tables(value, "task"),
                other => self.unknown_key(
                    key.span(),
                    other,
                    "at the top level",
                    &[
                        "name",
                        "description",
                        "watch",
                        "speed",
                        "view",
                        "playback",
                        "runtime",
                        "channel",
                        "mutex",
                        "task",
                    ],
                ),
            }
        }
        sections
    }

    /// Every `[[task]]` table read, then task names declared twice reported.
    fn read_tasks(&mut self, tables: &[&Value<'_>]) -> Vec<ReadTask> {
        let mut read = Vec::new();
        for t in tables {
            if let Some(task) = self.task(t) {
                read.push(task);
            }
        }
        let mut names: HashMap<String, Range<usize>> = HashMap::new();
        for t in &read {
            if names
                .insert(t.spec.name.clone(), t.name_span.clone())
                .is_some()
            {
                self.at(
                    t.name_span.clone(),
                    format!(
                        "task `{}` is declared twice; task names must be unique",
                        t.spec.name
                    ),
                );
            }
        }
        read
    }

    /// Reports names declared twice.
    fn check_unique<T: Named>(&mut self, items: &[(T, Range<usize>)], what: &str) {
        let mut seen = std::collections::HashSet::new();
        for (item, span) in items {
            if !seen.insert(item.name()) {
                self.at(
                    span.clone(),
                    format!("{what} `{}` is declared twice", item.name()),
                );
            }
        }
    }

    /// `[runtime]` (or its defaults when there is none). `uses_outside`:
    /// whether some step leaves the runtime, which needs the real clock.
    fn runtime(
        &mut self,
        value: Option<&Value<'_>>,
        uses_outside: bool,
        tasks: &[ReadTask],
    ) -> RuntimeSpec {
        let mut keys = RuntimeKeys {
            flavor: Flavor::CurrentThread,
            workers: None,
            clock: None,
            cpus: None,
            pin_workers: false,
        };
        if let Some(value) = value {
            let DeValue::Table(table) = value.get_ref() else {
                self.at(
                    value.span(),
                    format!(
                        "`runtime` is {}; expected a `[runtime]` table",
                        kind(value.get_ref())
                    ),
                );
                return RuntimeSpec {
                    flavor: keys.flavor,
                    workers: 1,
                    clock: Clock::Virtual,
                    cpus: None,
                    pin_workers: false,
                };
            };
            self.runtime_keys(table, &mut keys);
        }
        let workers = self.workers(keys.flavor, keys.workers);
        let clock = self.clock(keys.flavor, keys.clock, uses_outside, tasks);
        RuntimeSpec {
            flavor: keys.flavor,
            workers,
            clock,
            cpus: keys.cpus,
            pin_workers: keys.pin_workers,
        }
    }

    /// `playback = true` needs the real clock: the virtual one plays at
    /// any pace already.
    fn playback(&mut self, playback: Option<(bool, Range<usize>)>, clock: Clock) -> bool {
        match playback {
            Some((true, span)) if clock == Clock::Virtual => {
                self.at(
                    span,
                    "`playback = true` is for the real clock (the virtual clock plays at any \
                     pace already); expected `clock = \"real\"` in [runtime], or no `playback`"
                        .into(),
                );
                false
            }
            Some((b, _)) => b,
            None => false,
        }
    }

    /// Each key of `[runtime]`, read on its own.
    fn runtime_keys(&mut self, table: &DeTable<'_>, keys: &mut RuntimeKeys) {
        for (key, v) in table.iter() {
            match key.get_ref().as_ref() {
                "flavor" => match self.string(v, "flavor").as_deref() {
                    Some("current_thread") => keys.flavor = Flavor::CurrentThread,
                    Some("multi_thread") => keys.flavor = Flavor::MultiThread,
                    Some(other) => self.at(
                        v.span(),
                        format!("`flavor = \"{other}\"`; expected \"current_thread\" or \"multi_thread\""),
                    ),
                    None => {}
                },
                "workers" => {
                    keys.workers = self
                        .integer(v, "workers", 1..MAX_WORKERS as u64 + 1)
                        .map(|w| (w as usize, v.span()))
                }
                "clock" => match self.string(v, "clock").as_deref() {
                    Some("virtual") => keys.clock = Some((Clock::Virtual, v.span())),
                    Some("real") => keys.clock = Some((Clock::Real, v.span())),
                    Some(other) => self.at(
                        v.span(),
                        format!("`clock = \"{other}\"`; expected \"virtual\" or \"real\""),
                    ),
                    None => {}
                },
                "cpus" => {
                    keys.cpus = self
                        .integer(v, "cpus", 1..MAX_WORKERS as u64 + 1)
                        .map(|c| c as usize)
                }
                "pin_workers" => {
                    keys.pin_workers = self.boolean(v, "pin_workers").unwrap_or_default()
                }
                other => self.unknown_key(
                    key.span(),
                    other,
                    "in [runtime]",
                    &["flavor", "workers", "clock", "cpus", "pin_workers"],
                ),
            }
        }
    }

    /// The worker count: `workers` on multi_thread (2 when unsaid), always
    /// 1 on current_thread.
    fn workers(&mut self, flavor: Flavor, workers: Option<(usize, Range<usize>)>) -> usize {
        match (flavor, workers) {
            (Flavor::CurrentThread, Some((w, span))) if w != 1 => {
                self.at(
                    span,
                    format!("`workers = {w}` needs flavor = \"multi_thread\"; a current_thread runtime has one worker"),
                );
                1
            }
            (Flavor::CurrentThread, _) => 1,
            (Flavor::MultiThread, Some((w, _))) => w,
            (Flavor::MultiThread, None) => 2,
        }
    }

    /// The clock: virtual only where tokio can pause time and no step
    /// leaves the runtime; when unsaid, whichever of the two fits.
    fn clock(
        &mut self,
        flavor: Flavor,
        clock: Option<(Clock, Range<usize>)>,
        uses_outside: bool,
        tasks: &[ReadTask],
    ) -> Clock {
        match clock {
            Some((Clock::Virtual, span)) => {
                if flavor == Flavor::MultiThread {
                    self.at(
                        span.clone(),
                        "`clock = \"virtual\"` needs flavor = \"current_thread\" (tokio can pause time only there); expected clock = \"real\"".into(),
                    );
                }
                if uses_outside {
                    let step = tasks
                        .iter()
                        .flat_map(|t| t.spec.steps.iter().zip(&t.step_spans))
                        .find(|(s, _)| s.action.leaves_runtime())
                        .map(|(_, span)| span.clone())
                        .unwrap_or(span);
                    self.at(
                        step,
                        "spawn_blocking, thread and process steps take real time, so they need clock = \"real\" in [runtime]".into(),
                    );
                }
                Clock::Virtual
            }
            Some((Clock::Real, _)) => Clock::Real,
            None if flavor == Flavor::MultiThread || uses_outside => Clock::Real,
            None => Clock::Virtual,
        }
    }

    fn channel(&mut self, value: &Value<'_>) -> Option<(ChannelSpec, Range<usize>)> {
        let table = Self::table_of(value);
        let mut name = None;
        let mut capacity = 1;
        for (key, v) in table.iter() {
            match key.get_ref().as_ref() {
                "name" => name = self.text(v, "name").map(|n| (n, v.span())),
                "capacity" => {
                    capacity = self.integer(v, "capacity", 1..1_000_001).unwrap_or(1) as usize
                }
                other => {
                    self.unknown_key(key.span(), other, "in [[channel]]", &["name", "capacity"])
                }
            }
        }
        match name {
            Some((name, span)) => Some((ChannelSpec { name, capacity }, span)),
            None => {
                self.at(value.span(), "this [[channel]] has no `name`".into());
                None
            }
        }
    }

    fn mutex(&mut self, value: &Value<'_>) -> Option<(String, Range<usize>)> {
        let table = Self::table_of(value);
        let mut name = None;
        for (key, v) in table.iter() {
            match key.get_ref().as_ref() {
                "name" => name = self.text(v, "name").map(|n| (n, v.span())),
                other => self.unknown_key(key.span(), other, "in [[mutex]]", &["name"]),
            }
        }
        if name.is_none() {
            self.at(value.span(), "this [[mutex]] has no `name`".into());
        }
        name
    }

    fn task(&mut self, value: &Value<'_>) -> Option<ReadTask> {
        let table = Self::table_of(value);
        let mut name = None;
        let mut autostart = true;
        let mut count = 1;
        let mut count_span = value.span();
        let mut steps_value = None;
        for (key, v) in table.iter() {
            match key.get_ref().as_ref() {
                "name" => name = self.text(v, "name").map(|n| (n, v.span())),
                "autostart" => autostart = self.boolean(v, "autostart").unwrap_or(true),
                "count" => {
                    count_span = v.span();
                    count = self.integer(v, "count", 1..MAX_TASKS + 1).unwrap_or(1) as u32;
                }
                "steps" => steps_value = Some(v),
                other => self.unknown_key(
                    key.span(),
                    other,
                    "in [[task]]",
                    &["name", "autostart", "count", "steps"],
                ),
            }
        }
        let Some((name, name_span)) = name else {
            self.at(value.span(), "this [[task]] has no `name`".into());
            return None;
        };
        // Any characters: every output shows a name through the sanitizer.
        if name.trim().is_empty() || name.chars().count() > 64 {
            self.at(
                name_span.clone(),
                format!(
                    "task name {name:?} is not usable; expected 1 to 64 characters, not all blank"
                ),
            );
        }
        let mut task = ReadTask {
            spec: TaskSpec {
                name,
                autostart,
                count,
                steps: Vec::new(),
            },
            name_span,
            count_span,
            step_spans: Vec::new(),
            multiplicity: Vec::new(),
            refs: Vec::new(),
        };
        match steps_value {
            Some(v) => self.steps(v, &mut task, 0, 1),
            None => self.at(
                task.name_span.clone(),
                format!(
                    "task `{}` has no `steps`; expected `steps = [ {{ sleep = \"1s\" }} ]`",
                    task.spec.name
                ),
            ),
        }
        Some(task)
    }
}

trait Named {
    fn name(&self) -> &str;
}

impl Named for ChannelSpec {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for String {
    fn name(&self) -> &str {
        self
    }
}
