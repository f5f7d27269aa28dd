//! Model comparison on one data set: every model kind trained on the same temporal split
//! (features and labels as of the train cutoff), evaluated on the holdout (as of the
//! test cutoff), optionally k-fold cross-validated on the training window too; the best
//! is the one with the highest holdout ROC AUC.
//!
//! A model that cannot be trained on the data (for instance BG/NBD when nobody bought
//! twice) is listed in [`ComparisonReport::skipped`] with its error instead of failing
//! the whole comparison; if every model fails the first error is returned.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::eval::{evaluate, k_fold, Metrics};
use super::features::FeatureConfig;
use super::labels::TemporalSplit;
use super::model::{ModelKind, ModelSpec, TrainConfig, TrainedModel};
use super::table::EventTable;
use crate::error::{Error, Result};

/// What to compare and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CompareConfig {
    /// The models (default: every kind with its default settings).
    pub models: Vec<ModelSpec>,
    /// Calibration and shuffle settings shared by all.
    pub train: TrainConfig,
    /// Threshold of the confusion matrices (default 0.5).
    pub threshold: f64,
    /// Also run k-fold cross-validation on the training window (default: off).
    pub folds: Option<usize>,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            models: ModelKind::ALL
                .iter()
                .map(|&k| ModelSpec::default_for(k))
                .collect(),
            train: TrainConfig::default(),
            threshold: 0.5,
            folds: None,
        }
    }
}

impl CompareConfig {
    /// Compare these model kinds (default settings each).
    pub fn kinds(mut self, kinds: &[ModelKind]) -> Self {
        self.models = kinds.iter().map(|&k| ModelSpec::default_for(k)).collect();
        self
    }
    /// Run k-fold cross-validation on the training window as well.
    pub fn folds(mut self, k: usize) -> Self {
        self.folds = Some(k);
        self
    }
    /// Set the training settings.
    pub fn train(mut self, t: TrainConfig) -> Self {
        self.train = t;
        self
    }
}

/// Metrics of several models on one data set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ComparisonReport {
    /// What was evaluated (data set, window).
    pub dataset: String,
    /// One row per model.
    pub rows: Vec<ComparisonRow>,
    /// Models that could not be trained, with the reason.
    pub skipped: Vec<SkippedModel>,
    /// Name of the row with the best holdout ROC AUC.
    pub best: Option<String>,
}

/// One model's line of a [`ComparisonReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// Model name.
    pub model: String,
    /// Its holdout metrics.
    pub metrics: Metrics,
    /// Mean and standard deviation of the k-fold ROC AUC, when asked for.
    #[serde(default)]
    pub cv_roc_auc: Option<(f64, f64)>,
    /// Seconds spent training (fit + calibration).
    #[serde(default)]
    pub train_seconds: f64,
}

/// A model the comparison could not train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedModel {
    /// Model name.
    pub model: String,
    /// The error.
    pub error: String,
}

impl ComparisonReport {
    /// An empty report about `dataset`.
    pub fn new(dataset: impl Into<String>) -> Self {
        ComparisonReport {
            dataset: dataset.into(),
            ..Default::default()
        }
    }

    /// Add a model's metrics (and update [`ComparisonReport::best`]).
    pub fn add(&mut self, model: impl Into<String>, metrics: Metrics) {
        self.rows.push(ComparisonRow {
            model: model.into(),
            metrics,
            cv_roc_auc: None,
            train_seconds: 0.0,
        });
        self.best = self.best_by_auc().map(|r| r.model.clone());
    }

    /// The row with the highest ROC AUC.
    pub fn best_by_auc(&self) -> Option<&ComparisonRow> {
        self.rows
            .iter()
            .max_by(|a, b| a.metrics.roc_auc.total_cmp(&b.metrics.roc_auc))
    }

