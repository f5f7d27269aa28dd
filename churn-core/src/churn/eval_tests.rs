use proptest::prelude::*;

use super::*;
use crate::churn::{labelled_at, LabelConfig, LogisticParams, TrainConfig, Transaction};
use crate::time::{Timestamp, DAY_MS};

#[test]
fn hand_worked_metrics() {
    let y = [false, false, true, true];
    let p = [0.1, 0.4, 0.35, 0.8];
    assert!((log_loss(&y, &p).unwrap() - 0.472_287_954).abs() < 1e-8);
    assert!((brier(&y, &p).unwrap() - 0.158_125).abs() < 1e-12);
    let c = confusion(&y, &p, 0.4).unwrap();
    assert_eq!((c.tp, c.fp, c.tn, c.fn_), (1, 1, 1, 1));
    // Ties: all scores equal -> AUC 0.5, AP = base rate.
    assert_eq!(roc_auc(&y, &[0.3; 4]).unwrap(), 0.5);
    assert_eq!(average_precision(&y, &[0.3; 4]).unwrap(), 0.5);
    // Top decile of 20 rows = 2 rows, both churned; 4 churned overall.
    let y20: Vec<bool> = (0..20).map(|i| i < 4).collect();
    let p20: Vec<f64> = (0..20).map(|i| 1.0 - i as f64 / 20.0).collect();
    let (lift, capture) = top_decile(&y20, &p20).unwrap();
    assert_eq!((lift, capture), (5.0, 0.5));
    let bins = calibration_table(&y20, &p20, 10).unwrap();
    assert_eq!(bins.len(), 10);
    assert_eq!(bins[9].count, 2);
    assert_eq!(bins[9].observed_rate, 1.0);
    assert!((bins[0].mean_predicted - 0.075).abs() < 1e-12);
}

#[test]
fn bad_input_is_an_error() {
    assert!(roc_auc(&[true, true], &[0.1, 0.2]).is_err());
    assert!(roc_auc(&[], &[]).is_err());
    assert!(roc_auc(&[true, false], &[0.1]).is_err());
    assert!(roc_auc(&[true, false], &[f64::NAN, 0.1]).is_err());
    assert!(average_precision(&[false], &[0.1]).is_err());
    assert!(Metrics::compute(&[false, false], &[0.1, 0.2], 0.5).is_err());
}

fn pairwise_auc(y: &[bool], p: &[f64]) -> f64 {
    let (mut s, mut n) = (0.0, 0.0);
    for i in 0..y.len() {
        for j in 0..y.len() {
            if y[i] && !y[j] {
                n += 1.0;
                s += if p[i] > p[j] {
                    1.0
                } else if p[i] == p[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    s / n
}

fn per_positive_ap(y: &[bool], p: &[f64]) -> f64 {
    let pos = y.iter().filter(|&&v| v).count() as f64;
    let mut s = 0.0;
    for i in 0..y.len() {
        if y[i] {
            let at_or_above: Vec<usize> = (0..y.len()).filter(|&j| p[j] >= p[i]).collect();
            let hits = at_or_above.iter().filter(|&&j| y[j]).count() as f64;
            s += hits / at_or_above.len() as f64;
        }
    }
    s / pos
}

proptest! {
    #[test]
    fn auc_and_ap_match_their_plain_definitions(rows in prop::collection::vec((any::<bool>(), 0u8..8), 2..60)) {
        let y: Vec<bool> = rows.iter().map(|r| r.0).collect();
        let p: Vec<f64> = rows.iter().map(|r| r.1 as f64 / 8.0).collect();
        prop_assume!(y.iter().any(|&v| v) && y.iter().any(|&v| !v));
        prop_assert!((roc_auc(&y, &p).unwrap() - pairwise_auc(&y, &p)).abs() < 1e-12);
        prop_assert!((average_precision(&y, &p).unwrap() - per_positive_ap(&y, &p)).abs() < 1e-12);
    }
}

fn synthetic() -> (EventTable, FeatureConfig, Timestamp) {
    let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
    let mut rows = Vec::new();
    for c in 0..400u64 {
        // Customers with a short life stop early; the rest keep going.
        let life = if c % 3 == 0 {
            20 + (c % 40) as i64
        } else {
            200
        };
        let step = 2 + (c % 5) as i64;
        for d in (0..life).step_by(step as usize) {
            rows.push(Transaction::purchase(
                format!("c{c}"),
                t0.add_millis(d * DAY_MS),
                10.0 + (c % 7) as f64,
            ));
        }
    }
    let cfg = FeatureConfig::default();
    (EventTable::from_transactions(&rows, &cfg).unwrap(), cfg, t0)
}

#[test]
fn k_fold_and_temporal_holdout_run_and_learn() {
    let (table, cfg, t0) = synthetic();
    let ds = labelled_at(
        &table,
        t0.add_millis(40 * DAY_MS),
        &cfg,
        &LabelConfig::default(),
    )
    .unwrap();
    let train = |d: &Dataset| {
        TrainedModel::train_logistic(
            "m",
            d,
            &cfg,
            &TrainConfig::default(),
            &LogisticParams::default(),
        )
    };
    let folds = k_fold(&ds, 4, 1, 0.5, train).unwrap();
    assert_eq!(folds.len(), 4);
    assert_eq!(folds.iter().map(|m| m.n).sum::<u64>(), ds.len() as u64);
    assert!(
        folds.iter().all(|m| m.roc_auc > 0.7),
        "{:?}",
        folds.iter().map(|m| m.roc_auc).collect::<Vec<_>>()
    );
    assert!(k_fold(&ds, 1, 1, 0.5, train).is_err());
    let split = TemporalSplit::new(
        t0.add_millis(30 * DAY_MS),
        t0.add_millis(60 * DAY_MS),
        LabelConfig::default(),
    )
    .unwrap();
    let (model, m) = temporal_holdout(&table, &split, &cfg, 0.5, train).unwrap();
    assert_eq!(model.metrics.as_ref(), Some(&m));
    let mut report = crate::churn::ComparisonReport::new("synthetic");
    report.add("logistic", m.clone());
    report.add("worse", Metrics { roc_auc: 0.5, ..m });
    assert_eq!(report.best_by_auc().unwrap().model, "logistic");
    assert!(report.to_table().contains("logistic"));
}
