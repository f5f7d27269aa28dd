//! Validation rules for incoming messages (see `DEFINITIONS.md`, "Events and users").

use std::io;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ValidationError;
use crate::time::{Timestamp, DAY_MS};

/// Limits applied to every message. The defaults are the documented ones; a server may
/// tighten them.
///
/// ```
/// use churn_core::event::Limits;
/// let l = Limits::default();
/// assert_eq!((l.max_name_chars, l.max_depth, l.max_message_bytes), (200, 16, 32 * 1024));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Longest event name, in characters.
    pub max_name_chars: usize,
    /// Longest user, anonymous, session or message id, in characters.
    pub max_id_chars: usize,
    /// Deepest nesting of `properties` / `traits` (the object itself is level 1).
    pub max_depth: usize,
    /// Largest encoded message, in bytes.
    pub max_message_bytes: usize,
    /// How far past the receive time a timestamp may lie, in milliseconds.
    pub max_future_ms: i64,
    /// Earliest accepted timestamp.
    pub min_timestamp: Timestamp,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_name_chars: 200,
            max_id_chars: 200,
            max_depth: 16,
            max_message_bytes: 32 * 1024,
            max_future_ms: DAY_MS,
            min_timestamp: Timestamp::from_millis(946_684_800_000), // 2000-01-01T00:00:00Z
        }
    }
}

/// Check a required name or id: non-empty, at most `max` characters, no control characters.
pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::Empty {
            field: field.to_string(),
        });
    }
    let mut len = 0;
    for (i, c) in value.chars().enumerate() {
        if c.is_control() {
            return Err(ValidationError::ControlCharacter {
                field: field.to_string(),
                position: i,
            });
        }
        len += 1;
    }
    if len > max {
        return Err(ValidationError::TooLong {
            field: field.to_string(),
            max,
            len,
        });
    }
    Ok(())
}

/// Check an optional id: when present it follows [`check_text`].
pub(crate) fn check_opt_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<(), ValidationError> {
    value.map_or(Ok(()), |v| check_text(field, v, max))
}

/// Check the nesting depth of a JSON object (the object itself is level 1).
pub(crate) fn check_depth(
    field: &str,
    map: &serde_json::Map<String, Value>,
    max: usize,
) -> Result<(), ValidationError> {
    fn depth(v: &Value, level: usize, max: usize) -> usize {
        // `level` is the level this value would occupy if it is a container.
        match v {
            Value::Object(_) | Value::Array(_) if level > max => level,
            Value::Object(m) => m
                .values()
                .map(|c| depth(c, level + 1, max))
                .max()
                .unwrap_or(level),
            Value::Array(a) => a
                .iter()
                .map(|c| depth(c, level + 1, max))
                .max()
                .unwrap_or(level),
            _ => level - 1,
        }
    }
    let d = map
        .values()
        .map(|v| depth(v, 2, max))
        .max()
        .unwrap_or(1)
        .max(1);
    if d > max {
        return Err(ValidationError::TooDeep {
            field: field.to_string(),
            depth: d,
            max,
        });
    }
    Ok(())
}

/// Check a timestamp against the receive time and the limits.
pub(crate) fn check_timestamp(
    ts: Timestamp,
    now: Timestamp,
    limits: &Limits,
) -> Result<(), ValidationError> {
    if ts < limits.min_timestamp {
        return Err(ValidationError::TooOld {
            timestamp: ts.to_string(),
        });
    }
    if ts.millis() > now.millis().saturating_add(limits.max_future_ms) {
        return Err(ValidationError::InFuture {
            timestamp: ts.to_string(),
            now: now.to_string(),
        });
    }
    Ok(())
}

/// `amount`, when present, must be a finite JSON number (revenue sums depend on it).
pub(crate) fn check_amount(props: &serde_json::Map<String, Value>) -> Result<(), ValidationError> {
    match props.get("amount") {
        None | Some(Value::Number(_)) => Ok(()),
        Some(Value::Null) => Ok(()),
        Some(other) => Err(ValidationError::NotFinite {
            field: "properties.amount".into(),
            found: Some(json_type(other).to_string()),
        }),
    }
}

/// The JSON type name of a value, for messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Bytes `value` takes when encoded as JSON, without allocating the encoding.
pub(crate) fn encoded_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Serializing plain data into a counter cannot fail; if it ever did, count it as huge.
    match serde_json::to_writer(&mut c, value) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}

/// Bytes per field for its key, quotes, colon and comma (every key of an event's fixed
/// fields is shorter than 16 bytes).
const FIELD: usize = 24;

/// Most bytes a JSON string of `s` takes: every byte escaped as `\u00XX`, plus quotes.
fn str_bound(s: &str) -> usize {
    6 * s.len() + 2
}

fn opt_bound(s: Option<&str>) -> usize {
    s.map_or(0, |s| FIELD + str_bound(s))
}

/// Most bytes `v` takes as JSON (a number is at most 24 characters without
/// serde_json's `arbitrary_precision`, which this crate does not enable).
fn value_bound(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(_) => 5,
        Value::Number(_) => 32,
        Value::String(s) => str_bound(s),
        Value::Array(a) => 2 + a.iter().map(|x| value_bound(x) + 1).sum::<usize>(),
        Value::Object(m) => map_bound(m),
    }
}

fn map_bound(m: &serde_json::Map<String, Value>) -> usize {
    2 + m
        .iter()
        .map(|(k, v)| str_bound(k) + 2 + value_bound(v))
        .sum::<usize>()
}

