//! Privacy: what is removed from events before they are stored, consent, and the GDPR
//! operations (export, delete, anonymize) and retention.
//!
//! A [`PrivacyPolicy`] is applied by [`Analytics`](crate::Analytics) to every accepted
//! message, after validation and before it is queued:
//! - **PII keys** in event properties (and in `context.extra`) are dropped, or replaced by
//!   a salted SHA-256 ([`PiiMode::Hash`]). The default keys are [`DEFAULT_PII_KEYS`];
//!   keys match ignoring case and `_ - . space`, at any nesting depth.
//! - **IP addresses** in `context.ip` are truncated (IPv4 to /24, IPv6 to /48); text that
//!   is not an IP address is dropped ([`IpPolicy`]).
//! - The **user agent** can be removed.
//!
//! `identify` **traits are kept**: they are the user profile (email, plan, signup date)
//! the application chose to store, and they are removed by
//! [`Analytics::delete_user`](crate::Analytics::delete_user) or
//! [`Analytics::anonymize_user`](crate::Analytics::anonymize_user). The IP and user-agent
//! rules apply to the context of identify calls too.
//!
//! ```
//! use churn_core::event::Event;
//! use churn_core::privacy::PrivacyPolicy;
//! let policy = PrivacyPolicy::default();
//! let mut e = Event::track("signup").user_id("u1")
//!     .property("email", "ann@example.com").property("plan", "pro").build()?;
//! e.context.ip = Some("203.0.113.9".into());
//! policy.apply_event(&mut e);
//! assert!(e.properties.get("email").is_none());
//! assert_eq!(e.properties["plan"], "pro");
//! assert_eq!(e.context.ip.as_deref(), Some("203.0.113.0"));
//! # Ok::<(), churn_core::Error>(())
//! ```

#[cfg(feature = "tracker")]
pub(crate) mod consent;
mod gdpr;
mod ip;
mod pii;

#[cfg(feature = "tracker")]
pub(crate) use consent::ConsentSet;
pub use gdpr::{anonymize_user, export_user, UserExport};
pub use ip::truncate_ip;
pub use pii::hash_value;

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event::{Context, Event, Identify, Message};

/// Property keys removed by default.
pub const DEFAULT_PII_KEYS: [&str; 6] = [
    "email",
    "name",
    "first_name",
    "last_name",
    "full_name",
    "phone",
];

/// What happens to a property whose key is a PII key.
///
/// ```
/// use churn_core::privacy::PiiMode;
/// assert_eq!("drop".parse::<PiiMode>().unwrap(), PiiMode::Drop);
/// assert_eq!("hash:pepper".parse::<PiiMode>().unwrap(), PiiMode::Hash { salt: "pepper".into() });
/// assert!("hash:".parse::<PiiMode>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum PiiMode {
    /// Remove the key (default).
    #[default]
    Drop,
    /// Replace the value by the hex SHA-256 of `salt` followed by the value (see
    /// [`hash_value`]): the same person keeps the same hash, so counts by it still work.
    Hash {
        /// Secret salt; keep it out of the data it protects.
        salt: String,
    },
}

/// The salt is a secret: `Debug` output (logs, panics) shows it redacted.
impl std::fmt::Debug for PiiMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PiiMode::Drop => f.write_str("Drop"),
            PiiMode::Hash { .. } => f.write_str("Hash { salt: <redacted> }"),
        }
    }
}

impl FromStr for PiiMode {
    type Err = Error;

    /// `drop`, or `hash:<salt>` with a non-empty salt.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.split_once(':') {
            None if s.eq_ignore_ascii_case("drop") => Ok(PiiMode::Drop),
            Some((h, salt)) if h.eq_ignore_ascii_case("hash") && !salt.is_empty() => {
                Ok(PiiMode::Hash { salt: salt.into() })
            }
            _ => Err(Error::invalid(
                "pii_mode",
                format!("expected `drop` or `hash:<salt>`, got {s:?}"),
            )),
        }
    }
}

/// What happens to `context.ip`.
///
/// ```
/// use churn_core::privacy::IpPolicy;
/// assert_eq!("truncate".parse::<IpPolicy>().unwrap(), IpPolicy::Truncate);
/// assert!("mask".parse::<IpPolicy>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpPolicy {
    /// IPv4 to /24, IPv6 to /48; unparseable text is dropped (default).
    #[default]
    Truncate,
    /// Never store the IP.
    Drop,
    /// Store it as sent (only where you have a legal basis for it).
    Keep,
}

