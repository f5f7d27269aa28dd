//! Hand-worked engine cases at the edges: session gaps of exactly 30 minutes, events out
//! of order, UTC day and ISO week boundaries, identity merging, refresh, revenue.

use std::sync::Arc;

use churn_core::engine::{
    ActiveDefinition, ActiveUsersRequest, ContextCapture, Engine, EngineConfig, Period,
    RetentionMode, RetentionRequest, RevenueRequest, SessionsRequest, SubscriptionEvents,
};
use churn_core::event::{Context, Event, Identify, Limits, Message};
use churn_core::store::{MemoryStore, Store, StoreExt, DEFAULT_PROJECT};
use churn_core::{TimeRange, Timestamp};

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;

fn t(y: i32, m: u32, d: u32) -> i64 {
    Timestamp::from_ymd(y, m, d).unwrap().millis()
}

fn now() -> Timestamp {
    Timestamp::from_ymd(2030, 1, 1).unwrap()
}

fn ev(name: &str, user: &str, ms: i64) -> Event {
    Event::track(name)
        .user_id(user)
        .timestamp(Timestamp::from_millis(ms))
        .build_at(now(), &Limits::default())
        .unwrap()
}

fn page(path: &str, user: &str, ms: i64, referrer: Option<&str>) -> Event {
    let mut b = Event::page(path)
        .user_id(user)
        .timestamp(Timestamp::from_millis(ms));
    if let Some(r) = referrer {
        b = b.context(Context {
            path: Some(path.into()),
            referrer: Some(r.into()),
            ..Context::default()
        });
    }
    b.build_at(now(), &Limits::default()).unwrap()
}

fn load(events: &[Event]) -> (Arc<MemoryStore>, Engine) {
    let store = Arc::new(MemoryStore::new());
    store.append(DEFAULT_PROJECT, events).unwrap();
    let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
    (store, engine)
}

#[test]
fn gap_of_exactly_30_minutes_stays_in_the_session() {
    let b = t(2026, 3, 2) + 9 * 60 * MIN;
    let (_, e) = load(&[
        ev("login", "u", b),
        ev("feature_used", "u", b + 30 * MIN),
        // 30 min + 1 ms later: a new session.
        ev("feature_used", "u", b + 60 * MIN + 1),
    ]);
    let r = e.sessions(&SessionsRequest::new()).unwrap();
    assert_eq!(r.sessions, 2);
    assert_eq!(r.total_duration_ms, 30 * MIN);
    assert_eq!(r.median_duration_ms, Some(0));
    let wider = e
        .sessions(&SessionsRequest::new().max_gap_ms(30 * MIN + 1))
        .unwrap();
    assert_eq!(wider.sessions, 1);
    assert_eq!(wider.total_duration_ms, 60 * MIN + 1);
}

#[test]
fn out_of_order_events_are_sorted_per_person() {
    let b = t(2026, 3, 2);
    let mut events = vec![
        ev("login", "u", b),
        ev("feature_used", "u", b + 20 * MIN),
        ev("feature_used", "u", b + 40 * MIN),
        ev("logout", "u", b + 200 * MIN),
    ];
    events.reverse();
    let (_, e) = load(&events);
    let r = e.sessions(&SessionsRequest::new()).unwrap();
    // [0, 20, 40] then [200]: two sessions lasting 40 and 0 minutes.
    assert_eq!(r.sessions, 2);
    assert_eq!(r.total_duration_ms, 40 * MIN);
}