    /// A fixed-width text table.
    pub fn to_table(&self) -> String {
        let mut s = format!(
            "{}\n{:<20} {:>8} {:>8} {:>8} {:>8} {:>6} {:>8} {:>14} {:>8}\n",
            self.dataset,
            "model",
            "roc_auc",
            "pr_auc",
            "logloss",
            "brier",
            "lift10",
            "capture10",
            "cv_auc",
            "train_s"
        );
        for r in &self.rows {
            let m = &r.metrics;
            let cv = r
                .cv_roc_auc
                .map_or("-".to_string(), |(m, sd)| format!("{m:.4}±{sd:.4}"));
            let star = if self.best.as_deref() == Some(r.model.as_str()) {
                " *"
            } else {
                ""
            };
            s.push_str(&format!(
                "{:<20} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>6.2} {:>8.3} {:>14} {:>8.2}{star}\n",
                r.model,
                m.roc_auc,
                m.pr_auc,
                m.log_loss,
                m.brier,
                m.lift_top_decile,
                m.capture_top_decile,
                cv,
                r.train_seconds
            ));
        }
        for k in &self.skipped {
            s.push_str(&format!("{:<20} skipped: {}\n", k.model, k.error));
        }
        s
    }
}

/// Cumulative share of churners captured (y) when contacting the top x share of
/// customers by score, at `points` evenly spaced x in (0, 1]: the lift (gain) curve.
/// A random ranking gives y = x.
pub fn lift_curve(y: &[bool], p: &[f64], points: usize) -> Result<Vec<(f64, f64)>> {
    if y.len() != p.len() || y.is_empty() || points == 0 {
        return Err(Error::invalid(
            "lift curve",
            "needs as many scores as labels, at least one, and points > 0",
        ));
    }
    let pos = y.iter().filter(|&&v| v).count();
    if pos == 0 {
        return Err(Error::model("lift curve needs at least one churned row"));
    }
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut hits = vec![0usize; idx.len() + 1];
    for (i, &k) in idx.iter().enumerate() {
        hits[i + 1] = hits[i] + y[k] as usize;
    }
    Ok((1..=points)
        .map(|j| {
            let n = (idx.len() * j).div_ceil(points);
            (j as f64 / points as f64, hits[n] as f64 / pos as f64)
        })
        .collect())
}

/// Train every configured model on `split`'s training window and evaluate it on the
/// holdout; see the module docs.
///
/// ```
/// use churn_core::churn::*;
/// use churn_core::Timestamp;
/// let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
/// let day = 86_400_000;
/// let mut rows = Vec::new();
/// for c in 0..300i64 {
///     let last = if c % 3 == 0 { 25 + c % 40 } else { 150 };
///     for d in (c % 5..last).step_by(4 + (c % 3) as usize) {
///         rows.push(Transaction::purchase(format!("c{c}"), t0.add_millis(d * day), 10.0));
///     }
/// }
/// let cfg = FeatureConfig::default();
/// let table = EventTable::from_transactions(&rows, &cfg)?;
/// let split = TemporalSplit::new(t0.add_millis(40 * day), t0.add_millis(70 * day), LabelConfig::default())?;
/// let report = compare_models(&table, &split, &cfg, &CompareConfig::default())?;
/// assert_eq!(report.rows.len() + report.skipped.len(), 4);
/// assert!(report.best.is_some());
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn compare_models(
    table: &EventTable,
    split: &TemporalSplit,
    feature_config: &FeatureConfig,
    cfg: &CompareConfig,
) -> Result<ComparisonReport> {
    compare_and_keep(table, split, feature_config, cfg, &mut |_| {}).map(|(r, _)| r)
}

