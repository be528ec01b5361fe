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
                "{}: ok ({}, {} task kinds)\n",
                text::visible(arg),
                text::visible(&s.name),
                s.tasks.len()
            ))?,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "{e}");
                failed = Some(e.exit_code());
            }
        }
    }
    Ok(failed.unwrap_or(0))
}
