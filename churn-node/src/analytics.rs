//! The tracker: `new Analytics({ path })`, `Analytics.inMemory()`, track / page /
//! identify / alias / trackBatch (synchronous: validate and enqueue), flush / close /
//! importFile and the privacy calls (Promises, run off the event loop).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::Deserialize;
use serde_json::Value;

use churn_core::engine::Engine;
use churn_core::event::{Limits, Message, MessageInput};
use churn_core::import::{import_file, ImportOptions};
use churn_core::privacy::PrivacyPolicy;
use churn_core::tracker::Backpressure;
use churn_core::{Error, Timestamp};

use crate::convert::{self, task, to_json, JsonTask};
use crate::error::{invalid, IntoNapi};

/// Options of `new Analytics(...)` (camelCase or snake_case keys).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct AnalyticsOptions {
    path: Option<PathBuf>,
    project: Option<String>,
    batch_size: Option<usize>,
    flush_interval_ms: Option<u64>,
    queue_capacity: Option<usize>,
    backpressure: Option<String>,
    privacy: Option<PrivacyPolicy>,
}

/// An analytics instance: a tracker writing to a SQLite file or a PostgreSQL URL (`{ path }`) or to memory
/// (`Analytics.inMemory()`), with the analyses of the core's engine and churn models.
#[napi]
pub struct Analytics {
    pub(crate) inner: Arc<churn_core::Analytics>,
    /// The engine, loaded on the first analysis and refreshed before each later one.
    pub(crate) engine: Arc<Mutex<Option<Arc<Engine>>>>,
    closed: Arc<AtomicBool>,
}

fn build(opts: AnalyticsOptions, memory: bool) -> napi::Result<Analytics> {
    let mut b = churn_core::Analytics::builder();
    b = match (&opts.path, memory) {
        (Some(_), true) => return Err(invalid("path", "inMemory() takes no path")),
        (Some(p), false) => b.path(p.clone()),
        (None, true) => b.in_memory(),
        (None, false) => {
            return Err(invalid(
                "path",
                "new Analytics({ path }) needs a file path or a postgres:// URL; use Analytics.inMemory() for a store in memory",
            ))
        }
    };
    if let Some(p) = opts.project {
        b = b.project(p);
    }
    if let Some(n) = opts.batch_size {
        b = b.batch_size(n);
    }
    if let Some(ms) = opts.flush_interval_ms {
        b = b.flush_interval(Duration::from_millis(ms));
    }
    if let Some(n) = opts.queue_capacity {
        b = b.queue_capacity(n);
    }
    if let Some(s) = opts.backpressure {
        b = b.backpressure(s.parse::<Backpressure>().napi()?);
    }
    if let Some(p) = opts.privacy {
        b = b.privacy(p);
    }
    Ok(Analytics {
        inner: Arc::new(b.build().napi()?),
        engine: Arc::new(Mutex::new(None)),
        closed: Arc::new(AtomicBool::new(false)),
    })
}

/// A track / page / identify call's input: a name plus an optional fields object, or
/// one object holding everything.
fn message_input(
    env: &Env,
    kind: &str,
    name_key: &str,
    first: Unknown<'_>,
    fields: Option<Unknown<'_>>,
) -> napi::Result<MessageInput> {
    let mut obj = match first.get_type()? {
        ValueType::String => {
            let mut m = match fields {
                Some(f) if !matches!(f.get_type()?, ValueType::Undefined | ValueType::Null) => {
                    match to_json(env, &f, kind)? {
                        Value::Object(m) => m,
                        _ => return Err(invalid(kind, "the second argument must be an object")),
                    }
                }
                _ => serde_json::Map::new(),
            };
            m.insert(name_key.into(), to_json(env, &first, name_key)?);
            m
        }
        ValueType::Object => match to_json(env, &first, kind)? {
            Value::Object(m) => m,
            _ => return Err(invalid(kind, "expected an object, got an array")),
        },
        other => {
            return Err(invalid(
                kind,
                format!("expected the {name_key} as a string, or an object, got {other}"),
            ))
        }
    };
    obj.insert("type".into(), Value::String(kind.into()));
    convert::from_value(Value::Object(obj), kind)
}

fn message(input: MessageInput) -> napi::Result<Message> {
    input
        .into_message(Timestamp::now(), &Limits::default())
        .map_err(Error::from)
        .napi()
}

