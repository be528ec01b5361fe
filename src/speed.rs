//! How fast a run plays against the wall clock: one [`Speed`], from 0.01
//! (a hundred times slower than real time) to 100, wherever it comes from
//! (`--speed`, a scenario's `speed`, `Watch::pace`, the `+`/`-` keys).

use std::fmt;

/// The speeds a run may play at.
pub const RANGE: std::ops::RangeInclusive<f64> = Speed::MIN.0..=Speed::MAX.0;

/// Speeds `+` and `-` step through.
const STEPS: &[f64] = &[
    0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 25.0, 50.0, 100.0,
];

/// Scenario time per wall time: 0.1 plays a run ten times slower.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Speed(f64);

impl Speed {
    pub const MIN: Speed = Speed(0.01);
    pub const MAX: Speed = Speed(100.0);
    pub const REAL_TIME: Speed = Speed(1.0);

    /// `value`, if it is a speed a run may play at.
    pub fn new(value: f64) -> Option<Speed> {
        RANGE.contains(&value).then_some(Speed(value))
    }

    /// The nearest speed a run may play at (real time for NaN).
    pub fn clamped(value: f64) -> Speed {
        if value.is_nan() {
            Speed::REAL_TIME
        } else {
            Speed(value.clamp(Speed::MIN.0, Speed::MAX.0))
        }
    }

    /// Reads `--speed`'s value.
    pub fn parse(text: &str) -> Result<Speed, String> {
        match text.parse::<f64>() {
            Ok(v) => Speed::new(v)
                .ok_or_else(|| "expected a speed from 0.01 to 100 (1 = real time)".into()),
            Err(_) => Err("expected a number, like 0.25 or 2".into()),
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }

    pub fn is_real_time(self) -> bool {
        self.0 == 1.0
    }

    /// The next speed up (`faster`) or down: always strictly faster or
    /// slower, until the end of the range.
    pub fn next(self, faster: bool) -> Speed {
        let now = self.0;
        let next = if faster {
            STEPS.iter().copied().find(|s| *s > now * 1.0001)
        } else {
            STEPS.iter().rev().copied().find(|s| *s < now / 1.0001)
        };
        Speed(next.unwrap_or(if faster { Speed::MAX.0 } else { Speed::MIN.0 }))
    }
}

impl Default for Speed {
    fn default() -> Speed {
        Speed::REAL_TIME
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_are_clamped_into_the_range_and_nan_is_real_time() {
        let _limit = crate::test_limit::limit();
        assert_eq!(Speed::clamped(0.0), Speed::MIN);
        assert_eq!(Speed::clamped(1e9), Speed::MAX);
        assert_eq!(Speed::clamped(f64::NAN), Speed::REAL_TIME);
        assert_eq!(Speed::new(0.001), None);
        assert_eq!(Speed::new(0.5), Some(Speed(0.5)));
        assert!(Speed::parse("101").unwrap_err().contains("0.01 to 100"));
        assert!(Speed::parse("fast").unwrap_err().contains("a number"));
    }

    #[test]
    fn each_step_is_strictly_faster_or_slower_until_the_end_of_the_range() {
        let _limit = crate::test_limit::limit();
        let mut s = Speed::MAX;
        while s > Speed::MIN {
            let next = s.next(false);
            assert!(next < s, "{next} after {s}");
            s = next;
        }
        assert_eq!(Speed::MIN.next(false), Speed::MIN);
        while s < Speed::MAX {
            let next = s.next(true);
            assert!(next > s, "{next} after {s}");
            s = next;
        }
        assert_eq!(Speed::MAX.next(true), Speed::MAX);
        assert_eq!(Speed(0.3).next(false), Speed(0.25));
        assert_eq!(Speed(0.3).next(true), Speed(0.5));
    }
}
