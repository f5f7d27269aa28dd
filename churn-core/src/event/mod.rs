//! The event model: [`Event`] (track and page calls), [`Identify`], [`Alias`], their
//! builders, validation, and the lenient parser for input from outside ([`EventInput`]).
//!
//! ```
//! use churn_core::event::Event;
//! let e = Event::track("purchase")
//!     .user_id("u1")
//!     .number("amount", 19.5)
//!     .property("plan", "pro")
//!     .build()
//!     .unwrap();
//! assert_eq!(e.event, "purchase");
//! assert_eq!(e.amount(), Some(19.5));
//! assert!(Event::track("x").number("amount", f64::NAN).user_id("u").build().is_err());
//! ```

mod batch;
mod context;
mod input;
mod message;
mod validate;

pub use batch::{BatchReport, Rejected};
pub use context::{Context, Utm};
pub use input::{EventInput, IdentifyInput, MessageInput};
pub use message::{Alias, Identify, IdentifyBuilder, Message};
pub use validate::Limits;

#[allow(unused_imports)]
pub(crate) use context::{percent_decode, referrer_host};
#[allow(unused_imports)] // used by the CSV import
pub(crate) use input::context_from_value;
#[allow(unused_imports)]
pub(crate) use validate::{
    check_depth, check_opt_text, check_text, check_timestamp, encoded_len, json_type,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, ValidationError};
use crate::time::Timestamp;

/// Properties and traits: a JSON object.
pub type Properties = serde_json::Map<String, Value>;

/// The event name that `page` calls store.
pub const PAGE_VIEW: &str = "page_view";

/// A stored event: a `track` or `page` call after validation.
///
/// Either `user_id` or `anonymous_id` is set. `timestamp` is the client's time;
/// `received_at` is when churn-core accepted it. `message_id` identifies the message: the
/// same id sent twice is stored once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique message id (deduplication key).
    pub message_id: String,
    /// Event name (1..=200 characters).
    pub event: String,
    /// Known user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Anonymous (device / browser) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    /// When it happened (client time).
    pub timestamp: Timestamp,
    /// When churn-core accepted it.
    pub received_at: Timestamp,
    /// Explicit session id, when the sender keeps sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Event properties (a JSON object).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub properties: Properties,
    /// Page, referrer, device and campaign context.
    #[serde(default, skip_serializing_if = "Context::is_empty")]
    pub context: Context,
}

impl Event {
    /// Start a `track` call for event `name`.
    pub fn track(name: impl Into<String>) -> EventBuilder {
        EventBuilder::new(name.into())
    }

    /// Start a `page` call: an event named [`PAGE_VIEW`] with `context.path` set and the
    /// path also kept in `properties.path`.
    ///
    /// ```
    /// use churn_core::event::{Event, PAGE_VIEW};
    /// let e = Event::page("/pricing").anonymous_id("a1").build().unwrap();
    /// assert_eq!(e.event, PAGE_VIEW);
    /// assert_eq!(e.context.path.as_deref(), Some("/pricing"));
    /// ```
    pub fn page(path: impl Into<String>) -> EventBuilder {
        let path = path.into();
        let mut b = EventBuilder::new(PAGE_VIEW.to_string());
        b.properties
            .insert("path".into(), Value::String(path.clone()));
        b.context.path = Some(path);
        b
    }

    /// The person this event belongs to before identity merging: `user_id`, else
    /// `anonymous_id`.
    pub fn distinct_id(&self) -> &str {
        self.user_id
            .as_deref()
            .or(self.anonymous_id.as_deref())
            .unwrap_or("")
    }

    /// `properties.amount` as a number, when it is one.
    pub fn amount(&self) -> Option<f64> {
        self.properties.get("amount").and_then(Value::as_f64)
    }

    /// Check every rule of `limits` against receive time `now`.
    ///
    /// ```
    /// use churn_core::event::{Event, Limits};
    /// use churn_core::Timestamp;
    /// let mut e = Event::track("ok").user_id("u").build().unwrap();
    /// e.event = String::new();
    /// assert!(e.validate(Timestamp::now(), &Limits::default()).is_err());
    /// ```
    pub fn validate(&self, now: Timestamp, limits: &Limits) -> Result<(), ValidationError> {
        check_text("event", &self.event, limits.max_name_chars)?;
        check_text("message_id", &self.message_id, limits.max_id_chars)?;
        if self.user_id.is_none() && self.anonymous_id.is_none() {
            return Err(ValidationError::MissingIdentity);
        }
        check_opt_text("user_id", self.user_id.as_deref(), limits.max_id_chars)?;
        check_opt_text(
            "anonymous_id",
            self.anonymous_id.as_deref(),
            limits.max_id_chars,
        )?;
        check_opt_text(
            "session_id",
            self.session_id.as_deref(),
            limits.max_id_chars,
        )?;
        check_timestamp(self.timestamp, now, limits)?;
        check_depth("properties", &self.properties, limits.max_depth)?;
        check_depth("context", &self.context.extra, limits.max_depth)?;
        validate::check_amount(&self.properties)?;
        // The exact size costs a full serialization; most events are far below the
        // limit, which a cheap upper bound shows.
        if validate::event_len_bound(self) <= limits.max_message_bytes {
            return Ok(());
        }
        let size = encoded_len(self);
        if size > limits.max_message_bytes {
            return Err(ValidationError::TooLarge {
                size,
                max: limits.max_message_bytes,
            });
        }
        Ok(())
    }
}

