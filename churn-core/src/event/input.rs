//! Lenient parsing of messages from outside (HTTP bodies, NDJSON files, binding
//! arguments) into validated [`Message`]s.
//!
//! Field names are accepted in snake_case and in the camelCase the Segment SDKs send
//! (`userId`, `anonymousId`, `messageId`, ...). Segment's `context.page` and
//! `context.campaign` are read into [`Context`]. Raw bytes are checked for UTF-8 first so
//! that the error names the offset.

use serde::Deserialize;
use serde_json::Value;

use super::validate::{json_type, Limits};
use super::{Alias, Context, Event, Identify, Message, Properties, Utm, PAGE_VIEW};
use crate::error::ValidationError;
use crate::time::Timestamp;

/// One message as sent from outside, before validation. `type` picks the call
/// (`track` by default, `page`, `screen`, `identify`, `alias`).
///
/// ```
/// use churn_core::event::{MessageInput, Limits, Message};
/// use churn_core::Timestamp;
/// let raw = br#"{"type":"track","event":"signup","userId":"u1","properties":{"plan":"pro"}}"#;
/// let m = MessageInput::parse_slice(raw).unwrap().into_message(Timestamp::now(), &Limits::default()).unwrap();
/// match m { Message::Track(e) => assert_eq!(e.user_id.as_deref(), Some("u1")), _ => unreachable!() }
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MessageInput {
    /// `track`, `page`, `screen`, `identify` or `alias`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Event name (track).
    pub event: Option<String>,
    /// Page or screen name.
    pub name: Option<String>,
    /// User id.
    #[serde(alias = "userId")]
    pub user_id: Option<Value>,
    /// Anonymous id.
    #[serde(alias = "anonymousId")]
    pub anonymous_id: Option<Value>,
    /// Previous id (alias).
    #[serde(alias = "previousId")]
    pub previous_id: Option<Value>,
    /// Message id.
    #[serde(alias = "messageId")]
    pub message_id: Option<Value>,
    /// Session id.
    #[serde(alias = "sessionId")]
    pub session_id: Option<Value>,
    /// RFC 3339 text, a date, or epoch milliseconds.
    pub timestamp: Option<Value>,
    /// Event properties.
    pub properties: Option<Value>,
    /// User traits (identify).
    pub traits: Option<Value>,
    /// Context.
    pub context: Option<Value>,
}

/// The input shape of a track or page call (same struct as [`MessageInput`]).
pub type EventInput = MessageInput;
/// The input shape of an identify call (same struct as [`MessageInput`]).
pub type IdentifyInput = MessageInput;