impl FromStr for IpPolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "truncate" => Ok(IpPolicy::Truncate),
            "drop" => Ok(IpPolicy::Drop),
            "keep" => Ok(IpPolicy::Keep),
            _ => Err(Error::invalid(
                "ip_policy",
                format!("expected truncate, drop or keep, got {s:?}"),
            )),
        }
    }
}

/// What [`Analytics`](crate::Analytics) removes from messages before storing them. See
/// the [module docs](self). `Default` drops [`DEFAULT_PII_KEYS`], truncates IPs and keeps
/// the user agent.
///
/// ```
/// use churn_core::privacy::{PrivacyPolicy, IpPolicy};
/// let p = PrivacyPolicy::builder()
///     .add_pii_key("ssn")
///     .hash_pii("pepper")
///     .ip(IpPolicy::Drop)
///     .drop_user_agent(true)
///     .build();
/// assert!(p.pii_keys.iter().any(|k| k == "ssn"));
/// assert!(p.drop_user_agent);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PrivacyPolicy {
    /// Property keys treated as personal data.
    pub pii_keys: Vec<String>,
    /// Drop or hash them.
    pub pii_mode: PiiMode,
    /// What to do with `context.ip`.
    pub ip: IpPolicy,
    /// Remove `context.user_agent`.
    pub drop_user_agent: bool,
}

impl Default for PrivacyPolicy {
    fn default() -> Self {
        PrivacyPolicy {
            pii_keys: DEFAULT_PII_KEYS.iter().map(|k| k.to_string()).collect(),
            pii_mode: PiiMode::Drop,
            ip: IpPolicy::Truncate,
            drop_user_agent: false,
        }
    }
}

impl PrivacyPolicy {
    /// Start from the default policy.
    pub fn builder() -> PrivacyPolicyBuilder {
        PrivacyPolicyBuilder {
            policy: PrivacyPolicy::default(),
        }
    }

    /// A policy that changes nothing (no PII keys, IP kept, user agent kept).
    pub fn keep_all() -> Self {
        PrivacyPolicy {
            pii_keys: Vec::new(),
            pii_mode: PiiMode::Drop,
            ip: IpPolicy::Keep,
            drop_user_agent: false,
        }
    }

    /// Whether `key` is one of this policy's PII keys (ignoring case and separators).
    pub fn is_pii_key(&self, key: &str) -> bool {
        pii::is_pii_key(key, &self.pii_keys)
    }

    /// Apply the policy to an event: properties, `context.extra`, IP and user agent.
    pub fn apply_event(&self, e: &mut Event) {
        pii::scrub(&mut e.properties, &self.pii_keys, &self.pii_mode);
        self.apply_context(&mut e.context);
    }

    /// Apply the policy to an identify call: traits are kept (they are the user profile),
    /// the context's IP and user agent follow the policy.
    pub fn apply_identify(&self, i: &mut Identify) {
        self.apply_context(&mut i.context);
    }

    /// Apply the policy to any message.
    pub fn apply(&self, m: &mut Message) {
        match m {
            Message::Track(e) => self.apply_event(e),
            Message::Identify(i) => self.apply_identify(i),
            Message::Alias(_) => {}
        }
    }

    fn apply_context(&self, c: &mut Context) {
        if !c.extra.is_empty() {
            pii::scrub(&mut c.extra, &self.pii_keys, &self.pii_mode);
        }
        match self.ip {
            IpPolicy::Keep => {}
            IpPolicy::Drop => c.ip = None,
            IpPolicy::Truncate => {
                if let Some(ip) = c.ip.take() {
                    c.ip = truncate_ip(&ip);
                }
            }
        }
        if self.drop_user_agent {
            c.user_agent = None;
        }
    }
}

/// Builds a [`PrivacyPolicy`], starting from the default.
#[derive(Debug, Clone)]
#[must_use]
pub struct PrivacyPolicyBuilder {
    policy: PrivacyPolicy,
}

impl PrivacyPolicyBuilder {
    /// Replace the PII key list.
    pub fn pii_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.policy.pii_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Add one PII key.
    pub fn add_pii_key(mut self, key: impl Into<String>) -> Self {
        self.policy.pii_keys.push(key.into());
        self
    }