#[test]
fn explicit_session_ids_split_sessions_and_email_does_not_count() {
    let b = t(2026, 3, 2);
    let with = |name: &str, ms: i64, sid: Option<&str>| {
        let mut x = Event::track(name)
            .user_id("u")
            .timestamp(Timestamp::from_millis(ms));
        if let Some(s) = sid {
            x = x.session_id(s);
        }
        x.build_at(now(), &Limits::default()).unwrap()
    };
    let (_, e) = load(&[
        with("login", b, Some("s1")),
        with("click", b + MIN, None),
        with("click", b + 2 * MIN, Some("s1")),
        with("click", b + 3 * MIN, Some("s2")),
        // Not interactive: neither extends nor starts a session.
        with("email_sent", b + 20 * MIN, None),
        with("click", b + 50 * MIN, Some("s2")),
    ]);
    let r = e.sessions(&SessionsRequest::new()).unwrap();
    // {0, 1, 2} (s1), {3} (s2), {50} (gap of 47 min).
    assert_eq!(r.sessions, 3);
    assert_eq!(r.total_duration_ms, 2 * MIN);
}

#[test]
fn pages_bounces_sources_entry_and_exit() {
    let b = t(2026, 3, 2);
    let (_, e) = load(&[
        page("/", "a", b, Some("https://www.google.com/search")),
        page("/pricing", "a", b + MIN, None),
        ev("signup", "a", b + 2 * MIN),
        page("/", "b", b, Some("https://news.ycombinator.com/")),
        ev("login", "c", b),
        page("/docs", "c", b + MIN, None),
    ]);
    let r = e.sessions(&SessionsRequest::new()).unwrap();
    assert_eq!(r.sessions, 3);
    assert_eq!(r.bounces, 1); // b: one page view and nothing else
    assert_eq!(r.bounce_rate, Some(1.0 / 3.0));
    assert_eq!(r.pages_per_session, Some(4.0 / 3.0));
    fn pairs(v: &[churn_core::engine::Count]) -> Vec<(&str, u64)> {
        v.iter().map(|c| (c.value.as_str(), c.sessions)).collect()
    }
    assert_eq!(pairs(&r.entry_pages), vec![("/", 2), ("/docs", 1)]);
    assert_eq!(
        pairs(&r.exit_pages),
        vec![("/", 1), ("/docs", 1), ("/pricing", 1)]
    );
    assert_eq!(
        pairs(&r.sources),
        vec![
            ("direct", 1),
            ("news.ycombinator.com", 1),
            ("www.google.com", 1)
        ]
    );
    assert_eq!(
        serde_json::to_value(&r.per_period).unwrap(),
        serde_json::json!([{"start":"2026-03-02T00:00:00.000Z","label":"2026-03-02","sessions":3}])
    );
}

#[test]
fn utc_day_boundary() {
    let d = t(2026, 3, 2);
    let (_, e) = load(&[
        ev("login", "u", d - 1),
        ev("login", "u", d),
        ev("login", "v", d + DAY - 1),
    ]);
    let r = e.active_users(&ActiveUsersRequest::new()).unwrap();
    let dau: Vec<(String, u64)> = r.daily.iter().map(|x| (x.date.clone(), x.dau)).collect();
    assert_eq!(
        dau,
        vec![("2026-03-01".into(), 1), ("2026-03-02".into(), 2)]
    );
    assert_eq!(r.daily[1].wau_7, 2);
    assert_eq!(r.daily[1].stickiness, Some(1.0));
    // u active on 2 days, v on 1.
    let h: Vec<(u32, u64)> = r
        .stickiness_histogram
        .iter()
        .map(|b| (b.days, b.users))
        .collect();
    assert_eq!(h, vec![(1, 1), (2, 1)]);
}

#[test]
fn iso_week_across_the_year_boundary() {
    let (_, e) = load(&[
        ev("login", "u", t(2026, 12, 31) + 5),
        ev("login", "u", t(2027, 1, 3) + 5),
        ev("login", "v", t(2027, 1, 3) + 5),
        ev("login", "u", t(2027, 1, 4)),
    ]);
    let r = e
        .active_users(&ActiveUsersRequest::new().period(Period::Week))
        .unwrap();
    let rows: Vec<(&str, u64, u64)> = r
        .periods
        .iter()
        .map(|p| (p.label.as_str(), p.active_users, p.new_users))
        .collect();
    assert_eq!(rows, vec![("2026-W53", 2, 2), ("2027-W01", 1, 0)]);
    assert_eq!(r.periods[0].start, Timestamp::from_millis(t(2026, 12, 28)));
    let m = e
        .active_users(&ActiveUsersRequest::new().period(Period::Month))
        .unwrap();
    let rows: Vec<(&str, u64)> = m
        .periods
        .iter()
        .map(|p| (p.label.as_str(), p.active_users))
        .collect();
    assert_eq!(rows, vec![("2026-12", 1), ("2027-01", 2)]);
}