impl MessageInput {
    /// Parse one JSON object from raw bytes.
    pub fn parse_slice(raw: &[u8]) -> Result<MessageInput, ValidationError> {
        let text = std::str::from_utf8(raw).map_err(|e| ValidationError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        serde_json::from_str(text).map_err(|e| ValidationError::InvalidJson {
            reason: e.to_string(),
        })
    }

    /// Read from an already-parsed JSON value (must be an object).
    pub fn from_value(v: Value) -> Result<MessageInput, ValidationError> {
        if !v.is_object() {
            return Err(ValidationError::NotAnObject {
                field: "message".into(),
                found: json_type(&v).into(),
            });
        }
        serde_json::from_value(v).map_err(|e| ValidationError::InvalidJson {
            reason: e.to_string(),
        })
    }

    /// Validate and turn into a [`Message`] received at `now`.
    pub fn into_message(self, now: Timestamp, limits: &Limits) -> Result<Message, ValidationError> {
        let kind = self.kind.as_deref().map(str::to_ascii_lowercase);
        let user_id = id_field("user_id", self.user_id)?;
        let anonymous_id = id_field("anonymous_id", self.anonymous_id)?;
        let message_id =
            id_field("message_id", self.message_id)?.unwrap_or_else(super::new_message_id);
        let timestamp = match self.timestamp {
            None | Some(Value::Null) => now,
            Some(Value::String(s)) => Timestamp::parse_field(&s, "timestamp")?,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(ms) => Timestamp::from_millis(ms),
                None => {
                    return Err(ValidationError::BadTimestamp {
                        field: "timestamp".into(),
                        value: n.to_string(),
                    })
                }
            },
            Some(other) => {
                return Err(ValidationError::BadTimestamp {
                    field: "timestamp".into(),
                    value: other.to_string(),
                })
            }
        };
        let mut context = context_from_value(self.context)?;
        let msg = match kind
            .as_deref()
            .unwrap_or(if self.event.is_some() { "track" } else { "" })
        {
            "track" => {
                let event = self.event.ok_or(ValidationError::Empty {
                    field: "event".into(),
                })?;
                let properties = object_field("properties", self.properties)?;
                Message::Track(Event {
                    message_id,
                    event,
                    user_id,
                    anonymous_id,
                    timestamp,
                    received_at: now,
                    session_id: id_field("session_id", self.session_id)?,
                    properties,
                    context,
                })
            }
            "page" | "screen" => {
                let mut properties = object_field("properties", self.properties)?;
                if let Some(n) = self.name {
                    properties.entry("name").or_insert(Value::String(n));
                }
                for key in ["path", "url", "title", "referrer"] {
                    let slot = match key {
                        "path" => &mut context.path,
                        "url" => &mut context.url,
                        "title" => &mut context.title,
                        _ => &mut context.referrer,
                    };
                    match (slot.as_ref(), properties.get(key).and_then(Value::as_str)) {
                        (None, Some(v)) => *slot = Some(v.to_string()),
                        (Some(v), None) => {
                            properties.insert(key.into(), Value::String(v.clone()));
                        }
                        _ => {}
                    }
                }
                if context.utm.is_empty() {
                    if let Some(url) = context.url.as_deref() {
                        context.utm = Utm::from_query(url);
                    }
                }
                let event = if kind.as_deref() == Some("screen") {
                    "screen_view".to_string()
                } else {
                    PAGE_VIEW.to_string()
                };
                Message::Track(Event {
                    message_id,
                    event,
                    user_id,
                    anonymous_id,
                    timestamp,
                    received_at: now,
                    session_id: id_field("session_id", self.session_id)?,
                    properties,
                    context,
                })
            }
            "identify" => Message::Identify(Identify {
                message_id,
                user_id: user_id.ok_or(ValidationError::Empty {
                    field: "user_id".into(),
                })?,
                anonymous_id,
                traits: object_field("traits", self.traits)?,
                timestamp,
                received_at: now,
                context,
            }),
            "alias" => Message::Alias(Alias {
                message_id,
                user_id: user_id.ok_or(ValidationError::Empty {
                    field: "user_id".into(),
                })?,
                previous_id: id_field("previous_id", self.previous_id)?.ok_or(
                    ValidationError::Empty {
                        field: "previous_id".into(),
                    },
                )?,
                timestamp,
                received_at: now,
            }),
            "" => {
                return Err(ValidationError::Empty {
                    field: "event".into(),
                })
            }
            other => {
                return Err(ValidationError::Invalid {
                    field: "type".into(),
                    reason: format!(
                    "unknown message type {:?} (expected track, page, screen, identify or alias)",
                    cut(other)
                ),
                })
            }
        };
        msg.validate(now, limits)?;
        Ok(msg)
    }
}

fn cut(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Ids may arrive as strings or numbers (some SDKs send numeric user ids); numbers are
/// kept as their decimal text. Empty strings count as absent only for optional ids.
fn id_field(field: &str, v: Option<Value>) -> Result<Option<String>, ValidationError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(ValidationError::Invalid {
            field: field.into(),
            reason: format!("must be a string, got {}", json_type(&other)),
        }),
    }
}

fn object_field(field: &str, v: Option<Value>) -> Result<Properties, ValidationError> {
    match v {
        None | Some(Value::Null) => Ok(Properties::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(ValidationError::NotAnObject {
            field: field.into(),
            found: json_type(&other).into(),
        }),
    }
}

fn string_field(field: &str, v: Value) -> Result<Option<String>, ValidationError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(ValidationError::Invalid {
            field: field.into(),
            reason: format!("must be a string, got {}", json_type(&other)),
        }),
    }
}

