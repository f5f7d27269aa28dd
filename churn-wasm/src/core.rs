//! What the browser tracker asks of churn-core, in plain Rust (testable natively and in
//! wasm): build one validated message from a call, apply the [`PrivacyPolicy`] and the
//! anonymous mode, and keep the 30-minute session rule.
//!
//! ```
//! use churn_wasm::core::{BrowserCore, CoreOptions};
//! let core = BrowserCore::new(CoreOptions::default());
//! let wire = core.message(
//!     r#"{"type":"track","event":"signup","anonymousId":"a1","properties":{"email":"x@y.z","plan":"pro"}}"#,
//!     false,
//! )?.expect("kept");
//! let v: serde_json::Value = serde_json::from_str(&wire).unwrap();
//! assert_eq!(v["properties"]["plan"], "pro");
//! assert!(v["properties"].get("email").is_none()); // PII never leaves the page
//! # Ok::<(), churn_core::Error>(())
//! ```

use churn_core::event::{Limits, Message, MessageInput, Utm};
use churn_core::privacy::{IpPolicy, PrivacyPolicy};
use churn_core::{Error, Result, Timestamp};
use serde::{Deserialize, Serialize};

/// Minutes of inactivity after which a new session starts (as in the engine's sessions).
pub const SESSION_TIMEOUT_MS: i64 = 30 * 60 * 1000;

/// Options of [`BrowserCore`], read from the tracker's `init` options (JSON).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CoreOptions {
    /// The PII policy applied to every message before it is queued (default: drop
    /// [`DEFAULT_PII_KEYS`](churn_core::privacy::DEFAULT_PII_KEYS), truncate IPs).
    pub privacy: PrivacyPolicy,
    /// Validation limits (default: churn-core's, the server's).
    pub limits: Limits,
}

impl CoreOptions {
    /// Parse the options JSON (`{}` or empty text gives the defaults).
    pub fn from_json(text: &str) -> Result<CoreOptions> {
        if text.trim().is_empty() {
            return Ok(CoreOptions::default());
        }
        serde_json::from_str(text).map_err(|e| Error::invalid("options", e.to_string()))
    }
}

/// Builds the messages the tracker sends.
#[derive(Debug, Clone)]
pub struct BrowserCore {
    options: CoreOptions,
}

impl BrowserCore {
    /// A core with `options`.
    pub fn new(options: CoreOptions) -> BrowserCore {
        BrowserCore { options }
    }

    /// The policy in force.
    pub fn policy(&self) -> &PrivacyPolicy {
        &self.options.privacy
    }

    /// Validate one call (a JSON object in [`MessageInput`] shape: `type`, `event`,
    /// `userId`, `anonymousId`, `properties`, `traits`, `context`, `messageId`, ...),
    /// stamp it with the current time, apply the privacy policy and return the message
    /// as JSON, ready for `/v1/batch`.
    ///
    /// With `anonymous` (consent mode "anonymous until consent") the user id is removed,
    /// the IP and user agent are dropped, and `identify` / `alias` calls are discarded
    /// (`Ok(None)`): nothing that names a person leaves the page.
    pub fn message(&self, input: &str, anonymous: bool) -> Result<Option<String>> {
        self.message_at(input, anonymous, Timestamp::now())
    }

    /// [`BrowserCore::message`] at a given time (tests).
    pub fn message_at(
        &self,
        input: &str,
        anonymous: bool,
        now: Timestamp,
    ) -> Result<Option<String>> {
        let parsed = MessageInput::parse_slice(input.as_bytes())?;
        let mut msg = parsed.into_message(now, &self.options.limits)?;
        if let Message::Track(e) = &mut msg {
            // Campaign fields from the page URL, as analytics.js does.
            if e.context.utm.is_empty() {
                if let Some(url) = &e.context.url {
                    e.context.utm = Utm::from_query(url);
                }
            }
        }
        if anonymous {
            match &mut msg {
                Message::Track(e) => {
                    if e.anonymous_id.is_none() {
                        e.anonymous_id = e.user_id.clone();
                    }
                    e.user_id = None;
                }
                Message::Identify(_) | Message::Alias(_) => return Ok(None),
            }
            let mut strict = self.options.privacy.clone();
            strict.ip = IpPolicy::Drop;
            strict.drop_user_agent = true;
            strict.apply(&mut msg);
        } else {
            self.options.privacy.apply(&mut msg);
        }
        msg.validate(now, &self.options.limits)?;
        serde_json::to_string(&msg)
            .map(Some)
            .map_err(|e| Error::invalid("message", e.to_string()))
    }
}

/// A browser session as kept in `sessionStorage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// When it started (epoch ms).
    pub started: i64,
    /// Last activity (epoch ms).
    pub last: i64,
}

