//! Timestamps and time ranges.
//!
//! Every time in churn-core is a [`Timestamp`]: UTC milliseconds since the Unix epoch.
//! In JSON it is written as RFC 3339 with milliseconds (`2026-01-31T12:00:00.000Z`) and
//! read from that, from a plain date (`2026-01-31`, midnight UTC), from
//! `YYYY-MM-DD HH:MM:SS[.fff]` (UTC), or from an integer of epoch milliseconds.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;

/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;
/// Milliseconds in one hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in one minute.
pub const MINUTE_MS: i64 = 60_000;

/// A UTC instant with millisecond precision.
///
/// ```
/// use churn_core::Timestamp;
/// let t: Timestamp = "2026-03-01T10:30:00Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2026-03-01T10:30:00.000Z");
/// assert_eq!(Timestamp::from_millis(t.millis()), t);
/// assert_eq!("2026-03-01".parse::<Timestamp>().unwrap().to_string(), "2026-03-01T00:00:00.000Z");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From epoch milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Epoch milliseconds.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// The current time.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    /// From a chrono UTC time (sub-millisecond part dropped).
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        Timestamp(dt.timestamp_millis())
    }

    /// As a chrono UTC time. Out-of-range values saturate at chrono's limits.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or(if self.0 < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            })
    }

    /// Midnight UTC of a calendar date.
    ///
    /// ```
    /// use churn_core::Timestamp;
    /// let t = Timestamp::from_ymd(2026, 1, 2).unwrap();
    /// assert_eq!(t.millis(), 1_767_312_000_000);
    /// ```
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, day).map(Self::from_date)
    }

    /// Midnight UTC of a date.
    pub fn from_date(date: NaiveDate) -> Self {
        Timestamp(
            date.and_hms_opt(0, 0, 0)
                .map(|d| d.and_utc().timestamp_millis())
                .unwrap_or(0),
        )
    }

    /// The UTC calendar date this instant falls on.
    pub fn date(self) -> NaiveDate {
        self.to_datetime().date_naive()
    }

    /// Whole days since the epoch (floor), the day index used by the analyses.
    pub const fn day_index(self) -> i64 {
        self.0.div_euclid(DAY_MS)
    }

    /// This instant plus `ms` milliseconds (saturating).
    pub const fn add_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Parse the accepted text forms; `field` names the field in the error.
    pub fn parse_field(text: &str, field: &str) -> Result<Self, ValidationError> {
        let s = text.trim();
        let bad = || ValidationError::BadTimestamp {
            field: field.to_string(),
            value: s.chars().take(64).collect(),
        };
        if s.is_empty() {
            return Err(bad());
        }
        if s.bytes().all(|b| b.is_ascii_digit())
            || (s.starts_with('-') && s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit()))
        {
            return s.parse::<i64>().map(Timestamp).map_err(|_| bad());
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Ok(Timestamp(dt.timestamp_millis()));
        }
        for fmt in [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
                return Ok(Timestamp(dt.and_utc().timestamp_millis()));
            }
        }
        for fmt in ["%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
            if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
                return Ok(Timestamp(dt.timestamp_millis()));
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(Self::from_date(d));
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y/%m/%d") {
            return Ok(Self::from_date(d));
        }
        Err(bad())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match rfc3339_millis(self.0) {
            // ASCII digits and separators only, so always UTF-8.
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
            None => f.write_str(
                &self
                    .to_datetime()
                    .to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
        }
    }
}

/// First and last millisecond of years 0000-9999, the years RFC 3339 writes in four
/// digits (chrono writes others with a sign and more digits).
const FOUR_DIGIT_YEARS: std::ops::RangeInclusive<i64> = -62_167_219_200_000..=253_402_300_799_999;

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for an instant in years 0000-9999, written without
/// chrono's formatting machinery or an allocation (reports carry hundreds of times, and
/// every binding and the HTTP API write them); `None` outside those years.
fn rfc3339_millis(ms: i64) -> Option<[u8; 24]> {
    if !FOUR_DIGIT_YEARS.contains(&ms) {
        return None;
    }
    let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MS));
    let t = ms.rem_euclid(DAY_MS);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, t / HOUR_MS);
    put(14, 2, t / MINUTE_MS % 60);
    put(17, 2, t / 1000 % 60);
    put(20, 3, t % 1000);
    Some(out)
}

