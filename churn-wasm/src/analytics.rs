//! In-browser analytics: the churn-core [`Engine`] over a [`MemoryStore`], fed with
//! NDJSON (what `churn export` writes, or Segment-shaped lines), answering the engine's
//! requests as JSON.
//!
//! Lines without a message id get a deterministic one (a hash of the line and its
//! occurrence count), so loading the same file twice stores it once.
//!
//! ```
//! use churn_wasm::analytics::LocalAnalytics;
//! let mut a = LocalAnalytics::new();
//! let report = a.load_ndjson(concat!(
//!     r#"{"event":"login","user_id":"u1","timestamp":"2026-01-05T10:00:00Z"}"#, "\n",
//!     r#"{"event":"login","user_id":"u2","timestamp":"2026-01-05T11:00:00Z"}"#, "\n",
//!     "not json\n",
//! ))?;
//! assert_eq!((report.stored, report.rejected), (2, 1));
//! let dau: serde_json::Value = serde_json::from_str(&a.query("active_users", "{}")?).unwrap();
//! assert!(dau.is_object());
//! # Ok::<(), churn_core::Error>(())
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use churn_core::engine::{
    ActiveUsersRequest, Engine, FunnelRequest, PathsRequest, RetentionRequest, RevenueRequest,
    SessionsRequest,
};
use churn_core::event::{Limits, Message, MessageInput};
use churn_core::privacy::hash_value;
use churn_core::store::{MemoryStore, Store, DEFAULT_PROJECT};
use churn_core::{Error, Result, Timestamp};
use serde::Serialize;
use serde_json::Value;

/// At most this many rejected lines are listed in a [`LoadReport`] (all are counted).
pub const MAX_REJECTIONS_LISTED: usize = 100;
const BATCH: usize = 5_000;

/// One refused NDJSON line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// `ERR_*` code.
    pub code: String,
    /// Why.
    pub message: String,
}

/// What [`LocalAnalytics::load_ndjson`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Non-blank lines read.
    pub lines: u64,
    /// Events newly stored.
    pub stored: u64,
    /// Events already stored (same message id).
    pub duplicates: u64,
    /// Identify and alias calls applied.
    pub identities: u64,
    /// Lines refused.
    pub rejected: u64,
    /// The first [`MAX_REJECTIONS_LISTED`] refused lines.
    pub rejections: Vec<LineError>,
}

/// An in-memory store plus the engine over it.
pub struct LocalAnalytics {
    store: Arc<MemoryStore>,
    engine: Option<Engine>,
    seen: HashMap<String, u32>,
}

impl Default for LocalAnalytics {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalAnalytics {
    /// Empty.
    pub fn new() -> LocalAnalytics {
        LocalAnalytics {
            store: Arc::new(MemoryStore::new()),
            engine: None,
            seen: HashMap::new(),
        }
    }

    /// Load NDJSON text: one message per line, blank lines skipped, bad lines counted.
    pub fn load_ndjson(&mut self, text: &str) -> Result<LoadReport> {
        let limits = Limits::default();
        let now = Timestamp::now();
        let mut report = LoadReport::default();
        let mut batch: Vec<Message> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            report.lines += 1;
            match self.parse_line(line, now, &limits) {
                Ok(m) => batch.push(m),
                Err(e) => {
                    report.rejected += 1;
                    if report.rejections.len() < MAX_REJECTIONS_LISTED {
                        report.rejections.push(LineError {
                            line: i as u64 + 1,
                            code: e.code().into(),
                            message: e.to_string(),
                        });
                    }
                }
            }
            if batch.len() >= BATCH {
                self.flush(&mut batch, &mut report)?;
            }
        }
        self.flush(&mut batch, &mut report)?;
        match &self.engine {
            Some(engine) => {
                engine.refresh()?;
            }
            None => self.engine = Some(Engine::load(self.store.clone(), DEFAULT_PROJECT)?),
        }
        Ok(report)
    }

    fn parse_line(&mut self, line: &str, now: Timestamp, limits: &Limits) -> Result<Message> {
        let mut v: Value = serde_json::from_str(line).map_err(|e| {
            Error::from(churn_core::ValidationError::InvalidJson {
                reason: e.to_string(),
            })
        })?;
        if let Value::Object(m) = &mut v {
            let has_id = ["message_id", "messageId"]
                .iter()
                .any(|k| m.get(*k).is_some_and(|x| !x.is_null()));
            if !has_id {
                let n = self.seen.entry(line.to_string()).or_insert(0);
                *n += 1;
                let id = format!(
                    "ndjson-{}-{}",
                    &hash_value("churnlens-ndjson", &Value::String(line.to_string()))[..24],
                    n
                );
                m.insert("message_id".into(), Value::String(id));
            }
        }
        Ok(MessageInput::from_value(v)?.into_message(now, limits)?)
    }

