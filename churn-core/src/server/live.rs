//! Live figures and alerts: events accepted per second per project, active users in
//! the last 5 minutes, and "entered the Critical segment" alerts, fanned out to
//! `GET /api/live` subscribers (Server-Sent Events) and to the project's webhook.
//!
//! Events per second is the mean over the last [`RATE_WINDOW_SECS`] whole seconds of
//! events accepted by the ingestion routes (duplicates and refusals excluded). Active
//! users are the distinct user ids (else anonymous ids) with an event stored in the last
//! 5 minutes, read through the store's time index.
//!
//! Webhook: after a scoring run in which users entered Critical, the project's
//! `webhook_url` (set with `PATCH /api/project`) receives one `POST` with the JSON body
//! `{"type": "churn.critical", "project", "model", "version", "scored_at", "users":
//! [{user_id, probability, segment, reasons}]}`; a failure (connection error or a
//! non-2xx status) is retried [`ServerConfig::webhook_attempts`](super::ServerConfig)
//! times in all, waiting 0.5 s, 1 s, 2 s, ... between. Plain `http://` URLs only (the
//! server is built without TLS).

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::churn_jobs::{ScoreRun, ScoredUser};
use crate::error::Result;
use crate::store::{ScanRequest, Store};
use crate::time::{TimeRange, Timestamp};

/// Seconds averaged for events per second.
pub const RATE_WINDOW_SECS: i64 = 5;
/// The active-users window of the live figures: 5 minutes.
pub const ACTIVE_WINDOW_MS: i64 = 5 * 60_000;

/// One tick of `GET /api/live`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveStats {
    /// When measured.
    pub at: Timestamp,
    /// Mean events accepted per second over the last seconds.
    pub events_per_second: f64,
    /// Distinct users with an event in the last 5 minutes.
    pub active_users: u64,
}

/// An alert: users who entered the Critical segment in a scoring run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticalAlert {
    /// Always `churn.critical`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The project.
    pub project: String,
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: u32,
    /// When the run finished.
    pub scored_at: Timestamp,
    /// The users.
    pub users: Vec<ScoredUser>,
}

impl CriticalAlert {
    /// The alert of a run.
    pub fn new(project: &str, run: &ScoreRun, users: Vec<ScoredUser>) -> Self {
        CriticalAlert {
            kind: "churn.critical".into(),
            project: project.to_string(),
            model: run.model.clone(),
            version: run.version,
            scored_at: run.scored_at,
            users,
        }
    }
}

/// Counters and the alert channel.
pub struct Live {
    counts: Mutex<HashMap<String, VecDeque<(i64, u64)>>>,
    alerts: broadcast::Sender<Arc<CriticalAlert>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").finish_non_exhaustive()
    }
}

impl Default for Live {
    fn default() -> Self {
        Live {
            counts: Mutex::new(HashMap::new()),
            alerts: broadcast::channel(64).0,
        }
    }
}

impl Live {
    /// Count `n` accepted events for `project` at `now_ms`.
    pub fn record_at(&self, project: &str, n: u64, now_ms: i64) {
        if n == 0 {
            return;
        }
        let sec = now_ms.div_euclid(1000);
        let mut map = self.counts.lock();
        let q = map.entry(project.to_string()).or_default();
        match q.back_mut() {
            Some((s, c)) if *s == sec => *c += n,
            _ => q.push_back((sec, n)),
        }
        while q
            .front()
            .is_some_and(|(s, _)| *s < sec - RATE_WINDOW_SECS - 1)
        {
            q.pop_front();
        }
    }

    /// Count `n` accepted events now.
    pub fn record(&self, project: &str, n: u64) {
        self.record_at(project, n, Timestamp::now().millis());
    }

    /// Mean events per second over the [`RATE_WINDOW_SECS`] whole seconds before `now_ms`.
    pub fn rate_at(&self, project: &str, now_ms: i64) -> f64 {
        let sec = now_ms.div_euclid(1000);
        let map = self.counts.lock();
        let total: u64 = map
            .get(project)
            .map(|q| {
                q.iter()
                    .filter(|(s, _)| *s >= sec - RATE_WINDOW_SECS && *s < sec)
                    .map(|(_, c)| c)
                    .sum()
            })
            .unwrap_or(0);
        total as f64 / RATE_WINDOW_SECS as f64
    }

    /// Live figures of `project` now (reads the store: call on a blocking thread).
    pub fn stats(&self, store: &dyn Store, project: &str) -> Result<LiveStats> {
        let now = Timestamp::now();
        let range = TimeRange::new(now.add_millis(-ACTIVE_WINDOW_MS), now.add_millis(1));
        let mut ids = HashSet::new();
        store.scan_rows(project, &ScanRequest::new().range(range), &mut |r| {
            if let Some(id) = r.user_id.or(r.anonymous_id) {
                if !ids.contains(id) {
                    ids.insert(id.to_string());
                }
            }
            ControlFlow::Continue(())
        })?;
        Ok(LiveStats {
            at: now,
            events_per_second: self.rate_at(project, now.millis()),
            active_users: ids.len() as u64,
        })
    }

    /// Subscribe to alerts (of every project: filter by `project`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CriticalAlert>> {
        self.alerts.subscribe()
    }

    /// Publish an alert to subscribers.
    pub fn publish(&self, alert: Arc<CriticalAlert>) {
        let _ = self.alerts.send(alert);
    }
}

/// POST `alert` to `url` as JSON, up to `attempts` times (blocking). Returns the number
/// of attempts made and whether one succeeded.
pub fn send_webhook(url: &str, alert: &CriticalAlert, attempts: u32) -> (u32, bool) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(true)
        .build()
        .into();
    let body = match serde_json::to_vec(alert) {
        Ok(b) => b,
        Err(_) => return (0, false),
    };
    let mut wait = Duration::from_millis(500);
    for n in 1..=attempts.max(1) {
        let ok = agent
            .post(url)
            .header("content-type", "application/json")
            .send(&body[..])
            .is_ok();
        if ok {
            return (n, true);
        }
        if n < attempts {
            std::thread::sleep(wait);
            wait *= 2;
        }
    }
    (attempts.max(1), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_whole_seconds() {
        let live = Live::default();
        live.record_at("p", 10, 1_000);
        live.record_at("p", 5, 1_999);
        live.record_at("p", 20, 3_500);
        live.record_at("q", 100, 3_500);
        // Seconds 0..=4 before second 5: 10 + 5 + 20 = 35 over 5 s.
        assert_eq!(live.rate_at("p", 5_000), 7.0);
        // The current second is not counted yet.
        assert_eq!(live.rate_at("p", 3_900), 3.0);
        assert_eq!(live.rate_at("p", 60_000), 0.0);
        assert_eq!(live.rate_at("none", 5_000), 0.0);
    }
}
