//! # churn-wasm
//!
//! churnlens in the browser (package `churnlens-web`): the tracker's message building,
//! validation and PII policy come from churn-core, compiled to WebAssembly, so the
//! browser applies exactly the rules the server applies. The DOM plumbing (storage,
//! timers, `fetch`, `sendBeacon`, click and form listeners, consent banner) is the small
//! JS module `js/tracker.js`; the analytics engine over an in-memory store is
//! [`Analytics`] (cargo feature `analytics`, on by default; the tracker build turns it
//! off to stay small).
//!
//! The logic lives in plain Rust modules ([`core`], [`outbox`], [`analytics`]) tested on
//! the host and, through the exports below, in wasm with `wasm-bindgen-test`. Errors
//! reach JS as `Error` objects with a `code` property (`ERR_VALIDATION`, ...).
#![warn(missing_docs)]
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "analytics")]
pub mod analytics;
pub mod core;
pub mod outbox;

use wasm_bindgen::prelude::*;

use crate::core::{BrowserCore, CoreOptions, Session};
use crate::outbox::Outbox as RustOutbox;

/// A churn-core error as a JS `Error` with `code`.
fn js_error(e: churn_core::Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().into());
    err.into()
}

/// Parse JSON text produced by serde into a JS value (objects, arrays, numbers).
fn json_value(text: &str) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(text)
}

/// Validates calls and applies the privacy policy: `new Core(optionsJson)`.
#[wasm_bindgen]
pub struct Core {
    inner: BrowserCore,
}

#[wasm_bindgen]
impl Core {
    /// `options`: JSON `{privacy: {pii_keys, pii_mode, ip, drop_user_agent}, limits}`
    /// (all optional).
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str) -> Result<Core, JsValue> {
        let opts = CoreOptions::from_json(options).map_err(js_error)?;
        Ok(Core {
            inner: BrowserCore::new(opts),
        })
    }

    /// Build one message from a call (JSON text): validated, stamped, PII removed.
    /// Returns the message's JSON text, or `undefined` when anonymous mode discards it.
    pub fn message(&self, input: &str, anonymous: bool) -> Result<Option<String>, JsValue> {
        self.inner.message(input, anonymous).map_err(js_error)
    }

    /// Whether `key` is a PII key of the policy.
    #[wasm_bindgen(js_name = isPiiKey)]
    pub fn is_pii_key(&self, key: &str) -> bool {
        self.inner.policy().is_pii_key(key)
    }
}

/// A new random id (UUID v4).
#[wasm_bindgen(js_name = newId)]
pub fn new_id() -> String {
    crate::core::new_id()
}

/// The session for activity at `now` (epoch ms): `prev` (JSON `{id, started, last}` as
/// kept in sessionStorage, or empty) continued when active within `timeoutMs`, else a
/// new one. Returns `{session: {id, started, last}, isNew}`.
#[wasm_bindgen(js_name = touchSession)]
pub fn touch_session(prev: &str, now: f64, timeout_ms: f64) -> Result<JsValue, JsValue> {
    let prev: Option<Session> = serde_json::from_str(prev).ok();
    let (s, is_new) = crate::core::touch_session(prev, now as i64, timeout_ms as i64);
    let out = serde_json::json!({ "session": s, "isNew": is_new });
    json_value(&out.to_string())
}

/// The outgoing queue (see [`outbox`]): `new Outbox(capacity, savedJson?)`.
#[wasm_bindgen]
pub struct Outbox {
    inner: RustOutbox,
}

