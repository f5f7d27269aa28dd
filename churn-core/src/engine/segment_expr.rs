//! The segment filter language: a typed expression ([`SegmentExpr`], whose serde form
//! is the JSON form) and its text form with a parser ([`SegmentExpr::parse`]).
//!
//! Text grammar (keywords are case-insensitive; `and` binds tighter than `or`, `not`
//! tighter than both; parentheses group):
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | did | compare
//! did     := "did" "(" event ["," op count] ["," duration] ")"
//! compare := field op literal
//! field   := "trait." key | "metric." metric | key          (a bare key is a trait)
//! op      := "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains"
//! literal := "string" | number | true | false | null
//! duration:= integer followed by ms | s | m | h | d | w      (7d, 12h, 30m)
//! ```
//!
//! ```
//! use churn_core::engine::SegmentExpr;
//! let e = SegmentExpr::parse(r#"plan = "pro" and did(feature_used, >= 3, 14d)"#)?;
//! let json = serde_json::to_value(&e)?;
//! assert_eq!(json["and"][0]["trait"]["key"], "plan");
//! assert_eq!(json["and"][1]["did"]["days"], 14.0);
//! assert_eq!(SegmentExpr::parse(&e.to_string())?, e);
//! let err = SegmentExpr::parse("plan = ").unwrap_err().to_string();
//! assert!(err.contains("position 8"), "{err}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::segment_parse::{lex, Parser, KEYWORDS};
use crate::error::{Error, Result};
use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS};

/// A comparison operator, shared by segment conditions and funnel step filters.
///
/// Semantics: `eq` compares numbers numerically and other JSON values exactly; `ne` is
/// `not eq` (so a missing value is "not equal"); `lt` / `le` / `gt` / `ge` compare two
/// numbers, or two strings lexicographically (ISO dates order correctly), and are false
/// otherwise; `contains` is substring for strings and membership for arrays. Every
/// operator except `ne` is false on a missing value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Substring or array membership.
    Contains,
}

impl CmpOp {
    /// The text form (`=`, `!=`, `<`, ..., `contains`).
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Contains => "contains",
        }
    }

    /// Apply to a JSON value (`None`: missing).
    pub fn matches(self, actual: Option<&Value>, expected: &Value) -> bool {
        let Some(a) = actual else {
            return self == CmpOp::Ne;
        };
        match self {
            CmpOp::Eq => json_eq(a, expected),
            CmpOp::Ne => !json_eq(a, expected),
            CmpOp::Contains => match (a, expected) {
                (Value::String(s), Value::String(x)) => s.contains(x.as_str()),
                (Value::Array(v), x) => v.iter().any(|e| json_eq(e, x)),
                _ => false,
            },
            _ => {
                let ord = match (a, expected) {
                    (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
                        (Some(x), Some(y)) => x.partial_cmp(&y),
                        _ => None,
                    },
                    (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                    _ => None,
                };
                ord.is_some_and(|o| self.holds(o))
            }
        }
    }

    /// Apply to two numbers.
    pub fn matches_f64(self, actual: f64, expected: f64) -> bool {
        match self {
            CmpOp::Contains => false,
            CmpOp::Eq => actual == expected,
            CmpOp::Ne => actual != expected,
            _ => actual.partial_cmp(&expected).is_some_and(|o| self.holds(o)),
        }
    }

    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => o == Equal,
            CmpOp::Ne => o != Equal,
            CmpOp::Lt => o == Less,
            CmpOp::Le => o != Greater,
            CmpOp::Gt => o == Greater,
            CmpOp::Ge => o != Less,
            CmpOp::Contains => false,
        }
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

impl FromStr for CmpOp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "=" | "==" | "eq" => CmpOp::Eq,
            "!=" | "ne" => CmpOp::Ne,
            "<" | "lt" => CmpOp::Lt,
            "<=" | "le" => CmpOp::Le,
            ">" | "gt" => CmpOp::Gt,
            ">=" | "ge" => CmpOp::Ge,
            "contains" => CmpOp::Contains,
            _ => {
                return Err(Error::invalid(
                    "op",
                    format!("{s:?} is not one of = != < <= > >= contains"),
                ))
            }
        })
    }
}