/// Read a context object: our own field names, Segment's (`userAgent`, `page{...}`,
/// `campaign{...}`), and everything else kept in `extra`.
pub(crate) fn context_from_value(v: Option<Value>) -> Result<Context, ValidationError> {
    let map = match v {
        None | Some(Value::Null) => return Ok(Context::default()),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ValidationError::NotAnObject {
                field: "context".into(),
                found: json_type(&other).into(),
            })
        }
    };
    let mut c = Context::default();
    let mut page = None;
    for (k, v) in map {
        match k.as_str() {
            "path" => c.path = string_field("context.path", v)?,
            "url" => c.url = string_field("context.url", v)?,
            "title" => c.title = string_field("context.title", v)?,
            "referrer" => c.referrer = string_field("context.referrer", v)?,
            "user_agent" | "userAgent" => c.user_agent = string_field("context.user_agent", v)?,
            "ip" => c.ip = string_field("context.ip", v)?,
            "utm" | "campaign" => {
                if let Value::Object(m) = v {
                    let get = |keys: &[&str]| {
                        keys.iter()
                            .find_map(|k| m.get(*k).and_then(Value::as_str).map(str::to_string))
                    };
                    c.utm = Utm {
                        source: get(&["source", "utm_source"]),
                        medium: get(&["medium", "utm_medium"]),
                        campaign: get(&["campaign", "name", "utm_campaign"]),
                        term: get(&["term", "utm_term"]),
                        content: get(&["content", "utm_content"]),
                    };
                } else if !v.is_null() {
                    return Err(ValidationError::NotAnObject {
                        field: format!("context.{k}"),
                        found: json_type(&v).into(),
                    });
                }
            }
            "page" => page = Some(v),
            _ => {
                c.extra.insert(k, v);
            }
        }
    }
    if let Some(Value::Object(p)) = page {
        let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        c.path = c.path.take().or_else(|| s("path"));
        c.url = c.url.take().or_else(|| s("url"));
        c.title = c.title.take().or_else(|| s("title"));
        c.referrer = c.referrer.take().or_else(|| s("referrer"));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Message, ValidationError> {
        MessageInput::from_value(v)?
            .into_message(Timestamp::from_ymd(2026, 1, 1).unwrap(), &Limits::default())
    }

    #[test]
    fn segment_shapes() {
        let m = parse(json!({
            "type": "page", "name": "Pricing", "anonymousId": "a1", "messageId": "m-1",
            "timestamp": "2025-12-31T23:00:00Z",
            "context": {"page": {"path": "/pricing", "url": "https://x.io/pricing?utm_source=hn", "referrer": "https://news.ycombinator.com/"},
                        "userAgent": "Mozilla/5.0", "ip": "1.2.3.4", "library": {"name": "analytics.js"}}
        }))
        .unwrap();
        let Message::Track(e) = m else {
            panic!("not a track")
        };
        assert_eq!(e.event, PAGE_VIEW);
        assert_eq!(e.message_id, "m-1");
        assert_eq!(e.context.path.as_deref(), Some("/pricing"));
        assert_eq!(e.properties["path"], "/pricing");
        assert_eq!(e.properties["name"], "Pricing");
        assert_eq!(e.context.utm.source.as_deref(), Some("hn"));
        assert_eq!(e.context.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(e.context.extra["library"]["name"], "analytics.js");
        assert_eq!(e.context.source(), "hn");
    }

    #[test]
    fn identify_alias_and_numeric_ids() {
        let Message::Identify(i) =
            parse(json!({"type":"identify","userId":42,"traits":{"plan":"pro"}})).unwrap()
        else {
            panic!()
        };
        assert_eq!(i.user_id, "42");
        let Message::Alias(a) =
            parse(json!({"type":"alias","userId":"u","previousId":"a"})).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.previous_id, "a");
    }

    #[test]
    fn bad_inputs_get_typed_errors() {
        assert!(matches!(
            MessageInput::parse_slice(b"{\"event\":\"a\xff\"}"),
            Err(ValidationError::InvalidUtf8 { offset: 11 })
        ));
        assert!(matches!(
            MessageInput::parse_slice(b"{not json"),
            Err(ValidationError::InvalidJson { .. })
        ));
        assert!(matches!(
            MessageInput::from_value(json!([1])),
            Err(ValidationError::NotAnObject { .. })
        ));
        assert!(matches!(
            parse(json!({"event":"x","userId":"u","properties":[1]})),
            Err(ValidationError::NotAnObject { .. })
        ));
        assert!(matches!(
            parse(json!({"event":"x","userId":{"a":1}})),
            Err(ValidationError::Invalid { .. })
        ));
        assert!(matches!(
            parse(json!({"event":"x","userId":"u","timestamp":"soon"})),
            Err(ValidationError::BadTimestamp { .. })
        ));
        assert!(matches!(
            parse(json!({"event":"x","userId":"u","timestamp":true})),
            Err(ValidationError::BadTimestamp { .. })
        ));
        assert!(matches!(
            parse(json!({"type":"launch","userId":"u"})),
            Err(ValidationError::Invalid { .. })
        ));
        assert!(matches!(
            parse(json!({"userId":"u"})),
            Err(ValidationError::Empty { .. })
        ));
        assert!(matches!(
            parse(json!({"event":"x"})),
            Err(ValidationError::MissingIdentity)
        ));
        assert!(matches!(
            parse(json!({"type":"identify","anonymousId":"a"})),
            Err(ValidationError::Empty { .. })
        ));
    }
}
