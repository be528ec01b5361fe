//! Events as JSON lines: one line per transition, a header line first and
//! an end line last, so a log can be replayed into the same model.
//!
//! Event line: `{"t_ms","task","id","state","wait","worker","step"}` plus
//! `"idx"` (the run's own task number), `"parent"` on spawned, `"by"`,
//! `"late_ms"` and `"waited"` (what an `other` wait turned out to be) on
//! ready, and the outcome and the task's figures on done.
//!
//! `format` holds the line's fields and the file's limits, `write` turns
//! events into lines, `read` reads a file from anyone back.

mod format;
mod read;
mod write;

pub use format::{
    FORMAT, MAX_LINE_BYTES, MAX_LOG_BYTES, MAX_LOG_EVENTS, MAX_LOG_MS, MAX_LOG_TASKS,
    MAX_NAME_CHARS,
};
pub use read::{Log, LogError, read, read_into};
pub use write::LineWriter;
