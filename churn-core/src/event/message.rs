//! `identify` and `alias` calls, and [`Message`], the union the tracker and stores carry.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::validate::{
    check_depth, check_opt_text, check_text, check_timestamp, encoded_len, Limits,
};
use super::{new_message_id, Context, Event, Properties};
use crate::error::{Result, ValidationError};
use crate::time::Timestamp;

/// An `identify` call: sets traits on a user and, when `anonymous_id` is given, links that
/// anonymous id to the user so later analyses count both as one person.
///
/// ```
/// use churn_core::event::Identify;
/// let i = Identify::user("u1").anonymous_id("anon-7").trait_("plan", "pro").build().unwrap();
/// assert_eq!(i.traits["plan"], "pro");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identify {
    /// Unique message id.
    pub message_id: String,
    /// The user.
    pub user_id: String,
    /// An anonymous id to merge into the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    /// Traits to set (merged over earlier traits; a `null` value removes the trait).
    #[serde(default)]
    pub traits: Properties,
    /// Client time.
    pub timestamp: Timestamp,
    /// When churn-core accepted it.
    pub received_at: Timestamp,
    /// Context of the call.
    #[serde(default, skip_serializing_if = "Context::is_empty")]
    pub context: Context,
}

impl Identify {
    /// Start an identify call for `user_id`.
    pub fn user(user_id: impl Into<String>) -> IdentifyBuilder {
        IdentifyBuilder {
            user_id: user_id.into(),
            ..Default::default()
        }
    }

    /// Check the rules of `limits` against receive time `now`.
    pub fn validate(&self, now: Timestamp, limits: &Limits) -> Result<(), ValidationError> {
        check_text("user_id", &self.user_id, limits.max_id_chars)?;
        check_text("message_id", &self.message_id, limits.max_id_chars)?;
        check_opt_text(
            "anonymous_id",
            self.anonymous_id.as_deref(),
            limits.max_id_chars,
        )?;
        check_timestamp(self.timestamp, now, limits)?;
        for k in self.traits.keys() {
            check_text("traits key", k, limits.max_name_chars)?;
        }
        check_depth("traits", &self.traits, limits.max_depth)?;
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

/// Builds an [`Identify`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct IdentifyBuilder {
    user_id: String,
    anonymous_id: Option<String>,
    traits: Properties,
    timestamp: Option<Timestamp>,
    message_id: Option<String>,
    context: Context,
    bad_number: Option<String>,
}

impl IdentifyBuilder {
    /// Link this anonymous id to the user.
    pub fn anonymous_id(mut self, id: impl Into<String>) -> Self {
        self.anonymous_id = Some(id.into());
        self
    }

    /// Set one trait.
    pub fn trait_(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.traits.insert(key.into(), value.into());
        self
    }

    /// Set a numeric trait; NaN or infinity makes `build` fail.
    pub fn number(mut self, key: impl Into<String>, value: f64) -> Self {
        let key = key.into();
        match serde_json::Number::from_f64(value) {
            Some(n) => {
                self.traits.insert(key, Value::Number(n));
            }
            None => {
                self.bad_number.get_or_insert(format!("traits.{key}"));
            }
        }
        self
    }

    /// Replace all traits.
    pub fn traits(mut self, traits: Properties) -> Self {
        self.traits = traits;
        self
    }

    /// Client time (default: now).
    pub fn timestamp(mut self, ts: Timestamp) -> Self {
        self.timestamp = Some(ts);
        self
    }

    /// Message id (default: a new UUID).
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// Context of the call.
    pub fn context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// Fill defaults and validate with default limits.
    pub fn build(self) -> Result<Identify> {
        self.build_at(Timestamp::now(), &Limits::default())
    }

