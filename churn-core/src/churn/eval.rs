//! Model evaluation: ROC AUC (ties count one half), PR AUC (average precision, as
//! scikit-learn's `average_precision_score`), log-loss, Brier score, a decile
//! calibration table, lift and capture rate in the top decile, a confusion matrix at a
//! threshold; k-fold and temporal holdout drivers; a comparison report across models.

use serde::{Deserialize, Serialize};

use super::features::FeatureConfig;
use super::labels::{Dataset, TemporalSplit};
use super::model::{shuffled, TrainedModel};
use super::table::EventTable;
use crate::error::{Error, Result};

fn check(y: &[bool], p: &[f64]) -> Result<(usize, usize)> {
    if y.len() != p.len() {
        return Err(Error::invalid(
            "scores",
            format!("{} labels but {} scores", y.len(), p.len()),
        ));
    }
    if y.is_empty() {
        return Err(Error::model("cannot evaluate on no rows"));
    }
    if let Some(i) = p.iter().position(|v| !v.is_finite()) {
        return Err(Error::model(format!("score {i} is not finite")));
    }
    let pos = y.iter().filter(|&&v| v).count();
    Ok((pos, y.len() - pos))
}

/// ROC AUC: the probability that a random churned row scores above a random retained
/// one, ties counting one half (mid-ranks, O(n log n)). Needs both classes.
///
/// ```
/// use churn_core::churn::roc_auc;
/// let auc = roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8])?;
/// assert_eq!(auc, 0.75);
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn roc_auc(y: &[bool], p: &[f64]) -> Result<f64> {
    let (pos, neg) = check(y, p)?;
    if pos == 0 || neg == 0 {
        return Err(Error::model("ROC AUC needs both churned and retained rows"));
    }
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && p[idx[j + 1]] == p[idx[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid * idx[i..=j].iter().filter(|&&k| y[k]).count() as f64;
        i = j + 1;
    }
    let (pos, neg) = (pos as f64, neg as f64);
    Ok((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Average precision: `sum_k (R_k - R_{k-1}) P_k` over distinct score thresholds,
/// descending. Needs at least one churned row.
///
/// ```
/// use churn_core::churn::average_precision;
/// let ap = average_precision(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8])?;
/// assert!((ap - 0.833_333_333).abs() < 1e-6);
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn average_precision(y: &[bool], p: &[f64]) -> Result<f64> {
    let (pos, _) = check(y, p)?;
    if pos == 0 {
        return Err(Error::model(
            "average precision needs at least one churned row",
        ));
    }
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let (mut tp, mut fp, mut prev_recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && p[idx[j]] == p[idx[i]] {
            if y[idx[j]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            j += 1;
        }
        let recall = tp / pos as f64;
        ap += (recall - prev_recall) * tp / (tp + fp);
        prev_recall = recall;
        i = j;
    }
    Ok(ap)
}

/// Mean log-loss, probabilities clipped to `[1e-15, 1 - 1e-15]`.
pub fn log_loss(y: &[bool], p: &[f64]) -> Result<f64> {
    check(y, p)?;
    let s: f64 = y
        .iter()
        .zip(p)
        .map(|(&t, &q)| {
            let q = q.clamp(1e-15, 1.0 - 1e-15);
            if t {
                -q.ln()
            } else {
                -(1.0 - q).ln()
            }
        })
        .sum();
    Ok(s / y.len() as f64)
}

/// Mean squared error of the probabilities.
pub fn brier(y: &[bool], p: &[f64]) -> Result<f64> {
    check(y, p)?;
    Ok(y.iter()
        .zip(p)
        .map(|(&t, &q)| (q - t as u8 as f64).powi(2))
        .sum::<f64>()
        / y.len() as f64)
}

/// Counts at a threshold (`p >= threshold` predicts churn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Confusion {
    /// Churned, predicted churn.
    pub tp: u64,
    /// Retained, predicted churn.
    pub fp: u64,
    /// Retained, predicted retained.
    pub tn: u64,
    /// Churned, predicted retained.
    pub fn_: u64,
}

/// Confusion matrix at `threshold`.
pub fn confusion(y: &[bool], p: &[f64], threshold: f64) -> Result<Confusion> {
    check(y, p)?;
    let mut c = Confusion::default();
    for (&t, &q) in y.iter().zip(p) {
        match (t, q >= threshold) {
            (true, true) => c.tp += 1,
            (false, true) => c.fp += 1,
            (false, false) => c.tn += 1,
            (true, false) => c.fn_ += 1,
        }
    }
    Ok(c)
}

/// One bin of a calibration table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Rows in the bin.
    pub count: u64,
    /// Mean predicted probability.
    pub mean_predicted: f64,
    /// Observed churn rate.
    pub observed_rate: f64,
}

/// Equal-count bins by predicted probability (ascending); fewer bins when there are
/// fewer rows.
pub fn calibration_table(y: &[bool], p: &[f64], bins: usize) -> Result<Vec<CalibrationBin>> {
    check(y, p)?;
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let bins = bins.clamp(1, idx.len());
    Ok((0..bins)
        .map(|b| {
            let s = &idx[b * idx.len() / bins..(b + 1) * idx.len() / bins];
            let n = s.len().max(1) as f64;
            CalibrationBin {
                count: s.len() as u64,
                mean_predicted: s.iter().map(|&i| p[i]).sum::<f64>() / n,
                observed_rate: s.iter().filter(|&&i| y[i]).count() as f64 / n,
            }
        })
        .collect())
}

/// (lift, capture rate) of the top 10% by score (ceil(n / 10) rows; ties broken by
/// row order). Lift = churn rate in the top decile / overall churn rate; capture =
/// share of all churned rows found in the top decile.
pub fn top_decile(y: &[bool], p: &[f64]) -> Result<(f64, f64)> {
    let (pos, _) = check(y, p)?;
    if pos == 0 {
        return Err(Error::model("lift needs at least one churned row"));
    }
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let k = y.len().div_ceil(10);
    let hits = idx[..k].iter().filter(|&&i| y[i]).count() as f64;
    let base = pos as f64 / y.len() as f64;
    Ok(((hits / k as f64) / base, hits / pos as f64))
}

/// Every metric of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Rows.
    pub n: u64,
    /// Churned rows.
    pub positives: u64,
    /// ROC AUC.
    pub roc_auc: f64,
    /// Average precision.
    pub pr_auc: f64,
    /// Mean log-loss.
    pub log_loss: f64,
    /// Brier score.
    pub brier: f64,
    /// Lift in the top decile.
    pub lift_top_decile: f64,
    /// Capture rate in the top decile.
    pub capture_top_decile: f64,
    /// Threshold of the confusion matrix.
    pub threshold: f64,
    /// Confusion matrix at `threshold`.
    pub confusion: Confusion,
    /// Decile calibration table.
    pub calibration: Vec<CalibrationBin>,
}

impl Metrics {
    /// Compute every metric; needs both classes.
    ///
    /// ```
    /// use churn_core::churn::Metrics;
    /// let m = Metrics::compute(&[false, true, false, true], &[0.2, 0.7, 0.4, 0.9], 0.5)?;
    /// assert_eq!(m.roc_auc, 1.0);
    /// assert_eq!(m.confusion.tp, 2);
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn compute(y: &[bool], p: &[f64], threshold: f64) -> Result<Metrics> {
        let (lift, capture) = top_decile(y, p)?;
        Ok(Metrics {
            n: y.len() as u64,
            positives: y.iter().filter(|&&v| v).count() as u64,
            roc_auc: roc_auc(y, p)?,
            pr_auc: average_precision(y, p)?,
            log_loss: log_loss(y, p)?,
            brier: brier(y, p)?,
            lift_top_decile: lift,
            capture_top_decile: capture,
            threshold,
            confusion: confusion(y, p, threshold)?,
            calibration: calibration_table(y, p, 10)?,
        })
    }
}

/// Evaluate a trained model on a labelled dataset.
pub fn evaluate(model: &TrainedModel, data: &Dataset, threshold: f64) -> Result<Metrics> {
    let p = model.predict(&data.features)?;
    Metrics::compute(&data.labels, &p.to_vec(), threshold)
}

/// k-fold cross-validation (deterministic shuffle by `seed`): `train` is called on
/// each training part, metrics are measured on the held-out fold.
pub fn k_fold(
    data: &Dataset,
    k: usize,
    seed: u64,
    threshold: f64,
    mut train: impl FnMut(&Dataset) -> Result<TrainedModel>,
) -> Result<Vec<Metrics>> {
    if k < 2 || k > data.len() {
        return Err(Error::invalid(
            "k",
            format!("must be in 2..={} (rows)", data.len()),
        ));
    }
    let order = shuffled(data.len(), seed);
    (0..k)
        .map(|f| {
            let (test, fit): (Vec<usize>, Vec<usize>) = (0..order.len()).partition(|i| i % k == f);
            let test: Vec<usize> = test.into_iter().map(|i| order[i]).collect();
            let fit: Vec<usize> = fit.into_iter().map(|i| order[i]).collect();
            let model = train(&data.subset(&fit))?;
            evaluate(&model, &data.subset(&test), threshold)
        })
        .collect()
}

/// Train on the split's training window, evaluate on its test window.
pub fn temporal_holdout(
    table: &EventTable,
    split: &TemporalSplit,
    cfg: &FeatureConfig,
    threshold: f64,
    train: impl FnOnce(&Dataset) -> Result<TrainedModel>,
) -> Result<(TrainedModel, Metrics)> {
    let mut model = train(&split.train(table, cfg)?)?;
    let m = evaluate(&model, &split.test(table, cfg)?, threshold)?;
    model.metrics = Some(m.clone());
    Ok((model, m))
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