/// The session for activity at `now`: `prev` continued when its last activity is less
/// than `timeout_ms` ago (and not in the future by more than that), else a new one.
/// Returns the session and whether it is new.
pub fn touch_session(prev: Option<Session>, now: i64, timeout_ms: i64) -> (Session, bool) {
    match prev {
        Some(s) if now - s.last < timeout_ms && s.last - now < timeout_ms && !s.id.is_empty() => (
            Session {
                last: now.max(s.last),
                ..s
            },
            false,
        ),
        _ => (
            Session {
                id: new_id(),
                started: now,
                last: now,
            },
            true,
        ),
    }
}

/// A random id (UUID v4), for anonymous ids, sessions and message ids.
pub fn new_id() -> String {
    churn_core::event::new_message_id()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn wire(core: &BrowserCore, input: &str, anon: bool) -> Value {
        let s = core
            .message_at(input, anon, Timestamp::from_millis(1_700_000_000_000))
            .unwrap()
            .unwrap();
        serde_json::from_str(&s).unwrap()
    }

    #[test]
    fn pii_removed_and_ip_truncated() {
        let core = BrowserCore::new(CoreOptions::default());
        let v = wire(
            &core,
            r#"{"event":"buy","userId":"u1","messageId":"m1","properties":{"Email":"a@b.c","nested":{"phone":"1"},"n":2},"context":{"ip":"203.0.113.9","userAgent":"UA"}}"#,
            false,
        );
        assert_eq!(v["message_id"], "m1");
        assert_eq!(v["user_id"], "u1");
        assert!(v["properties"].get("Email").is_none());
        assert!(v["properties"]["nested"].get("phone").is_none());
        assert_eq!(v["properties"]["n"], 2);
        assert_eq!(v["context"]["ip"], "203.0.113.0");
        let v = wire(
            &core,
            r#"{"type":"page","anonymousId":"a","context":{"url":"https://x.io/p?utm_source=news&q=1"}}"#,
            false,
        );
        assert_eq!(v["event"], "page_view");
        assert_eq!(v["context"]["utm"]["source"], "news");
    }

    #[test]
    fn hash_mode_from_options() {
        let opts = CoreOptions::from_json(
            r#"{"privacy":{"pii_keys":["ssn"],"pii_mode":{"mode":"hash","salt":"s"}}}"#,
        )
        .unwrap();
        let core = BrowserCore::new(opts);
        let v = wire(
            &core,
            r#"{"event":"e","anonymousId":"a","properties":{"ssn":"123","email":"kept"}}"#,
            false,
        );
        assert_eq!(
            v["properties"]["ssn"],
            churn_core::privacy::hash_value("s", &Value::from("123"))
        );
        assert_eq!(v["properties"]["email"], "kept");
        assert!(CoreOptions::from_json("{").is_err());
        assert_eq!(CoreOptions::from_json(" ").unwrap(), CoreOptions::default());
    }

    #[test]
    fn anonymous_mode_names_nobody() {
        let core = BrowserCore::new(CoreOptions::default());
        let v = wire(
            &core,
            r#"{"event":"e","userId":"u1","anonymousId":"a1","context":{"ip":"1.2.3.4","userAgent":"UA"}}"#,
            true,
        );
        assert!(v.get("user_id").is_none_or(Value::is_null));
        assert_eq!(v["anonymous_id"], "a1");
        assert!(v["context"].get("ip").is_none_or(Value::is_null));
        assert!(v["context"].get("user_agent").is_none_or(Value::is_null));
        let ident = core.message_at(
            r#"{"type":"identify","userId":"u1"}"#,
            true,
            Timestamp::now(),
        );
        assert_eq!(ident.unwrap(), None);
    }

    #[test]
    fn invalid_calls_are_typed_errors() {
        let core = BrowserCore::new(CoreOptions::default());
        for bad in [
            r#"{"event":"e"}"#,                                    // no user or anonymous id
            r#"{"event":"","anonymousId":"a"}"#,                   // empty name
            r#"{"event":"e","anonymousId":"a","properties":[1]}"#, // not an object
            r#"not json"#,
        ] {
            let err = core.message(bad, false).unwrap_err();
            assert_eq!(err.code(), "ERR_VALIDATION", "{bad}");
        }
    }

    #[test]
    fn session_rule_at_thirty_minutes() {
        let (s, new) = touch_session(None, 1000, SESSION_TIMEOUT_MS);
        assert!(new);
        assert_eq!((s.started, s.last), (1000, 1000));
        let (s2, new) = touch_session(
            Some(s.clone()),
            1000 + SESSION_TIMEOUT_MS - 1,
            SESSION_TIMEOUT_MS,
        );
        assert!(!new);
        assert_eq!(s2.id, s.id);
        assert_eq!(s2.started, 1000);
        // Exactly 30 minutes of inactivity: a new session.
        let (s3, new) = touch_session(
            Some(s2.clone()),
            s2.last + SESSION_TIMEOUT_MS,
            SESSION_TIMEOUT_MS,
        );
        assert!(new);
        assert_ne!(s3.id, s2.id);
        // A clock that jumped far back also starts a new session.
        let (_, new) = touch_session(
            Some(s3.clone()),
            s3.last - SESSION_TIMEOUT_MS,
            SESSION_TIMEOUT_MS,
        );
        assert!(new);
    }
}
