//! Tree ensembles on synthetic problems with known structure.

use churn_core::churn::trees::*;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// ROC AUC by the Mann-Whitney statistic (ties count one half).
fn auc(scores: &[f64], y: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            rank[idx[k]] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    let npos = y.iter().filter(|&&l| l).count() as f64;
    let nneg = y.len() as f64 - npos;
    let sum: f64 = rank.iter().zip(y).filter(|(_, &l)| l).map(|(r, _)| r).sum();
    (sum - npos * (npos + 1.0) / 2.0) / (npos * nneg)
}

fn xor_data(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 5), |_| rng.random::<f64>());
    let y = (0..n)
        .map(|i| ((x[[i, 0]] > 0.5) ^ (x[[i, 1]] > 0.5)) ^ (rng.random::<f64>() < 0.05))
        .collect();
    (x, y)
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn monotone_data(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 4), |_| rng.random::<f64>());
    let p: Vec<f64> = (0..n).map(|i| sigmoid(8.0 * (x[[i, 0]] - 0.5))).collect();
    let y = p.iter().map(|&p| rng.random::<f64>() < p).collect();
    (x, y, p)
}

#[test]
fn forest_and_boosting_learn_xor() {
    let (x, y) = xor_data(4_000, 1);
    let (xt, yt) = xor_data(2_000, 2);
    // A linear score cannot separate XOR: AUC of x0 + x1 is about 0.5.
    let linear: Vec<f64> = xt.rows().into_iter().map(|r| r[0] + r[1]).collect();
    assert!((auc(&linear, &yt) - 0.5).abs() < 0.05);
    let rf = RandomForest::fit(&x, &y, None, &RandomForestConfig::default().n_trees(50)).unwrap();
    let gb = GradientBoosting::fit(&x, &y, None, &GradientBoostingConfig::default()).unwrap();
    let (a_rf, a_gb) = (
        auc(&rf.predict_proba(&xt).unwrap(), &yt),
        auc(&gb.predict_proba(&xt).unwrap(), &yt),
    );
    println!("XOR test AUC: forest {a_rf:.4}, boosting {a_gb:.4} (Bayes about 0.95)");
    assert!(a_rf > 0.92 && a_gb > 0.92);
    // The two informative features carry nearly all the importance.
    for imp in [rf.feature_importances(), gb.feature_importances()] {
        assert!(imp[0] + imp[1] > 0.8, "{imp:?}");
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}

#[test]
fn monotone_signal_reaches_bayes_auc() {
    let (x, y, _) = monotone_data(6_000, 3);
    let (xt, yt, pt) = monotone_data(4_000, 4);
    let bayes = auc(&pt, &yt);
    let rf = RandomForest::fit(
        &x,
        &y,
        None,
        &RandomForestConfig::default()
            .n_trees(60)
            .min_samples_leaf(20),
    )
    .unwrap();
    let gb = GradientBoosting::fit(
        &x,
        &y,
        None,
        &GradientBoostingConfig::default().max_depth(3),
    )
    .unwrap();
    let prf = rf.predict_proba(&xt).unwrap();
    let pgb = gb.predict_proba(&xt).unwrap();
    println!(
        "monotone test AUC: Bayes {bayes:.4}, forest {:.4}, boosting {:.4}",
        auc(&prf, &yt),
        auc(&pgb, &yt)
    );
    assert!(auc(&prf, &yt) > bayes - 0.02);
    assert!(auc(&pgb, &yt) > bayes - 0.02);
    // Boosting's probabilities are close to the truth (log-loss, unweighted).
    let mae = pgb.iter().zip(&pt).map(|(a, b)| (a - b).abs()).sum::<f64>() / pt.len() as f64;
    assert!(mae < 0.06, "mean |p - truth| = {mae}");
    // Mean prediction rises across quintiles of x0.
    for pred in [&prf, &pgb] {
        let mut bins = [(0.0, 0usize); 5];
        for (i, p) in pred.iter().enumerate() {
            let b = ((xt[[i, 0]] * 5.0) as usize).min(4);
            bins[b].0 += p;
            bins[b].1 += 1;
        }
        let means: Vec<f64> = bins.iter().map(|(s, n)| s / *n as f64).collect();
        assert!(means.windows(2).all(|w| w[0] < w[1]), "{means:?}");
    }
}

#[test]
fn contributions_add_up_to_the_prediction() {
    let (x, y) = xor_data(2_000, 5);
    let rf = RandomForest::fit(&x, &y, None, &RandomForestConfig::default().n_trees(20)).unwrap();
    let gb = GradientBoosting::fit(&x, &y, None, &GradientBoostingConfig::default().n_trees(40))
        .unwrap();
    let prf = rf.predict_proba(&x).unwrap();
    let pgb = gb.predict_proba(&x).unwrap();
    for i in (0..2_000).step_by(97) {
        let row = x.row(i).to_vec();
        let e = rf.explain(&row).unwrap();
        assert_eq!(e.space, OutputSpace::Probability);
        assert!((e.value - prf[i]).abs() < 1e-12);
        assert!((e.base_value + e.contributions.iter().sum::<f64>() - e.value).abs() < 1e-9);
        let e = gb.explain(&row).unwrap();
        assert_eq!(e.space, OutputSpace::LogOdds);
        assert!((sigmoid(e.value) - pgb[i]).abs() < 1e-12);
        assert!((e.base_value + e.contributions.iter().sum::<f64>() - e.value).abs() < 1e-9);
        // Noise features get (almost) nothing compared with the XOR pair.
        let signal = e.contributions[0].abs() + e.contributions[1].abs();
        let noise: f64 = e.contributions[2..].iter().map(|v| v.abs()).sum();
        assert!(noise < signal, "{:?}", e.contributions);
    }
}

#[test]
fn balanced_class_weight_raises_minority_scores() {
    let mut rng = StdRng::seed_from_u64(9);
    let n = 5_000;
    let x = Array2::from_shape_fn((n, 3), |_| rng.random::<f64>());
    let y: Vec<bool> = (0..n)
        .map(|i| rng.random::<f64>() < 0.1 * x[[i, 0]])
        .collect();
    let prevalence = y.iter().filter(|&&v| v).count() as f64 / n as f64;
    let plain = GradientBoosting::fit(&x, &y, None, &GradientBoostingConfig::default().n_trees(30))
        .unwrap();
    let cfg = GradientBoostingConfig::default()
        .n_trees(30)
        .class_weight(ClassWeight::Balanced);
    let balanced = GradientBoosting::fit(&x, &y, None, &cfg).unwrap();
    let mean = |m: &GradientBoosting| m.predict_proba(&x).unwrap().iter().sum::<f64>() / n as f64;
    assert!((mean(&plain) - prevalence).abs() < 0.01);
    println!(
        "prevalence {prevalence:.4}, mean P plain {:.4}, balanced {:.4}",
        mean(&plain),
        mean(&balanced)
    );
    assert!(mean(&balanced) > 4.0 * prevalence);
    // With balanced weights the classes weigh the same: mean P over positives and over
    // negatives straddle 0.5 symmetrically.
    let pb = balanced.predict_proba(&x).unwrap();
    let class_mean = |c: bool| {
        let v: Vec<f64> = pb
            .iter()
            .zip(&y)
            .filter(|(_, &l)| l == c)
            .map(|(p, _)| *p)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let (mp, mn) = (class_mean(true), class_mean(false));
    assert!(((mp + mn) / 2.0 - 0.5).abs() < 0.05 && mp > mn, "{mp} {mn}");
    let rf = RandomForest::fit(
        &x,
        &y,
        None,
        &RandomForestConfig::default()
            .n_trees(10)
            .class_weight(ClassWeight::Balanced),
    )
    .unwrap();
    let m = rf.predict_proba(&x).unwrap().iter().sum::<f64>() / n as f64;
    assert!(m > 4.0 * prevalence, "{m}");
    // Explicit weights: weight 0 rows are ignored.
    let w: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { 0.0 }).collect();
    let half = GradientBoosting::fit(
        &x,
        &y,
        Some(&w),
        &GradientBoostingConfig::default().n_trees(5),
    )
    .unwrap();
    let even: Vec<usize> = (0..n).step_by(2).collect();
    let xe = x.select(ndarray::Axis(0), &even);
    let ye: Vec<bool> = even.iter().map(|&i| y[i]).collect();
    let only_even = GradientBoosting::fit(
        &xe,
        &ye,
        None,
        &GradientBoostingConfig::default().n_trees(5),
    )
    .unwrap();
    assert!((half.base_score - only_even.base_score).abs() < 1e-12);
}

#[test]
fn json_round_trip_and_bad_models() {
    let (x, y) = xor_data(500, 6);
    let rf = RandomForest::fit(&x, &y, None, &RandomForestConfig::default().n_trees(5)).unwrap();
    let gb =
        GradientBoosting::fit(&x, &y, None, &GradientBoostingConfig::default().n_trees(5)).unwrap();
    let rf2 = RandomForest::from_json(&rf.to_json().unwrap()).unwrap();
    let gb2 = GradientBoosting::from_json(&gb.to_json().unwrap()).unwrap();
    assert_eq!(
        rf.predict_proba(&x).unwrap(),
        rf2.predict_proba(&x).unwrap()
    );
    assert_eq!(
        gb.predict_proba(&x).unwrap(),
        gb2.predict_proba(&x).unwrap()
    );
    assert_eq!(gb, gb2);

    let mut v: serde_json::Value = serde_json::from_str(&gb.to_json().unwrap()).unwrap();
    v["format"] = 99.into();
    let e = GradientBoosting::from_json(&v.to_string()).unwrap_err();
    assert!(e.to_string().contains("format 99"), "{e}");
    let mut v: serde_json::Value = serde_json::from_str(&rf.to_json().unwrap()).unwrap();
    v["trees"][0]["nodes"][0]["left"] = 0u32.into();
    v["trees"][0]["nodes"][0]["right"] = 100_000u32.into();
    // Left 0 makes it a leaf: still valid. Now a real cycle / out-of-range child:
    v["trees"][0]["nodes"][0]["left"] = 100_000u32.into();
    assert_eq!(
        RandomForest::from_json(&v.to_string()).unwrap_err().code(),
        "ERR_MODEL"
    );
    assert!(RandomForest::from_json("{not json").is_err());
}

#[test]
fn bad_input_gives_errors() {
    let (x, y) = xor_data(100, 7);
    let rfc = RandomForestConfig::default().n_trees(3);
    let gbc = GradientBoostingConfig::default().n_trees(3);
    // Empty.
    let empty = Array2::<f64>::zeros((0, 5));
    assert!(RandomForest::fit(&empty, &[], None, &rfc).is_err());
    assert!(GradientBoosting::fit(&empty, &[], None, &gbc).is_err());
    // Single class.
    assert!(RandomForest::fit(&x, &[true; 100], None, &rfc).is_err());
    assert!(GradientBoosting::fit(&x, &[false; 100], None, &gbc).is_err());
    // NaN / infinite features.
    let mut bad = x.clone();
    bad[[3, 2]] = f64::NAN;
    let e = GradientBoosting::fit(&bad, &y, None, &gbc).unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARGUMENT");
    bad[[3, 2]] = f64::INFINITY;
    assert!(RandomForest::fit(&bad, &y, None, &rfc).is_err());
    // Mismatched lengths and bad settings.
    assert!(RandomForest::fit(&x, &y[..50], None, &rfc).is_err());
    assert!(GradientBoosting::fit(&x, &y, Some(&[1.0; 3]), &gbc).is_err());
    assert!(GradientBoosting::fit(&x, &y, None, &gbc.learning_rate(f64::NAN)).is_err());
    assert!(GradientBoosting::fit(&x, &y, None, &gbc.subsample(0.0)).is_err());
    assert!(RandomForest::fit(&x, &y, None, &rfc.n_trees(0)).is_err());
    // Prediction-time checks.
    let gb = GradientBoosting::fit(&x, &y, None, &gbc).unwrap();
    assert!(gb.predict_proba(&Array2::zeros((2, 4))).is_err());
    assert!(gb.predict_proba(&bad).is_err());
    assert!(gb.explain(&[0.0; 4]).is_err());
    assert!(gb.explain(&[0.0, 0.0, f64::NAN, 0.0, 0.0]).is_err());
    // Constant features are fine (never split on), and subsampling works.
    let mut c = x.clone();
    c.column_mut(4).fill(1.0);
    let gb = GradientBoosting::fit(&c, &y, None, &gbc.subsample(0.5)).unwrap();
    assert_eq!(gb.feature_importances()[4], 0.0);
}
