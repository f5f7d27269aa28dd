//! User profile metrics: the per-person view a support or success team asks for.
//!
//! Event names come from [`FeatureConfig`] (shared with the churn features, so a
//! profile and a churn score read the same events) plus the few names only a profile
//! needs ([`ProfileConfig`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::activity::ActiveDefinition;
use super::columns::NONE;
use super::segment::default_as_of;
use super::sessions::DEFAULT_SESSION_GAP_MS;
use super::view::View;
use crate::error::{Error, Result};
use crate::event::{Event, Properties};
use crate::event_names::FeatureConfig;
use crate::store::{ScanRequest, Store};
use crate::time::{Timestamp, DAY_MS};

/// Event names and options of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct ProfileConfig {
    /// Shared event names: purchases, tickets, email, notifications, subscription,
    /// payment failures, cancellation attempts, onboarding.
    pub events: FeatureConfig,
    /// Login events (default `login`).
    pub login_events: Vec<String>,
    /// Feature usage events (default `feature_used`).
    pub feature_events: Vec<String>,
    /// Property naming the feature (default `feature`; the event name when absent).
    pub feature_property: String,
    /// Property pairing a ticket's open and resolve events (default `ticket_id`).
    pub ticket_property: String,
    /// Length of the feature list (default 10).
    pub top_features: usize,
    /// Session gap (default 30 minutes).
    pub session_gap_ms: i64,
    /// Activity events (first / last seen, sessions, usage trend).
    pub active: ActiveDefinition,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            events: FeatureConfig::default(),
            login_events: vec!["login".into()],
            feature_events: vec!["feature_used".into()],
            feature_property: "feature".into(),
            ticket_property: "ticket_id".into(),
            top_features: 10,
            session_gap_ms: DEFAULT_SESSION_GAP_MS,
            active: ActiveDefinition::default(),
        }
    }
}

/// Arguments of [`Engine::user_profile`](super::Engine::user_profile).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct ProfileRequest {
    /// A user id or an anonymous id (the whole person is reported).
    pub user_id: String,
    /// Events before this time only (default: the end of the data).
    pub as_of: Option<Timestamp>,
    /// Event names and options.
    pub config: ProfileConfig,
}

impl ProfileRequest {
    /// The profile of `user_id` with the defaults.
    pub fn new(user_id: impl Into<String>) -> Self {
        ProfileRequest {
            user_id: user_id.into(),
            ..Self::default()
        }
    }
}

builder_setters!(ProfileRequest {
    /// Set the reference time.
    as_of: Some(Timestamp);
    /// Set the configuration.
    config: ProfileConfig;
});

/// A feature and how often it was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureCount {
    /// `properties.feature` (or the event name).
    pub feature: String,
    /// Uses.
    pub count: u64,
}

/// Billing state from the last billing event: a subscription start / renewal makes it
/// `active`, a cancellation `cancelled`, a failed payment `past_due`, a payment after a
/// failure `active` again; payments without subscription events give `paid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingState {
    /// No billing event.
    None,
    /// Subscribed.
    Active,
    /// Cancelled.
    Cancelled,
    /// The last payment failed.
    PastDue,
    /// Paid, without subscription events.
    Paid,
}

/// Billing status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingStatus {
    /// The state.
    pub state: BillingState,
    /// The last billing event's name.
    pub last_event: Option<String>,
    /// Its time.
    pub last_event_at: Option<Timestamp>,
    /// Payments (purchase events).
    pub payments: u64,
    /// Sum of their `amount` (every currency).
    pub revenue: f64,
}

/// Support tickets. Resolutions are paired with openings by the ticket property when
/// both carry it, else with the oldest ticket still open; unpaired resolutions are
/// ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketStats {
    /// Tickets opened.
    pub opened: u64,
    /// Tickets resolved (paired).
    pub resolved: u64,
    /// Tickets still open.
    pub open: u64,
    /// Mean time from opening to resolution.
    pub mean_resolution_ms: Option<f64>,
}

