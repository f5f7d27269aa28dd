//! churnlens' own ingestion API: `POST /api/track` and `POST /api/identify`.
//!
//! A body is one message, an array of messages, or `{batch: [...]}`; messages use the
//! [`MessageInput`] fields (snake_case or Segment camelCase). Limits are Segment's:
//! 32 KiB per message, 500 KiB per request (before and after gzip). A key may be given in
//! the body as `writeKey` / `write_key` (the route also reads the `Authorization`
//! header).
//!
//! ## The simple shape of small Flask analytics backends
//! A message with no `event`, no user or anonymous id, and a `sessionId` (or
//! `session_id`) is read as `{sessionId, type, category, action, label, value, path,
//! timestamp}`:
//! - `anonymous_id` and `session_id` are the `sessionId`;
//! - `type` `pageview` / `page_view` / `page` gives a page call (event `page_view`);
//!   otherwise the event name is `type`, except when `type` is missing or the generic
//!   `event`, where it is `action`, else `category`, else `event`;
//! - `type`, `category`, `action`, `label` and `value` are kept as properties;
//!   `path` goes to `context.path` (and `properties.path`);
//! - a numeric `timestamp` below 10^11 is read as epoch **seconds** (what
//!   `time.time()` / `Date.now() / 1000` give), larger ones as milliseconds; text
//!   timestamps as usual.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::body::utf8;
use super::{input_of, json_kind, too_many, Decoded, Limits, RequestParts};
use crate::error::ValidationError;
use crate::event::MessageInput;

/// Which native endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/track`: any message type (track by default).
    Track,
    /// `POST /api/identify`: every message is an identify call.
    Identify,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    batch: Option<Vec<&'a RawValue>>,
    #[serde(default, rename = "writeKey", alias = "write_key")]
    write_key: Option<Value>,
}

/// Decode one native request.
pub fn decode(
    endpoint: Endpoint,
    parts: &RequestParts<'_>,
    limits: &Limits,
) -> Result<Decoded, ValidationError> {
    let body = parts.unpacked_body(limits)?;
    let text = utf8(&body)?.trim_start();
    let bad_json = |e: serde_json::Error| ValidationError::InvalidJson {
        reason: e.to_string(),
    };
    let mut single = false;
    let (raws, key): (Vec<&RawValue>, Option<String>) = if text.starts_with('[') {
        (serde_json::from_str(text).map_err(bad_json)?, None)
    } else if text.starts_with('{') {
        let env: Envelope<'_> = serde_json::from_str(text).map_err(bad_json)?;
        let key = env
            .write_key
            .as_ref()
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        match env.batch {
            Some(b) => (b, key),
            None => {
                if body.len() > limits.max_message_bytes {
                    return Err(ValidationError::TooLarge {
                        size: body.len(),
                        max: limits.max_message_bytes,
                    });
                }
                single = true;
                (vec![serde_json::from_str(text).map_err(bad_json)?], key)
            }
        }
    } else {
        // Not an array or object: let the parser name the problem.
        let v: Value = serde_json::from_str(text).map_err(bad_json)?;
        return Err(ValidationError::NotAnObject {
            field: "body".into(),
            found: json_kind(&v).into(),
        });
    };
    if raws.len() > limits.max_messages {
        return Err(too_many(raws.len(), limits.max_messages));
    }
    let items = raws
        .iter()
        .map(|raw| {
            let size = raw.get().len();
            if size > limits.max_message_bytes {
                return Err(ValidationError::TooLarge {
                    size,
                    max: limits.max_message_bytes,
                });
            }
            let v: Value = serde_json::from_str(raw.get()).map_err(bad_json)?;
            prepare(v, endpoint)
        })
        .collect();
    Ok(Decoded { key, items, single })
}