#[test]
fn a_user_merged_from_an_anonymous_id_counts_once() {
    let d = t(2026, 3, 2);
    let store = Arc::new(MemoryStore::new());
    let anon = |id: &str, ms: i64| {
        Event::track("page_view")
            .anonymous_id(id)
            .timestamp(Timestamp::from_millis(ms))
            .build_at(now(), &Limits::default())
            .unwrap()
    };
    store
        .append(
            DEFAULT_PROJECT,
            &[
                anon("a1", d),
                anon("a2", d + MIN),
                ev("login", "u1", d + 2 * MIN),
            ],
        )
        .unwrap();
    let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
    let dau = |e: &Engine| e.active_users(&ActiveUsersRequest::new()).unwrap().daily[0].dau;
    assert_eq!(dau(&engine), 3);
    // identify links a1; an event carrying both ids links a2.
    let ident = Identify::user("u1")
        .anonymous_id("a1")
        .build_at(now(), &Limits::default())
        .unwrap();
    let both = Event::track("click")
        .user_id("u1")
        .anonymous_id("a2")
        .timestamp(Timestamp::from_millis(d + 3 * MIN))
        .build_at(now(), &Limits::default())
        .unwrap();
    store
        .apply(
            DEFAULT_PROJECT,
            &[Message::Identify(ident), Message::Track(both)],
        )
        .unwrap();
    let rep = engine.refresh().unwrap();
    assert!(rep.identities_changed);
    assert_eq!((rep.new_events, rep.persons), (1, 1));
    assert_eq!(dau(&engine), 1);
    // The merged person has one session of 3 minutes, starting with the anonymous view.
    let s = engine.sessions(&SessionsRequest::new()).unwrap();
    assert_eq!((s.sessions, s.total_duration_ms), (1, 3 * MIN));
    let fresh = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
    assert_eq!(
        fresh.active_users(&ActiveUsersRequest::new()).unwrap(),
        engine.active_users(&ActiveUsersRequest::new()).unwrap()
    );
}

#[test]
fn refresh_equals_fresh_load_and_deletion_reloads() {
    let d = t(2026, 3, 2);
    let (store, engine) = load(&[ev("login", "u1", d), ev("login", "u2", d + DAY)]);
    assert_eq!(engine.refresh().unwrap().new_events, 0);
    store
        .append(
            DEFAULT_PROJECT,
            &[ev("login", "u3", d + 2 * DAY), ev("login", "u1", d - DAY)],
        )
        .unwrap();
    let rep = engine.refresh().unwrap();
    assert_eq!((rep.new_events, rep.events, rep.reloaded), (2, 4, false));
    let fresh = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
    let req = RetentionRequest::new().period(Period::Day);
    assert_eq!(
        engine.retention(&req).unwrap(),
        fresh.retention(&req).unwrap()
    );
    store.delete_user(DEFAULT_PROJECT, "u2").unwrap();
    let rep = engine.refresh().unwrap();
    assert!(rep.reloaded);
    assert_eq!(rep.events, 3);
}

