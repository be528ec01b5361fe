//! The readers of single values: strings and the text people see, whole
//! numbers in a range, the speed, booleans, durations, and the tables of a
//! `[[key]]` array. Each reports what it found and what was expected.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::kind;
use super::{Checker, Value};
use crate::scenario::{MAX_STEP_DURATION, MAX_TEXT, parse_duration};

impl Checker<'_> {
    pub(super) fn string(&mut self, value: &Value<'_>, key: &str) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.at(
                    value.span(),
                    format!("`{key}` is {}; expected a string", kind(other)),
                );
                None
            }
        }
    }

    /// A string shown to people (a note, a message, a name): at most
    /// [`MAX_TEXT`] characters.
    pub(super) fn text(&mut self, value: &Value<'_>, key: &str) -> Option<String> {
        let s = self.string(value, key)?;
        let chars = s.chars().count();
        if chars > MAX_TEXT {
            self.at(
                value.span(),
                format!("`{key}` is {chars} characters long; expected at most {MAX_TEXT}"),
            );
            return None;
        }
        Some(s)
    }

    pub(super) fn integer(
        &mut self,
        value: &Value<'_>,
        key: &str,
        range: Range<u64>,
    ) -> Option<u64> {
        let found = match value.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            other => {
                self.at(
                    value.span(),
                    format!("`{key}` is {}; expected a whole number", kind(other)),
                );
                return None;
            }
        };
        match found {
            Some(n) if n >= range.start as i64 && (n as u64) < range.end => Some(n as u64),
            _ => {
                self.at(
                    value.span(),
                    format!(
                        "`{key}` is {}; expected a whole number from {} to {}",
                        value.get_ref().as_integer().map_or("?", |i| i.as_str()),
                        range.start,
                        range.end - 1
                    ),
                );
                None
            }
        }
    }

    /// The pace a lesson opens at on screen: a number from 0.01 to 100.
    pub(super) fn speed(&mut self, value: &Value<'_>) -> Option<f64> {
        let found = match value.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            // `0x10` is sixteen, not ten: the radix counts.
            DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
                .ok()
                .map(|n| n as f64),
            other => {
                self.at(
                    value.span(),
                    format!(
                        "`speed` is {}; expected a number from 0.01 to 100",
                        kind(other)
                    ),
                );
                return None;
            }
        };
        match found {
            Some(v) if crate::speed::RANGE.contains(&v) => Some(v),
            _ => {
                self.at(
                    value.span(),
                    "`speed` is out of range; expected a number from 0.01 (slow motion) to 100"
                        .into(),
                );
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, value: &Value<'_>, key: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.at(
                    value.span(),
                    format!("`{key}` is {}; expected true or false", kind(other)),
                );
                None
            }
        }
    }

    pub(super) fn duration(&mut self, value: &Value<'_>, key: &str) -> Option<Duration> {
        let text = self.string(value, key)?;
        match parse_duration(&text) {
            Ok(d) if d <= MAX_STEP_DURATION => Some(d),
            Ok(_) => {
                self.at(
                    value.span(),
                    format!("`{key} = \"{text}\"` is too long; a step may last at most 1h"),
                );
                None
            }
            Err(why) => {
                self.at(
                    value.span(),
                    format!(
                        "`{key} = \"{text}\"` is not a duration ({why}); expected e.g. \"300ms\" or \"2s\""
                    ),
                );
                None
            }
        }
    }

    /// The tables of `[[key]]`.
    pub(super) fn tables<'v, 'i>(
        &mut self,
        value: &'v Value<'i>,
        key: &str,
    ) -> Vec<&'v Spanned<DeValue<'i>>> {
        match value.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    if matches!(item.get_ref(), DeValue::Table(_)) {
                        out.push(item);
                    } else {
                        self.at(
                            item.span(),
                            format!(
                                "`{key}` holds {}; expected `[[{key}]]` tables",
                                kind(item.get_ref())
                            ),
                        );
                    }
                }
                out
            }
            other => {
                self.at(
                    value.span(),
                    format!("`{key}` is {}; expected `[[{key}]]` tables", kind(other)),
                );
                Vec::new()
            }
        }
    }

    pub(super) fn table_of<'v, 'i>(value: &'v Value<'i>) -> &'v DeTable<'i> {
        match value.get_ref() {
            DeValue::Table(t) => t,
            _ => unreachable!("tables() only returns tables"),
        }
    }
}
