//! Shared helpers for the engine tests: a random event-set generator, a store builder,
//! and the plain (slow, obviously correct) restatement of identity merging and periods
//! that the reference implementations build on.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use churn_core::event::{Alias, Context, Event, Identify, Limits, Message, Utm};
use churn_core::store::{MemoryStore, Store, StoreExt, DEFAULT_PROJECT};
use churn_core::{TimeRange, Timestamp};
use proptest::prelude::*;

pub const NAMES: &[&str] = &[
    "page_view",
    "login",
    "feature_used",
    "purchase",
    "payment_completed",
    "email_sent",
    "signup",
    "subscription_started",
    "subscription_cancelled",
];
pub const MINUTE: i64 = 60_000;
pub const DAY: i64 = 86_400_000;

/// 2026-12-21 (a Monday): the generated data crosses a year and an ISO week-53 boundary.
pub fn base() -> i64 {
    Timestamp::from_ymd(2026, 12, 21).unwrap().millis()
}

#[derive(Debug, Clone)]
pub enum Who {
    User(u8),
    Anon(u8),
    Both(u8, u8),
}

#[derive(Debug, Clone)]
pub struct Ev {
    pub name: usize,
    pub who: Who,
    pub ts: i64,
    pub session: Option<u8>,
    pub path: Option<u8>,
    pub referrer: Option<u8>,
    pub utm: Option<u8>,
    pub amount: Option<u8>,
    pub currency: Option<u8>,
}

#[derive(Debug, Clone)]
pub enum Link {
    Identify { anon: u8, user: u8 },
    AliasUsers { previous: u8, user: u8 },
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub events: Vec<Ev>,
    pub links: Vec<Link>,
    /// Position in `events` at which the links are applied.
    pub links_at: usize,
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        (0u8..4).prop_map(Who::User),
        (0u8..4).prop_map(Who::Anon),
        (0u8..4, 0u8..4).prop_map(|(u, a)| Who::Both(u, a)),
    ]
}

fn ev(days: i64) -> impl Strategy<Value = Ev> {
    (
        (0..NAMES.len(), who(), 0..days, 0i64..200, 0i64..2),
        (
            prop::option::weighted(0.3, 0u8..3),
            prop::option::of(0u8..3),
            prop::option::weighted(0.3, 0u8..2),
            prop::option::weighted(0.2, 0u8..2),
            prop::option::weighted(0.9, 1u8..50),
            prop::option::weighted(0.7, 0u8..2),
        ),
    )
        .prop_map(
            |((name, who, day, minute, ms), (session, path, referrer, utm, amount, currency))| {
                Ev {
                    name,
                    who,
                    // Minute steps make gaps of exactly 30 minutes common; the extra
                    // millisecond makes 30 min + 1 ms gaps happen too.
                    ts: base() + day * DAY + minute * 15 * MINUTE / 7 + ms,
                    session,
                    path,
                    referrer,
                    utm,
                    amount,
                    currency,
                }
            },
        )
}

fn link() -> impl Strategy<Value = Link> {
    prop_oneof![
        3 => (0u8..4, 0u8..4).prop_map(|(anon, user)| Link::Identify { anon, user }),
        1 => (0u8..4, 0u8..4).prop_map(|(previous, user)| Link::AliasUsers { previous, user }),
    ]
}

pub fn spec(days: i64, max_events: usize) -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec(ev(days), 0..max_events),
        prop::collection::vec(link(), 0..4),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(events, links, at)| {
            let links_at = at.index(events.len() + 1);
            Spec {
                events,
                links,
                links_at,
            }
        })
}

fn now() -> Timestamp {
    Timestamp::from_ymd(2030, 1, 1).unwrap()
}