#[test]
fn retention_hand_worked() {
    let w = t(2026, 1, 5); // a Monday
    let (_, e) = load(&[
        ev("signup", "a", w),
        ev("login", "a", w + 7 * DAY),
        ev("login", "a", w + 14 * DAY),
        ev("signup", "b", w + DAY),
        ev("login", "b", w + 14 * DAY),
        ev("signup", "c", w + 8 * DAY),
    ]);
    let r = e
        .retention(&RetentionRequest::new().period(Period::Week))
        .unwrap();
    let rows: Vec<(&str, u64, Vec<u64>)> = r
        .cohorts
        .iter()
        .map(|c| (c.label.as_str(), c.size, c.counts.clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("2026-W02", 2, vec![2, 1, 2]),
            ("2026-W03", 1, vec![1, 0]),
            ("2026-W04", 0, vec![0]),
        ]
    );
    assert_eq!(
        r.cohorts[0].percentages,
        vec![Some(100.0), Some(50.0), Some(100.0)]
    );
    assert_eq!(r.cohorts[2].percentages, vec![None]);
    // Recurring with start = login: a starts in W03 and W04, b in W04.
    let rec = e
        .retention(
            &RetentionRequest::new()
                .period(Period::Week)
                .mode(RetentionMode::Recurring)
                .start(ActiveDefinition::only(["login"])),
        )
        .unwrap();
    let sizes: Vec<u64> = rec.cohorts.iter().map(|c| c.size).collect();
    assert_eq!(sizes, vec![0, 1, 2]);
    assert_eq!(rec.cohorts[1].counts, vec![1, 1]);
}

#[test]
fn revenue_currency_churn_subscriptions_ltv() {
    let jan = t(2026, 1, 10);
    let feb = t(2026, 2, 10);
    let buy = |user: &str, ms: i64, amount: f64, cur: Option<&str>| {
        let mut b = Event::track("purchase")
            .user_id(user)
            .timestamp(Timestamp::from_millis(ms))
            .number("amount", amount);
        if let Some(c) = cur {
            b = b.property("currency", c);
        }
        b.build_at(now(), &Limits::default()).unwrap()
    };
    let (_, e) = load(&[
        ev("signup", "a", jan),
        ev("subscription_started", "a", jan),
        buy("a", jan + 1, 20.0, Some("usd")),
        buy("a", jan + 2, 10.0, None),
        buy("a", jan + 3, 99.0, Some("EUR")),
        ev("signup", "b", jan),
        ev("login", "b", jan + DAY),
        ev("login", "a", feb),
        ev("subscription_cancelled", "a", feb),
        ev("signup", "c", feb),
    ]);
    let r = e
        .revenue(&RevenueRequest::new().currency("USD").cac(10.0))
        .unwrap();
    assert_eq!(r.currency.as_deref(), Some("USD"));
    assert_eq!(r.excluded.other_currency, 1);
    assert_eq!(r.excluded.by_currency.get("EUR"), Some(&1));
    let jan_row = &r.periods[0];
    assert_eq!(
        (jan_row.label.as_str(), jan_row.revenue, jan_row.payments),
        ("2026-01", 30.0, 2)
    );
    assert_eq!((jan_row.active_users, jan_row.paying_users), (2, 1));
    assert_eq!((jan_row.arpu, jan_row.arppu), (Some(15.0), Some(30.0)));
    // b is active in January and not in February.
    assert_eq!(
        (jan_row.churned_users, jan_row.churn_rate),
        (Some(1), Some(0.5))
    );
    let feb_row = &r.periods[1];
    assert_eq!(feb_row.churn_rate, None);
    assert_eq!(feb_row.subscriptions_at_start, Some(1));
    assert_eq!(feb_row.cancellations, Some(1));
    assert_eq!(feb_row.subscription_churn_rate, Some(1.0));
    assert_eq!(jan_row.subscriptions_at_start, Some(0));
    // monthly ARPU: Jan 15, Feb 0 / 2 active = 0 -> mean 7.5; churn 0.5 -> LTV 15.
    assert_eq!(r.ltv.monthly_arpu, Some(7.5));
    assert_eq!(r.ltv.ltv, Some(15.0));
    assert_eq!(r.ltv.ltv_to_cac, Some(1.5));
    assert_eq!((r.conversion.signups, r.conversion.converted), (3, 1));
    // Without a currency the most frequent named one is used (USD 1, EUR 1: alphabetical).
    let auto = e.revenue(&RevenueRequest::new()).unwrap();
    assert_eq!(auto.currency.as_deref(), Some("EUR"));
    assert_eq!(auto.totals.revenue, 109.0);
    // Other subscription names: none present, so no subscription figures.
    let none = e
        .revenue(&RevenueRequest::new().subscription(SubscriptionEvents {
            started: "x".into(),
            cancelled: "y".into(),
        }))
        .unwrap();
    assert_eq!(none.periods[0].subscriptions_at_start, None);
}