/// A new message id: a UUIDv7 (48 bits of millisecond time, then random bits), so ids
/// made by one process arrive in nearly increasing order and the store's dedup index
/// grows at its end instead of dirtying a random page per event (measured: about 2x
/// faster SQLite ingest than random v4 ids).
///
/// ```
/// let a = churn_core::event::new_message_id();
/// assert_eq!(a.len(), 36);
/// assert_eq!(&a[14..15], "7"); // the version digit
/// ```
pub fn new_message_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Builds an [`Event`]. Setters never fail; [`EventBuilder::build`] reports the first
/// problem (a non-finite number, an empty name, a missing identity, ...).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct EventBuilder {
    event: String,
    user_id: Option<String>,
    anonymous_id: Option<String>,
    timestamp: Option<Timestamp>,
    message_id: Option<String>,
    session_id: Option<String>,
    properties: Properties,
    context: Context,
    bad_number: Option<String>,
}

impl EventBuilder {
    fn new(event: String) -> Self {
        EventBuilder {
            event,
            ..Default::default()
        }
    }

    /// Set the user id.
    pub fn user_id(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }

    /// Set the anonymous id.
    pub fn anonymous_id(mut self, id: impl Into<String>) -> Self {
        self.anonymous_id = Some(id.into());
        self
    }

    /// Set the client timestamp (default: now).
    pub fn timestamp(mut self, ts: Timestamp) -> Self {
        self.timestamp = Some(ts);
        self
    }

    /// Set the message id (default: a new UUID).
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// Set an explicit session id.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Set one property. Use [`EventBuilder::number`] for floats: JSON has no NaN.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Set a numeric property; NaN or infinity makes [`EventBuilder::build`] fail.
    pub fn number(mut self, key: impl Into<String>, value: f64) -> Self {
        let key = key.into();
        match serde_json::Number::from_f64(value) {
            Some(n) => {
                self.properties.insert(key, Value::Number(n));
            }
            None => {
                self.bad_number.get_or_insert(format!("properties.{key}"));
            }
        }
        self
    }

    /// Replace all properties.
    pub fn properties(mut self, props: Properties) -> Self {
        self.properties = props;
        self
    }

    /// Set the context.
    pub fn context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// Fill defaults (message id, timestamp = now) and validate with default limits.
    /// `received_at` is set to now; the tracker sets it again when it accepts the event.
    pub fn build(self) -> Result<Event> {
        let now = Timestamp::now();
        self.build_at(now, &Limits::default())
    }

    /// [`EventBuilder::build`] with an explicit receive time and limits.
    pub fn build_at(self, now: Timestamp, limits: &Limits) -> Result<Event> {
        if let Some(field) = self.bad_number {
            return Err(ValidationError::NotFinite { field, found: None }.into());
        }
        let e = Event {
            message_id: self.message_id.unwrap_or_else(new_message_id),
            event: self.event,
            user_id: self.user_id,
            anonymous_id: self.anonymous_id,
            timestamp: self.timestamp.unwrap_or(now),
            received_at: now,
            session_id: self.session_id,
            properties: self.properties,
            context: self.context,
        };
        e.validate(now, limits)?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builder_defaults_and_errors() {
        let e = Event::track("signup").anonymous_id("a").build().unwrap();
        assert_eq!(e.message_id.len(), 36);
        assert_eq!(e.distinct_id(), "a");
        assert!(matches!(
            Event::track("signup").build().unwrap_err(),
            crate::Error::Validation(ValidationError::MissingIdentity)
        ));
        assert!(matches!(
            Event::track("x")
                .user_id("u")
                .number("amount", f64::INFINITY)
                .build()
                .unwrap_err(),
            crate::Error::Validation(ValidationError::NotFinite { .. })
        ));
        let old = Event::track("x")
            .user_id("u")
            .timestamp(Timestamp::from_ymd(1999, 12, 31).unwrap())
            .build();
        assert!(old.is_err());
    }

    #[test]
    fn size_limit_counts_the_whole_message() {
        let big = "x".repeat(33 * 1024);
        let r = Event::track("x").user_id("u").property("blob", big).build();
        assert!(matches!(
            r.unwrap_err(),
            crate::Error::Validation(ValidationError::TooLarge { .. })
        ));
        let ok = "x".repeat(30 * 1024);
        assert!(Event::track("x")
            .user_id("u")
            .property("blob", ok)
            .build()
            .is_ok());
    }

    #[test]
    fn json_shape_is_stable() {
        let e = Event::track("purchase")
            .user_id("u1")
            .message_id("m1")
            .timestamp(Timestamp::from_millis(1_767_312_000_000))
            .property("amount", json!(9.5))
            .build_at(
                Timestamp::from_millis(1_767_312_000_000),
                &Limits::default(),
            )
            .unwrap();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"message_id":"m1","event":"purchase","user_id":"u1",
                   "timestamp":"2026-01-02T00:00:00.000Z","received_at":"2026-01-02T00:00:00.000Z",
                   "properties":{"amount":9.5}})
        );
        let back: Event = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
}