    /// Build with an explicit receive time and limits.
    pub fn build_at(self, now: Timestamp, limits: &Limits) -> Result<Identify> {
        if let Some(field) = self.bad_number {
            return Err(ValidationError::NotFinite { field, found: None }.into());
        }
        let i = Identify {
            message_id: self.message_id.unwrap_or_else(new_message_id),
            user_id: self.user_id,
            anonymous_id: self.anonymous_id,
            traits: self.traits,
            timestamp: self.timestamp.unwrap_or(now),
            received_at: now,
            context: self.context,
        };
        i.validate(now, limits)?;
        Ok(i)
    }
}

/// An `alias` call: `previous_id` (an anonymous id or an old user id) is the same person
/// as `user_id`.
///
/// ```
/// use churn_core::event::Alias;
/// let a = Alias::new("u1", "anon-7").unwrap();
/// assert_eq!(a.previous_id, "anon-7");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    /// Unique message id.
    pub message_id: String,
    /// The user id.
    pub user_id: String,
    /// The id it replaces.
    pub previous_id: String,
    /// Client time.
    pub timestamp: Timestamp,
    /// When churn-core accepted it.
    pub received_at: Timestamp,
}

impl Alias {
    /// A validated alias with a new message id, timestamped now.
    pub fn new(user_id: impl Into<String>, previous_id: impl Into<String>) -> Result<Alias> {
        let now = Timestamp::now();
        let a = Alias {
            message_id: new_message_id(),
            user_id: user_id.into(),
            previous_id: previous_id.into(),
            timestamp: now,
            received_at: now,
        };
        a.validate(now, &Limits::default())?;
        Ok(a)
    }

    /// Check the rules of `limits`.
    pub fn validate(&self, now: Timestamp, limits: &Limits) -> Result<(), ValidationError> {
        check_text("user_id", &self.user_id, limits.max_id_chars)?;
        check_text("previous_id", &self.previous_id, limits.max_id_chars)?;
        check_text("message_id", &self.message_id, limits.max_id_chars)?;
        if self.user_id == self.previous_id {
            return Err(ValidationError::Invalid {
                field: "previous_id".into(),
                reason: "must differ from user_id".into(),
            });
        }
        check_timestamp(self.timestamp, now, limits)
    }
}

/// Any message the tracker accepts, in the order it must be applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// A `track` or `page` event.
    Track(Event),
    /// An `identify` call.
    Identify(Identify),
    /// An `alias` call.
    Alias(Alias),
}

impl Message {
    /// The message id.
    pub fn message_id(&self) -> &str {
        match self {
            Message::Track(e) => &e.message_id,
            Message::Identify(i) => &i.message_id,
            Message::Alias(a) => &a.message_id,
        }
    }

    /// Validate whichever message this is.
    pub fn validate(&self, now: Timestamp, limits: &Limits) -> Result<(), ValidationError> {
        match self {
            Message::Track(e) => e.validate(now, limits),
            Message::Identify(i) => i.validate(now, limits),
            Message::Alias(a) => a.validate(now, limits),
        }
    }

    /// Set the receive time.
    pub fn set_received_at(&mut self, now: Timestamp) {
        match self {
            Message::Track(e) => e.received_at = now,
            Message::Identify(i) => i.received_at = now,
            Message::Alias(a) => a.received_at = now,
        }
    }
}

impl From<Event> for Message {
    fn from(e: Event) -> Self {
        Message::Track(e)
    }
}

impl From<Identify> for Message {
    fn from(i: Identify) -> Self {
        Message::Identify(i)
    }
}

impl From<Alias> for Message {
    fn from(a: Alias) -> Self {
        Message::Alias(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identify_rules() {
        assert!(Identify::user("").build().is_err());
        assert!(Identify::user("u")
            .number("score", f64::NAN)
            .build()
            .is_err());
        assert!(Identify::user("u").trait_("", 1).build().is_err());
        let i = Identify::user("u").trait_("plan", "pro").build().unwrap();
        let m: Message = i.clone().into();
        assert_eq!(m.message_id(), i.message_id);
        let j = serde_json::to_value(&m).unwrap();
        assert_eq!(j["type"], "identify");
        assert_eq!(serde_json::from_value::<Message>(j).unwrap(), m);
    }

    #[test]
    fn alias_rules() {
        assert!(Alias::new("u", "u").is_err());
        assert!(Alias::new("u", "").is_err());
        assert!(Alias::new("u", "a").is_ok());
    }
}