/// A computed per-person metric, evaluated as of the segment's reference time `T`
/// (by default the end of the data). "Events" are activity events (the default
/// [`ActiveDefinition`](super::ActiveDefinition)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// Activity events in `[T - 7 days, T)`.
    #[serde(rename = "events_7d")]
    Events7d,
    /// Activity events in `[T - 30 days, T)`.
    #[serde(rename = "events_30d")]
    Events30d,
    /// Activity events before `T`.
    #[serde(rename = "events_total")]
    EventsTotal,
    /// Distinct UTC days with activity in `[T - 7 days, T)`.
    #[serde(rename = "active_days_7d")]
    ActiveDays7d,
    /// Distinct UTC days with activity in `[T - 30 days, T)`.
    #[serde(rename = "active_days_30d")]
    ActiveDays30d,
    /// Sum of `amount` of revenue events before `T` (every currency).
    #[serde(rename = "revenue")]
    Revenue,
    /// Revenue events before `T`.
    #[serde(rename = "purchases")]
    Purchases,
    /// Days (fractional) from the last activity event to `T` (missing without one).
    #[serde(rename = "last_seen_days")]
    LastSeenDays,
    /// Days (fractional) from the first activity event to `T` (missing without one).
    #[serde(rename = "first_seen_days")]
    FirstSeenDays,
}

/// Every metric, in documentation order.
pub const METRICS: &[Metric] = &[
    Metric::Events7d,
    Metric::Events30d,
    Metric::EventsTotal,
    Metric::ActiveDays7d,
    Metric::ActiveDays30d,
    Metric::Revenue,
    Metric::Purchases,
    Metric::LastSeenDays,
    Metric::FirstSeenDays,
];

impl Metric {
    /// The name used in both forms (`events_30d`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Events7d => "events_7d",
            Metric::Events30d => "events_30d",
            Metric::EventsTotal => "events_total",
            Metric::ActiveDays7d => "active_days_7d",
            Metric::ActiveDays30d => "active_days_30d",
            Metric::Revenue => "revenue",
            Metric::Purchases => "purchases",
            Metric::LastSeenDays => "last_seen_days",
            Metric::FirstSeenDays => "first_seen_days",
        }
    }
}

impl FromStr for Metric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        METRICS
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = METRICS.iter().map(|m| m.name()).collect();
                Error::invalid(
                    "metric",
                    format!("unknown metric {s:?}; known: {}", all.join(", ")),
                )
            })
    }
}

/// `trait.<key> <op> <value>`: a user trait (from `identify`) compared with a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraitCondition {
    /// The trait name.
    pub key: String,
    /// The operator.
    pub op: CmpOp,
    /// The value compared with.
    pub value: Value,
}

/// `metric.<name> <op> <number>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricCondition {
    /// The metric.
    pub metric: Metric,
    /// The operator (`contains` never matches).
    pub op: CmpOp,
    /// The number compared with.
    pub value: f64,
}

fn default_ge() -> CmpOp {
    CmpOp::Ge
}
fn default_one() -> u64 {
    1
}

/// `did(event, <op> count, D days)`: the number of events named `event` in
/// `[T - days, T)` (every event before `T` when `days` is absent) compared with `count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DidCondition {
    /// The event name.
    pub event: String,
    /// The operator (default `>=`).
    #[serde(default = "default_ge")]
    pub op: CmpOp,
    /// The count (default 1).
    #[serde(default = "default_one")]
    pub count: u64,
    /// Look-back in days (fractional allowed: `12h` is 0.5), `None`: all time.
    #[serde(default)]
    pub days: Option<f64>,
}

/// A segment condition. JSON form: `{"and": [..]}`, `{"or": [..]}`, `{"not": ..}`,
/// `{"trait": {"key", "op", "value"}}`, `{"metric": {"metric", "op", "value"}}`,
/// `{"did": {"event", "op", "count", "days"}}`. Text form: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentExpr {
    /// Every condition holds (an empty list holds).
    And(Vec<SegmentExpr>),
    /// At least one condition holds (an empty list does not).
    Or(Vec<SegmentExpr>),
    /// The condition does not hold.
    Not(Box<SegmentExpr>),
    /// A trait comparison.
    Trait(TraitCondition),
    /// A metric comparison.
    Metric(MetricCondition),
    /// An event count in a look-back window.
    Did(DidCondition),
}

/// Largest nesting depth of an expression.
pub const MAX_DEPTH: usize = 32;

