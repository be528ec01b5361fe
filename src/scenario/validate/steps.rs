//! A task's `steps = [ ... ]`: each step is an inline table with exactly
//! one action (and a `note`, `yield_every` for `cpu`, `steps` for
//! `repeat`), flattened into the task in file order. Names used by steps
//! wait in `NameRef`s until every name is known.

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::diagnostic::{closest, kind};
use super::{Checker, NameRef, ReadTask, RefKind, Value};
use crate::scenario::{Action, MAX_POLLS, MAX_REPEAT_DEPTH, Step};

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

/// A step's action key and its value.
type ActionKey<'v, 'i> = (&'v Spanned<DeString<'i>>, &'v Value<'i>);

impl Checker<'_> {
    pub(super) fn steps(
        &mut self,
        value: &Value<'_>,
        task: &mut ReadTask,
        depth: usize,
        mult: u64,
    ) {
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

    /// One step, pushed onto `task` if it is sound. `depth`: how many
    /// repeats enclose it; `mult`: the product of their counts.
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
        let Some(note) = self.step_note(table) else {
            return;
        };
        let Some((key, v)) = self.step_action(value, table) else {
            return;
        };
        let k = key.get_ref().as_ref();
        if !self.extras_fit(table, k) {
            return;
        }
        if k == "repeat" {
            self.repeat(value, table, task, depth, mult, note);
            return;
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
            "cpu" => self.cpu(v, table),
            "yield" => self.yield_step(v),
            "fail" => self.text(v, k).map(Action::Fail),
            "spawn" | "join" | "send" | "recv" | "lock" | "unlock" => {
                pending_ref = self.name_ref(v, k, index);
                // A placeholder until `resolve` knows every name.
                pending_ref.as_ref().map(|_| Action::Yield)
            }
            _ => unreachable!("filtered to known actions"),
        };
        let Some(action) = action else { return };
        task.refs.extend(pending_ref);
        task.spec.steps.push(Step { action, note });
        task.step_spans.push(v.span());
        task.multiplicity.push(mult);
    }

    /// The step's `note`, read while looking for keys no step has. None
    /// when one was found and reported (the step is refused).
    fn step_note(&mut self, table: &DeTable<'_>) -> Option<Option<String>> {
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
                    return None;
                }
            }
        }
        Some(note)
    }

    /// The step's one action; none or two are reported.
    fn step_action<'v, 'i>(
        &mut self,
        value: &Value<'_>,
        table: &'v DeTable<'i>,
    ) -> Option<ActionKey<'v, 'i>> {
        let actions: Vec<_> = table
            .iter()
            .filter(|(k, _)| ACTIONS.contains(&k.get_ref().as_ref()))
            .collect();
        match actions.as_slice() {
            [one] => Some(*one),
            [] => {
                self.at(
                    value.span(),
                    format!(
                        "this step has no action; expected one of: {}",
                        ACTIONS.join(", ")
                    ),
                );
                None
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
                None
            }
        }
    }

    /// Whether `yield_every` and `steps` appear only beside the action
    /// they belong to (`cpu` and `repeat`); the first misplaced is reported.
    fn extras_fit(&mut self, table: &DeTable<'_>, k: &str) -> bool {
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
                return false;
            }
        }
        true
    }

    /// `cpu = "..."`, with its `yield_every` if it has one.
    fn cpu(&mut self, v: &Value<'_>, table: &DeTable<'_>) -> Option<Action> {
        let work = self.duration(v, "cpu");
        let yield_every = match table.get("yield_every") {
            Some(e) => match self.duration(e, "yield_every") {
                Some(d) if d.is_zero() => {
                    self.at(e.span(), "`yield_every` must be longer than 0".into());
                    return None;
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

    /// `yield = true` (false would do nothing, so it is refused).
    fn yield_step(&mut self, v: &Value<'_>) -> Option<Action> {
        match self.boolean(v, "yield") {
            Some(true) => Some(Action::Yield),
            Some(false) => {
                self.at(
                    v.span(),
                    "`yield = false` does nothing; expected `yield = true`".into(),
                );
                None
            }
            None => None,
        }
    }

    /// The task, channel or mutex a `spawn`, `join`, `send`, `recv`, `lock`
    /// or `unlock` step names, for step `index`.
    fn name_ref(&mut self, v: &Value<'_>, k: &str, index: usize) -> Option<NameRef> {
        let kind = match k {
            "spawn" => RefKind::Spawn,
            "join" => RefKind::Join,
            "send" => RefKind::Send,
            "recv" => RefKind::Recv,
            "lock" => RefKind::Lock,
            _ => RefKind::Unlock,
        };
        self.string(v, k).map(|name| NameRef {
            step: index,
            kind,
            name,
            span: v.span(),
        })
    }

    /// `repeat = n, steps = [ ... ]`: the repeat step, then its body
    /// flattened after it, `n` times as many.
    fn repeat(
        &mut self,
        value: &Value<'_>,
        table: &DeTable<'_>,
        task: &mut ReadTask,
        depth: usize,
        mult: u64,
        note: Option<String>,
    ) {
        let (key, v) = table
            .get_key_value("repeat")
            .expect("the step's action is repeat");
        if depth >= MAX_REPEAT_DEPTH {
            self.at(
                key.span(),
                format!("repeat is nested too deep ({} levels); at most {MAX_REPEAT_DEPTH} levels are allowed", depth + 1),
            );
            return;
        }
        let Some(times) = self.integer(v, "repeat", 1..MAX_POLLS + 1) else {
            return;
        };
        let Some(body) = table.get("steps") else {
            self.at(
                key.span(),
                "`repeat` needs its own `steps = [ ... ]` to repeat".into(),
            );
            return;
        };
        let index = task.spec.steps.len();
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
    }
}
