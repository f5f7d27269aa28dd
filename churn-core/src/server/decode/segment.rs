//! Segment's HTTP tracking API: `POST /v1/{track,identify,page,screen,group,alias,batch}`.
//!
//! - Write key: HTTP Basic (`Authorization: Basic base64("<key>:")`) first, else
//!   `writeKey` in the body (the envelope for `/v1/batch`).
//! - `/v1/batch` takes `{batch: [...], sentAt?, context?, integrations?}`; the envelope's
//!   `context` is merged into each message's context, key by key, the message's own keys
//!   winning. `integrations` is ignored (churnlens forwards nowhere).
//! - Clock skew, as Segment does it: when a message has a `timestamp` (or
//!   `originalTimestamp`) and a `sentAt` (its own or the envelope's), the stored time is
//!   `timestamp + (receivedAt - sentAt)`, unless the difference is within
//!   [`SKEW_TOLERANCE_MS`](super::SKEW_TOLERANCE_MS) (transit time, not a wrong clock:
//!   the timestamp is kept as sent). Without `sentAt` the timestamp is kept; without
//!   a timestamp the receive time is used.
//! - Limits: 32 KiB per message (a single-message call over it, or a bad JSON body, is a
//!   whole-request error; inside a batch only that message is refused) and 500 KiB per
//!   batch, before and after gzip.
//! - `group` calls are stored as a track event named [`GROUP_EVENT`] with properties
//!   `{group_id, traits}`, so nothing sent is lost; analyses can skip `$`-prefixed names.
//! - The single-message routes force the message `type` to the route's call.

use std::str::FromStr;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::body::utf8;
use super::{
    input_of, json_kind, skew_corrected, timestamp_of, too_many, Decoded, Limits, RequestParts,
};
use crate::error::ValidationError;
use crate::event::MessageInput;
use crate::server::auth::basic_username;
use crate::time::Timestamp;

/// The event name a Segment `group` call is stored under.
pub const GROUP_EVENT: &str = "$group";

/// Which Segment call a route is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `/v1/track`.
    Track,
    /// `/v1/identify`.
    Identify,
    /// `/v1/page`.
    Page,
    /// `/v1/screen`.
    Screen,
    /// `/v1/group`.
    Group,
    /// `/v1/alias`.
    Alias,
    /// `/v1/batch` (also `/v1/import`).
    Batch,
}

impl Call {
    /// Every call, in route order.
    pub const ALL: [Call; 7] = [
        Call::Track,
        Call::Identify,
        Call::Page,
        Call::Screen,
        Call::Group,
        Call::Alias,
        Call::Batch,
    ];

    /// The call's name as in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Call::Track => "track",
            Call::Identify => "identify",
            Call::Page => "page",
            Call::Screen => "screen",
            Call::Group => "group",
            Call::Alias => "alias",
            Call::Batch => "batch",
        }
    }
}

impl FromStr for Call {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Call::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| ValidationError::Invalid {
                field: "call".into(),
                reason: format!("unknown Segment call {s:?}"),
            })
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    batch: Vec<&'a RawValue>,
    #[serde(default, rename = "sentAt")]
    sent_at: Option<Value>,
    #[serde(default)]
    context: Option<Value>,
    #[serde(default, rename = "writeKey")]
    write_key: Option<Value>,
}