impl SegmentExpr {
    /// Parse the text form.
    pub fn parse(text: &str) -> Result<SegmentExpr> {
        let mut p = Parser {
            toks: lex(text)?,
            pos: 0,
            depth: 0,
            len: text.chars().count(),
        };
        let e = p.or()?;
        if let Some(t) = p.peek() {
            return Err(p.err_at(
                t.at,
                format!("expected `and`, `or` or the end, found {}", t.kind),
            ));
        }
        e.validate()?;
        Ok(e)
    }

    /// Check the expression: non-empty names, finite numbers, trait values that are
    /// literals of the text form (no objects or arrays), depth <= [`MAX_DEPTH`].
    pub fn validate(&self) -> Result<()> {
        self.validate_at(0)
    }

    fn validate_at(&self, depth: usize) -> Result<()> {
        let bad = |r: String| Err(Error::invalid("segment expression", r));
        if depth > MAX_DEPTH {
            return bad(format!("nested deeper than {MAX_DEPTH}"));
        }
        match self {
            SegmentExpr::And(v) | SegmentExpr::Or(v) => {
                v.iter().try_for_each(|e| e.validate_at(depth + 1))
            }
            SegmentExpr::Not(e) => e.validate_at(depth + 1),
            SegmentExpr::Trait(t) if t.key.trim().is_empty() => bad("empty trait name".into()),
            // The text form has no object or array literals (found by fuzzing: a JSON-form
            // segment saved with one got a `text` that did not parse back).
            SegmentExpr::Trait(t) if t.value.is_object() || t.value.is_array() => bad(format!(
                "trait {:?} compared with an object or array (use a string, number, \
                 true, false or null)",
                t.key
            )),
            SegmentExpr::Metric(m) if !m.value.is_finite() => bad(format!(
                "metric.{} compared with a non-finite number",
                m.metric.name()
            )),
            SegmentExpr::Did(d) if d.event.is_empty() => bad("did() needs an event name".into()),
            SegmentExpr::Did(d) if d.op == CmpOp::Contains => {
                bad("did() counts take = != < <= > >=, not contains".into())
            }
            SegmentExpr::Did(d) if d.days.is_some_and(|x| !x.is_finite() || x <= 0.0) => {
                bad("did() look-back must be a positive duration".into())
            }
            _ => Ok(()),
        }
    }

    /// Whether the expression reads user traits.
    pub fn uses_traits(&self) -> bool {
        match self {
            SegmentExpr::And(v) | SegmentExpr::Or(v) => v.iter().any(Self::uses_traits),
            SegmentExpr::Not(e) => e.uses_traits(),
            SegmentExpr::Trait(_) => true,
            _ => false,
        }
    }
}

pub(super) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn is_plain_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_alphanumeric() || "_$-.".contains(c))
        && s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && !KEYWORDS.contains(&s.to_ascii_lowercase().as_str())
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl fmt::Display for SegmentExpr {
    /// The text form (round-trips through [`SegmentExpr::parse`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let child = |e: &SegmentExpr| match e {
            SegmentExpr::And(_) | SegmentExpr::Or(_) => format!("({e})"),
            _ => e.to_string(),
        };
        match self {
            SegmentExpr::And(v) if v.is_empty() => f.write_str("(true)"),
            SegmentExpr::Or(v) if v.is_empty() => f.write_str("(false)"),
            SegmentExpr::And(v) | SegmentExpr::Or(v) => {
                let sep = if matches!(self, SegmentExpr::And(_)) {
                    " and "
                } else {
                    " or "
                };
                let parts: Vec<String> = v.iter().map(child).collect();
                f.write_str(&parts.join(sep))
            }
            SegmentExpr::Not(e) => write!(f, "not {}", child(e)),
            SegmentExpr::Trait(t) => {
                let key = if is_plain_ident(&t.key) {
                    format!("trait.{}", t.key)
                } else {
                    quote(&t.key)
                };
                let value = match &t.value {
                    Value::String(s) => quote(s),
                    v => v.to_string(),
                };
                write!(f, "{key} {} {value}", t.op.symbol())
            }
            SegmentExpr::Metric(m) => {
                write!(
                    f,
                    "metric.{} {} {}",
                    m.metric.name(),
                    m.op.symbol(),
                    fmt_num(m.value)
                )
            }
            SegmentExpr::Did(d) => {
                let ev = if is_plain_ident(&d.event) {
                    d.event.clone()
                } else {
                    quote(&d.event)
                };
                write!(f, "did({ev}, {} {}", d.op.symbol(), d.count)?;
                if let Some(days) = d.days {
                    let ms = (days * DAY_MS as f64).round() as i64;
                    if ms % DAY_MS == 0 {
                        write!(f, ", {}d", ms / DAY_MS)?;
                    } else {
                        write!(f, ", {ms}ms")?;
                    }
                }
                f.write_str(")")
            }
        }
    }
}