/// (year, month, day) of a day count since 1970-01-01 in the proleptic Gregorian
/// calendar (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl FromStr for Timestamp {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse_field(s, "timestamp")
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(dt: DateTime<Utc>) -> Self {
        Timestamp::from_datetime(dt)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time, a YYYY-MM-DD date or epoch milliseconds")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("epoch milliseconds out of range"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Timestamp, E> {
                if v.is_finite() && v.abs() < 9.0e15 {
                    Ok(Timestamp(v.round() as i64))
                } else {
                    Err(E::custom("epoch milliseconds out of range"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A half-open time range `[from, to)`; either end may be open.
///
/// ```
/// use churn_core::{TimeRange, Timestamp};
/// let r = TimeRange::new(Timestamp::from_millis(10), Timestamp::from_millis(20));
/// assert!(r.contains(Timestamp::from_millis(10)));
/// assert!(!r.contains(Timestamp::from_millis(20)));
/// assert!(TimeRange::all().contains(Timestamp::from_millis(-5)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive start; `None` is unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// Exclusive end; `None` is unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
}

impl TimeRange {
    /// `[from, to)`.
    pub fn new(from: Timestamp, to: Timestamp) -> Self {
        TimeRange {
            from: Some(from),
            to: Some(to),
        }
    }

    /// The unbounded range.
    pub fn all() -> Self {
        TimeRange::default()
    }

    /// Everything strictly before `to`.
    pub fn before(to: Timestamp) -> Self {
        TimeRange {
            from: None,
            to: Some(to),
        }
    }

    /// Everything at or after `from`.
    pub fn since(from: Timestamp) -> Self {
        TimeRange {
            from: Some(from),
            to: None,
        }
    }

    /// Whether `t` falls in the range.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_accepted_form() {
        let want = Timestamp::from_ymd(2026, 3, 1)
            .unwrap()
            .add_millis(10 * HOUR_MS + 30 * MINUTE_MS);
        for s in [
            "2026-03-01T10:30:00Z",
            "2026-03-01T10:30:00.000Z",
            "2026-03-01T11:30:00+01:00",
            "2026-03-01 10:30:00",
            "2026-03-01T10:30",
            "2026-03-01 10:30:00.000",
        ] {
            assert_eq!(s.parse::<Timestamp>().unwrap(), want, "{s}");
        }
        assert_eq!(
            want.millis().to_string().parse::<Timestamp>().unwrap(),
            want
        );
        assert!("yesterday".parse::<Timestamp>().is_err());
        assert!("".parse::<Timestamp>().is_err());
        assert!("2026-02-30".parse::<Timestamp>().is_err());
    }

    #[test]
    fn json_round_trip_and_integer_input() {
        let t = Timestamp::from_millis(1_767_312_000_123);
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2026-01-02T00:00:00.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&j).unwrap(), t);
        assert_eq!(
            serde_json::from_str::<Timestamp>("1767312000123").unwrap(),
            t
        );
        assert!(serde_json::from_str::<Timestamp>("true").is_err());
    }

    /// What `Display` wrote before the fast path: chrono's RFC 3339 with milliseconds.
    fn chrono_text(ms: i64) -> String {
        Timestamp(ms)
            .to_datetime()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    #[test]
    fn display_matches_chrono_at_the_edges() {
        let edges = [
            *FOUR_DIGIT_YEARS.start(),
            *FOUR_DIGIT_YEARS.end(),
            -1,
            0,
            1,
            DAY_MS - 1,
            951_782_400_000,    // 2000-02-29
            4_107_542_400_000,  // 2100-02-28
            -2_203_891_200_000, // 1900-03-01
            1_767_312_000_123,
        ];
        for ms in edges {
            assert_eq!(Timestamp(ms).to_string(), chrono_text(ms), "{ms}");
        }
        // Outside years 0000-9999 chrono writes a sign and more digits: kept.
        for ms in [
            *FOUR_DIGIT_YEARS.start() - 1,
            *FOUR_DIGIT_YEARS.end() + 1,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(Timestamp(ms).to_string(), chrono_text(ms), "{ms}");
        }
        assert_eq!(
            Timestamp(*FOUR_DIGIT_YEARS.start()).to_string(),
            "0000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp(*FOUR_DIGIT_YEARS.end()).to_string(),
            "9999-12-31T23:59:59.999Z"
        );
    }

    proptest::proptest! {
        #[test]
        fn display_matches_chrono(ms in -70_000_000_000_000i64..260_000_000_000_000) {
            proptest::prop_assert_eq!(Timestamp(ms).to_string(), chrono_text(ms));
        }

        #[test]
        fn display_matches_chrono_near_now(ms in 900_000_000_000i64..4_200_000_000_000) {
            proptest::prop_assert_eq!(Timestamp(ms).to_string(), chrono_text(ms));
        }
    }

    #[test]
    fn day_index_floors_negative_times() {
        assert_eq!(Timestamp::from_millis(-1).day_index(), -1);
        assert_eq!(Timestamp::from_millis(DAY_MS).day_index(), 1);
    }
}
