//! Calendar periods (UTC day, ISO week starting Monday, calendar month) as integer
//! indexes, without going through chrono in the hot loops.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::time::{Timestamp, DAY_MS};

/// Largest number of periods one report may span (guards against absurd ranges).
pub const MAX_PERIODS: i64 = 200_000;

/// A calendar period: UTC day, ISO week (Monday to Sunday) or calendar month.
///
/// ```
/// use churn_core::engine::Period;
/// let p: Period = "week".parse().unwrap();
/// assert_eq!(p, Period::Week);
/// assert_eq!(p.to_string(), "week");
/// assert!("fortnight".parse::<Period>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// A UTC calendar day.
    #[default]
    Day,
    /// An ISO week, Monday 00:00 UTC to the next Monday.
    Week,
    /// A calendar month (UTC).
    Month,
}

impl FromStr for Period {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" | "daily" | "d" => Ok(Period::Day),
            "week" | "weekly" | "w" => Ok(Period::Week),
            "month" | "monthly" | "m" => Ok(Period::Month),
            _ => Err(Error::invalid(
                "period",
                format!("{s:?} is not one of day, week, month"),
            )),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        })
    }
}

/// `(year, month 1..=12, day 1..=31)` of an epoch day (proleptic Gregorian).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Epoch day of a civil date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Period {
    /// Index of the period containing epoch day `day`.
    pub(crate) fn of_day(self, day: i64) -> i64 {
        match self {
            Period::Day => day,
            // 1970-01-01 was a Thursday: Monday 1969-12-29 is day -3.
            Period::Week => (day + 3).div_euclid(7),
            Period::Month => {
                let (y, m, _) = civil_from_days(day);
                y * 12 + i64::from(m) - 1
            }
        }
    }

    /// Index of the period containing epoch milliseconds `ms`.
    pub(crate) fn of_ms(self, ms: i64) -> i64 {
        self.of_day(ms.div_euclid(DAY_MS))
    }

    /// First epoch day of period `idx`.
    pub(crate) fn start_day(self, idx: i64) -> i64 {
        match self {
            Period::Day => idx,
            Period::Week => idx * 7 - 3,
            Period::Month => {
                days_from_civil(idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32, 1)
            }
        }
    }

    /// Start of period `idx`.
    pub(crate) fn start(self, idx: i64) -> Timestamp {
        Timestamp::from_millis(self.start_day(idx).saturating_mul(DAY_MS))
    }

    /// Label of period `idx`: `2026-01-05`, `2026-W02` (ISO year and week) or `2026-01`.
    pub(crate) fn label(self, idx: i64) -> String {
        match self {
            Period::Day => {
                let (y, m, d) = civil_from_days(idx);
                format!("{y:04}-{m:02}-{d:02}")
            }
            Period::Week => {
                let thursday = self.start_day(idx) + 3;
                let (y, _, _) = civil_from_days(thursday);
                let week = (thursday - days_from_civil(y, 1, 1)) / 7 + 1;
                format!("{y:04}-W{week:02}")
            }
            Period::Month => format!("{:04}-{:02}", idx.div_euclid(12), idx.rem_euclid(12) + 1),
        }
    }
}

/// The closed span of period indexes `[first, last]` a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub first: i64,
    pub last: i64,
}

impl Span {
    /// The periods intersecting `[from, to)` (epoch ms, `from < to`), checked against
    /// [`MAX_PERIODS`].
    pub(crate) fn of(period: Period, from: i64, to: i64) -> Result<Span> {
        let first = period.of_ms(from);
        let last = period.of_ms(to - 1);
        if last - first >= MAX_PERIODS {
            return Err(Error::invalid(
                "range",
                format!("spans more than {MAX_PERIODS} {period}s"),
            ));
        }
        Ok(Span { first, last })
    }

    /// Number of periods.
    pub(crate) fn len(self) -> usize {
        (self.last - self.first + 1) as usize
    }

    /// Position of period `idx` in the span, when inside.
    pub(crate) fn pos(self, idx: i64) -> Option<usize> {
        (idx >= self.first && idx <= self.last).then(|| (idx - self.first) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn calendar_math_matches_chrono() {
        for day in (-800_000..800_000).step_by(37) {
            let date = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Days::new(0);
            let d = if day >= 0 {
                date + chrono::Days::new(day as u64)
            } else {
                date - chrono::Days::new((-day) as u64)
            };
            let (y, m, dd) = civil_from_days(day);
            assert_eq!((y as i32, m, dd), (d.year(), d.month(), d.day()));
            assert_eq!(days_from_civil(y, m, dd), day);
            let w = Period::Week.of_day(day);
            let monday = Period::Week.start_day(w);
            assert!(monday <= day && day < monday + 7);
            assert_eq!(
                Period::Week.label(w),
                format!("{:04}-W{:02}", d.iso_week().year(), d.iso_week().week())
            );
            let mo = Period::Month.of_day(day);
            assert_eq!(
                Period::Month.label(mo),
                format!("{:04}-{:02}", d.year(), d.month())
            );
            assert!(Period::Month.start_day(mo) <= day && Period::Month.start_day(mo + 1) > day);
        }
    }

    #[test]
    fn iso_week_across_a_year_boundary() {
        // 2026-12-31 (Thursday) and 2027-01-03 (Sunday) are both in 2026-W53;
        // 2027-01-04 (Monday) starts 2027-W01.
        let day = |y, m, d| days_from_civil(y, m, d);
        let w = Period::Week.of_day(day(2026, 12, 31));
        assert_eq!(Period::Week.of_day(day(2027, 1, 3)), w);
        assert_eq!(Period::Week.label(w), "2026-W53");
        assert_eq!(Period::Week.label(w + 1), "2027-W01");
        // 2024-12-30 (Monday) belongs to 2025-W01.
        assert_eq!(
            Period::Week.label(Period::Week.of_day(day(2024, 12, 30))),
            "2025-W01"
        );
        assert_eq!(
            Period::Week.start(w).to_string(),
            "2026-12-28T00:00:00.000Z"
        );
    }

    #[test]
    fn spans_and_limits() {
        let s = Span::of(Period::Day, 0, DAY_MS + 1).unwrap();
        assert_eq!((s.first, s.last, s.len()), (0, 1, 2));
        assert_eq!(s.pos(1), Some(1));
        assert_eq!(s.pos(2), None);
        assert!(Span::of(Period::Day, 0, DAY_MS * (MAX_PERIODS + 1)).is_err());
    }
}
