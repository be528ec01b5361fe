//! TOML text -> checked [`Scenario`], with every problem located at
//! `file:line:col` and saying what was found and what was expected.
//!
//! [`parse`] refuses what is not a TOML text, then a `Checker` reads the
//! sections (`sections`), their values (`values`) and each task's steps
//! (`steps`), and checks across tasks (`graph`) and what a run may cost
//! (`scale`); `diagnostic` locates and words every problem.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{MAX_FILE_BYTES, Scenario, TaskSpec};

mod diagnostic;
mod graph;
mod scale;
mod sections;
mod steps;
mod values;

pub use diagnostic::{Diagnostic, ScenarioError};
use diagnostic::{MAX_DIAGNOSTICS, MAX_FOUND, line_col};

/// Parses and validates a scenario file's bytes.
pub fn parse(origin: &str, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
    let fail = |line, col, message: String| ScenarioError {
        origin: origin.to_string(),
        diagnostics: vec![Diagnostic { line, col, message }],
    };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(fail(
            1,
            1,
            format!(
                "the file is larger than {MAX_FILE_BYTES} bytes, the most a scenario file may be"
            ),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let (line, col) = line_col(&String::from_utf8_lossy(bytes), e.valid_up_to());
            return Err(fail(
                line,
                col,
                format!(
                    "found a byte that is not UTF-8 text (0x{:02x}); expected a TOML text file",
                    bytes[e.valid_up_to()]
                ),
            ));
        }
    };
    if let Some(at) = text.find('\0') {
        let (line, col) = line_col(text, at);
        return Err(fail(
            line,
            col,
            "found a NUL byte, so this looks like a binary file; expected a TOML text file".into(),
        ));
    }
    if text.trim().is_empty() {
        return Err(fail(
            1,
            1,
            "the file is empty; expected a scenario: `name = \"...\"`, `description`, \
             `[runtime]` and at least one `[[task]]`"
                .into(),
        ));
    }
    // Each table and value parsed takes far more memory than its bytes:
    // counted first, so a file of nothing but `{a={b={}}}` is refused
    // before it is parsed.
    let values = text.matches(VALUE_MARKS).count();
    if let Some(at) = past_the_most_values(text, values) {
        let (line, col) = line_col(text, at);
        return Err(fail(
            line,
            col,
            format!(
                "more than {MAX_VALUES} tables and values (`{{`, `[`, `=`, `,`) in one file; a \
                 scenario needs far fewer: `count` makes many tasks, `repeat` many steps"
            ),
        ));
    }
    let table = match DeTable::parse(text) {
        Ok(table) => table,
        Err(e) => {
            let (line, col) = line_col(text, e.span().map_or(0, |s| s.start));
            return Err(fail(
                line,
                col,
                format!("this is not valid TOML: {}", e.message().trim()),
            ));
        }
    };
    let mut checker = Checker {
        text,
        diagnostics: Vec::new(),
    };
    let scenario = checker.scenario(table.get_ref());
    match scenario {
        Some(mut s) if checker.diagnostics.is_empty() => {
            s.cost.reading = (values as u64).saturating_mul(crate::scenario::MEMORY_PER_VALUE);
            Ok(s)
        }
        _ => Err(checker.refusal(origin)),
    }
}

impl Checker<'_> {
    /// The problems found, as the error: in the file's order, the first
    /// [`MAX_DIAGNOSTICS`], and how many more.
    fn refusal(mut self, origin: &str) -> ScenarioError {
        self.diagnostics.sort_by_key(|d| (d.line, d.col));
        let more = self.diagnostics.len().saturating_sub(MAX_DIAGNOSTICS);
        self.diagnostics.truncate(MAX_DIAGNOSTICS);
        if let Some(last) = self.diagnostics.last().filter(|_| more > 0) {
            let (line, col) = (last.line, last.col);
            self.diagnostics.push(Diagnostic {
                line,
                col,
                message: if more + MAX_DIAGNOSTICS >= MAX_FOUND {
                    format!("and at least {more} more problems (fix these first)")
                } else {
                    format!("and {more} more problems (fix these first)")
                },
            });
        }
        if self.diagnostics.is_empty() {
            self.at(0..0, "the scenario is incomplete".into());
        }
        ScenarioError {
            origin: origin.to_string(),
            diagnostics: self.diagnostics,
        }
    }
}

/// The most tables and values a scenario file may hold (each `{`, `[`, `=`
/// and `,`, strings' too: a rough count that errs on the safe side; the
/// commas count an array's values).
const MAX_VALUES: usize = 600_000;

/// What marks a table or value (see [`MAX_VALUES`]).
const VALUE_MARKS: [char; 4] = ['{', '[', '=', ','];

/// Where the file passes [`MAX_VALUES`], if its `values` do (looked for
/// only then).
fn past_the_most_values(text: &str, values: usize) -> Option<usize> {
    if values <= MAX_VALUES {
        return None;
    }
    text.match_indices(VALUE_MARKS)
        .nth(MAX_VALUES)
        .map(|(at, _)| at)
}

type Value<'i> = Spanned<DeValue<'i>>;

/// A name used by a step before all names are known.
struct NameRef {
    step: usize,
    kind: RefKind,
    name: String,
    span: Range<usize>,
}

#[derive(Clone, Copy, PartialEq)]
enum RefKind {
    Spawn,
    Join,
    Send,
    Recv,
    Lock,
    Unlock,
}

/// One file's text and the problems found in it so far.
struct Checker<'t> {
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
}

/// A task as read, before cross-task checks.
struct ReadTask {
    spec: TaskSpec,
    name_span: Range<usize>,
    count_span: Range<usize>,
    /// Span of each flattened step.
    step_spans: Vec<Range<usize>>,
    /// Product of enclosing repeat counts, per flattened step.
    multiplicity: Vec<u64>,
    /// Names used by steps, resolved once every name is known.
    refs: Vec<NameRef>,
}
