use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::churn::table::Transaction;
use crate::time::HOUR_MS;

fn t0() -> Timestamp {
    Timestamp::from_ymd(2026, 6, 1).unwrap()
}

fn at(days: f64) -> Timestamp {
    t0().add_millis((days * DAY_MS as f64) as i64)
}

fn get(f: &FeatureMatrix, row: usize, name: &str) -> f64 {
    f.x[[row, f.schema.index_of(name).unwrap()]]
}

#[test]
fn hand_worked_customer() {
    // T = day 100. Events at day offsets; everything at or after day 100 is ignored.
    let ev = |d: f64, name: &str| Transaction::event("c", at(d), name);
    let rows = vec![
        ev(0.0, "signup"),
        ev(1.0, "onboarding_completed"),
        Transaction {
            amount: 10.0,
            ..ev(10.0, "purchase")
        },
        Transaction {
            amount: 30.0,
            ..ev(40.0, "purchase")
        },
        Transaction {
            amount: 20.0,
            ..ev(85.0, "purchase")
        },
        ev(50.0, "ticket_opened"),
        ev(52.0, "ticket_resolved"),
        ev(60.0, "ticket_opened"),
        ev(70.0, "email_sent"),
        ev(71.0, "email_sent"),
        ev(71.5, "email_opened"),
        ev(72.0, "notification_sent"),
        ev(80.0, "subscription_started"),
        ev(90.0, "payment_failed"),
        ev(95.0, "cancellation_attempt"),
        ev(95.5, "login"),
        ev(95.6, "login"),
        ev(99.9, "email_sent"), // passive: not recency
        ev(100.0, "login"),     // at T: ignored
        ev(120.0, "purchase"),
    ];
    let mut cfg = FeatureConfig::default();
    let table = EventTable::from_transactions(&rows, &cfg).unwrap();
    cfg = cfg.resolved_for(&table);
    let f = features_at(&table, at(100.0), &cfg).unwrap();
    assert_eq!(f.customers, vec!["c"]);
    let close = |name: &str, want: f64| {
        let got = get(&f, 0, name);
        assert!((got - want).abs() < 1e-6, "{name}: got {got}, want {want}");
    };
    close("recency_days", 100.0 - 95.6);
    close("recency_purchase_days", 15.0);
    close("frequency", 3.0);
    close("monetary", 60.0);
    close("tenure_days", 100.0);
    close("purchase_age_days", 90.0);
    // Active events in the last 7 days: cancellation_attempt@95, login@95.5, login@95.6
    // (days 95 and 95.x are the same UTC day as t0 is midnight).
    close("events_7", 3.0);
    close("active_days_7", 1.0);
    // Last 30 days [70, 100): opened 71.5, sub 80, purchase 85, attempt 95, 2 logins.
    close("events_30", 6.0);
    close("active_days_30", 4.0); // days 71, 80, 85, 95
                                  // [40, 70): purchase 40, ticket 50, 52, 60 -> 4 active events.
    close("trend_30", (7.0f64 / 5.0).ln());
    close("avg_transaction_value", 20.0);
    close("mean_interpurchase_days", 37.5);
    close("last_interpurchase_days", 45.0);
    close("open_tickets", 1.0);
    close("mean_resolution_days", 2.0);
    close("email_open_rate", 1.0 / 3.0);
    close("notification_click_rate", 0.0);
    close("cancellation_attempts", 1.0);
    close("onboarding_completed", 1.0);
    close("billing_active", 0.0);
    close("billing_past_due", 1.0);
    close("billing_cancelled", 0.0);
}

#[test]
fn no_purchase_fills_and_plan_one_hot() {
    let rows = vec![
        Transaction::event("a", at(0.0), "login"),
        Transaction::event("b", at(5.0), "login"),
    ];
    let table = EventTable::from_transactions(&rows, &FeatureConfig::default()).unwrap();
    let cfg = FeatureConfig::default().plans(["basic", "pro"]);
    let f = features_at(&table, at(10.0), &cfg).unwrap();
    assert_eq!(get(&f, 0, "recency_purchase_days"), 10.0);
    assert_eq!(get(&f, 0, "mean_interpurchase_days"), 10.0);
    assert_eq!(get(&f, 0, "purchase_age_days"), 0.0);
    assert_eq!(get(&f, 0, "avg_transaction_value"), 0.0);
    assert_eq!(get(&f, 0, "plan=pro"), 0.0);
    assert!(f.x.iter().all(|v| v.is_finite()));
    // Customers with no event before T are not rows.
    let early = features_at(&table, at(3.0), &cfg).unwrap();
    assert_eq!(early.customers, vec!["a"]);
}