impl Analytics {
    fn batch(&self, inputs: Vec<MessageInput>) -> napi::Result<Value> {
        let report = self.inner.track_batch(inputs).napi()?;
        serde_json::to_value(report).map_err(|e| invalid("report", e.to_string()))
    }

    /// `ERR_CLOSED` once `close()` was called.
    pub(crate) fn ensure_open(&self) -> napi::Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(crate::error::to_napi(Error::Closed));
        }
        Ok(())
    }

    /// Run `f` with the tracker off the event loop, after checking it is open.
    pub(crate) fn run<R, F>(&self, f: F) -> napi::Result<AsyncTask<JsonTask>>
    where
        R: serde::Serialize,
        F: FnOnce(&churn_core::Analytics) -> churn_core::Result<R> + Send + 'static,
    {
        self.ensure_open()?;
        let inner = self.inner.clone();
        Ok(task(move || f(&inner)))
    }
}

#[napi]
impl Analytics {
    /// Open (or create) a SQLite store: `new Analytics({ path: 'events.db' })`, or a
    /// PostgreSQL one: `{ path: 'postgres://user@host/db' }` (several app servers can share it).
    /// Options: `project`, `batchSize`, `flushIntervalMs`, `queueCapacity`,
    /// `backpressure` (`'block'` | `'error'`), `privacy` (the core's privacy policy).
    #[napi(constructor, ts_args_type = "options: AnalyticsOptions")]
    pub fn new(env: Env, options: Option<Unknown>) -> napi::Result<Self> {
        build(convert::options(&env, options, "options")?, false)
    }

    /// A tracker over a store in memory (tests, demos, short-lived analyses).
    #[napi(factory, ts_args_type = "options?: Omit<AnalyticsOptions, 'path'>")]
    pub fn in_memory(env: Env, options: Option<Unknown>) -> napi::Result<Self> {
        build(convert::options(&env, options, "options")?, true)
    }