fn prepare(v: Value, endpoint: Endpoint) -> Result<MessageInput, ValidationError> {
    let Value::Object(mut m) = v else {
        return Err(ValidationError::NotAnObject {
            field: "message".into(),
            found: json_kind(&v).into(),
        });
    };
    if endpoint == Endpoint::Identify {
        m.insert("type".into(), Value::String("identify".into()));
    } else if is_simple_shape(&m) {
        m = simple_shape(m);
    }
    input_of(Value::Object(m))
}

/// Whether a message is the `{sessionId, type, category, ...}` shape (see module docs).
pub fn is_simple_shape(m: &Map<String, Value>) -> bool {
    let has = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
    !has("event")
        && !["userId", "user_id", "anonymousId", "anonymous_id"]
            .iter()
            .any(|k| has(k))
        && (has("sessionId") || has("session_id"))
}

fn simple_shape(mut m: Map<String, Value>) -> Map<String, Value> {
    let session = m
        .remove("sessionId")
        .or_else(|| m.remove("session_id"))
        .unwrap_or(Value::Null);
    let kind = m.remove("type");
    let kind_str = kind
        .as_ref()
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let nonempty = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut props = match m.remove("properties") {
        Some(Value::Object(p)) => p,
        _ => Map::new(),
    };
    if let Some(k) = kind.clone() {
        props.insert("type".into(), k);
    }
    for k in ["category", "action", "label", "value"] {
        if let Some(v) = m.remove(k) {
            props.insert(k.into(), v);
        }
    }
    let mut out = Map::new();
    let page = matches!(kind_str.as_deref(), Some("pageview" | "page_view" | "page"));
    if page {
        out.insert("type".into(), Value::String("page".into()));
    } else {
        let name = match kind_str.as_deref() {
            None | Some("event") | Some("") => nonempty(props.get("action"))
                .or_else(|| nonempty(props.get("category")))
                .unwrap_or_else(|| "event".into()),
            Some(_) => nonempty(kind.as_ref()).unwrap_or_else(|| "event".into()),
        };
        out.insert("type".into(), Value::String("track".into()));
        out.insert("event".into(), Value::String(name));
    }
    out.insert("anonymous_id".into(), session.clone());
    out.insert("session_id".into(), session);
    if let Some(path) = m.remove("path") {
        let mut ctx = match m.remove("context") {
            Some(Value::Object(c)) => c,
            _ => Map::new(),
        };
        ctx.insert("path".into(), path.clone());
        props.insert("path".into(), path);
        out.insert("context".into(), Value::Object(ctx));
    } else if let Some(c) = m.remove("context") {
        out.insert("context".into(), c);
    }
    if let Some(ts) = m.remove("timestamp") {
        let ts = match ts.as_f64() {
            Some(n) if ts.is_number() && n.abs() < 1e11 => Value::from((n * 1000.0).round() as i64),
            Some(n) if ts.is_number() && !ts.is_i64() => Value::from(n.round() as i64),
            _ => ts,
        };
        out.insert("timestamp".into(), ts);
    }
    for k in ["messageId", "message_id"] {
        if let Some(v) = m.remove(k) {
            out.insert(k.into(), v);
        }
    }
    // Anything else the sender added is kept as a property.
    for (k, v) in m {
        if k != "writeKey" && k != "write_key" {
            props.entry(k).or_insert(v);
        }
    }
    out.insert("properties".into(), Value::Object(props));
    out
}

/// Whether a `Content-Type` is acceptable for a JSON body: absent, `application/json`,
/// `application/*+json` or `text/plain` (what browsers send to skip a CORS preflight).
pub fn json_content_type_ok(ct: Option<&str>) -> bool {
    let Some(ct) = ct else { return true };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.is_empty()
        || mime == "application/json"
        || mime == "text/plain"
        || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Input for `MessageInput`-level tests.
#[cfg(test)]
pub(crate) fn prepare_for_test(v: Value) -> Result<MessageInput, ValidationError> {
    prepare(v, Endpoint::Track)
}

#[cfg(test)]
#[path = "native_tests.rs"]
mod tests;