pub fn to_event(e: &Ev, k: usize) -> Event {
    let mut b = Event::track(NAMES[e.name])
        .message_id(format!("m{k}"))
        .timestamp(Timestamp::from_millis(e.ts));
    b = match e.who {
        Who::User(u) => b.user_id(format!("u{u}")),
        Who::Anon(a) => b.anonymous_id(format!("a{a}")),
        Who::Both(u, a) => b.user_id(format!("u{u}")).anonymous_id(format!("a{a}")),
    };
    if let Some(s) = e.session {
        b = b.session_id(format!("s{s}"));
    }
    let mut ctx = Context::default();
    if NAMES[e.name] == "page_view" {
        ctx.path = e.path.map(|p| format!("/p{p}"));
    }
    ctx.referrer = e.referrer.map(|r| format!("https://ref{r}.example/x"));
    if let Some(u) = e.utm {
        ctx.utm = Utm {
            source: Some(format!("src{u}")),
            medium: Some("cpc".into()),
            campaign: Some(format!("c{u}")),
            ..Utm::default()
        };
    }
    b = b.context(ctx);
    if let Some(a) = e.amount {
        b = b.number("amount", f64::from(a) / 2.0);
    }
    if let Some(c) = e.currency {
        b = b.property("currency", ["usd", "EUR"][c as usize]);
    }
    b.build_at(now(), &Limits::default()).unwrap()
}

fn link_message(l: &Link, k: usize) -> Message {
    let t = Timestamp::from_millis(base());
    match l {
        Link::Identify { anon, user } => Message::Identify(
            Identify::user(format!("u{user}"))
                .anonymous_id(format!("a{anon}"))
                .message_id(format!("i{k}"))
                .timestamp(t)
                .build_at(now(), &Limits::default())
                .unwrap(),
        ),
        Link::AliasUsers { previous, user } => Message::Alias(Alias {
            message_id: format!("l{k}"),
            user_id: format!("u{user}"),
            previous_id: format!("u{previous}"),
            timestamp: t,
            received_at: t,
        }),
    }
}

/// The messages of `spec`, in order.
pub fn messages(spec: &Spec) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for (k, e) in spec.events.iter().enumerate() {
        if k == spec.links_at {
            out.extend(
                spec.links
                    .iter()
                    .enumerate()
                    .map(|(j, l)| link_message(l, j)),
            );
        }
        out.push(Message::Track(to_event(e, k)));
    }
    if spec.links_at >= spec.events.len() {
        out.extend(
            spec.links
                .iter()
                .enumerate()
                .map(|(j, l)| link_message(l, j)),
        );
    }
    out
}

pub fn store_of(spec: &Spec) -> Arc<MemoryStore> {
    let s = Arc::new(MemoryStore::new());
    s.apply(DEFAULT_PROJECT, &messages(spec)).unwrap();
    s
}

/// An event as the references see it: its person resolved, its cached fields.
#[derive(Debug, Clone)]
pub struct NEv {
    pub person: String,
    pub ts: i64,
    pub seq: u64,
    pub name: String,
    pub session: Option<String>,
    pub path: Option<String>,
    pub source: String,
    pub referrer: Option<String>,
    pub amount: Option<f64>,
    pub currency: Option<String>,
    /// The raw properties.
    pub props: churn_core::event::Properties,
}