/// Activity in the last 30 days against the 30 before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageTrend {
    /// Activity events in `[T - 30d, T)`.
    pub last_30d: u64,
    /// Activity events in `[T - 60d, T - 30d)`.
    pub previous_30d: u64,
    /// (last - previous) / previous (`null` when previous is 0).
    pub change: Option<f64>,
    /// last < previous.
    pub declining: bool,
}

/// Result of [`Engine::user_profile`](super::Engine::user_profile). `T` is `as_of`.
///
/// ```json
/// {"user_id":"u1","ids":["a9","u1"],"traits":{"plan":"pro"},"as_of":"2026-02-01T00:00:00.000Z",
///  "events":42,"first_seen":"...","last_seen":"...","tenure_days":27.5,
///  "logins":9,"logins_per_week":2.29,"sessions":11,"avg_session_duration_ms":340000.0,
///  "features":[{"feature":"export","count":5}],
///  "billing":{"state":"active","last_event":"subscription_renewed","last_event_at":"...",
///             "payments":2,"revenue":58.0},
///  "cancellation_attempts":1,"tickets":{"opened":2,"resolved":1,"open":1,"mean_resolution_ms":7200000.0},
///  "emails_sent":4,"emails_opened":1,"email_open_rate":0.25,
///  "notifications_sent":0,"notifications_clicked":0,"notification_click_rate":null,
///  "onboarding_completed":true,"onboarding_completed_at":"...",
///  "usage":{"last_30d":12,"previous_30d":30,"change":-0.6,"declining":true}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    /// The person's id.
    pub user_id: String,
    /// Every raw id merged into the person, sorted.
    pub ids: Vec<String>,
    /// Current traits (`null` for anonymous persons).
    pub traits: Option<Properties>,
    /// The reference time.
    pub as_of: Timestamp,
    /// Events before `T`.
    pub events: u64,
    /// First activity event.
    pub first_seen: Option<Timestamp>,
    /// Last activity event.
    pub last_seen: Option<Timestamp>,
    /// Days from the first activity event to `T`.
    pub tenure_days: Option<f64>,
    /// Login events.
    pub logins: u64,
    /// Logins per week of tenure (tenure counted as at least one week).
    pub logins_per_week: Option<f64>,
    /// Sessions (activity events, split on gaps and explicit session ids).
    pub sessions: u64,
    /// Mean session duration.
    pub avg_session_duration_ms: Option<f64>,
    /// Most used features (count descending, then name).
    pub features: Vec<FeatureCount>,
    /// Billing.
    pub billing: BillingStatus,
    /// Cancellation attempts.
    pub cancellation_attempts: u64,
    /// Support tickets.
    pub tickets: TicketStats,
    /// Emails sent.
    pub emails_sent: u64,
    /// Emails opened.
    pub emails_opened: u64,
    /// opened / sent.
    pub email_open_rate: Option<f64>,
    /// Notifications sent.
    pub notifications_sent: u64,
    /// Notifications clicked.
    pub notifications_clicked: u64,
    /// clicked / sent.
    pub notification_click_rate: Option<f64>,
    /// Whether an onboarding event happened.
    pub onboarding_completed: bool,
    /// When (the first one).
    pub onboarding_completed_at: Option<Timestamp>,
    /// Usage trend.
    pub usage: UsageTrend,
}

fn has(list: &[String], name: &str) -> bool {
    list.iter().any(|n| n == name)
}

fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

