//! A task's `steps = [ ... ]`: each step is an inline table with exactly
//! one action (and a `note`, `yield_every` for `cpu`, `steps` for
//! `repeat`), flattened into the task in file order. Names used by steps
//! wait in `NameRef`s until every name is known.

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::diagnostic::{closest, kind, quoted};
use super::{Checker, NameRef, ReadTask, RefKind, Value};
use crate::event::MAX_CPUS;
use crate::scenario::{Action, MAX_POLLS, MAX_REPEAT_DEPTH, Step};

/// Every action a step may have, in the order messages list them.
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
    /// A `steps` list, each step pushed onto `task` in file order.
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
        let on_cpu = match table.get("on_cpu") {
            Some(v) => match self.integer(v, "on_cpu", 0..u64::from(MAX_CPUS)) {
                Some(c) => Some(c as u16),
                None => return,
            },
            None => None,
        };
        task.refs.extend(pending_ref);
        task.spec.steps.push(Step {
            action,
            note,
            on_cpu,
        });
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
                "yield_every" | "steps" | "on_cpu" => {}
                _ if ACTIONS.contains(&k) => {}
                other => {
                    let hint = closest(other, ACTIONS)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    self.at(
                        key.span(),
                        format!(
                            "unknown step `{}`{hint}; expected one of: {}",
                            quoted(other),
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
        for extra in ["yield_every", "steps", "on_cpu"] {
            let allowed = (extra == "yield_every" && k == "cpu")
                || (extra == "steps" && k == "repeat")
                || (extra == "on_cpu" && matches!(k, "thread" | "process" | "spawn_blocking"));
            if let Some((ek, _)) = table.get_key_value(extra)
                && !allowed
            {
                self.at(
                    ek.span(),
                    format!(
                        "`{extra}` does not go with `{k}`; it belongs to `{}`",
                        match extra {
                            "steps" => "repeat",
                            "on_cpu" => "thread`, `process` or `spawn_blocking",
                            _ => "cpu",
                        }
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
            on_cpu: None,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::scenario::{Action, parse};

    /// Every action a step may have, as the messages list them.
    const ACTION_LIST: &str = "sleep, io, cpu, block, yield, spawn_blocking, thread, \
                               process, spawn, join, send, recv, lock, unlock, fail, repeat";

    /// A scenario with channel `c`, mutex `m`, task `b` (index 0) and task
    /// `a` (index 1), whose `steps = [ STEPS ]` is line 13 with its first
    /// step at column 11.
    fn scenario(steps: &str) -> String {
        format!(
            "name = \"t\"\n[runtime]\nclock = \"real\"\n\
             [[channel]]\nname = \"c\"\n[[mutex]]\nname = \"m\"\n\
             [[task]]\nname = \"b\"\nsteps = [ {{ yield = true }} ]\n\
             [[task]]\nname = \"a\"\nsteps = [ {steps} ]\n"
        )
    }

    /// Task `a`'s flattened actions, the scenario being accepted.
    fn accepted(steps: &str) -> Vec<Action> {
        match parse("t.toml", scenario(steps).as_bytes()) {
            Ok(s) => s.tasks[1].steps.iter().map(|s| s.action.clone()).collect(),
            Err(e) => panic!("`{steps}` was refused:\n{e}"),
        }
    }

    /// The one problem found, as `line:col: message`.
    fn refused(steps: &str) -> String {
        let e = match parse("t.toml", scenario(steps).as_bytes()) {
            Ok(_) => panic!("`{steps}` was accepted"),
            Err(e) => e,
        };
        assert_eq!(e.diagnostics.len(), 1, "{e}");
        let d = &e.diagnostics[0];
        format!("{}:{}: {}", d.line, d.col, d.message)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn each_timed_action_is_read_with_its_duration() {
        let _limit = crate::test_limit::limit();
        assert_eq!(accepted(r#"{ sleep = "300ms" }"#), [Action::Sleep(ms(300))]);
        assert_eq!(accepted(r#"{ io = "5ms" }"#), [Action::Io(ms(5))]);
        assert_eq!(accepted(r#"{ block = "2s" }"#), [Action::Block(ms(2000))]);
        assert_eq!(
            accepted(r#"{ spawn_blocking = "1ms" }"#),
            [Action::SpawnBlocking(ms(1))]
        );
        assert_eq!(accepted(r#"{ thread = "7ms" }"#), [Action::Thread(ms(7))]);
        assert_eq!(accepted(r#"{ process = "8ms" }"#), [Action::Process(ms(8))]);
        // The limit itself is allowed.
        assert_eq!(
            accepted(r#"{ sleep = "60m" }"#),
            [Action::Sleep(ms(3_600_000))]
        );
    }

    #[test]
    fn cpu_is_read_with_and_without_yield_every() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            accepted(r#"{ cpu = "10ms" }"#),
            [Action::Cpu {
                work: ms(10),
                yield_every: None
            }]
        );
        assert_eq!(
            accepted(r#"{ cpu = "10ms", yield_every = "2ms" }"#),
            [Action::Cpu {
                work: ms(10),
                yield_every: Some(ms(2))
            }]
        );
    }

    #[test]
    fn yield_fail_and_a_note_are_read() {
        let _limit = crate::test_limit::limit();
        assert_eq!(accepted("{ yield = true }"), [Action::Yield]);
        assert_eq!(
            accepted(r#"{ fail = "boom" }"#),
            [Action::Fail("boom".into())]
        );
        let s = parse(
            "t.toml",
            scenario(r#"{ sleep = "1s", note = "why" }"#).as_bytes(),
        )
        .unwrap();
        assert_eq!(s.tasks[1].steps[0].note.as_deref(), Some("why"));
    }

    #[test]
    fn names_become_the_index_of_their_task_channel_or_mutex() {
        let _limit = crate::test_limit::limit();
        assert_eq!(accepted(r#"{ spawn = "b" }"#), [Action::Spawn(0)]);
        assert_eq!(accepted(r#"{ join = "b" }"#), [Action::Join(0)]);
        assert_eq!(accepted(r#"{ send = "c" }"#), [Action::Send(0)]);
        assert_eq!(accepted(r#"{ recv = "c" }"#), [Action::Recv(0)]);
        assert_eq!(
            accepted(r#"{ lock = "m" }, { unlock = "m" }"#),
            [Action::Lock(0), Action::Unlock(0)]
        );
    }

    #[test]
    fn repeat_is_followed_by_its_nested_steps_flattened() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            accepted(
                r#"{ repeat = 3, steps = [ { sleep = "1s" }, { repeat = 2, steps = [ { yield = true } ] } ] }, { io = "1ms" }"#
            ),
            [
                Action::Repeat { times: 3, len: 3 },
                Action::Sleep(ms(1000)),
                Action::Repeat { times: 2, len: 1 },
                Action::Yield,
                Action::Io(ms(1)),
            ]
        );
        // The most passes a repeat may make.
        assert_eq!(
            accepted(r#"{ repeat = 10000000, steps = [ { fail = "x" } ] }"#)[0],
            Action::Repeat {
                times: 10_000_000,
                len: 1
            }
        );
    }

    /// `levels` repeats, each the only step of the one around it.
    fn nested_repeats(levels: usize) -> String {
        let open = "{ repeat = 2, steps = [ ".repeat(levels);
        format!("{open}{{ yield = true }}{}", " ] }".repeat(levels))
    }

    #[test]
    fn repeat_may_nest_four_levels_and_no_deeper() {
        let _limit = crate::test_limit::limit();
        assert_eq!(accepted(&nested_repeats(4)).len(), 5);
        // Refused at the fifth `repeat` key: 11 + 4 * 24 + 2.
        assert_eq!(
            refused(&nested_repeats(5)),
            "13:109: repeat is nested too deep (5 levels); at most 4 levels are allowed"
        );
    }

    #[test]
    fn two_actions_in_one_step_are_refused_at_the_second() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            refused(r#"{ sleep = "1s", cpu = "10ms" }"#),
            "13:27: a step has exactly one action, this one has 2: cpu, sleep; \
             split it into separate steps"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_with_a_hint_when_one_is_close() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            refused(r#"{ slep = "1s" }"#),
            format!(
                "13:13: unknown step `slep` (did you mean `sleep`?); expected one of: {ACTION_LIST}"
            )
        );
        assert_eq!(
            refused(r#"{ wander = "1s" }"#),
            format!("13:13: unknown step `wander`; expected one of: {ACTION_LIST}")
        );
    }

    #[test]
    fn a_step_needs_a_table_with_an_action() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            refused(r#"{ note = "hi" }"#),
            format!("13:11: this step has no action; expected one of: {ACTION_LIST}")
        );
        assert_eq!(
            refused(r#""sleep""#),
            r#"13:11: a step is a string; expected an inline table like { sleep = "1s" }"#
        );
        assert_eq!(
            refused(r#"{ sleep = "1s", note = 5 }"#),
            "13:34: `note` is a number; expected a string"
        );
    }

    #[test]
    fn yield_every_and_steps_go_only_with_cpu_and_repeat() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            refused(r#"{ sleep = "1s", yield_every = "10ms" }"#),
            "13:27: `yield_every` does not go with `sleep`; it belongs to `cpu`"
        );
        assert_eq!(
            refused(r#"{ sleep = "1s", steps = [] }"#),
            "13:27: `steps` does not go with `sleep`; it belongs to `repeat`"
        );
        assert_eq!(
            refused("{ repeat = 2 }"),
            "13:13: `repeat` needs its own `steps = [ ... ]` to repeat"
        );
    }

    #[test]
    fn a_bad_duration_is_refused_saying_why() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            refused(r#"{ sleep = "3 parsecs" }"#),
            "13:21: `sleep = \"3 parsecs\"` is not a duration (`parsecs` is not a unit \
             (ns, us, ms, s or m)); expected e.g. \"300ms\" or \"2s\""
        );
        assert_eq!(
            refused("{ sleep = 5 }"),
            "13:21: `sleep` is a number; expected a string"
        );
    }

    #[test]
    fn values_past_their_limits_are_refused() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            refused(r#"{ sleep = "-1s" }"#),
            "13:21: `sleep = \"-1s\"` is not a duration (`-1s` is not a unit \
             (ns, us, ms, s or m)); expected e.g. \"300ms\" or \"2s\""
        );
        assert_eq!(
            refused(r#"{ sleep = "61m" }"#),
            "13:21: `sleep = \"61m\"` is too long; a step may last at most 1h"
        );
        assert_eq!(
            refused(r#"{ cpu = "10ms", yield_every = "0s" }"#),
            "13:41: `yield_every` must be longer than 0"
        );
        // Zero, negative and one past the most passes, each at its value.
        for times in ["0", "-1", "10000001"] {
            assert_eq!(
                refused(&format!(
                    "{{ repeat = {times}, steps = [ {{ yield = true }} ] }}"
                )),
                format!("13:22: `repeat` is {times}; expected a whole number from 1 to 10000000")
            );
        }
        assert_eq!(
            refused("{ yield = false }"),
            "13:21: `yield = false` does nothing; expected `yield = true`"
        );
    }

    #[test]
    fn a_join_of_an_unknown_task_is_refused_naming_the_known_ones() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            refused(r#"{ join = "ghost" }"#),
            "13:20: unknown task `ghost`; expected one of: b, a"
        );
        assert_eq!(
            refused("{ join = 3 }"),
            "13:20: `join` is a number; expected a string"
        );
    }
}
