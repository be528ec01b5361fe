//! `taskscope compare`: several scenarios run one after another, their
//! times side by side (the talk's table, measured).

use super::{load, out, print_json, say};
use crate::Error;
use crate::error::EXIT_FAILED;
use crate::runtime::RunOptions;

pub(super) fn compare(args: &[String], as_json: bool) -> Result<u8, Error> {
    let names: Vec<String> = args
        .iter()
        .flat_map(|a| crate::compare::expand(a))
        .collect();
    // Every argument checked before anything runs (one at a time in
    // memory: each is read again when its turn comes).
    for n in &names {
        drop(load(n)?);
    }
    let signals = crate::process::watch_signals(Vec::new(), false);
    let rows = crate::compare::measure(&names, load, &RunOptions::default(), Some(&signals.stop))?;
    if as_json {
        print_json(&serde_json::json!({ "rows": rows }))?;
    } else {
        out(&crate::compare::table(&rows))?;
    }
    let signal = signals.stop.load(std::sync::atomic::Ordering::Relaxed);
    if signal != 0 {
        say(&format!("stopped by signal {signal}"));
        return Ok((128 + signal) as u8);
    }
    if let Some(r) = rows.iter().find(|r| r.ending == "deadlock") {
        say(&format!(
            "{}: its tasks waited forever on each other (a deadlock) and were cancelled",
            crate::text::visible(&r.scenario)
        ));
        return Ok(EXIT_FAILED);
    }
    Ok(0)
}
