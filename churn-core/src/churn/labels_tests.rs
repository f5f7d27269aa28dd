use proptest::prelude::*;

use super::*;
use crate::churn::table::Transaction;
use crate::time::HOUR_MS;

fn t0() -> Timestamp {
    Timestamp::from_ymd(2026, 6, 1).unwrap()
}

fn at(days: i64) -> Timestamp {
    t0().add_millis(days * DAY_MS)
}

#[test]
fn label_rule_hand_worked() {
    let ev = |c: &str, d: i64, name: &str| Transaction::event(c, at(d), name);
    let rows = vec![
        ev("active", 95, "login"),
        ev("active", 110, "login"),
        ev("cancels", 95, "login"),
        ev("cancels", 105, "login"),
        ev("cancels", 106, "subscription_cancelled"),
        ev("silent", 99, "login"),
        ev("silent", 101, "email_sent"),
        ev("silent", 130, "login"), // at T + H: outside the horizon
        ev("dormant", 5, "login"),  // outside the 90-day lookback
        ev("dormant", 101, "login"),
        ev("only_passive", 95, "email_sent"),
    ];
    let cfg = FeatureConfig::default();
    let table = EventTable::from_transactions(&rows, &cfg).unwrap();
    let ds = labelled_at(&table, at(100), &cfg, &LabelConfig::default()).unwrap();
    let got: Vec<(&str, bool)> = ds
        .features
        .customers
        .iter()
        .map(String::as_str)
        .zip(ds.labels.iter().copied())
        .collect();
    assert_eq!(
        got,
        vec![("active", false), ("cancels", true), ("silent", true)]
    );
    assert!((ds.churn_rate() - 2.0 / 3.0).abs() < 1e-12);
    assert!(labelled_at(
        &table,
        at(100),
        &cfg,
        &LabelConfig::default().horizon_days(0)
    )
    .is_err());
}

#[test]
fn explicit_labels_align_and_refuse_no_overlap() {
    let rows = vec![
        Transaction::purchase("a", at(1), 1.0),
        Transaction::purchase("b", at(2), 1.0),
    ];
    let cfg = FeatureConfig::default();
    let f = features_at_for_test(&rows, &cfg);
    let labels = HashMap::from([
        ("a".to_string(), false),
        ("b".to_string(), true),
        ("zz".to_string(), true),
    ]);
    let ds = Dataset::with_labels(f.clone(), &labels, 30).unwrap();
    assert_eq!(ds.labels, vec![false, true]);
    assert!(Dataset::with_labels(f, &HashMap::new(), 30).is_err());
}

fn features_at_for_test(rows: &[Transaction], cfg: &FeatureConfig) -> FeatureMatrix {
    let table = EventTable::from_transactions(rows, cfg).unwrap();
    super::super::features::features_at(&table, at(10), cfg).unwrap()
}

#[test]
fn split_refuses_overlap() {
    let lc = LabelConfig::default();
    assert!(TemporalSplit::new(at(0), at(29), lc).is_err());
    let s = TemporalSplit::new(at(0), at(30), lc).unwrap();
    assert_eq!((s.train_cutoff(), s.test_cutoff()), (at(0), at(30)));
}

fn table_of(evs: &[(u8, i64, u8)]) -> EventTable {
    let names = ["purchase", "login", "email_sent", "subscription_cancelled"];
    let rows: Vec<Transaction> = evs
        .iter()
        .map(|&(c, h, k)| Transaction {
            customer_id: format!("c{c}"),
            date: t0().add_millis(h * HOUR_MS),
            amount: h as f64,
            event_type: names[k as usize].to_string(),
        })
        .collect();
    EventTable::from_transactions(&rows, &FeatureConfig::default()).unwrap()
}

proptest! {
    /// Leakage is impossible: anything at or after the train horizon's end cannot change
    /// the training set; anything at or after test_cutoff cannot change test features.
    #[test]
    fn later_events_cannot_change_earlier_datasets(
        base in prop::collection::vec((0u8..6, 0i64..(150 * 24), 0u8..4), 1..80),
        later in prop::collection::vec((0u8..8, 0i64..(100 * 24), 0u8..4), 1..40),
    ) {
        let cfg = FeatureConfig::default();
        let split = TemporalSplit::new(at(60), at(90), LabelConfig::default().lookback_days(60)).unwrap();
        let train_end = 90 * 24; // hours: train_cutoff + horizon = test_cutoff here
        let keep_before = |limit: i64| -> Vec<(u8, i64, u8)> {
            base.iter().copied().filter(|e| e.1 < limit).collect()
        };
        // Train set: the base data cut at the horizon end vs. the same plus arbitrary
        // events at or after it (new customers included).
        let a = keep_before(train_end);
        let mut b = a.clone();
        b.extend(later.iter().map(|&(c, h, k)| (c, train_end + h, k)));
        let (ta, tb) = (table_of(&a), table_of(&b));
        let (da, db) = (split.train(&ta, &cfg).unwrap(), split.train(&tb, &cfg).unwrap());
        prop_assert_eq!(&da.features.customers, &db.features.customers);
        prop_assert_eq!(&da.features.x, &db.features.x);
        prop_assert_eq!(&da.labels, &db.labels);
        // Test features: anything at or after test_cutoff changes labels at most.
        let test_cut = 90 * 24;
        let c = keep_before(test_cut);
        let mut d = c.clone();
        d.extend(later.iter().map(|&(cu, h, k)| (cu, test_cut + h, k)));
        let (fc, fd) = (split.test(&table_of(&c), &cfg).unwrap(), split.test(&table_of(&d), &cfg).unwrap());
        prop_assert_eq!(&fc.features.customers, &fd.features.customers);
        prop_assert_eq!(&fc.features.x, &fd.features.x);
        // And the training labels window ends where the test features' window may start.
        prop_assert!(split.train_cutoff().add_millis(30 * DAY_MS) <= split.test_cutoff());
    }
}

#[test]
fn gather_rows_equals_select() {
    let x = ndarray::Array2::from_shape_fn((5, 3), |(i, j)| (i * 10 + j) as f64);
    let idx = [4, 0, 0, 2];
    assert_eq!(gather_rows(&x, &idx), x.select(ndarray::Axis(0), &idx));
    // Column-major input takes the `select` path, same values.
    let t = x.t().to_owned();
    let xt = t.t().to_owned().reversed_axes().reversed_axes();
    assert_eq!(gather_rows(&xt, &idx), x.select(ndarray::Axis(0), &idx));
    let f = x.t().as_standard_layout().t().to_owned();
    assert_eq!(gather_rows(&f, &idx), x.select(ndarray::Axis(0), &idx));
    assert_eq!(gather_rows(&x, &[]).dim(), (0, 3));
}
