//! User profile metrics against a plain reference implementation on random event sets:
//! logins, sessions, features, billing state, cancellation attempts, tickets (paired by
//! id or oldest open), email and notification rates, onboarding, usage trend, as of a
//! random time, for a user id or an anonymous id merged into a user.

mod engine_support;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use churn_core::engine::{
    BillingState, Engine, ProfileRequest, UserProfile, DEFAULT_NON_INTERACTIVE,
};
use churn_core::event::{Event, Limits};
use churn_core::store::{MemoryStore, ScanRequest, Store, StoreExt, DEFAULT_PROJECT};
use churn_core::Timestamp;
use engine_support::{base, naive_events, NEv, DAY, MINUTE};
use proptest::prelude::*;
use serde_json::{json, Value};

const PNAMES: &[&str] = &[
    "login",
    "feature_used",
    "page_view",
    "purchase",
    "payment_completed",
    "payment_failed",
    "subscription_started",
    "subscription_renewed",
    "subscription_cancelled",
    "cancellation_attempt",
    "ticket_opened",
    "ticket_resolved",
    "email_sent",
    "email_opened",
    "notification_sent",
    "notification_clicked",
    "onboarding_completed",
];

#[derive(Debug, Clone)]
struct PEv {
    name: usize,
    /// 0, 1: users u0, u1; 2: anonymous a0; 3: u0 carrying a0 (links them).
    who: u8,
    day: i64,
    minute: i64,
    session: Option<u8>,
    feature: Option<u8>,
    ticket: Option<u8>,
    amount: Option<u8>,
}

fn pev() -> impl Strategy<Value = PEv> {
    (
        // Half the events crowd into four two-hour slots (sessions, exact 30-minute
        // gaps), the rest spread over 100 days (the 30 / 60-day usage windows).
        (
            0..PNAMES.len(),
            0u8..4,
            prop_oneof![0i64..4, 0i64..100],
            0i64..12,
        ),
        (
            prop::option::weighted(0.2, 0u8..2),
            prop::option::weighted(0.7, 0u8..4),
            prop::option::weighted(0.6, 0u8..6),
            prop::option::weighted(0.8, 1u8..40),
        ),
    )
        .prop_map(
            |((name, who, day, minute), (session, feature, ticket, amount))| PEv {
                name,
                who,
                day,
                minute,
                session,
                feature,
                ticket,
                amount,
            },
        )
}

fn event(e: &PEv, k: usize) -> Event {
    // Steps of 10 minutes: gaps of exactly 30 minutes are common.
    let ts = base() + e.day * DAY + e.minute * 10 * MINUTE;
    let mut b = Event::track(PNAMES[e.name])
        .message_id(format!("m{k}"))
        .timestamp(Timestamp::from_millis(ts));
    b = match e.who {
        0 => b.user_id("u0"),
        1 => b.user_id("u1"),
        2 => b.anonymous_id("a0"),
        _ => b.user_id("u0").anonymous_id("a0"),
    };
    if let Some(s) = e.session {
        b = b.session_id(format!("s{s}"));
    }
    if let Some(f) = e.feature {
        // Features as strings, and one as a number (reported as its JSON text).
        b = if f == 3 {
            b.property("feature", json!(3))
        } else {
            b.property("feature", format!("f{f}"))
        };
    }
    if let Some(t) = e.ticket {
        // The same ticket as a string or a number pairs up ("1" and 1 read the same).
        b = if t % 2 == 0 {
            b.property("ticket_id", format!("{}", t / 2))
        } else {
            b.property("ticket_id", json!(t / 2))
        };
    }
    if let Some(a) = e.amount {
        b = b.number("amount", f64::from(a) / 4.0);
    }
    let now = Timestamp::from_ymd(2030, 1, 1).unwrap();
    b.build_at(now, &Limits::default()).unwrap()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        (None, None) => true,
        _ => false,
    }
}