/// An upper bound of [`encoded_len`] of `e`, without serializing it: when it is within
/// the limit, the exact (slower) count is not needed. Call after the depth checks (it
/// recurses like them).
pub(crate) fn event_len_bound(e: &crate::event::Event) -> usize {
    let c = &e.context;
    let u = &c.utm;
    let utm = [&u.source, &u.medium, &u.campaign, &u.term, &u.content]
        .into_iter()
        .map(|s| opt_bound(s.as_deref()))
        .sum::<usize>();
    let context = [&c.path, &c.url, &c.title, &c.referrer, &c.user_agent, &c.ip]
        .into_iter()
        .map(|s| opt_bound(s.as_deref()))
        .sum::<usize>()
        + FIELD
        + 2
        + utm
        + FIELD
        + map_bound(&c.extra);
    // Two timestamps (RFC 3339 with milliseconds; 64 covers any year).
    2 + FIELD
        + str_bound(&e.message_id)
        + FIELD
        + str_bound(&e.event)
        + opt_bound(e.user_id.as_deref())
        + opt_bound(e.anonymous_id.as_deref())
        + 2 * (FIELD + 64)
        + opt_bound(e.session_id.as_deref())
        + FIELD
        + map_bound(&e.properties)
        + FIELD
        + context
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn depth_counts_the_object_as_level_one() {
        assert!(check_depth("p", &obj(json!({})), 1).is_ok());
        assert!(check_depth("p", &obj(json!({"a": 1})), 1).is_ok());
        assert!(check_depth("p", &obj(json!({"a": {}})), 1).is_err());
        assert!(check_depth("p", &obj(json!({"a": {"b": [1]}})), 3).is_ok());
        assert!(check_depth("p", &obj(json!({"a": {"b": [[1]]}})), 3).is_err());
        // 16 levels pass, 17 fail.
        let mut v = json!(1);
        for _ in 0..16 {
            v = json!({ "k": v });
        }
        assert!(check_depth("p", &obj(v.clone()), 16).is_ok());
        assert!(check_depth("p", &obj(json!({ "k": v })), 16).is_err());
    }

    #[test]
    fn text_rules() {
        assert!(check_text("event", "signup", 200).is_ok());
        assert_eq!(
            check_text("event", "", 200),
            Err(ValidationError::Empty {
                field: "event".into()
            })
        );
        assert!(matches!(
            check_text("event", "a\u{0}b", 200),
            Err(ValidationError::ControlCharacter { position: 1, .. })
        ));
        assert!(check_text("event", &"é".repeat(200), 200).is_ok());
        assert!(matches!(
            check_text("event", &"é".repeat(201), 200),
            Err(ValidationError::TooLong { len: 201, .. })
        ));
    }

    #[test]
    fn timestamps_and_amounts() {
        let l = Limits::default();
        let now = Timestamp::from_ymd(2026, 1, 1).unwrap();
        assert!(check_timestamp(now.add_millis(DAY_MS), now, &l).is_ok());
        assert!(check_timestamp(now.add_millis(DAY_MS + 1), now, &l).is_err());
        assert!(check_timestamp(l.min_timestamp, now, &l).is_ok());
        assert!(check_timestamp(l.min_timestamp.add_millis(-1), now, &l).is_err());
        assert!(check_amount(&obj(json!({"amount": 3.5}))).is_ok());
        assert!(check_amount(&obj(json!({"amount": "NaN"}))).is_err());
        assert_eq!(encoded_len(&json!({"a": 1})), 7);
    }

    #[test]
    fn the_event_bound_is_never_below_the_encoded_length() {
        use crate::event::Event;
        let mut e = Event::page("/a\u{1}\"b\\é")
            .user_id("u")
            .anonymous_id("a")
            .property(
                "nested",
                json!({"k\n": [1, -2.5e300, "x\u{0}", null, true, {"z": []}]}),
            )
            .number("amount", -1.234_567_890_123_456_7e-300)
            .property("big", u64::MAX)
            .property("neg", i64::MIN)
            .build()
            .unwrap();
        e.session_id = Some("s".into());
        e.user_id = Some("u\u{7f}\u{1}".into());
        e.timestamp = crate::time::Timestamp::from_millis(253_402_300_799_999);
        e.received_at = crate::time::Timestamp::from_millis(-1);
        e.context.url = Some("\u{1f}".repeat(50));
        e.context.title = Some("t".into());
        e.context.referrer = Some("r".into());
        e.context.user_agent = Some("ua".into());
        e.context.ip = Some("1.2.3.4".into());
        e.context.utm.source = Some("\"".into());
        e.context.utm.medium = Some("m".into());
        e.context.utm.campaign = Some("c".into());
        e.context.utm.term = Some("t".into());
        e.context.utm.content = Some("c".into());
        e.context
            .extra
            .insert("x\u{2}".into(), json!(["\u{3}", "\u{3}"]));
        assert!(event_len_bound(&e) >= encoded_len(&e));
        let plain = Event::track("x").user_id("u").build().unwrap();
        assert!(event_len_bound(&plain) >= encoded_len(&plain));
        assert!(event_len_bound(&plain) < 1024);
        // Around the limit the exact count decides: 30,000 bytes of text pass (the bound
        // is above the limit), 33,000 do not.
        let now = crate::time::Timestamp::now();
        let sized = |n: usize| {
            Event::track("x")
                .user_id("u")
                .property("text", "a".repeat(n))
                .build_at(now, &Limits::default())
        };
        assert!(sized(30_000).is_ok());
        assert!(matches!(
            sized(33_000),
            Err(crate::Error::Validation(ValidationError::TooLarge { .. }))
        ));
    }
}
