//! TOML text -> checked [`Scenario`], with every problem located at
//! `file:line:col` and saying what was found and what was expected.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{
    Action, ChannelSpec, Clock, Flavor, MAX_POLLS, MAX_REPEAT_DEPTH, MAX_STEP_DURATION, MAX_TASKS,
    MAX_TEXT, MAX_WORKERS, RuntimeSpec, Scenario, Step, TaskSpec, parse_duration,
};

mod graph;
mod scale;

use super::MAX_FILE_BYTES;
/// Most problems reported for one file.
const MAX_DIAGNOSTICS: usize = 20;

const ACTIONS: &[&str] = &[
    "sleep",
    "io",
    "cpu",
    "block",
    "yield",
    "spawn_blocking",
    "thread",
    "process",
    "spawn",
    "join",
    "send",
    "recv",
    "lock",
    "unlock",
    "fail",
    "repeat",
];

/// One problem, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Everything wrong with one scenario file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ScenarioError {
    /// The path or bundled name the text came from.
    pub origin: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}",
                crate::text::visible(&self.origin),
                d.line,
                d.col,
                crate::text::visible(&d.message)
            )?;
        }
        Ok(())
    }
}

/// Parses and validates a scenario file's bytes.
pub fn parse(origin: &str, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
    let fail = |line, col, message: String| ScenarioError {
        origin: origin.to_string(),
        diagnostics: vec![Diagnostic { line, col, message }],
    };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(fail(
            1,
            1,
            format!(
                "the file is larger than {MAX_FILE_BYTES} bytes, the most a scenario file may be"
            ),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let (line, col) = line_col(&String::from_utf8_lossy(bytes), e.valid_up_to());
            return Err(fail(
                line,
                col,
                format!(
                    "found a byte that is not UTF-8 text (0x{:02x}); expected a TOML text file",
                    bytes[e.valid_up_to()]
                ),
            ));
        }
    };
    if let Some(at) = text.find('\0') {
        let (line, col) = line_col(text, at);
        return Err(fail(
            line,
            col,
            "found a NUL byte, so this looks like a binary file; expected a TOML text file".into(),
        ));
    }
    if text.trim().is_empty() {
        return Err(fail(
            1,
            1,
            "the file is empty; expected a scenario: `name = \"...\"`, `description`, \
             `[runtime]` and at least one `[[task]]`"
                .into(),
        ));
    }
    let table = match DeTable::parse(text) {
        Ok(table) => table,
        Err(e) => {
            let (line, col) = line_col(text, e.span().map_or(0, |s| s.start));
            return Err(fail(
                line,
                col,
                format!("this is not valid TOML: {}", e.message().trim()),
            ));
        }
    };
    let mut checker = Checker {
        text,
        diagnostics: Vec::new(),
    };
    let scenario = checker.scenario(table.get_ref());
    match scenario {
        Some(s) if checker.diagnostics.is_empty() => Ok(s),
        _ => {
            checker.diagnostics.truncate(MAX_DIAGNOSTICS);
            if checker.diagnostics.is_empty() {
                checker.at(0..0, "the scenario is incomplete".into());
            }
            Err(ScenarioError {
                origin: origin.to_string(),
                diagnostics: checker.diagnostics,
            })
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

type Value<'i> = Spanned<DeValue<'i>>;

/// A name used by a step before all names are known.
struct NameRef {
    step: usize,
    kind: RefKind,
    name: String,
    span: Range<usize>,
}

#[derive(Clone, Copy, PartialEq)]
enum RefKind {
    Spawn,
    Join,
    Send,
    Recv,
    Lock,
    Unlock,
}

struct Checker<'t> {
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
}

/// A task as read, before cross-task checks.
struct ReadTask {
    spec: TaskSpec,
    name_span: Range<usize>,
    count_span: Range<usize>,
    /// Span of each flattened step.
    step_spans: Vec<Range<usize>>,
    /// Product of enclosing repeat counts, per flattened step.
    multiplicity: Vec<u64>,
    /// Names used by steps, resolved once every name is known.
    refs: Vec<NameRef>,
}

impl<'t> Checker<'t> {
    /// Whether as many problems are found as one report shows.
    fn full(&self) -> bool {
        self.diagnostics.len() >= MAX_DIAGNOSTICS
    }

    fn at(&mut self, span: Range<usize>, message: String) {
        // Locating costs a scan of the text: only the problems shown are.
        if self.full() {
            return;
        }
        let (line, col) = line_col(self.text, span.start);
        self.diagnostics.push(Diagnostic { line, col, message });
    }

    fn scenario(&mut self, top: &DeTable<'_>) -> Option<Scenario> {
        let mut name = None;
        let mut description = String::new();
        let mut watch = String::new();
        let mut speed = None;
        let mut runtime_table = None;
        let mut channels = Vec::new();
        let mut mutexes = Vec::new();
        let mut tasks = Vec::new();
        for (key, value) in top.iter() {
            match key.get_ref().as_ref() {
                "name" => name = self.text(value, "name").map(|n| (n, value.span())),
                "description" => {
                    description = self.string(value, "description").unwrap_or_default()
                }
                "watch" => watch = self.text(value, "watch").unwrap_or_default(),
                "speed" => speed = self.speed(value),
                "runtime" => runtime_table = Some(value),
                "channel" => {
                    for t in self.tables(value, "channel") {
                        if let Some(c) = self.channel(t) {
                            channels.push(c);
                        }
                    }
                }
                "mutex" => {
                    for t in self.tables(value, "mutex") {
                        if let Some(m) = self.mutex(t) {
                            mutexes.push(m);
                        }
                    }
                }
                "task" => tasks = self.tables(value, "task"),
                other => self.unknown_key(
                    key.span(),
                    other,
                    "at the top level",
                    &[
                        "name",
                        "description",
                        "watch",
                        "speed",
                        "runtime",
                        "channel",
                        "mutex",
                        "task",
                    ],
                ),
            }
        }
        let (name, name_span) = match name {
            Some((n, span)) => (n, span),
            None => {
                self.at(
                    0..0,
                    "missing `name = \"...\"`: every scenario has a name".into(),
                );
                (String::new(), 0..0)
            }
        };
        if tasks.is_empty() && top.get("task").is_none() {
            self.at(
                name_span,
                "no `[[task]]` tables; expected at least one task with `name` and `steps`".into(),
            );
        }
        self.check_unique(&channels, "channel");
        self.check_unique(&mutexes, "mutex");

        let mut read = Vec::new();
        for t in &tasks {
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
        let uses_outside = read.iter().any(|t| t.spec.leaves_runtime());
        let runtime = self.runtime(runtime_table, uses_outside, &read);
        let mut scenario = Scenario {
            name,
            description: description.trim().to_string(),
            watch: watch.split_whitespace().collect::<Vec<_>>().join(" "),
            speed,
            runtime,
            channels: channels.into_iter().map(|(c, _)| c).collect(),
            mutexes: mutexes.into_iter().map(|(m, _)| m).collect(),
            tasks: Vec::new(),
        };
        self.resolve(&mut read, &scenario);
        self.check_graph(&read);
        self.check_locks(&read);
        // A slow-motion lesson on the real clock stretches every duration.
        let stretch = match (scenario.runtime.clock, scenario.speed) {
            (Clock::Real, Some(speed)) if speed < 1.0 => 1.0 / speed,
            _ => 1.0,
        };
        self.check_scale(&read, stretch);
        scenario.tasks = read.into_iter().map(|t| t.spec).collect();
        Some(scenario)
    }

    fn unknown_key(&mut self, span: Range<usize>, key: &str, place: &str, expected: &[&str]) {
        self.at(
            span,
            format!(
                "unknown key `{key}` {place}; expected one of: {}",
                expected.join(", ")
            ),
        );
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

    fn string(&mut self, value: &Value<'_>, key: &str) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.at(
                    value.span(),
                    format!("`{key}` is {}; expected a string", kind(other)),
                );
                None
            }
        }
    }

    /// A string shown to people (a note, a message, a name): at most
    /// [`MAX_TEXT`] characters.
    fn text(&mut self, value: &Value<'_>, key: &str) -> Option<String> {
        let s = self.string(value, key)?;
        let chars = s.chars().count();
        if chars > MAX_TEXT {
            self.at(
                value.span(),
                format!("`{key}` is {chars} characters long; expected at most {MAX_TEXT}"),
            );
            return None;
        }
        Some(s)
    }

    fn integer(&mut self, value: &Value<'_>, key: &str, range: Range<u64>) -> Option<u64> {
        let found = match value.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            other => {
                self.at(
                    value.span(),
                    format!("`{key}` is {}; expected a whole number", kind(other)),
                );
                return None;
            }
        };
        match found {
            Some(n) if n >= range.start as i64 && (n as u64) < range.end => Some(n as u64),
            _ => {
                self.at(
                    value.span(),
                    format!(
                        "`{key}` is {}; expected a whole number from {} to {}",
                        value.get_ref().as_integer().map_or("?", |i| i.as_str()),
                        range.start,
                        range.end - 1
                    ),
                );
                None
            }
        }
    }

    /// The pace a lesson opens at on screen: a number from 0.01 to 100.
    fn speed(&mut self, value: &Value<'_>) -> Option<f64> {
        let found = match value.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => i.as_str().replace('_', "").parse::<f64>().ok(),
            other => {
                self.at(
                    value.span(),
                    format!(
                        "`speed` is {}; expected a number from 0.01 to 100",
                        kind(other)
                    ),
                );
                return None;
            }
        };
        match found {
            Some(v) if crate::scenario::SPEEDS.contains(&v) => Some(v),
            _ => {
                self.at(
                    value.span(),
                    "`speed` is out of range; expected a number from 0.01 (slow motion) to 100"
                        .into(),
                );
                None
            }
        }
    }

    fn boolean(&mut self, value: &Value<'_>, key: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.at(
                    value.span(),
                    format!("`{key}` is {}; expected true or false", kind(other)),
                );
                None
            }
        }
    }

    fn duration(&mut self, value: &Value<'_>, key: &str) -> Option<Duration> {
        let text = self.string(value, key)?;
        match parse_duration(&text) {
            Ok(d) if d <= MAX_STEP_DURATION => Some(d),
            Ok(_) => {
                self.at(
                    value.span(),
                    format!("`{key} = \"{text}\"` is too long; a step may last at most 1h"),
                );
                None
            }
            Err(why) => {
                self.at(
                    value.span(),
                    format!(
                        "`{key} = \"{text}\"` is not a duration ({why}); expected e.g. \"300ms\" or \"2s\""
                    ),
                );
                None
            }
        }
    }

    /// The tables of `[[key]]`.
    fn tables<'v, 'i>(&mut self, value: &'v Value<'i>, key: &str) -> Vec<&'v Spanned<DeValue<'i>>> {
        match value.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    if matches!(item.get_ref(), DeValue::Table(_)) {
                        out.push(item);
                    } else {
                        self.at(
                            item.span(),
                            format!(
                                "`{key}` holds {}; expected `[[{key}]]` tables",
                                kind(item.get_ref())
                            ),
                        );
                    }
                }
                out
            }
            other => {
                self.at(
                    value.span(),
                    format!("`{key}` is {}; expected `[[{key}]]` tables", kind(other)),
                );
                Vec::new()
            }
        }
    }

    fn table_of<'v, 'i>(value: &'v Value<'i>) -> &'v DeTable<'i> {
        match value.get_ref() {
            DeValue::Table(t) => t,
            _ => unreachable!("tables() only returns tables"),
        }
    }

    fn runtime(
        &mut self,
        value: Option<&Value<'_>>,
        uses_outside: bool,
        tasks: &[ReadTask],
    ) -> RuntimeSpec {
        let mut flavor = Flavor::CurrentThread;
        let mut workers = None;
        let mut clock = None;
        let mut cpus = None;
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
                    flavor,
                    workers: 1,
                    clock: Clock::Virtual,
                    cpus: None,
                };
            };
            for (key, v) in table.iter() {
                match key.get_ref().as_ref() {
                    "flavor" => match self.string(v, "flavor").as_deref() {
                        Some("current_thread") => flavor = Flavor::CurrentThread,
                        Some("multi_thread") => flavor = Flavor::MultiThread,
                        Some(other) => self.at(
                            v.span(),
                            format!("`flavor = \"{other}\"`; expected \"current_thread\" or \"multi_thread\""),
                        ),
                        None => {}
                    },
                    "workers" => {
                        workers = self
                            .integer(v, "workers", 1..MAX_WORKERS as u64 + 1)
                            .map(|w| (w as usize, v.span()))
                    }
                    "clock" => match self.string(v, "clock").as_deref() {
                        Some("virtual") => clock = Some((Clock::Virtual, v.span())),
                        Some("real") => clock = Some((Clock::Real, v.span())),
                        Some(other) => self.at(
                            v.span(),
                            format!("`clock = \"{other}\"`; expected \"virtual\" or \"real\""),
                        ),
                        None => {}
                    },
                    "cpus" => {
                        cpus = self
                            .integer(v, "cpus", 1..MAX_WORKERS as u64 + 1)
                            .map(|c| c as usize)
                    }
                    other => self.unknown_key(
                        key.span(),
                        other,
                        "in [runtime]",
                        &["flavor", "workers", "clock", "cpus"],
                    ),
                }
            }
        }
        let workers = match (flavor, workers) {
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
        };
        let clock = match clock {
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
        };
        RuntimeSpec {
            flavor,
            workers,
            clock,
            cpus,
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

    fn steps(&mut self, value: &Value<'_>, task: &mut ReadTask, depth: usize, mult: u64) {
        let DeValue::Array(items) = value.get_ref() else {
            self.at(
                value.span(),
                format!(
                    "`steps` is {}; expected a list of steps like [ {{ sleep = \"1s\" }} ]",
                    kind(value.get_ref())
                ),
            );
            return;
        };
        for item in items.iter() {
            self.step(item, task, depth, mult);
        }
    }

    fn step(&mut self, value: &Value<'_>, task: &mut ReadTask, depth: usize, mult: u64) {
        let DeValue::Table(table) = value.get_ref() else {
            self.at(
                value.span(),
                format!(
                    "a step is {}; expected an inline table like {{ sleep = \"1s\" }}",
                    kind(value.get_ref())
                ),
            );
            return;
        };
        let actions: Vec<_> = table
            .iter()
            .filter(|(k, _)| ACTIONS.contains(&k.get_ref().as_ref()))
            .collect();
        let mut note = None;
        for (key, v) in table.iter() {
            let k = key.get_ref().as_ref();
            match k {
                "note" => note = self.text(v, "note"),
                "yield_every" | "steps" => {}
                _ if ACTIONS.contains(&k) => {}
                other => {
                    let hint = closest(other, ACTIONS)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    self.at(
                        key.span(),
                        format!(
                            "unknown step `{other}`{hint}; expected one of: {}",
                            ACTIONS.join(", ")
                        ),
                    );
                    return;
                }
            }
        }
        let (key, v) = match actions.as_slice() {
            [one] => *one,
            [] => {
                self.at(
                    value.span(),
                    format!(
                        "this step has no action; expected one of: {}",
                        ACTIONS.join(", ")
                    ),
                );
                return;
            }
            [..] => {
                let names: Vec<_> = actions.iter().map(|(k, _)| k.get_ref().as_ref()).collect();
                let last = actions
                    .iter()
                    .map(|(k, _)| k.span())
                    .max_by_key(|s| s.start)
                    .expect("two or more");
                self.at(
                    last,
                    format!(
                        "a step has exactly one action, this one has {}: {}; split it into separate steps",
                        names.len(),
                        names.join(", ")
                    ),
                );
                return;
            }
        };
        let k = key.get_ref().as_ref();
        for extra in ["yield_every", "steps"] {
            let allowed =
                (extra == "yield_every" && k == "cpu") || (extra == "steps" && k == "repeat");
            if let Some((ek, _)) = table.get_key_value(extra)
                && !allowed
            {
                self.at(
                    ek.span(),
                    format!(
                        "`{extra}` does not go with `{k}`; it belongs to `{}`",
                        if extra == "steps" { "repeat" } else { "cpu" }
                    ),
                );
                return;
            }
        }
        let index = task.spec.steps.len();
        let mut pending_ref = None;
        let action = match k {
            "sleep" => self.duration(v, k).map(Action::Sleep),
            "io" => self.duration(v, k).map(Action::Io),
            "block" => self.duration(v, k).map(Action::Block),
            "spawn_blocking" => self.duration(v, k).map(Action::SpawnBlocking),
            "thread" => self.duration(v, k).map(Action::Thread),
            "process" => self.duration(v, k).map(Action::Process),
            "cpu" => {
                let work = self.duration(v, k);
                let yield_every = match table.get("yield_every") {
                    Some(e) => match self.duration(e, "yield_every") {
                        Some(d) if d.is_zero() => {
                            self.at(e.span(), "`yield_every` must be longer than 0".into());
                            return;
                        }
                        Some(d) => Some(Some(d)),
                        None => None,
                    },
                    None => Some(None),
                };
                match (work, yield_every) {
                    (Some(work), Some(yield_every)) => Some(Action::Cpu { work, yield_every }),
                    _ => None,
                }
            }
            "yield" => match self.boolean(v, k) {
                Some(true) => Some(Action::Yield),
                Some(false) => {
                    self.at(
                        v.span(),
                        "`yield = false` does nothing; expected `yield = true`".into(),
                    );
                    None
                }
                None => None,
            },
            "fail" => self.text(v, k).map(Action::Fail),
            "spawn" | "join" | "send" | "recv" | "lock" | "unlock" => {
                let kind = match k {
                    "spawn" => RefKind::Spawn,
                    "join" => RefKind::Join,
                    "send" => RefKind::Send,
                    "recv" => RefKind::Recv,
                    "lock" => RefKind::Lock,
                    _ => RefKind::Unlock,
                };
                pending_ref = self.string(v, k).map(|name| NameRef {
                    step: index,
                    kind,
                    name,
                    span: v.span(),
                });
                // A placeholder until `resolve` knows every name.
                pending_ref.as_ref().map(|_| Action::Yield)
            }
            "repeat" => {
                if depth >= MAX_REPEAT_DEPTH {
                    self.at(
                        key.span(),
                        format!("repeat is nested too deep ({} levels); at most {MAX_REPEAT_DEPTH} levels are allowed", depth + 1),
                    );
                    return;
                }
                let Some(times) = self.integer(v, k, 1..MAX_POLLS + 1) else {
                    return;
                };
                let Some(body) = table.get("steps") else {
                    self.at(
                        key.span(),
                        "`repeat` needs its own `steps = [ ... ]` to repeat".into(),
                    );
                    return;
                };
                task.spec.steps.push(Step {
                    action: Action::Repeat {
                        times: times as u32,
                        len: 0,
                    },
                    note,
                });
                task.step_spans.push(value.span());
                task.multiplicity.push(mult);
                self.steps(body, task, depth + 1, mult.saturating_mul(times));
                let len = task.spec.steps.len() - index - 1;
                task.spec.steps[index].action = Action::Repeat {
                    times: times as u32,
                    len,
                };
                return;
            }
            _ => unreachable!("filtered to known actions"),
        };
        let Some(action) = action else { return };
        task.refs.extend(pending_ref);
        task.spec.steps.push(Step { action, note });
        task.step_spans.push(v.span());
        task.multiplicity.push(mult);
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

fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

/// The known word closest to a typo, if one is close.
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