/// The profile restated plainly from the `UserProfile` docs.
fn reference(store: &dyn Store, evs: &[NEv], person: &str, t: i64) -> UserProfile {
    let mine: Vec<&NEv> = evs.iter().filter(|e| e.person == person).collect();
    let raw: HashMap<u64, String> = store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap()
        .into_iter()
        .map(|s| (s.seq, s.event.distinct_id().to_string()))
        .collect();
    let mut ids: Vec<String> = mine
        .iter()
        .map(|e| raw[&e.seq].clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    ids.sort();
    let before: Vec<&NEv> = mine.into_iter().filter(|e| e.ts < t).collect();
    let is = |e: &NEv, n: &str| e.name == n;
    let count = |n: &str| before.iter().filter(|e| is(e, n)).count() as u64;
    let active: Vec<&NEv> = before
        .iter()
        .copied()
        .filter(|e| !DEFAULT_NON_INTERACTIVE.contains(&e.name.as_str()))
        .collect();
    let first = active.first().map(|e| e.ts);
    let last = active.last().map(|e| e.ts);
    let logins = count("login");
    let tenure = first.map(|f| (t - f) as f64 / DAY as f64);
    // Sessions over activity events: split on a gap over 30 minutes, or on an explicit
    // session id different from the session's first explicit id.
    let mut sessions: Vec<(i64, i64, Option<String>)> = Vec::new();
    for e in &active {
        let split = match sessions.last() {
            None => true,
            Some((_, l, sid)) => {
                e.ts - l > 30 * MINUTE || matches!((&e.session, sid), (Some(a), Some(b)) if a != b)
            }
        };
        if split {
            sessions.push((e.ts, e.ts, e.session.clone()));
        } else {
            let s = sessions.last_mut().unwrap();
            s.1 = e.ts;
            if s.2.is_none() {
                s.2 = e.session.clone();
            }
        }
    }
    let durations: Vec<i64> = sessions.iter().map(|s| s.1 - s.0).collect();
    let mut features: HashMap<String, u64> = HashMap::new();
    for e in before.iter().filter(|e| is(e, "feature_used")) {
        let f = e.props.get("feature").map_or(e.name.clone(), text);
        *features.entry(f).or_default() += 1;
    }
    let mut features: Vec<(String, u64)> = features.into_iter().collect();
    features.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    features.truncate(10);
    let (mut state, mut last_billing, mut payments, mut revenue) =
        (BillingState::None, None, 0u64, 0.0);
    for e in &before {
        let next = match e.name.as_str() {
            "subscription_started" | "subscription_renewed" => BillingState::Active,
            "subscription_cancelled" => BillingState::Cancelled,
            "payment_failed" => BillingState::PastDue,
            "purchase" | "payment_completed" => {
                payments += 1;
                revenue += e.amount.unwrap_or(0.0);
                match state {
                    BillingState::None | BillingState::Paid => BillingState::Paid,
                    BillingState::PastDue => BillingState::Active,
                    s => s,
                }
            }
            _ => continue,
        };
        state = next;
        last_billing = Some((e.name.clone(), e.ts));
    }
    let mut open: VecDeque<(Option<String>, i64)> = VecDeque::new();
    let mut resolved: Vec<i64> = Vec::new();
    for e in &before {
        let id = e.props.get("ticket_id").map(text);
        if is(e, "ticket_opened") {
            open.push_back((id, e.ts));
        } else if is(e, "ticket_resolved") {
            let by_id = id
                .as_ref()
                .and_then(|id| open.iter().position(|(o, _)| o.as_ref() == Some(id)));
            let pos = by_id.or(if open.is_empty() { None } else { Some(0) });
            if let Some((_, at)) = pos.and_then(|p| open.remove(p)) {
                resolved.push(e.ts - at);
            }
        }
    }
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    let mean = |v: &[i64]| (!v.is_empty()).then(|| v.iter().sum::<i64>() as f64 / v.len() as f64);
    let last_30 = active.iter().filter(|e| e.ts >= t - 30 * DAY).count() as u64;
    let prev_30 = active
        .iter()
        .filter(|e| e.ts >= t - 60 * DAY && e.ts < t - 30 * DAY)
        .count() as u64;
    let onboarding = before.iter().find(|e| is(e, "onboarding_completed"));
    let ts = Timestamp::from_millis;
    serde_json::from_value(json!({
        "user_id": person,
        "ids": ids,
        "traits": store.user(DEFAULT_PROJECT, person).unwrap().map(|u| u.traits),
        "as_of": ts(t),
        "events": before.len(),
        "first_seen": first.map(ts),
        "last_seen": last.map(ts),
        "tenure_days": tenure,
        "logins": logins,
        "logins_per_week": tenure.map(|d| logins as f64 / (d / 7.0).max(1.0)),
        "sessions": durations.len(),
        "avg_session_duration_ms": mean(&durations),
        "features": features.iter().map(|(f, c)| json!({"feature": f, "count": c})).collect::<Vec<_>>(),
        "billing": {
            "state": state,
            "last_event": last_billing.as_ref().map(|b| b.0.clone()),
            "last_event_at": last_billing.as_ref().map(|b| ts(b.1)),
            "payments": payments,
            "revenue": revenue,
        },
        "cancellation_attempts": count("cancellation_attempt"),
        "tickets": {
            "opened": count("ticket_opened"),
            "resolved": resolved.len(),
            "open": open.len(),
            "mean_resolution_ms": mean(&resolved),
        },
        "emails_sent": count("email_sent"),
        "emails_opened": count("email_opened"),
        "email_open_rate": ratio(count("email_opened"), count("email_sent")),
        "notifications_sent": count("notification_sent"),
        "notifications_clicked": count("notification_clicked"),
        "notification_click_rate": ratio(count("notification_clicked"), count("notification_sent")),
        "onboarding_completed": onboarding.is_some(),
        "onboarding_completed_at": onboarding.map(|e| ts(e.ts)),
        "usage": {
            "last_30d": last_30,
            "previous_30d": prev_30,
            "change": (prev_30 > 0).then(|| (last_30 as f64 - prev_30 as f64) / prev_30 as f64),
            "declining": last_30 < prev_30,
        },
    }))
    .unwrap()
}

fn same(got: &UserProfile, want: &UserProfile) {
    let floats = |p: &UserProfile| {
        [
            p.tenure_days,
            p.logins_per_week,
            p.avg_session_duration_ms,
            Some(p.billing.revenue),
            p.tickets.mean_resolution_ms,
            p.email_open_rate,
            p.notification_click_rate,
            p.usage.change,
        ]
    };
    for (k, (a, b)) in floats(got).iter().zip(floats(want)).enumerate() {
        assert!(close(*a, b), "float #{k}: {a:?} != {b:?}");
    }
    // Everything else exactly: compare with the floats set equal.
    let mut g = got.clone();
    g.tenure_days = want.tenure_days;
    g.logins_per_week = want.logins_per_week;
    g.avg_session_duration_ms = want.avg_session_duration_ms;
    g.billing.revenue = want.billing.revenue;
    g.tickets.mean_resolution_ms = want.tickets.mean_resolution_ms;
    g.email_open_rate = want.email_open_rate;
    g.notification_click_rate = want.notification_click_rate;
    g.usage.change = want.usage.change;
    assert_eq!(&g, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn profile_matches_reference(
        evs in prop::collection::vec(pev(), 1..80),
        who in 0u8..3,
        as_of in prop::option::of(0i64..110),
    ) {
        let store = Arc::new(MemoryStore::new());
        let events: Vec<Event> = evs.iter().enumerate().map(|(k, e)| event(e, k)).collect();
        store.append(DEFAULT_PROJECT, &events).unwrap();
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        let nevs = naive_events(store.as_ref());
        let id = ["u0", "u1", "a0"][who as usize];
        let mut req = ProfileRequest::new(id);
        if let Some(d) = as_of {
            req = req.as_of(Timestamp::from_millis(base() + d * DAY));
        }
        // The person the id belongs to: that of any event naming it (an anonymous id
        // merged into a user reports the user).
        let stored = store.scan_all(DEFAULT_PROJECT, &ScanRequest::new()).unwrap();
        let naming: HashSet<u64> = stored
            .iter()
            .filter(|s| {
                s.event.user_id.as_deref() == Some(id) || s.event.anonymous_id.as_deref() == Some(id)
            })
            .map(|s| s.seq)
            .collect();
        let person = nevs.iter().find(|e| naming.contains(&e.seq));
        let Some(person) = person.map(|e| e.person.clone()) else {
            prop_assert!(engine.user_profile(&req).is_err());
            return Ok(());
        };
        let t = as_of.map_or_else(
            || nevs.iter().map(|e| e.ts).max().unwrap() + 1,
            |d| base() + d * DAY,
        );
        let got = engine.user_profile(&req).unwrap();
        same(&got, &reference(store.as_ref(), &nevs, &person, t));
    }
}
