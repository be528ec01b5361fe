//! The lessons shipped inside the binary (every `scenarios/*.toml`).

use super::{Scenario, ScenarioError, parse};

/// `(name, TOML text)` of every bundled scenario, sorted by name.
pub const ALL: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The scenario `taskscope` runs with no arguments and no terminal.
pub const DEFAULT: &str = "breakfast-concurrent";

/// The bundled scenario called `name`, parsed.
pub fn get(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    ALL.iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| parse(&format!("{n} (bundled)"), text.as_bytes()))
}

/// The order a learner meets the lessons in (the picker's and `list`'s);
/// any other bundled scenario follows, by name.
const LESSON_ORDER: &[&str] = &[
    "breakfast-sequential",
    "breakfast-concurrent",
    "create-task",
    "io-vs-cpu",
    "greedy-cpu",
    "cooperative-yields",
    "preemption",
    "blocking-the-loop",
    "spawn-blocking-rescue",
    "breakfast-threads",
    "breakfast-processes",
    "work-stealing",
    "mutex-contention",
    "channel-pipeline",
    "panic-in-task",
    "many-tasks",
    "scale-100k",
];

/// Every bundled scenario, parsed, in lesson order; a bundled file that
/// fails to parse is a bug.
pub fn all() -> impl Iterator<Item = Result<Scenario, ScenarioError>> {
    let mut files: Vec<&(&str, &str)> = ALL.iter().collect();
    files.sort_by_key(|(n, _)| {
        LESSON_ORDER
            .iter()
            .position(|l| l == n)
            .unwrap_or(usize::MAX)
    });
    files
        .into_iter()
        .map(|(n, text)| parse(&format!("{n} (bundled)"), text.as_bytes()))
}
