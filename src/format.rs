//! Durations and counts as people read them: the one place every output
//! (screen, summary, SVG, messages) takes its formats from.

use std::time::Duration;

/// For the screen: `1.23 s`, `456 ms`, `7.8 ms`, `40 µs` (below a tenth
/// of a millisecond, which `0.0 ms` would hide), `0 ms`.
pub fn time(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if d.is_zero() {
        "0 ms".into()
    } else if ms < 0.1 {
        format!("{} µs", (ms * 1000.0).round().max(1.0))
    } else if ms >= 10_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// `n` and its noun, singular or plural as `n` says: `1 task`, `2 tasks`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// As a scenario file writes it: `1.5s`, `300ms`, `20us`, `5ns`, the
/// shortest exact form.
pub fn exact(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0ms".into()
    } else if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000) {
        format!("{}us", ns / 1_000)
    } else {
        format!("{ns}ns")
    }
}

/// For a label on a picture: `1.25s`, `300ms`, `20us`, rounded.
pub fn rounded(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if d.is_zero() {
        "0".into()
    } else if ms >= 1000.0 {
        format!("{}s", (ms / 1000.0 * 100.0).round() / 100.0)
    } else if ms >= 1.0 {
        format!("{}ms", (ms * 10.0).round() / 10.0)
    } else {
        format!("{}us", (ms * 1000.0).round())
    }
}

/// For a sentence: `1234.5 ms`.
pub fn ms_tenths(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Milliseconds as a number for JSON and tables, to the microsecond
/// (rounded half up, in integers: a summary of 100,000 tasks takes 1.7
/// million of these).
pub fn ms(d: Duration) -> f64 {
    let micros = d
        .as_secs()
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(d.subsec_nanos() + 500) / 1_000);
    micros as f64 / 1_000.0
}

/// A table cell of [`ms`]: `300`, `123.4`, `1.25`.
pub fn ms_cell(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_reads_as_its_place_wants() {
        let _limit = crate::test_limit::limit();
        let ms_ = Duration::from_millis;
        assert_eq!(time(ms_(12_345)), "12.35 s");
        assert_eq!(time(ms_(456)), "456 ms");
        assert_eq!(time(Duration::from_micros(7_840)), "7.8 ms");
        assert_eq!(time(Duration::from_micros(40)), "40 µs");
        assert_eq!(time(Duration::from_nanos(300)), "1 µs");
        assert_eq!(time(Duration::ZERO), "0 ms");
        assert_eq!(count(1, "task", "tasks"), "1 task");
        assert_eq!(count(0, "task", "tasks"), "0 tasks");
        assert_eq!(count(2, "process", "processes"), "2 processes");
        assert_eq!(exact(Duration::ZERO), "0ms");
        assert_eq!(exact(ms_(1500)), "1500ms");
        assert_eq!(exact(ms_(2000)), "2s");
        assert_eq!(exact(Duration::from_micros(20)), "20us");
        assert_eq!(exact(Duration::from_nanos(5)), "5ns");
        assert_eq!(rounded(ms_(1250)), "1.25s");
        assert_eq!(rounded(Duration::from_micros(300_040)), "300ms");
        assert_eq!(rounded(Duration::from_micros(20)), "20us");
        assert_eq!(rounded(Duration::ZERO), "0");
        assert_eq!(ms_tenths(Duration::from_micros(1_234_560)), "1234.6 ms");
        assert_eq!(ms_cell(300.0), "300");
        assert_eq!(ms_cell(123.45), "123.5");
        assert_eq!(ms_cell(1.254), "1.25");
    }

    #[test]
    fn milliseconds_are_rounded_to_the_microsecond() {
        let _limit = crate::test_limit::limit();
        let ns = Duration::from_nanos;
        assert_eq!(ms(ns(1_234_499)), 1.234);
        assert_eq!(ms(ns(1_234_500)), 1.235);
        assert_eq!(ms(ns(999)), 0.001);
        assert_eq!(ms(ns(499)), 0.0);
        assert_eq!(ms(Duration::from_secs(3) + ns(999_999_999)), 4000.0);
        assert_eq!(ms(Duration::from_secs(86_400 * 365)), 31_536_000_000.0);
    }
}