/// [`compare_models`], also returning the trained models (in report row order, each
/// with its holdout metrics set) and calling `on_model` before each model is trained.
pub fn compare_and_keep(
    table: &EventTable,
    split: &TemporalSplit,
    feature_config: &FeatureConfig,
    cfg: &CompareConfig,
    on_model: &mut dyn FnMut(ModelKind),
) -> Result<(ComparisonReport, Vec<TrainedModel>)> {
    if cfg.models.is_empty() {
        return Err(Error::invalid("models", "nothing to compare"));
    }
    let fc = feature_config.resolved_for(table);
    let train = split.train(table, &fc)?;
    let test = split.test(table, &fc)?;
    let mut report = ComparisonReport::new(format!(
        "temporal holdout: train as of {} ({} customers, {:.1}% churned), test as of {} ({} customers, {:.1}% churned), horizon {} days",
        split.train_cutoff(),
        train.len(),
        100.0 * train.churn_rate(),
        split.test_cutoff(),
        test.len(),
        100.0 * test.churn_rate(),
        train.window.horizon_days,
    ));
    let mut models = Vec::new();
    let mut first_err = None;
    for spec in &cfg.models {
        let kind = spec.kind();
        on_model(kind);
        let started = Instant::now();
        let outcome =
            TrainedModel::train(kind.as_str(), &train, &fc, &cfg.train, spec).and_then(|m| {
                let secs = started.elapsed().as_secs_f64();
                let metrics = evaluate(&m, &test, cfg.threshold)?;
                let cv = match cfg.folds {
                    None => None,
                    Some(k) => {
                        let f = k_fold(&train, k, cfg.train.seed, cfg.threshold, |d| {
                            TrainedModel::train(kind.as_str(), d, &fc, &cfg.train, spec)
                        })?;
                        let a: Vec<f64> = f.iter().map(|m| m.roc_auc).collect();
                        let mean = a.iter().sum::<f64>() / a.len() as f64;
                        let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                            / (a.len() as f64 - 1.0).max(1.0);
                        Some((mean, var.sqrt()))
                    }
                };
                Ok((m, metrics, cv, secs))
            });
        match outcome {
            Ok((mut m, metrics, cv, secs)) => {
                m.metrics = Some(metrics.clone());
                report.rows.push(ComparisonRow {
                    model: kind.as_str().to_string(),
                    metrics,
                    cv_roc_auc: cv,
                    train_seconds: secs,
                });
                models.push(m);
            }
            Err(e) => {
                report.skipped.push(SkippedModel {
                    model: kind.as_str().to_string(),
                    error: e.to_string(),
                });
                first_err.get_or_insert(e);
            }
        }
    }
    if let (true, Some(e)) = (models.is_empty(), first_err) {
        return Err(e);
    }
    report.best = report.best_by_auc().map(|r| r.model.clone());
    Ok((report, models))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lift_curve_hand_worked() {
        // Scores rank churners first: 2 of 2 churners in the top half.
        let y = [true, false, true, false];
        let p = [0.9, 0.1, 0.8, 0.2];
        let c = lift_curve(&y, &p, 4).unwrap();
        assert_eq!(c, vec![(0.25, 0.5), (0.5, 1.0), (0.75, 1.0), (1.0, 1.0)]);
        // A reversed ranking finds them last.
        let c = lift_curve(&y, &[0.1, 0.9, 0.2, 0.8], 2).unwrap();
        assert_eq!(c, vec![(0.5, 0.0), (1.0, 1.0)]);
        assert!(lift_curve(&[false, false], &[0.1, 0.2], 2).is_err());
        assert!(lift_curve(&y, &p[..3], 2).is_err());
    }

    #[test]
    fn report_table_marks_the_best_and_lists_skipped() {
        let m = Metrics::compute(&[true, false, true, false], &[0.9, 0.1, 0.6, 0.7], 0.5).unwrap();
        let mut r = ComparisonReport::new("d");
        r.add("a", m.clone());
        r.add("b", Metrics { roc_auc: 0.99, ..m });
        r.skipped.push(SkippedModel {
            model: "bg_nbd".into(),
            error: "no repeat buyers".into(),
        });
        assert_eq!(r.best.as_deref(), Some("b"));
        let t = r.to_table();
        assert!(
            t.contains("b ") && t.contains(" *") && t.contains("skipped: no repeat buyers"),
            "{t}"
        );
    }
}