/// Decode one Segment request.
pub fn decode(
    call: Call,
    parts: &RequestParts<'_>,
    limits: &Limits,
) -> Result<Decoded, ValidationError> {
    let body = parts.unpacked_body(limits)?;
    let text = utf8(&body)?;
    let header_key = parts.authorization.and_then(basic_username);
    let now = parts.received_at;

    if call == Call::Batch {
        let env: Envelope<'_> =
            serde_json::from_str(text).map_err(|e| ValidationError::InvalidJson {
                reason: format!("expected {{\"batch\": [...]}}: {e}"),
            })?;
        if env.batch.len() > limits.max_messages {
            return Err(too_many(env.batch.len(), limits.max_messages));
        }
        let ctx = match env.context {
            Some(Value::Object(m)) => Some(m),
            None | Some(Value::Null) => None,
            Some(_) => {
                return Err(ValidationError::NotAnObject {
                    field: "context".into(),
                    found: "a non-object".into(),
                })
            }
        };
        let sent_at = timestamp_of(env.sent_at.as_ref());
        let items = env
            .batch
            .iter()
            .map(|raw| {
                let size = raw.get().len();
                if size > limits.max_message_bytes {
                    return Err(ValidationError::TooLarge {
                        size,
                        max: limits.max_message_bytes,
                    });
                }
                let v: Value =
                    serde_json::from_str(raw.get()).map_err(|e| ValidationError::InvalidJson {
                        reason: e.to_string(),
                    })?;
                prepare(v, ctx.as_ref(), sent_at, now, None)
            })
            .collect();
        let key = header_key.or_else(|| string_key(env.write_key.as_ref()));
        return Ok(Decoded {
            key,
            items,
            single: false,
        });
    }

    if body.len() > limits.max_message_bytes {
        return Err(ValidationError::TooLarge {
            size: body.len(),
            max: limits.max_message_bytes,
        });
    }
    let v: Value = serde_json::from_str(text).map_err(|e| ValidationError::InvalidJson {
        reason: e.to_string(),
    })?;
    if !v.is_object() {
        return Err(ValidationError::NotAnObject {
            field: "body".into(),
            found: json_kind(&v).into(),
        });
    }
    let key = header_key.or_else(|| string_key(v.get("writeKey")));
    let item = prepare(v, None, None, now, Some(call));
    Ok(Decoded {
        key,
        items: vec![item],
        single: true,
    })
}

fn string_key(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Turn one Segment message (a JSON value) into a [`MessageInput`]: merge the batch
/// context, force the route's type, map `group`, correct the clock skew.
fn prepare(
    v: Value,
    batch_ctx: Option<&Map<String, Value>>,
    batch_sent_at: Option<Timestamp>,
    received_at: Timestamp,
    forced: Option<Call>,
) -> Result<MessageInput, ValidationError> {
    let Value::Object(mut m) = v else {
        return Err(ValidationError::NotAnObject {
            field: "message".into(),
            found: json_kind(&v).into(),
        });
    };
    if let Some(ctx) = batch_ctx {
        match m.get_mut("context") {
            Some(Value::Object(own)) => {
                for (k, v) in ctx {
                    if !own.contains_key(k) {
                        own.insert(k.clone(), v.clone());
                    }
                }
            }
            None | Some(Value::Null) => {
                m.insert("context".into(), Value::Object(ctx.clone()));
            }
            Some(_) => {} // not an object: MessageInput reports it
        }
    }
    if let Some(call) = forced {
        m.insert("type".into(), Value::String(call.as_str().into()));
    }
    let is_group = m
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("group"));
    if is_group {
        let mut props = Map::new();
        let gid = m.remove("groupId").or_else(|| m.remove("group_id"));
        match gid {
            Some(Value::String(s)) if !s.is_empty() => {
                props.insert("group_id".into(), Value::String(s));
            }
            Some(Value::Number(n)) => {
                props.insert("group_id".into(), Value::String(n.to_string()));
            }
            _ => {
                return Err(ValidationError::Empty {
                    field: "groupId".into(),
                })
            }
        }
        if let Some(t) = m.remove("traits") {
            props.insert("traits".into(), t);
        }
        m.insert("type".into(), Value::String("track".into()));
        m.insert("event".into(), Value::String(GROUP_EVENT.into()));
        m.insert("properties".into(), Value::Object(props));
    }
    // Timestamp: Segment's `timestamp`, or analytics.js' `originalTimestamp`.
    let ts_value = m
        .get("timestamp")
        .filter(|v| !v.is_null())
        .or_else(|| m.get("originalTimestamp"));
    if let Some(ts) = timestamp_of(ts_value) {
        let sent = timestamp_of(m.get("sentAt")).or(batch_sent_at);
        let fixed = match sent {
            Some(s) => skew_corrected(ts, s, received_at),
            None => ts,
        };
        m.insert("timestamp".into(), Value::from(fixed.millis()));
    } else if m.get("timestamp").is_none_or(Value::is_null) {
        if let Some(orig) = m.get("originalTimestamp").cloned() {
            m.insert("timestamp".into(), orig); // unreadable: MessageInput names it
        }
    }
    input_of(Value::Object(m))
}

#[cfg(test)]
#[path = "segment_tests.rs"]
mod tests;
