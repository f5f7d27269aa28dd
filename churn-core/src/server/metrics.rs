//! `GET /api/metrics`: the overview of the last N days.
//!
//! - `visitors`: distinct persons with any event in the range (every event counts,
//!   including non-interactive ones);
//! - a **conversion** is an event whose name is in the server's conversion list
//!   ([`ServerConfig::conversion_events`](super::ServerConfig::conversion_events),
//!   default `purchase`, `signup`, `payment_completed`); `conversions` counts those
//!   events, `converted_visitors` the distinct persons with one;
//! - `conversion_rate` = converted visitors / visitors (`null` without visitors);
//! - `pages_per_session`, `sessions` and `traffic_sources` come from the engine's
//!   sessions report over the same range (sessions starting in it; source = UTM source,
//!   else referrer host, else `direct`);
//! - `recent_conversions`: the last 10 conversion events of the range, newest first.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{ActiveDefinition, ActiveUsersRequest, Count, Engine, SessionsRequest};
use crate::error::Result;
use crate::store::{ScanRequest, Store};
use crate::time::{TimeRange, Timestamp};

/// Conversions listed in `recent_conversions`.
pub const RECENT_CONVERSIONS: usize = 10;

/// One conversion event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentConversion {
    /// When.
    pub timestamp: Timestamp,
    /// Event name.
    pub event: String,
    /// The person (user id, else the id the event was sent with).
    pub user_id: String,
    /// `properties.amount`, when numeric.
    pub amount: Option<f64>,
}

/// Result of `GET /api/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsReport {
    /// Days covered.
    pub days: u32,
    /// Range `[from, to)`.
    pub range: TimeRange,
    /// The conversion event names used.
    pub conversion_events: Vec<String>,
    /// Distinct persons with an event in the range.
    pub visitors: u64,
    /// Conversion events in the range.
    pub conversions: u64,
    /// Distinct persons with a conversion event.
    pub converted_visitors: u64,
    /// converted visitors / visitors.
    pub conversion_rate: Option<f64>,
    /// Sessions starting in the range.
    pub sessions: u64,
    /// `page_view` events per session.
    pub pages_per_session: Option<f64>,
    /// Sessions by source.
    pub traffic_sources: Vec<Count>,
    /// The last conversions, newest first.
    pub recent_conversions: Vec<RecentConversion>,
}

/// Compute the report (blocking: reads the conversion events of the range from the
/// store's time index).
pub fn metrics(
    engine: &Engine,
    store: &dyn Store,
    project: &str,
    days: u32,
    range: TimeRange,
    conversion_events: &[String],
) -> Result<MetricsReport> {
    let active = engine.active_users(
        &ActiveUsersRequest::new()
            .range(range)
            .active(ActiveDefinition::all()),
    )?;
    let sessions = engine.sessions(&SessionsRequest::new().range(range))?;
    let links: HashMap<String, String> = store
        .identities(project)?
        .into_iter()
        .map(|l| (l.anonymous_id, l.user_id))
        .collect();
    let mut conversions = 0u64;
    let mut people = HashSet::new();
    let mut recent: Vec<RecentConversion> = Vec::new();
    if !conversion_events.is_empty() {
        let req = ScanRequest::new()
            .range(range)
            .events(conversion_events.iter().cloned());
        store.scan(project, &req, &mut |se| {
            let e = se.event;
            let who = match (&e.user_id, &e.anonymous_id) {
                (Some(u), _) => u.clone(),
                (None, Some(a)) => links.get(a).cloned().unwrap_or_else(|| a.clone()),
                (None, None) => return ControlFlow::Continue(()),
            };
            conversions += 1;
            people.insert(who.clone());
            recent.push(RecentConversion {
                timestamp: e.timestamp,
                amount: e.properties.get("amount").and_then(Value::as_f64),
                event: e.event,
                user_id: who,
            });
            if recent.len() > 4 * RECENT_CONVERSIONS {
                recent.sort_by_key(|r| std::cmp::Reverse(r.timestamp));
                recent.truncate(RECENT_CONVERSIONS);
            }
            ControlFlow::Continue(())
        })?;
    }
    recent.sort_by_key(|r| std::cmp::Reverse(r.timestamp));
    recent.truncate(RECENT_CONVERSIONS);
    let visitors = active.total_users;
    Ok(MetricsReport {
        days,
        range,
        conversion_events: conversion_events.to_vec(),
        visitors,
        conversions,
        converted_visitors: people.len() as u64,
        conversion_rate: (visitors > 0).then(|| people.len() as f64 / visitors as f64),
        sessions: sessions.sessions,
        pages_per_session: sessions.pages_per_session,
        traffic_sources: sessions.sources,
        recent_conversions: recent,
    })
}