    fn flush(&self, batch: &mut Vec<Message>, report: &mut LoadReport) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let out = self.store.apply(DEFAULT_PROJECT, batch)?;
        report.stored += out.inserted as u64;
        report.duplicates += out.duplicates as u64;
        report.identities += out.identities as u64;
        batch.clear();
        Ok(())
    }

    /// Answer one engine request: `kind` is `active_users`, `sessions`, `retention`,
    /// `revenue`, `funnel` or `paths`; `request` is the request's JSON (fields of
    /// [`ActiveUsersRequest`], [`SessionsRequest`], [`RetentionRequest`],
    /// [`RevenueRequest`], [`FunnelRequest`], [`PathsRequest`]; missing fields take their
    /// defaults). Returns the report's JSON.
    pub fn query(&mut self, kind: &str, request: &str) -> Result<String> {
        let engine = match &self.engine {
            Some(e) => e,
            None => self
                .engine
                .insert(Engine::load(self.store.clone(), DEFAULT_PROJECT)?),
        };
        let request = if request.trim().is_empty() {
            "{}"
        } else {
            request
        };
        let json = |r: std::result::Result<String, serde_json::Error>| {
            r.map_err(|e| Error::invalid("report", e.to_string()))
        };
        match kind {
            "active_users" => json(serde_json::to_string(&engine.active_users(&parse::<
                ActiveUsersRequest,
            >(
                request
            )?)?)),
            "sessions" => json(serde_json::to_string(&engine.sessions(&parse::<
                SessionsRequest,
            >(
                request
            )?)?)),
            "retention" => json(serde_json::to_string(&engine.retention(&parse::<
                RetentionRequest,
            >(
                request
            )?)?)),
            "revenue" => json(serde_json::to_string(&engine.revenue(&parse::<
                RevenueRequest,
            >(
                request
            )?)?)),
            "funnel" => json(serde_json::to_string(
                &engine.funnel(&parse::<FunnelRequest>(request)?)?,
            )),
            "paths" => json(serde_json::to_string(
                &engine.paths(&parse::<PathsRequest>(request)?)?,
            )),
            other => Err(Error::invalid(
                "kind",
                format!(
                    "expected active_users, sessions, retention, revenue, funnel or paths, got {other:?}"
                ),
            )),
        }
    }

    /// Events stored.
    pub fn event_count(&self) -> Result<u64> {
        Ok(self.store.stats(DEFAULT_PROJECT)?.events)
    }
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::invalid("request", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: &str = r#"{"event":"login","user_id":"u1","timestamp":"2026-01-05T10:00:00Z"}
{"event":"login","user_id":"u1","timestamp":"2026-01-05T10:00:00Z"}
{"event":"purchase","user_id":"u2","timestamp":"2026-01-06T10:00:00Z","properties":{"amount":9.5},"message_id":"p1"}
{"event":"login"}
"#;

    #[test]
    fn load_twice_stores_once() {
        let mut a = LocalAnalytics::new();
        let r = a.load_ndjson(DAY).unwrap();
        // Two identical lines are two events (occurrence counts differ).
        assert_eq!((r.lines, r.stored, r.duplicates, r.rejected), (4, 3, 0, 1));
        assert_eq!(r.rejections[0].line, 4);
        assert_eq!(r.rejections[0].code, "ERR_VALIDATION");
        let mut b = LocalAnalytics::new();
        b.load_ndjson(DAY).unwrap();
        assert_eq!(b.event_count().unwrap(), 3);
    }

    #[test]
    fn reports_match_the_engine() {
        let mut a = LocalAnalytics::new();
        a.load_ndjson(DAY).unwrap();
        let req = r#"{"range":{"from":"2026-01-05T00:00:00Z","to":"2026-01-07T00:00:00Z"}}"#;
        let got: Value = serde_json::from_str(&a.query("active_users", req).unwrap()).unwrap();
        let engine = Engine::load(a.store.clone(), DEFAULT_PROJECT).unwrap();
        let want = engine.active_users(&parse(req).unwrap()).unwrap();
        assert_eq!(got, serde_json::to_value(want).unwrap());
        for kind in ["sessions", "retention", "revenue"] {
            let v: Value = serde_json::from_str(&a.query(kind, "").unwrap()).unwrap();
            assert!(v.is_object(), "{kind}");
        }
        let req = r#"{"steps":[{"event":"login"},{"event":"purchase"}],"window_ms":604800000}"#;
        let got: Value = serde_json::from_str(&a.query("funnel", req).unwrap()).unwrap();
        let want = engine.funnel(&parse(req).unwrap()).unwrap();
        assert_eq!(got, serde_json::to_value(&want).unwrap());
        assert_eq!(want.steps[0].users, 1, "u1 logged in");
        assert_eq!(want.steps[1].users, 0, "u1 never purchased");
        let paths: Value =
            serde_json::from_str(&a.query("paths", r#"{"event":"login"}"#).unwrap()).unwrap();
        assert!(paths.is_object());
        assert_eq!(
            a.query("funnels", "{}").unwrap_err().code(),
            "ERR_INVALID_ARGUMENT"
        );
        assert_eq!(
            a.query("sessions", "[").unwrap_err().code(),
            "ERR_INVALID_ARGUMENT"
        );
    }
}
