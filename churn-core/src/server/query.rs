//! Query strings parsed once into typed values. Unknown parameters, repeated ones and
//! unreadable values are refused with 400 `ERR_VALIDATION` naming the parameter.
//!
//! ```
//! use churn_core::server::query::Query;
//! let q = Query::parse(Some("days=7&period=week"), &["days", "period"]).unwrap();
//! assert_eq!(q.days(30).unwrap(), 7);
//! assert!(Query::parse(Some("dayz=7"), &["days"]).is_err());
//! assert!(Query::parse(Some("days=-1"), &["days"]).unwrap().days(30).is_err());
//! ```

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::http::StatusCode;

use super::error::ApiError;
use crate::time::{TimeRange, Timestamp, DAY_MS};

/// Longest `days` accepted (10 years).
pub const MAX_DAYS: u32 = 3_660;

/// 400 `ERR_VALIDATION` about parameter `name`.
pub fn bad_param(name: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "ERR_VALIDATION",
        format!("query parameter {name:?}: {reason}"),
    )
}

/// The parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct Query {
    values: BTreeMap<String, String>,
}

fn decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad_param(s, "bad percent-encoding"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad_param(s, "not UTF-8"))
}

impl Query {
    /// Parse `raw`; every name must be in `allowed`, each at most once.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Query, ApiError> {
        let mut values = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode(k)?, decode(v)?);
            if !allowed.contains(&k.as_str()) {
                return Err(bad_param(
                    &k,
                    format!("unknown; this route takes {}", allowed.join(", ")),
                ));
            }
            if values.insert(k.clone(), v).is_some() {
                return Err(bad_param(&k, "given twice"));
            }
        }
        Ok(Query { values })
    }

    /// The raw value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `name` parsed with `FromStr`, or `None` when absent.
    pub fn parsed<T>(&self, name: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| bad_param(name, format!("{v:?}: {e}"))),
        }
    }

    /// An integer in `[min, max]`, `default` when absent.
    pub fn int(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ApiError> {
        let v = self.parsed::<u64>(name)?.unwrap_or(default);
        if v < min || v > max {
            return Err(bad_param(name, format!("{v} is not in {min}..={max}")));
        }
        Ok(v)
    }

    /// `days` (1..=[`MAX_DAYS`]), `default` when absent.
    pub fn days(&self, default: u32) -> Result<u32, ApiError> {
        Ok(self.int("days", default as u64, 1, MAX_DAYS as u64)? as u32)
    }

    /// A comma-separated list (empty items refused).
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let items: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
        if items.iter().any(String::is_empty) {
            return Err(bad_param(name, "empty item in the comma-separated list"));
        }
        Ok(Some(items))
    }
}

/// The last `days` days up to `now`: `[now - days, now]` (now included).
pub fn last_days(now: Timestamp, days: u32) -> TimeRange {
    let to = now.millis().saturating_add(1);
    TimeRange::new(
        Timestamp::from_millis(to - days as i64 * DAY_MS),
        Timestamp::from_millis(to),
    )
}

/// A duration like `7d`, `12h`, `30m` or a plain number of days, in milliseconds.
pub fn parse_window(name: &str, s: &str) -> Result<i64, ApiError> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 'd'),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| bad_param(name, format!("{s:?}: expected a number with d, h or m")))?;
    let unit_ms = match unit {
        'd' => DAY_MS,
        'h' => 3_600_000,
        'm' => 60_000,
        _ => return Err(bad_param(name, format!("{s:?}: unit must be d, h or m"))),
    };
    if n <= 0 || n > MAX_DAYS as i64 * DAY_MS / unit_ms {
        return Err(bad_param(name, format!("{s:?} is out of range")));
    }
    Ok(n * unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let q = Query::parse(Some("a=1&b=x%20y&c=p,q"), &["a", "b", "c"]).unwrap();
        assert_eq!(q.int("a", 0, 0, 5).unwrap(), 1);
        assert_eq!(q.get("b"), Some("x y"));
        assert_eq!(q.list("c").unwrap().unwrap(), vec!["p", "q"]);
        assert!(q.int("a", 0, 2, 5).is_err());
        assert_eq!(q.int("z", 3, 0, 5).unwrap(), 3);
        let e = Query::parse(Some("a=1&a=2"), &["a"]).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "ERR_VALIDATION"));
        assert!(Query::parse(Some("a=%zz"), &["a"]).is_err());
        let q = Query::parse(Some("days=abc&c=a,,b"), &["days", "c"]).unwrap();
        assert!(q.days(7).is_err());
        assert!(q.list("c").is_err());
        assert!(Query::parse(Some("days=0"), &["days"])
            .unwrap()
            .days(7)
            .is_err());
        assert_eq!(Query::parse(None, &[]).unwrap().days(7).unwrap(), 7);
    }

    #[test]
    fn windows_and_ranges() {
        assert_eq!(parse_window("w", "7d").unwrap(), 7 * DAY_MS);
        assert_eq!(parse_window("w", "3").unwrap(), 3 * DAY_MS);
        assert_eq!(parse_window("w", "90m").unwrap(), 90 * 60_000);
        assert!(parse_window("w", "0d").is_err());
        assert!(parse_window("w", "5y").is_err());
        assert!(parse_window("w", "d").is_err());
        let r = last_days(Timestamp::from_millis(10 * DAY_MS), 2);
        assert_eq!(r.from.unwrap().millis(), 8 * DAY_MS + 1);
        assert_eq!(r.to.unwrap().millis(), 10 * DAY_MS + 1);
    }
}