pub(crate) fn profile(
    view: &View,
    store: &dyn Store,
    project: &str,
    req: &ProfileRequest,
) -> Result<UserProfile> {
    let cfg = &req.config;
    if cfg.session_gap_ms <= 0 {
        return Err(Error::invalid("session_gap_ms", "must be greater than 0"));
    }
    let p = view
        .person_of(&req.user_id)
        .ok_or_else(|| Error::NotFound {
            what: format!("user {}", req.user_id),
        })?;
    let t = req
        .as_of
        .map_or_else(|| default_as_of(view), |x| x.millis());
    let c = &view.cols;
    let run: Vec<usize> = view.run(p).filter(|&i| c.ts[i] < t).collect();
    let mut ids: Vec<String> = view
        .run(p)
        .map(|i| c.id[i])
        .collect::<HashSet<u32>>()
        .into_iter()
        .map(|i| view.ids.resolve(i).to_string())
        .collect();
    ids.sort();
    // Full events (with properties) of the person, in run order.
    let seqs: HashMap<u64, usize> = run
        .iter()
        .enumerate()
        .map(|(k, &i)| (c.seq[i], k))
        .collect();
    let mut events: Vec<Option<Event>> = vec![None; run.len()];
    let upto = view.last_seq;
    store.scan(project, &ScanRequest::new().users(ids.clone()), &mut |e| {
        if e.seq > upto {
            return ControlFlow::Break(());
        }
        if let Some(&k) = seqs.get(&e.seq) {
            events[k] = Some(e.event);
        }
        ControlFlow::Continue(())
    })?;
    let person_id = view.person_id(p).to_string();
    let traits = store.user(project, &person_id)?.map(|u| u.traits);
    let f = &cfg.events;
    let mut out = UserProfile {
        user_id: person_id,
        ids,
        traits,
        as_of: Timestamp::from_millis(t),
        events: run.len() as u64,
        first_seen: None,
        last_seen: None,
        tenure_days: None,
        logins: 0,
        logins_per_week: None,
        sessions: 0,
        avg_session_duration_ms: None,
        features: Vec::new(),
        billing: BillingStatus {
            state: BillingState::None,
            last_event: None,
            last_event_at: None,
            payments: 0,
            revenue: 0.0,
        },
        cancellation_attempts: 0,
        tickets: TicketStats {
            opened: 0,
            resolved: 0,
            open: 0,
            mean_resolution_ms: None,
        },
        emails_sent: 0,
        emails_opened: 0,
        email_open_rate: None,
        notifications_sent: 0,
        notifications_clicked: 0,
        notification_click_rate: None,
        onboarding_completed: false,
        onboarding_completed_at: None,
        usage: UsageTrend {
            last_30d: 0,
            previous_30d: 0,
            change: None,
            declining: false,
        },
    };
    let mut features: HashMap<String, u64> = HashMap::new();
    let mut open_tickets: VecDeque<(Option<String>, i64)> = VecDeque::new();
    let mut resolutions: Vec<i64> = Vec::new();
    let mut durations: Vec<i64> = Vec::new();
    let mut session: Option<(i64, i64, u32)> = None;
    for (k, &i) in run.iter().enumerate() {
        let ts = c.ts[i];
        let name = view.names.resolve(c.name[i]);
        let props = events[k].as_ref().map(|e| &e.properties);
        let prop = |key: &str| props.and_then(|p| p.get(key));
        if cfg.active.is_active(name) {
            out.first_seen.get_or_insert(Timestamp::from_millis(ts));
            out.last_seen = Some(Timestamp::from_millis(ts));
            if ts >= t - 30 * DAY_MS {
                out.usage.last_30d += 1;
            } else if ts >= t - 60 * DAY_MS {
                out.usage.previous_30d += 1;
            }
            let sid = c.session[i];
            session = match session {
                Some((first, last, explicit))
                    if ts - last <= cfg.session_gap_ms
                        && !(sid != NONE && explicit != NONE && sid != explicit) =>
                {
                    Some((first, ts, if explicit == NONE { sid } else { explicit }))
                }
                prev => {
                    if let Some((first, last, _)) = prev {
                        durations.push(last - first);
                    }
                    Some((ts, ts, sid))
                }
            };
        }
        if has(&cfg.login_events, name) {
            out.logins += 1;
        }
        if has(&cfg.feature_events, name) {
            let feat = prop(&cfg.feature_property).map_or_else(|| name.to_string(), key_text);
            *features.entry(feat).or_default() += 1;
        }
        let billing = if has(&f.subscription_active_events, name) {
            Some(BillingState::Active)
        } else if has(&f.subscription_cancelled_events, name) {
            Some(BillingState::Cancelled)
        } else if has(&f.payment_failed_events, name) {
            Some(BillingState::PastDue)
        } else if has(&f.purchase_events, name) {
            out.billing.payments += 1;
            out.billing.revenue += events[k].as_ref().and_then(Event::amount).unwrap_or(0.0);
            Some(match out.billing.state {
                BillingState::None | BillingState::Paid => BillingState::Paid,
                BillingState::PastDue => BillingState::Active,
                s => s,
            })
        } else {
            None
        };
        if let Some(state) = billing {
            out.billing.state = state;
            out.billing.last_event = Some(name.to_string());
            out.billing.last_event_at = Some(Timestamp::from_millis(ts));
        }
        if has(&f.cancellation_attempt_events, name) {
            out.cancellation_attempts += 1;
        }
        let ticket = prop(&cfg.ticket_property).map(key_text);
        if has(&f.ticket_opened_events, name) {
            out.tickets.opened += 1;
            open_tickets.push_back((ticket, ts));
        } else if has(&f.ticket_resolved_events, name) {
            let pos = ticket
                .as_ref()
                .and_then(|id| {
                    open_tickets
                        .iter()
                        .position(|(o, _)| o.as_ref() == Some(id))
                })
                .or_else(|| (!open_tickets.is_empty()).then_some(0));
            if let Some((_, opened)) = pos.and_then(|k| open_tickets.remove(k)) {
                resolutions.push(ts - opened);
            }
        }
        if has(&f.email_sent_events, name) {
            out.emails_sent += 1;
        }
        if has(&f.email_opened_events, name) {
            out.emails_opened += 1;
        }
        if has(&f.notification_sent_events, name) {
            out.notifications_sent += 1;
        }
        if has(&f.notification_clicked_events, name) {
            out.notifications_clicked += 1;
        }
        if has(&f.onboarding_events, name) && !out.onboarding_completed {
            out.onboarding_completed = true;
            out.onboarding_completed_at = Some(Timestamp::from_millis(ts));
        }
    }
    if let Some((first, last, _)) = session {
        durations.push(last - first);
    }
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    if let Some(first) = out.first_seen {
        let tenure = (t - first.millis()) as f64 / DAY_MS as f64;
        out.tenure_days = Some(tenure);
        out.logins_per_week = Some(out.logins as f64 / (tenure / 7.0).max(1.0));
    }
    out.sessions = durations.len() as u64;
    out.avg_session_duration_ms = (!durations.is_empty())
        .then(|| durations.iter().sum::<i64>() as f64 / durations.len() as f64);
    let mut fl: Vec<FeatureCount> = features
        .into_iter()
        .map(|(feature, count)| FeatureCount { feature, count })
        .collect();
    fl.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.feature.cmp(&b.feature))
    });
    fl.truncate(cfg.top_features);
    out.features = fl;
    out.tickets.resolved = resolutions.len() as u64;
    out.tickets.open = open_tickets.len() as u64;
    out.tickets.mean_resolution_ms = (!resolutions.is_empty())
        .then(|| resolutions.iter().sum::<i64>() as f64 / resolutions.len() as f64);
    out.email_open_rate = ratio(out.emails_opened, out.emails_sent);
    out.notification_click_rate = ratio(out.notifications_clicked, out.notifications_sent);
    let u = &mut out.usage;
    u.change = (u.previous_30d > 0)
        .then(|| (u.last_30d as f64 - u.previous_30d as f64) / u.previous_30d as f64);
    u.declining = u.last_30d < u.previous_30d;
    Ok(out)
}