/// Every event of the store with its person, sorted by (person, ts, seq).
///
/// Identity rules restated plainly: store links first (in the store's order), then
/// links carried by events (user_id + different anonymous_id) in seq order; a link is
/// kept only when its anonymous id has none yet and when following the user's links
/// does not lead back to the anonymous id; an id's person is found by following links.
pub fn naive_events(store: &dyn Store) -> Vec<NEv> {
    let events = store
        .scan_all(DEFAULT_PROJECT, &Default::default())
        .unwrap();
    let mut links: HashMap<String, String> = HashMap::new();
    let resolve = |links: &HashMap<String, String>, id: &str| {
        let mut cur = id.to_string();
        while let Some(next) = links.get(&cur) {
            cur = next.clone();
        }
        cur
    };
    let mut candidates: Vec<(String, String)> = store
        .identities(DEFAULT_PROJECT)
        .unwrap()
        .into_iter()
        .map(|l| (l.anonymous_id, l.user_id))
        .collect();
    for e in &events {
        if let (Some(u), Some(a)) = (&e.event.user_id, &e.event.anonymous_id) {
            if u != a {
                candidates.push((a.clone(), u.clone()));
            }
        }
    }
    for (a, u) in candidates {
        if links.contains_key(&a) || resolve(&links, &u) == a {
            continue;
        }
        links.insert(a, u);
    }
    let mut out: Vec<NEv> = events
        .iter()
        .map(|s| {
            let e = &s.event;
            let raw = e.user_id.clone().or(e.anonymous_id.clone()).unwrap();
            NEv {
                person: resolve(&links, &raw),
                ts: e.timestamp.millis(),
                seq: s.seq,
                name: e.event.clone(),
                session: e.session_id.clone(),
                path: e.context.path.clone(),
                source: e.context.source(),
                referrer: e
                    .context
                    .referrer
                    .as_ref()
                    .map(|r| r.split('/').nth(2).unwrap_or("").to_string()),
                amount: e.amount(),
                currency: e
                    .properties
                    .get("currency")
                    .and_then(|v| v.as_str())
                    .map(|c| c.to_uppercase()),
                props: e.properties.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.person, a.ts, a.seq).cmp(&(&b.person, b.ts, b.seq)));
    out
}

/// Events grouped by person (each group sorted by time).
pub fn by_person(evs: &[NEv]) -> Vec<Vec<&NEv>> {
    let mut out: Vec<Vec<&NEv>> = Vec::new();
    for e in evs {
        match out.last_mut() {
            Some(g) if g[0].person == e.person => g.push(e),
            _ => out.push(vec![e]),
        }
    }
    out
}

pub fn date(ms: i64) -> NaiveDate {
    Timestamp::from_millis(ms).date()
}

/// First day of the period containing `d`, with chrono ("day" / "week" / "month").
pub fn period_start(period: &str, d: NaiveDate) -> NaiveDate {
    match period {
        "day" => d,
        "week" => d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday())),
        _ => NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap(),
    }
}

/// Every period start intersecting `[from, to)`, in order.
pub fn periods(period: &str, from: i64, to: i64) -> Vec<NaiveDate> {
    let mut out: Vec<NaiveDate> = Vec::new();
    let mut d = date(from);
    while d <= date(to - 1) {
        let p = period_start(period, d);
        if out.last() != Some(&p) {
            out.push(p);
        }
        d = d.succ_opt().unwrap();
    }
    out
}

pub fn midnight(d: NaiveDate) -> i64 {
    Timestamp::from_date(d).millis()
}

/// The range to query: open ends stand for the data's first / last event.
pub fn range_strategy() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    (
        prop::option::of(0i64..30 * 24),
        prop::option::of(1i64..30 * 24),
    )
        .prop_map(|(f, len)| {
            let from = f.map(|h| base() - 5 * DAY + h * 3_600_000);
            let to = len.map(|l| from.unwrap_or(base()) + l * 3_600_000);
            (from, to)
        })
}

pub fn time_range(r: (Option<i64>, Option<i64>)) -> TimeRange {
    TimeRange {
        from: r.0.map(Timestamp::from_millis),
        to: r.1.map(Timestamp::from_millis),
    }
}

/// The resolved `[from, to)` of a range over `evs`, as the engine documents it.
pub fn resolve(evs: &[NEv], r: (Option<i64>, Option<i64>)) -> Option<(i64, i64)> {
    let min = evs.iter().map(|e| e.ts).min();
    let max = evs.iter().map(|e| e.ts).max();
    let from = r.0.or(min)?;
    let to = r.1.or(max.map(|m| m + 1))?;
    (from < to).then_some((from, to))
}

pub fn person_set<'a>(it: impl Iterator<Item = &'a NEv>) -> HashSet<String> {
    it.map(|e| e.person.clone()).collect()
}

pub const NON_INTERACTIVE: &[&str] = &["email_sent"];

pub fn interactive(e: &NEv) -> bool {
    !NON_INTERACTIVE.contains(&e.name.as_str())
}