    /// The project (tenant) this instance writes to.
    #[napi(getter)]
    pub fn project(&self) -> String {
        self.inner.project().to_string()
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Queue counters (queued, stored, dropped, ...).
    #[napi(ts_return_type = "TrackerStats")]
    pub fn stats(&self) -> napi::Result<Value> {
        serde_json::to_value(self.inner.stats()).map_err(|e| invalid("stats", e.to_string()))
    }

    /// Track an event: `track('signup', { userId, properties })` or
    /// `track({ event: 'signup', userId, ... })`. Validates and enqueues.
    #[napi(ts_args_type = "event: string | TrackMessage, fields?: TrackFields")]
    pub fn track(&self, env: Env, event: Unknown, fields: Option<Unknown>) -> napi::Result<()> {
        self.ensure_open()?;
        match message(message_input(&env, "track", "event", event, fields)?)? {
            Message::Track(e) => self.inner.track(e).napi(),
            _ => Err(invalid("track", "not a track message")),
        }
    }

    /// Track a page view: `page('/pricing', { userId })` or `page({ name, userId, ... })`.
    #[napi(ts_args_type = "name: string | TrackMessage, fields?: TrackFields")]
    pub fn page(&self, env: Env, name: Unknown, fields: Option<Unknown>) -> napi::Result<()> {
        self.ensure_open()?;
        match message(message_input(&env, "page", "name", name, fields)?)? {
            Message::Track(e) => self.inner.page(e).napi(),
            _ => Err(invalid("page", "not a page message")),
        }
    }

    /// Set traits and link ids: `identify('u1', { traits, anonymousId })` or
    /// `identify({ userId, traits })`.
    #[napi(ts_args_type = "userId: string | IdentifyMessage, fields?: IdentifyFields")]
    pub fn identify(
        &self,
        env: Env,
        user_id: Unknown,
        fields: Option<Unknown>,
    ) -> napi::Result<()> {
        self.ensure_open()?;
        match message(message_input(&env, "identify", "userId", user_id, fields)?)? {
            Message::Identify(i) => self.inner.identify(i).napi(),
            _ => Err(invalid("identify", "not an identify message")),
        }
    }

    /// Link `previousId` (an anonymous id or an old user id) to `userId`.
    #[napi]
    pub fn alias(&self, user_id: String, previous_id: String) -> napi::Result<()> {
        self.ensure_open()?;
        self.inner.alias(user_id, previous_id).napi()
    }

    /// Validate and enqueue many messages (`{ type?, event, userId, ... }`, the Segment
    /// shape): bad messages are reported by index, the rest are queued.
    ///
    /// `messages` may also be the array as JSON text: the package's `trackBatch` sends
    /// `JSON.stringify(messages)` (checked for NaN, invalid Dates and cycles first),
    /// because V8 serializes a batch an order of magnitude faster than reading it
    /// property by property through N-API.
    #[napi(
        ts_args_type = "messages: TrackMessage[] | string",
        ts_return_type = "BatchReport"
    )]
    pub fn track_batch(&self, env: Env, messages: Unknown) -> napi::Result<Value> {
        self.ensure_open()?;
        let json = if messages.get_type()? == ValueType::String {
            let text = String::from_unknown(messages)?;
            match serde_json::from_str::<Vec<MessageInput>>(&text) {
                Ok(inputs) => return self.batch(inputs),
                // Not an array of objects: read it as JSON again to say where.
                Err(_) => serde_json::from_str::<Value>(&text).map_err(|e| {
                    crate::error::to_napi(Error::from(churn_core::ValidationError::InvalidJson {
                        reason: e.to_string(),
                    }))
                })?,
            }
        } else {
            to_json(&env, &messages, "messages")?
        };
        let inputs = match json {
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, m)| convert::from_value::<MessageInput>(m, &format!("messages[{i}]")))
                .collect::<napi::Result<Vec<_>>>()?,
            _ => return Err(invalid("messages", "expected an array of messages")),
        };
        self.batch(inputs)
    }

    /// Write everything queued so far to the store.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(&self) -> napi::Result<AsyncTask<JsonTask>> {
        self.run(|a| a.flush())
    }

    /// Flush and stop; later calls fail with `ERR_CLOSED`. Closing twice is fine.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<JsonTask> {
        self.closed.store(true, Ordering::Release);
        let inner = self.inner.clone();
        task(move || inner.close())
    }

    /// Import a CSV / NDJSON file into this instance's project. `options` is the core's
    /// `ImportOptions` (`format`, `columns: { userId, timestamp, event, amount, ... }`,
    /// `defaultEvent`, `batchSize`, ...); the report counts stored, duplicate and
    /// rejected rows.
    #[napi(
        ts_args_type = "path: string, options?: ImportOptions",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import_file(
        &self,
        env: Env,
        path: String,
        options: Option<Unknown>,
    ) -> napi::Result<AsyncTask<JsonTask>> {
        let mut opts: ImportOptions = convert::options(&env, options, "options")?;
        opts.project = self.inner.project().to_string();
        self.run(move |a| {
            a.flush()?;
            import_file(&**a.store(), &path, &opts, &mut |_| {})
        })
    }

    /// Record consent (`false` refuses the user's later events).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_consent(&self, user_id: String, granted: bool) -> napi::Result<AsyncTask<JsonTask>> {
        self.run(move |a| a.set_consent(&user_id, granted))
    }

    /// Everything stored about a user (GDPR access request).
    #[napi(ts_return_type = "Promise<UserExport>")]
    pub fn export_user(&self, user_id: String) -> napi::Result<AsyncTask<JsonTask>> {
        self.run(move |a| a.export_user(&user_id))
    }

    /// Delete a user's events, traits and links (GDPR erasure).
    #[napi(ts_return_type = "Promise<DeleteReport>")]
    pub fn delete_user(&self, user_id: String) -> napi::Result<AsyncTask<JsonTask>> {
        self.run(move |a| a.delete_user(&user_id))
    }

    /// Replace a user's id by a pseudonym and strip their PII; resolves to the pseudonym.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn anonymize_user(&self, user_id: String) -> napi::Result<AsyncTask<JsonTask>> {
        self.run(move |a| a.anonymize_user(&user_id))
    }

    /// Delete every event before `before` (a `Date`, ISO string or epoch ms); resolves
    /// to the number deleted.
    #[napi(ts_args_type = "before: DateInput", ts_return_type = "Promise<number>")]
    pub fn purge_before(&self, env: Env, before: Unknown) -> napi::Result<AsyncTask<JsonTask>> {
        let t = convert::timestamp(&env, &before, "before")?;
        self.run(move |a| a.purge_before(t))
    }
}
