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

/// Every bundled scenario, parsed; a bundled file that fails to parse is a bug.
pub fn all() -> impl Iterator<Item = Result<Scenario, ScenarioError>> {
    ALL.iter()
        .map(|(n, text)| parse(&format!("{n} (bundled)"), text.as_bytes()))
}
