//! PostHog's capture API: `/e`, `/i/v0/e`, `/capture`, `/track`, `/batch` (any trailing
//! slash, GET or POST), as posthog-js, posthog-python and posthog-node send it.
//!
//! Body forms, tried in this order:
//! 1. gzip, detected by its magic bytes whatever the query or headers say
//!    (posthog-js sends `compression=gzip-js` with `text/plain`; the server SDKs send
//!    `Content-Encoding: gzip`);
//! 2. a form body `data=<urlencoded base64>` (`application/x-www-form-urlencoded`, or a
//!    body starting with `data=`), as posthog-js sends with `sendBeacon`; a GET carries
//!    the same `data=` in its query;
//! 3. base64 text when `compression=base64` (query or form), or when the text does not
//!    start like JSON and decodes as base64;
//! 4. JSON: an array of events, an envelope `{api_key|token|$token, batch, sent_at}`, or
//!    one event.
//!
//! Mapping of one event:
//! - project token: the envelope's `api_key` / `token` / `$token`, else the query's
//!   `token` / `api_key`, else the first event's `api_key` / `token` / `$token` /
//!   `properties.token` / `properties.$token`; an event naming a different token is
//!   refused (one request, one project);
//! - person: `distinct_id`, `$distinct_id`, `properties.distinct_id`,
//!   `properties.$distinct_id` (numbers read as text). It is stored as `anonymous_id`
//!   when posthog-js marks the person anonymous (`$user_state: "anonymous"`, or
//!   `$device_id` equal to the distinct id, or `$process_person_profile: false`), else
//!   as `user_id`;
//! - `uuid` is the message id; `$session_id` the session;
//! - time: with `timestamp` and `sent_at` (envelope, or the query's `_` in epoch ms) and
//!   no `$ignore_sent_at`: `timestamp + (now - sent_at)` (kept as sent when the
//!   difference is within [`SKEW_TOLERANCE_MS`](super::SKEW_TOLERANCE_MS)); else with `offset` (ms):
//!   `now - offset`; else `timestamp`; else now (PostHog's rules);
//! - `$pageview` becomes a page call (event [`PAGE_VIEW`](crate::event::PAGE_VIEW)),
//!   `$screen` a screen call named by `$screen_name`; `$current_url`, `$pathname`,
//!   `$referrer` (unless `$direct`), `$ip`, `$raw_user_agent` and `utm_*` properties fill
//!   the context;
//! - `$identify` becomes an identify of the distinct id with traits `$set` (top level or
//!   in properties) linking `$anon_distinct_id`; `$set` becomes an identify with those
//!   traits; `$create_alias` becomes an alias of `properties.alias` to the distinct id.
//!   `$set_once` and `$unset` are dropped (churnlens traits have no set-once).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::body::{base64_decode, check_size, form_get, gunzip, is_gzip, parse_form, parse_json};
use super::{json_kind, skew_corrected, timestamp_of, too_many, Decoded, Limits, RequestParts};
use crate::error::ValidationError;
use crate::event::MessageInput;
use crate::time::Timestamp;

/// What the query string of a capture request says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `compression` (`gzip-js`, `base64`, `lz64`, ...).
    pub compression: Option<String>,
    /// `_`: the client's send time in epoch milliseconds.
    pub sent_at: Option<Timestamp>,
    /// `data`: the payload of a GET request.
    pub data: Option<String>,
    /// `token` or `api_key`.
    pub token: Option<String>,
    /// `beacon=1`: sent with `navigator.sendBeacon`; answered 204.
    pub beacon: bool,
}

