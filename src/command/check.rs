//! `taskscope check`: a scenario validated, or every problem named with
//! its file:line:col.

use std::io::Write;

use super::{load, out};
use crate::Error;
use crate::text;

pub(super) fn check(args: &[String]) -> Result<u8, Error> {
    let mut failed = None;
    for arg in args {
        match load(arg) {
            Ok(s) => out(&format!(
                "{}: ok ({}, {} task kind{}; {} row{}, about {} polls; memory about {} \
                 headless, {} on screen, {} more with --console)\n",
                text::visible(arg),
                text::visible(&s.name),
                s.tasks.len(),
                plural(s.tasks.len() as u64),
                s.cost.tasks,
                plural(s.cost.tasks),
                s.cost.polls,
                mb(s.cost.headless_bytes()),
                mb(s.cost.dashboard_bytes()),
                mb(s.cost.console_bytes())
            ))?,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "{e}");
                failed = Some(e.exit_code());
            }
        }
    }
    Ok(failed.unwrap_or(0))
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Bytes as people read them: `12 MB`, `1.5 GB`.
fn mb(bytes: u64) -> String {
    let mb = bytes as f64 / (1u64 << 20) as f64;
    if mb >= 1024.0 {
        format!("{:.1} GB", mb / 1024.0)
    } else {
        format!("{mb:.0} MB")
    }
}