/// Parse a duration such as `7d`, `12h`, `30m`, `45s`, `250ms`, `2w` into
/// milliseconds (must be > 0).
///
/// ```
/// use churn_core::engine::parse_duration_ms;
/// assert_eq!(parse_duration_ms("7d")?, 7 * 86_400_000);
/// assert_eq!(parse_duration_ms("30m")?, 1_800_000);
/// assert!(parse_duration_ms("7x").is_err());
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn parse_duration_ms(text: &str) -> Result<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        Error::invalid(
            "duration",
            format!("{text:?} is not a duration like 7d, 12h, 30m, 45s, 250ms or 2w"),
        )
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => MINUTE_MS,
        "h" => HOUR_MS,
        "d" => DAY_MS,
        "w" => 7 * DAY_MS,
        _ => return Err(bad()),
    };
    n.checked_mul(unit_ms).filter(|&ms| ms > 0).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn precedence_parentheses_and_round_trip() {
        let e = SegmentExpr::parse("a = 1 or b = 2 and not c = 3").unwrap();
        let SegmentExpr::Or(v) = &e else {
            panic!("{e:?}")
        };
        assert!(matches!(&v[1], SegmentExpr::And(w) if matches!(w[1], SegmentExpr::Not(_))));
        let g = SegmentExpr::parse("(a = 1 or b = 2) and metric.events_30d >= 5").unwrap();
        assert!(matches!(&g, SegmentExpr::And(w) if matches!(w[0], SegmentExpr::Or(_))));
        for x in [&e, &g] {
            assert_eq!(&SegmentExpr::parse(&x.to_string()).unwrap(), x);
        }
        let d = SegmentExpr::parse("DID(\"sign up\") and did(x, 12h) and did(y, < 2)").unwrap();
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"and": [
                {"did": {"event": "sign up", "op": "ge", "count": 1, "days": null}},
                {"did": {"event": "x", "op": "ge", "count": 1, "days": 0.5}},
                {"did": {"event": "y", "op": "lt", "count": 2, "days": null}}]})
        );
        assert_eq!(SegmentExpr::parse(&d.to_string()).unwrap(), d);
        let j: SegmentExpr =
            serde_json::from_value(json!({"trait": {"key": "plan", "op": "eq", "value": "pro"}}))
                .unwrap();
        assert_eq!(j, SegmentExpr::parse("trait.plan == \"pro\"").unwrap());
    }

    #[test]
    fn errors_name_the_position() {
        let cases = [
            ("plan =", "position 7"),
            ("plan \"pro\"", "position 6"),
            ("(a = 1", "position 7"),
            ("a = 1 b = 2", "position 7"),
            ("metric.nope > 1", "unknown metric"),
            ("did(x, >= 2, 3q)", "position 14"),
            ("a = 1 & b", "position 7"),
            ("did(x, 3d, >= 2)", "position 12"),
            ("metric.revenue > \"x\"", "position 18"),
            ("and = 1", "keyword"),
            ("\"abc", "unterminated"),
        ];
        for (text, want) in cases {
            let e = SegmentExpr::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        let deep = format!("{}a = 1{}", "(".repeat(40), ")".repeat(40));
        assert!(SegmentExpr::parse(&deep).is_err());
    }

    #[test]
    fn comparisons() {
        let v = json!("pro plan");
        assert!(CmpOp::Contains.matches(Some(&v), &json!("pro")));
        assert!(CmpOp::Eq.matches(Some(&json!(3)), &json!(3.0)));
        assert!(CmpOp::Lt.matches(Some(&json!("2025-01-01")), &json!("2025-02-01")));
        assert!(!CmpOp::Lt.matches(Some(&json!("1")), &json!(2)));
        assert!(CmpOp::Ne.matches(None, &json!(1)));
        assert!(!CmpOp::Eq.matches(None, &json!(null)));
        assert!(CmpOp::Contains.matches(Some(&json!(["a", "b"])), &json!("b")));
        assert_eq!(parse_duration_ms("2w").unwrap(), 14 * DAY_MS);
        assert!(parse_duration_ms("0d").is_err());
        assert!(parse_duration_ms("d").is_err());
    }
}