impl Query {
    /// Parse a raw query string.
    pub fn parse(q: Option<&str>) -> Query {
        let pairs = parse_form(q.unwrap_or(""));
        let get = |k: &str| {
            form_get(&pairs, k)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Query {
            compression: get("compression"),
            sent_at: get("_")
                .and_then(|v| v.parse::<i64>().ok())
                .map(Timestamp::from_millis),
            data: get("data"),
            token: get("token").or_else(|| get("api_key")),
            beacon: get("beacon").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
        }
    }
}

/// Decode one capture request.
pub fn decode(parts: &RequestParts<'_>, limits: &Limits) -> Result<Decoded, ValidationError> {
    parts.check_encoding()?;
    check_size(parts.body, limits.max_request_bytes)?;
    let q = Query::parse(parts.query);
    let raw: Cow<'_, [u8]> = if parts.body.iter().all(u8::is_ascii_whitespace) {
        match &q.data {
            Some(d) => Cow::Owned(d.as_bytes().to_vec()),
            None => {
                return Err(ValidationError::Empty {
                    field: "body".into(),
                })
            }
        }
    } else {
        Cow::Borrowed(parts.body)
    };
    let payload = unwrap_payload(raw, &q, parts, limits)?;
    let json: Value = parse_json(&payload)?;
    let single = json.is_object() && json.get("batch").is_none();
    let (events, env_token, env_sent_at) = match json {
        Value::Array(a) => (a, None, None),
        Value::Object(mut m) if m.contains_key("batch") => {
            let batch = match m.remove("batch") {
                Some(Value::Array(a)) => a,
                other => {
                    return Err(ValidationError::InvalidJson {
                        reason: format!(
                            "batch must be an array, got {}",
                            other.as_ref().map(json_kind).unwrap_or("nothing")
                        ),
                    })
                }
            };
            let token = ["api_key", "token", "$token"]
                .iter()
                .find_map(|k| text(m.get(*k)));
            (batch, token, timestamp_of(m.get("sent_at")))
        }
        Value::Object(m) => (vec![Value::Object(m)], None, None),
        other => {
            return Err(ValidationError::NotAnObject {
                field: "body".into(),
                found: json_kind(&other).into(),
            })
        }
    };
    if events.len() > limits.max_messages {
        return Err(too_many(events.len(), limits.max_messages));
    }
    let key = env_token
        .or_else(|| q.token.clone())
        .or_else(|| events.iter().find_map(event_token));
    let sent_at = env_sent_at.or(q.sent_at);
    let items = events
        .into_iter()
        .map(|ev| {
            if let (Some(k), Some(own)) = (key.as_deref(), event_token(&ev)) {
                if k != own {
                    return Err(ValidationError::Invalid {
                        field: "token".into(),
                        reason: "the event names a different project token than the request".into(),
                    });
                }
            }
            map_event(ev, sent_at, parts.received_at)
        })
        .collect();
    Ok(Decoded { key, items, single })
}

/// Peel gzip, form and base64 layers off a capture body.
fn unwrap_payload<'a>(
    raw: Cow<'a, [u8]>,
    q: &Query,
    parts: &RequestParts<'_>,
    limits: &Limits,
) -> Result<Cow<'a, [u8]>, ValidationError> {
    let max = limits.max_decompressed_bytes;
    let mut bytes = raw;
    if is_gzip(&bytes) {
        bytes = Cow::Owned(gunzip(&bytes, max)?);
    } else if parts.declares_gzip() {
        return Err(ValidationError::Invalid {
            field: "body".into(),
            reason: "Content-Encoding is gzip but the body is not gzip data".into(),
        });
    }
    let mut compression = q.compression.clone();
    let is_form = parts.content_type.is_some_and(|c| {
        c.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    }) || bytes.starts_with(b"data=");
    if is_form {
        let text = super::body::utf8(&bytes)?;
        let pairs = parse_form(text);
        if let Some(c) = form_get(&pairs, "compression").filter(|c| !c.is_empty()) {
            compression = Some(c.to_string());
        }
        let data = form_get(&pairs, "data").ok_or(ValidationError::Empty {
            field: "data".into(),
        })?;
        bytes = Cow::Owned(data.as_bytes().to_vec());
    }
    match compression.as_deref() {
        Some(c) if c.eq_ignore_ascii_case("lz64") => {
            return Err(ValidationError::Invalid {
                field: "compression".into(),
                reason: "lz64 is not supported; use gzip-js or base64".into(),
            })
        }
        Some(c) if c.eq_ignore_ascii_case("base64") => {
            bytes = Cow::Owned(base64_decode(&bytes)?);
        }
        _ => {
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
            if first.is_some_and(|b| b != b'{' && b != b'[') {
                if let Ok(d) = base64_decode(&bytes) {
                    bytes = Cow::Owned(d);
                }
            }
        }
    }
    if is_gzip(&bytes) {
        bytes = Cow::Owned(gunzip(&bytes, max)?);
    }
    check_size(&bytes, max)?;
    Ok(bytes)
}

/// A string or number as text; empty strings count as absent.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The project token an event names, wherever the SDKs put it.
fn event_token(ev: &Value) -> Option<String> {
    ["api_key", "token", "$token"]
        .iter()
        .find_map(|k| text(ev.get(*k)))
        .or_else(|| {
            let p = ev.get("properties")?;
            text(p.get("token")).or_else(|| text(p.get("$token")))
        })
}

