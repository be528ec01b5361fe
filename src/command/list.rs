//! `taskscope list`: the bundled lessons, a line each (or JSON).

use super::{out, print_json};
use crate::Error;
use crate::scenario::{Scenario, bundled};
use crate::text;

pub(super) fn list(as_json: bool) -> Result<u8, Error> {
    let scenarios: Vec<Scenario> = bundled::all()
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Failed(format!("a bundled scenario is broken: {e}")))?;
    if as_json {
        let items: Vec<_> = scenarios
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "description": s.description,
                    "flavor": s.runtime.flavor.as_str(),
                    "workers": s.runtime.workers,
                    "clock": s.runtime.clock.as_str(),
                    "tasks": s.tasks.iter().map(|t| u64::from(t.count)).sum::<u64>(),
                })
            })
            .collect();
        print_json(&items)?;
    } else {
        let width = scenarios
            .iter()
            .map(|s| text::width(&s.name))
            .max()
            .unwrap_or(0);
        let mut lines = String::new();
        for s in &scenarios {
            lines.push_str(&format!(
                "{}  {}\n",
                text::cell(&s.name, width),
                text::one_line(&s.description)
            ));
        }
        out(&lines)?;
    }
    Ok(0)
}