#[wasm_bindgen]
impl Outbox {
    /// A queue of `capacity` messages, restored from `saved` when it is readable.
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: usize, saved: Option<String>) -> Outbox {
        let inner = saved
            .and_then(|s| RustOutbox::from_json(&s, capacity).ok())
            .unwrap_or_else(|| RustOutbox::new(capacity));
        Outbox { inner }
    }

    /// Append a message (JSON text from [`Core::message`]).
    pub fn push(&mut self, message: String) {
        self.inner.push(message);
    }

    /// Messages waiting.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.inner.len()
    }

    /// Messages dropped because the queue was full.
    #[wasm_bindgen(getter)]
    pub fn dropped(&self) -> f64 {
        self.inner.dropped() as f64
    }

    /// Consecutive failed sends.
    #[wasm_bindgen(getter)]
    pub fn failures(&self) -> u32 {
        self.inner.failures()
    }

    /// `{body, count}`: the oldest `max` messages as a `/v1/batch` body.
    #[wasm_bindgen(js_name = batchBody)]
    pub fn batch_body(
        &self,
        max: usize,
        sent_at: &str,
        write_key: Option<String>,
    ) -> js_sys::Array {
        let (body, n) = self.inner.batch_body(max, sent_at, write_key.as_deref());
        js_sys::Array::of2(&body.into(), &(n as f64).into())
    }

    /// The server accepted the oldest `n` messages.
    pub fn ack(&mut self, n: usize) {
        self.inner.ack(n);
    }

    /// The server refused the oldest `n` messages for good.
    pub fn reject(&mut self, n: usize) {
        self.inner.reject(n);
    }

    /// A send failed at `now`: returns the time of the next try.
    pub fn fail(&mut self, now: f64) -> f64 {
        self.inner.fail(now as i64) as f64
    }

    /// Whether a send may be tried at `now`.
    pub fn ready(&self, now: f64) -> bool {
        self.inner.ready(now as i64)
    }

    /// Forget the backoff.
    #[wasm_bindgen(js_name = resetBackoff)]
    pub fn reset_backoff(&mut self) {
        self.inner.reset_backoff();
    }

    /// The queue as JSON (for localStorage).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> String {
        self.inner.to_json()
    }
}

/// The analytics engine over an in-memory store: `new Analytics()`,
/// `loadNdjson(text)`, then `activeUsers(req)`, `sessions(req)`, `retention(req)`,
/// `revenue(req)` with request objects as in churn-core (missing fields: defaults).
#[cfg(feature = "analytics")]
#[wasm_bindgen]
pub struct Analytics {
    inner: analytics::LocalAnalytics,
}

#[cfg(feature = "analytics")]
#[wasm_bindgen]
impl Analytics {
    /// Empty.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Analytics {
        Analytics {
            inner: analytics::LocalAnalytics::new(),
        }
    }

    /// Load NDJSON text; returns `{lines, stored, duplicates, identities, rejected,
    /// rejections: [{line, code, message}]}`.
    #[wasm_bindgen(js_name = loadNdjson)]
    pub fn load_ndjson(&mut self, text: &str) -> Result<JsValue, JsValue> {
        let report = self.inner.load_ndjson(text).map_err(js_error)?;
        json_value(&serde_json::to_string(&report).map_err(|e| JsValue::from(e.to_string()))?)
    }

    /// Events stored.
    #[wasm_bindgen(js_name = eventCount)]
    pub fn event_count(&self) -> Result<f64, JsValue> {
        self.inner.event_count().map(|n| n as f64).map_err(js_error)
    }

    fn run(&mut self, kind: &str, req: JsValue) -> Result<JsValue, JsValue> {
        let text = if req.is_undefined() || req.is_null() {
            String::from("{}")
        } else {
            js_sys::JSON::stringify(&req)?
                .as_string()
                .unwrap_or_default()
        };
        json_value(&self.inner.query(kind, &text).map_err(js_error)?)
    }

    /// Active users (DAU/WAU/MAU, stickiness, new vs returning).
    #[wasm_bindgen(js_name = activeUsers)]
    pub fn active_users(&mut self, req: JsValue) -> Result<JsValue, JsValue> {
        self.run("active_users", req)
    }

    /// Sessions.
    pub fn sessions(&mut self, req: JsValue) -> Result<JsValue, JsValue> {
        self.run("sessions", req)
    }

    /// Retention cohorts.
    pub fn retention(&mut self, req: JsValue) -> Result<JsValue, JsValue> {
        self.run("retention", req)
    }

    /// Revenue and churn rate.
    pub fn revenue(&mut self, req: JsValue) -> Result<JsValue, JsValue> {
        self.run("revenue", req)
    }

    /// Funnel: `{steps: [{event, filters?}], window_ms?, mode?, exclusions?, breakdown?}`.
    pub fn funnel(&mut self, req: JsValue) -> Result<JsValue, JsValue> {
        self.run("funnel", req)
    }

    /// Paths after or before an event, as Sankey nodes and edges.
    pub fn paths(&mut self, req: JsValue) -> Result<JsValue, JsValue> {
        self.run("paths", req)
    }
}

#[cfg(feature = "analytics")]
impl Default for Analytics {
    fn default() -> Self {
        Self::new()
    }
}