fn map_event(
    ev: Value,
    sent_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<MessageInput, ValidationError> {
    let Value::Object(mut m) = ev else {
        return Err(ValidationError::NotAnObject {
            field: "event".into(),
            found: json_kind(&ev).into(),
        });
    };
    let mut props = match m.remove("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(ValidationError::NotAnObject {
                field: "properties".into(),
                found: json_kind(&other).into(),
            })
        }
    };
    let event = match m.remove("event") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Null) | None => {
            return Err(ValidationError::Empty {
                field: "event".into(),
            })
        }
        Some(Value::String(_)) => {
            return Err(ValidationError::Empty {
                field: "event".into(),
            })
        }
        Some(other) => {
            return Err(ValidationError::Invalid {
                field: "event".into(),
                reason: format!("must be a string, got {}", json_kind(&other)),
            })
        }
    };
    let distinct_id = text(m.get("distinct_id"))
        .or_else(|| text(m.get("$distinct_id")))
        .or_else(|| text(props.get("distinct_id")))
        .or_else(|| text(props.get("$distinct_id")));

    // Time, by PostHog's rules.
    let ignore_sent_at = props.get("$ignore_sent_at").and_then(Value::as_bool) == Some(true);
    let ts_value = m.remove("timestamp").filter(|v| !v.is_null());
    let ts = timestamp_of(ts_value.as_ref());
    let offset = m.get("offset").and_then(Value::as_i64);
    let timestamp = match (ts, sent_at, offset) {
        (Some(t), Some(s), _) if !ignore_sent_at => {
            Some(Value::from(skew_corrected(t, s, now).millis()))
        }
        // Saturating: `-o` overflows for `offset: i64::MIN` (found by fuzzing).
        (_, _, Some(o)) => Some(Value::from(now.millis().saturating_sub(o))),
        (Some(t), _, _) => Some(Value::from(t.millis())),
        (None, _, _) => ts_value, // absent (now) or unreadable (refused by validation)
    };

    let top_set = m.remove("$set");
    let prop_set = props.remove("$set");
    let set = match top_set.or(prop_set) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v),
    };
    for k in [
        "token",
        "$token",
        "distinct_id",
        "$distinct_id",
        "$set_once",
        "$unset",
    ] {
        props.remove(k);
    }
    let session_id = props.get("$session_id").cloned();
    let anonymous = props.get("$user_state").and_then(Value::as_str) == Some("anonymous")
        || (distinct_id.is_some() && text(props.get("$device_id")) == distinct_id)
        || props
            .get("$process_person_profile")
            .and_then(Value::as_bool)
            == Some(false);

    let mut input = MessageInput {
        message_id: m.remove("uuid").filter(|v| !v.is_null()),
        timestamp,
        session_id,
        ..MessageInput::default()
    };
    let id = distinct_id.map(Value::String);
    match event.as_str() {
        "$identify" | "$set" => {
            input.kind = Some("identify".into());
            input.user_id = id;
            if event == "$identify" {
                input.anonymous_id = props.remove("$anon_distinct_id").filter(|v| !v.is_null());
            }
            input.traits = set;
            input.context = Some(context_of(&props));
        }
        "$create_alias" => {
            input.kind = Some("alias".into());
            input.user_id = id;
            input.previous_id = props.remove("alias");
        }
        _ => {
            let kind = match event.as_str() {
                "$pageview" => "page",
                "$screen" => "screen",
                _ => "track",
            };
            if kind == "screen" {
                input.name = text(props.get("$screen_name"));
            }
            input.kind = Some(kind.into());
            if anonymous {
                input.anonymous_id = id;
            } else {
                input.user_id = id;
            }
            input.context = Some(context_of(&props));
            input.event = Some(event);
            input.properties = Some(Value::Object(props));
        }
    }
    Ok(input)
}

/// The churnlens context of a PostHog event, from its `$` properties.
fn context_of(props: &Map<String, Value>) -> Value {
    let mut c = Map::new();
    let mut put = |to: &str, from: &str| {
        if let Some(Value::String(s)) = props.get(from) {
            if !s.is_empty() && s != "$direct" {
                c.insert(to.into(), Value::String(s.clone()));
            }
        }
    };
    put("url", "$current_url");
    put("path", "$pathname");
    put("referrer", "$referrer");
    put("ip", "$ip");
    put("user_agent", "$raw_user_agent");
    put("title", "title");
    let mut utm = Map::new();
    for k in [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ] {
        if let Some(Value::String(s)) = props.get(k) {
            utm.insert(k.into(), Value::String(s.clone()));
        }
    }
    if !utm.is_empty() {
        c.insert("campaign".into(), Value::Object(utm));
    }
    Value::Object(c)
}

#[cfg(test)]
#[path = "posthog_tests.rs"]
mod tests;
