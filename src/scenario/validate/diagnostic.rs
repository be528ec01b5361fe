//! Where a problem is and how it reads: [`Diagnostic`] and
//! [`ScenarioError`], byte offsets turned into `line:col`, and the words
//! messages share (a value's kind, the known word closest to a typo).

use std::fmt;
use std::ops::Range;

use toml::de::DeValue;

use super::Checker;

/// Most problems reported for one file.
pub(super) const MAX_DIAGNOSTICS: usize = 20;
/// Most problems looked for (so the first ones in the file's order are
/// reported, and the rest counted).
pub(super) const MAX_FOUND: usize = 1000;

/// One problem, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Everything wrong with one scenario file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ScenarioError {
    /// The path or bundled name the text came from.
    pub origin: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}",
                crate::text::visible(&self.origin),
                d.line,
                d.col,
                crate::text::visible(&d.message)
            )?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

impl Checker<'_> {
    /// Whether as many problems are found as one report shows.
    pub(super) fn full(&self) -> bool {
        self.diagnostics.len() >= MAX_FOUND
    }

    pub(super) fn at(&mut self, span: Range<usize>, message: String) {
        // Locating costs a scan of the text: only the problems shown are.
        if self.full() {
            return;
        }
        let (line, col) = line_col(self.text, span.start);
        self.diagnostics.push(Diagnostic { line, col, message });
    }

    pub(super) fn unknown_key(
        &mut self,
        span: Range<usize>,
        key: &str,
        place: &str,
        expected: &[&str],
    ) {
        self.at(
            span,
            format!(
                "unknown key `{}` {place}; expected one of: {}",
                quoted(key),
                expected.join(", ")
            ),
        );
    }
}

/// A word from the file as a message quotes it: at most 64 characters,
/// the rest cut with `…` (a key of megabytes is not echoed whole).
pub(super) fn quoted(word: &str) -> String {
    const SHOWN: usize = 64;
    match word.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &word[..at]),
        None => word.to_string(),
    }
}

pub(super) fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

/// The known word closest to a typo, if one is close.
pub(super) fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    // Two edits from a known word: no longer than the longest one plus two.
    let longest = known.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    if word.chars().nth(longest + 2).is_some() {
        return None;
    }
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