#[test]
fn plan_from_events_is_as_of_t() {
    let store = crate::store::MemoryStore::new();
    use crate::event::Event;
    use crate::store::{StoreExt, DEFAULT_PROJECT};
    let ev = |d: f64, plan: &str| {
        Event::track("subscription_started")
            .user_id("u")
            .timestamp(at(d))
            .property("plan", plan)
            .build()
            .unwrap()
    };
    store
        .append(DEFAULT_PROJECT, &[ev(1.0, "basic"), ev(20.0, "pro")])
        .unwrap();
    let base = FeatureConfig::default();
    let table = EventTable::from_store(&store, DEFAULT_PROJECT, &base).unwrap();
    let cfg = base.resolved_for(&table);
    assert_eq!(cfg.plans, vec!["basic", "pro"]);
    let f10 = features_at(&table, at(10.0), &cfg).unwrap();
    assert_eq!(
        (get(&f10, 0, "plan=basic"), get(&f10, 0, "plan=pro")),
        (1.0, 0.0)
    );
    let f30 = features_at(&table, at(30.0), &cfg).unwrap();
    assert_eq!(
        (get(&f30, 0, "plan=basic"), get(&f30, 0, "plan=pro")),
        (0.0, 1.0)
    );
    assert_eq!(get(&f30, 0, "billing_active"), 1.0);
}

#[test]
fn schema_mismatch_names_the_column() {
    let a = FeatureSchema::for_config(&FeatureConfig::default().plans(["x"]));
    let b = FeatureSchema::for_config(&FeatureConfig::default().plans(["y"]));
    let e = a.check_same(&b).unwrap_err();
    assert_eq!(e.code(), "ERR_SCHEMA_MISMATCH");
    assert!(e.to_string().contains("plan=x"), "{e}");
    let c = FeatureSchema::for_config(&FeatureConfig::default());
    assert!(a.check_same(&c).is_err());
    assert!(a.check_same(&a.clone()).is_ok());
}

proptest! {
    /// The columnar pass agrees with a plain per-customer recomputation.
    #[test]
    fn matches_a_plain_recomputation(
        evs in prop::collection::vec((0u8..4, 0i64..(200 * 24), 0u8..4, 0u32..100), 1..80),
        t_hours in 0i64..(220 * 24),
    ) {
        let names = ["purchase", "login", "email_sent", "ticket_opened"];
        let rows: Vec<Transaction> = evs.iter().map(|&(c, h, k, a)| Transaction {
            customer_id: format!("c{c}"),
            date: t0().add_millis(h * HOUR_MS),
            amount: a as f64,
            event_type: names[k as usize].to_string(),
        }).collect();
        let cfg = FeatureConfig::default();
        let table = EventTable::from_transactions(&rows, &cfg).unwrap();
        let t = t0().add_millis(t_hours * HOUR_MS);
        let f = features_at(&table, t, &cfg).unwrap();
        let mut expect_customers: Vec<String> = rows.iter().filter(|r| r.date < t).map(|r| r.customer_id.clone()).collect();
        expect_customers.sort();
        expect_customers.dedup();
        let mut got_customers = f.customers.clone();
        got_customers.sort();
        prop_assert_eq!(&got_customers, &expect_customers);
        for (i, c) in f.customers.iter().enumerate() {
            let mine: Vec<&Transaction> = rows.iter().filter(|r| &r.customer_id == c && r.date < t).collect();
            let purchases: Vec<&&Transaction> = mine.iter().filter(|r| r.event_type == "purchase").collect();
            let active: Vec<&&Transaction> = mine.iter().filter(|r| r.event_type != "email_sent").collect();
            let first = mine.iter().map(|r| r.date).min().unwrap();
            let tenure = days(t.millis() - first.millis());
            let recency = active.iter().map(|r| r.date).max().map_or(tenure, |d| days(t.millis() - d.millis()));
            let since = |n: i64| t.millis() - n * DAY_MS;
            let in_window: Vec<&&&Transaction> = active.iter().filter(|r| r.date.millis() >= since(30)).collect();
            let distinct_days: HashSet<i64> = in_window.iter().map(|r| r.date.day_index()).collect();
            let prev = active.iter().filter(|r| r.date.millis() >= since(60) && r.date.millis() < since(30)).count();
            prop_assert_eq!(get(&f, i, "frequency"), purchases.len() as f64);
            prop_assert_eq!(get(&f, i, "monetary"), purchases.iter().map(|r| r.amount).sum::<f64>());
            prop_assert!((get(&f, i, "tenure_days") - tenure).abs() < 1e-9);
            prop_assert!((get(&f, i, "recency_days") - recency).abs() < 1e-9);
            prop_assert_eq!(get(&f, i, "events_30"), in_window.len() as f64);
            prop_assert_eq!(get(&f, i, "active_days_30"), distinct_days.len() as f64);
            prop_assert!((get(&f, i, "trend_30") - ((in_window.len() as f64 + 1.0) / (prev as f64 + 1.0)).ln()).abs() < 1e-12);
            prop_assert_eq!(get(&f, i, "open_tickets"), mine.iter().filter(|r| r.event_type == "ticket_opened").count() as f64);
        }
    }
}
