//! Request decoders: pure functions from an HTTP request's parts (query, headers, body
//! bytes, receive time) to the project key and a list of [`MessageInput`]s.
//!
//! One decoder per wire protocol: [`segment`] (Segment's HTTP tracking API), [`posthog`]
//! (PostHog's capture API) and [`native`] (churnlens' own `/api/track` and
//! `/api/identify`). They do no I/O and know nothing about projects or stores, so they
//! are unit-tested and fuzzed on their own.
//!
//! A decoder fails as a whole ([`ValidationError`]) only when the body itself cannot be
//! read: too large, bad gzip or base64, not JSON, wrong top-level shape. A bad message
//! inside a readable batch becomes an `Err` at its index in [`Decoded::items`] and the
//! others go on.
//!
//! ```
//! use churn_core::server::decode::{segment, Limits as BodyLimits, RequestParts};
//! use churn_core::Timestamp;
//! let body = br#"{"userId":"u1","event":"signup","writeKey":"wk_1"}"#;
//! let parts = RequestParts::new(body).received_at(Timestamp::from_millis(1_767_225_600_000));
//! let d = segment::decode(segment::Call::Track, &parts, &BodyLimits::segment()).unwrap();
//! assert_eq!(d.key.as_deref(), Some("wk_1"));
//! assert_eq!(d.items.len(), 1);
//! ```

pub mod body;
pub mod native;
pub mod posthog;
pub mod segment;

use serde_json::Value;

use crate::error::ValidationError;
use crate::event::MessageInput;
use crate::time::Timestamp;

/// Size and count limits of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request body as received (compressed or not), in bytes.
    pub max_request_bytes: usize,
    /// Largest body after decompression, in bytes.
    pub max_decompressed_bytes: usize,
    /// Largest single message as sent (its JSON text), in bytes.
    pub max_message_bytes: usize,
    /// Most messages in one request.
    pub max_messages: usize,
}

impl Limits {
    /// Segment's documented limits (and churnlens' native API): 32 KiB per message,
    /// 500 KiB per batch (before and after decompression), at most 10,000 messages.
    pub fn segment() -> Self {
        Limits {
            max_request_bytes: 500 * 1024,
            max_decompressed_bytes: 500 * 1024,
            max_message_bytes: 32 * 1024,
            max_messages: 10_000,
        }
    }

    /// PostHog's capture limits: 2 MB per request as received, 20 MB decompressed;
    /// 32 KiB per message (churnlens' event limit), at most 100,000 events.
    pub fn posthog() -> Self {
        Limits {
            max_request_bytes: 2 * 1024 * 1024,
            max_decompressed_bytes: 20 * 1024 * 1024,
            max_message_bytes: 32 * 1024,
            max_messages: 100_000,
        }
    }
}

/// The parts of an HTTP request a decoder reads. Header values are passed in already
/// looked up, so decoders do not depend on an HTTP library.
#[derive(Debug, Clone)]
pub struct RequestParts<'a> {
    /// Raw query string (without `?`), if any.
    pub query: Option<&'a str>,
    /// `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// `Content-Encoding` header.
    pub content_encoding: Option<&'a str>,
    /// `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The body as received.
    pub body: &'a [u8],
    /// When the server received the request (Segment's `receivedAt`).
    pub received_at: Timestamp,
}

impl<'a> RequestParts<'a> {
    /// A request with this body, no headers, received now.
    pub fn new(body: &'a [u8]) -> Self {
        RequestParts {
            query: None,
            content_type: None,
            content_encoding: None,
            authorization: None,
            body,
            received_at: Timestamp::now(),
        }
    }

    /// Set the query string.
    pub fn query(mut self, q: &'a str) -> Self {
        self.query = Some(q);
        self
    }

    /// Set the `Content-Type` header.
    pub fn content_type(mut self, v: &'a str) -> Self {
        self.content_type = Some(v);
        self
    }

    /// Set the `Content-Encoding` header.
    pub fn content_encoding(mut self, v: &'a str) -> Self {
        self.content_encoding = Some(v);
        self
    }

    /// Set the `Authorization` header.
    pub fn authorization(mut self, v: &'a str) -> Self {
        self.authorization = Some(v);
        self
    }

    /// Set the receive time.
    pub fn received_at(mut self, t: Timestamp) -> Self {
        self.received_at = t;
        self
    }

    /// Whether `Content-Encoding` names gzip.
    pub fn declares_gzip(&self) -> bool {
        self.content_encoding
            .is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("gzip")))
    }

    /// The body after the checks every JSON decoder makes: an allowed encoding, at most
    /// `limits.max_request_bytes` as received, gunzipped within
    /// `limits.max_decompressed_bytes`.
    pub fn unpacked_body(
        &self,
        limits: &Limits,
    ) -> Result<std::borrow::Cow<'a, [u8]>, ValidationError> {
        self.check_encoding()?;
        body::check_size(self.body, limits.max_request_bytes)?;
        Ok(
            match body::maybe_gunzip(
                self.body,
                self.declares_gzip(),
                limits.max_decompressed_bytes,
            )? {
                Some(v) => std::borrow::Cow::Owned(v),
                None => std::borrow::Cow::Borrowed(self.body),
            },
        )
    }

    /// Refuse content encodings other than gzip and identity.
    pub fn check_encoding(&self) -> Result<(), ValidationError> {
        for p in self.content_encoding.unwrap_or("").split(',') {
            let p = p.trim();
            if !(p.is_empty()
                || p.eq_ignore_ascii_case("gzip")
                || p.eq_ignore_ascii_case("identity"))
            {
                return Err(ValidationError::Invalid {
                    field: "Content-Encoding".into(),
                    reason: format!("unsupported content encoding {p:?} (use gzip or none)"),
                });
            }
        }
        Ok(())
    }
}

