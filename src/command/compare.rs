//! `taskscope compare`: several scenarios run one after another, their
//! times side by side (the talk's table, measured).

use std::sync::Arc;

use super::{json, load, out};
use crate::Error;
use crate::runtime::RunOptions;

pub(super) fn compare(args: &[String], as_json: bool) -> Result<u8, Error> {
    let names: Vec<String> = args
        .iter()
        .flat_map(|a| crate::compare::expand(a))
        .collect();
    let scenarios = names
        .iter()
        .map(|n| load(n).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = crate::compare::measure(&scenarios, &RunOptions::default())?;
    if as_json {
        out(&json(&serde_json::json!({ "rows": rows }))?)?;
    } else {
        out(&crate::compare::table(&rows))?;
    }
    Ok(0)
}