    /// Drop or hash PII values.
    pub fn pii_mode(mut self, mode: PiiMode) -> Self {
        self.policy.pii_mode = mode;
        self
    }

    /// Hash PII values with `salt` instead of dropping them.
    pub fn hash_pii(self, salt: impl Into<String>) -> Self {
        self.pii_mode(PiiMode::Hash { salt: salt.into() })
    }

    /// What to do with `context.ip`.
    pub fn ip(mut self, ip: IpPolicy) -> Self {
        self.policy.ip = ip;
        self
    }

    /// Remove `context.user_agent`.
    pub fn drop_user_agent(mut self, drop: bool) -> Self {
        self.policy.drop_user_agent = drop;
        self
    }

    /// The policy.
    pub fn build(self) -> PrivacyPolicy {
        self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Event {
        let mut e = Event::track("signup")
            .user_id("u1")
            .property("email", "ann@example.com")
            .property("Phone", "+31 6 1234")
            .property("plan", "pro")
            .property("profile", json!({"Last-Name": "Lee", "age": 30}))
            .build()
            .unwrap();
        e.context.ip = Some("2001:db8:85a3:8d3:1319:8a2e:370:7348".into());
        e.context.user_agent = Some("Mozilla/5.0".into());
        e.context
            .extra
            .insert("traits".into(), json!({"email": "ann@example.com"}));
        e
    }

    #[test]
    fn default_policy_drops_pii_and_truncates_ip() {
        let mut e = event();
        PrivacyPolicy::default().apply_event(&mut e);
        assert_eq!(
            serde_json::Value::Object(e.properties.clone()),
            json!({"plan": "pro", "profile": {"age": 30}})
        );
        assert_eq!(e.context.ip.as_deref(), Some("2001:db8:85a3::"));
        assert_eq!(e.context.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(e.context.extra["traits"], json!({}));
    }

    #[test]
    fn configured_policy() {
        let p = PrivacyPolicy::builder()
            .pii_keys(["plan"])
            .hash_pii("salt")
            .ip(IpPolicy::Drop)
            .drop_user_agent(true)
            .build();
        let mut e = event();
        p.apply_event(&mut e);
        assert_eq!(e.properties["email"], "ann@example.com");
        assert_eq!(
            e.properties["plan"],
            json!(hash_value("salt", &json!("pro")))
        );
        assert_eq!(e.context.ip, None);
        assert_eq!(e.context.user_agent, None);
        let mut e = event();
        PrivacyPolicy::keep_all().apply_event(&mut e);
        assert_eq!(e, event_with_same_ids(&e));
    }

    fn event_with_same_ids(e: &Event) -> Event {
        let mut fresh = event();
        fresh.message_id = e.message_id.clone();
        fresh.timestamp = e.timestamp;
        fresh.received_at = e.received_at;
        fresh
    }

    #[test]
    fn unparseable_ip_is_dropped_and_identify_traits_kept() {
        let mut i = Identify::user("u1")
            .trait_("email", "ann@example.com")
            .build()
            .unwrap();
        i.context.ip = Some("localhost".into());
        let mut m = Message::Identify(i);
        PrivacyPolicy::default().apply(&mut m);
        let Message::Identify(i) = m else {
            unreachable!()
        };
        assert_eq!(i.traits["email"], "ann@example.com");
        assert_eq!(i.context.ip, None);
    }

    #[test]
    fn debug_output_hides_the_salt() {
        let p = PrivacyPolicy::builder().hash_pii("top-secret").build();
        let text = format!("{p:?}");
        assert!(
            !text.contains("top-secret") && text.contains("redacted"),
            "{text}"
        );
    }

    #[test]
    fn policy_serde_round_trip() {
        let p = PrivacyPolicy::builder().hash_pii("x").build();
        let j = serde_json::to_value(&p).unwrap();
        assert_eq!(j["pii_mode"], json!({"mode": "hash", "salt": "x"}));
        assert_eq!(serde_json::from_value::<PrivacyPolicy>(j).unwrap(), p);
        let partial: PrivacyPolicy = serde_json::from_value(json!({"ip": "drop"})).unwrap();
        assert_eq!(partial.ip, IpPolicy::Drop);
        assert_eq!(partial.pii_keys.len(), DEFAULT_PII_KEYS.len());
    }
}