/// What a decoder read from one request.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// The project key found in the request (write key / project token), if any.
    pub key: Option<String>,
    /// One entry per message, in request order: the message, or why it was refused.
    pub items: Vec<Result<MessageInput, ValidationError>>,
    /// The body was one message (not an array or a batch envelope).
    pub single: bool,
}

impl Decoded {
    /// Messages that decoded, each with its index in the request.
    pub fn ok_count(&self) -> usize {
        self.items.iter().filter(|i| i.is_ok()).count()
    }
}

/// Read a timestamp value the way [`MessageInput`] does (RFC 3339 text, a date, or
/// epoch milliseconds); `None` when absent or unreadable.
pub(crate) fn timestamp_of(v: Option<&Value>) -> Option<Timestamp> {
    match v? {
        Value::String(s) => Timestamp::parse_field(s, "timestamp").ok(),
        Value::Number(n) => n.as_i64().map(Timestamp::from_millis),
        _ => None,
    }
}

/// Clock-skew correction shared by Segment and PostHog: a client whose clock is off by
/// `sent_at - received_at` stamped its events off by the same amount, so
/// `timestamp + (received_at - sent_at)` is the event time on the server's clock.
///
/// A difference within [`SKEW_TOLERANCE_MS`] is transit time (request queued in the
/// SDK, network, server queue), not a wrong clock: correcting it would move the exact
/// timestamps of a client with a good clock by that delay (found with the real SDKs on
/// 127.0.0.1: every event 20 ms late), so they are kept as sent.
pub(crate) fn skew_corrected(
    ts: Timestamp,
    sent_at: Timestamp,
    received_at: Timestamp,
) -> Timestamp {
    let skew = received_at.millis().saturating_sub(sent_at.millis());
    if skew.abs() <= SKEW_TOLERANCE_MS {
        ts
    } else {
        ts.add_millis(skew)
    }
}

/// Largest `received_at - sent_at` (either way) taken as transit time rather than clock
/// skew: 2 s.
pub const SKEW_TOLERANCE_MS: i64 = 2_000;

/// Too many messages in one request.
pub(crate) fn too_many(n: usize, max: usize) -> ValidationError {
    ValidationError::Invalid {
        field: "batch".into(),
        reason: format!("{n} messages in one request, at most {max} are allowed"),
    }
}

/// Build a [`MessageInput`] from a JSON object, mapping the error.
pub(crate) fn input_of(v: Value) -> Result<MessageInput, ValidationError> {
    MessageInput::from_value(v)
}

#[cfg(test)]
pub(crate) mod test_util {
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// Gzip `data`.
    pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let p = RequestParts::new(b"").content_encoding("GZIP");
        assert!(p.declares_gzip());
        assert!(p.check_encoding().is_ok());
        let p = RequestParts::new(b"").content_encoding("br");
        assert!(!p.declares_gzip());
        assert!(p.check_encoding().is_err());
        assert!(RequestParts::new(b"").check_encoding().is_ok());
    }

    #[test]
    fn skew() {
        let t = Timestamp::from_millis(1_000);
        // Client clock 5 s ahead: sent_at 10_000 received at 5_000.
        assert_eq!(
            skew_corrected(
                t,
                Timestamp::from_millis(10_000),
                Timestamp::from_millis(5_000)
            ),
            Timestamp::from_millis(-4_000)
        );
        assert_eq!(skew_corrected(t, t, t), t);
        // Within the tolerance (either way): transit time, the timestamp is kept.
        let sent = Timestamp::from_millis(10_000);
        for late in [20, -20, SKEW_TOLERANCE_MS, -SKEW_TOLERANCE_MS] {
            let received = Timestamp::from_millis(10_000 + late);
            assert_eq!(skew_corrected(t, sent, received), t, "{late}");
        }
        let received = Timestamp::from_millis(10_000 + SKEW_TOLERANCE_MS + 1);
        assert_eq!(
            skew_corrected(t, sent, received).millis(),
            1_000 + SKEW_TOLERANCE_MS + 1
        );
        assert_eq!(
            timestamp_of(Some(&serde_json::json!("2026-01-01T00:00:00Z"))),
            Timestamp::from_ymd(2026, 1, 1)
        );
        assert_eq!(
            timestamp_of(Some(&serde_json::json!(5))),
            Some(Timestamp::from_millis(5))
        );
        assert_eq!(timestamp_of(Some(&serde_json::json!("x"))), None);
        assert_eq!(timestamp_of(Some(&serde_json::json!(1.5))), None);
        assert_eq!(timestamp_of(None), None);
    }
}

/// The JSON type of a value, for error messages.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    crate::event::json_type(v)
}