#[test]
fn revenue_events_named_later_are_fetched() {
    let d = t(2026, 1, 10);
    let order = Event::track("order_paid")
        .user_id("u")
        .timestamp(Timestamp::from_millis(d))
        .number("amount", 12.5)
        .build_at(now(), &Limits::default())
        .unwrap();
    let (_, e) = load(&[order]);
    let r = e
        .revenue(&RevenueRequest::new().revenue_events(["order_paid"]))
        .unwrap();
    assert_eq!(r.totals.revenue, 12.5);
    assert!(e
        .revenue(&RevenueRequest::new().revenue_events(["page_view"]))
        .is_err());
}

#[test]
fn invalid_arguments_are_typed_errors() {
    let (store, e) = load(&[ev("login", "u", t(2026, 1, 1))]);
    let back = TimeRange::new(Timestamp::from_millis(10), Timestamp::from_millis(5));
    let err = e
        .active_users(&ActiveUsersRequest::new().range(back))
        .unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_ARGUMENT");
    assert!(e.sessions(&SessionsRequest::new().max_gap_ms(0)).is_err());
    assert!(e.retention(&RetentionRequest::new().periods(0)).is_err());
    assert!(e.revenue(&RevenueRequest::new().cac(-1.0)).is_err());
    let huge = TimeRange::new(Timestamp::from_millis(0), Timestamp::from_millis(i64::MAX));
    assert!(e
        .active_users(&ActiveUsersRequest::new().range(huge))
        .is_err());
    assert!(Engine::load_with(
        store,
        DEFAULT_PROJECT,
        EngineConfig::new().revenue_events(["page_view"])
    )
    .is_err());
}

#[test]
fn columns_stay_under_40_bytes_per_event() {
    let d = t(2026, 1, 1);
    let events: Vec<Event> = (0..5_000)
        .map(|i| ev("login", &format!("u{}", i % 97), d + i64::from(i) * MIN))
        .collect();
    let (_, e) = load(&events);
    let m = e.memory_usage();
    assert_eq!((m.events, m.persons), (5_000, 97));
    assert!(m.column_bytes_per_event <= 40.0, "{m:?}");
    assert!(e.memory_bytes() as u64 >= m.column_bytes + m.other_bytes);
}

#[test]
fn context_of_every_event_when_asked() {
    let d = t(2026, 3, 2);
    let from_ad = Event::track("signup")
        .user_id("u")
        .timestamp(Timestamp::from_millis(d))
        .context(Context {
            referrer: Some("https://ads.example/x".into()),
            ..Context::default()
        })
        .build_at(now(), &Limits::default())
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    store.append(DEFAULT_PROJECT, &[from_ad]).unwrap();
    let source = |capture| {
        let cfg = EngineConfig::new().context(capture);
        let e = Engine::load_with(store.clone(), DEFAULT_PROJECT, cfg).unwrap();
        e.sessions(&SessionsRequest::new()).unwrap().sources[0]
            .value
            .clone()
    };
    assert_eq!(source(ContextCapture::PageViewsAndRevenue), "direct");
    assert_eq!(source(ContextCapture::AllEvents), "ads.example");
}
