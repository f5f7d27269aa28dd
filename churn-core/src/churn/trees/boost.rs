//! Gradient-boosted trees for binary log-loss (Newton boosting on histograms, as in
//! XGBoost/LightGBM, hand-written so TreeSHAP can read the trees).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::data::{check_features, sigmoid, ClassWeight, Explanation, OutputSpace};
use super::forest::check_row;
use super::rng::SplitMix64;
use super::shap::tree_shap;
use super::tree::{GrowParams, Grower, Tree};
use super::{feature_importances, model_from_json, model_to_json, FitData, MODEL_FORMAT};
use crate::{Error, Result};

/// Settings of gradient boosting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GradientBoostingConfig {
    /// Boosting rounds (trees).
    pub n_trees: usize,
    /// Shrinkage applied to every tree.
    pub learning_rate: f64,
    /// Depth limit of each tree.
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    pub min_samples_leaf: usize,
    /// Smallest hessian sum in a child (XGBoost's `min_child_weight`).
    pub min_child_weight: f64,
    /// L2 regularisation of leaf values (XGBoost's `lambda`).
    pub l2: f64,
    /// Share of rows drawn (without replacement) for each tree; 1 = all.
    pub subsample: f64,
    /// Class-imbalance handling.
    pub class_weight: ClassWeight,
    /// Seed of the row sampling.
    pub seed: u64,
}

impl Default for GradientBoostingConfig {
    fn default() -> Self {
        Self {
            n_trees: 100,
            learning_rate: 0.1,
            max_depth: 6,
            min_samples_leaf: 20,
            min_child_weight: 1e-3,
            l2: 1.0,
            subsample: 1.0,
            class_weight: ClassWeight::None,
            seed: 42,
        }
    }
}

impl GradientBoostingConfig {
    fn check(&self) -> Result<()> {
        if self.n_trees == 0 {
            return Err(Error::invalid("n_trees", "must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::invalid("learning_rate", "must be finite and > 0"));
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return Err(Error::invalid("subsample", "must be in (0, 1]"));
        }
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !(non_negative(self.l2) && non_negative(self.min_child_weight)) {
            return Err(Error::invalid(
                "l2",
                "l2 and min_child_weight must be finite and >= 0",
            ));
        }
        Ok(())
    }
}

builder_setters!(GradientBoostingConfig {
    /// Sets the number of trees.
    n_trees: usize;
    /// Sets the learning rate.
    learning_rate: f64;
    /// Sets the depth limit.
    max_depth: usize;
    /// Sets the fewest rows per leaf.
    min_samples_leaf: usize;
    /// Sets the row subsampling share.
    subsample: f64;
    /// Sets class-imbalance handling.
    class_weight: ClassWeight;
    /// Sets the seed.
    seed: u64;
});

/// A fitted gradient-boosting classifier: `P(churn) = sigmoid(base_score + Σ trees)`.
///
/// ```
/// use churn_core::churn::trees::{GradientBoosting, GradientBoostingConfig};
/// use ndarray::Array2;
/// let x = Array2::from_shape_fn((300, 2), |(i, j)| ((i * (j + 5)) % 23) as f64);
/// let y: Vec<bool> = (0..300).map(|i| x[[i, 0]] + x[[i, 1]] > 22.0).collect();
/// let gb = GradientBoosting::fit(&x, &y, None, &GradientBoostingConfig::default().n_trees(30))?;
/// let p = gb.predict_proba(&x)?;
/// assert_eq!(p.len(), 300);
/// let e = gb.explain(&[20.0, 10.0])?; // exact TreeSHAP, in log-odds
/// let total: f64 = e.base_value + e.contributions.iter().sum::<f64>();
/// assert!((total - e.value).abs() < 1e-9);
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientBoosting {
    /// Serialization format version ([`MODEL_FORMAT`]).
    pub format: u32,
    /// The settings it was trained with.
    pub config: GradientBoostingConfig,
    /// Number of feature columns.
    pub n_features: usize,
    /// Initial log-odds (weighted prevalence).
    pub base_score: f64,
    /// The trees (leaf values already multiplied by the learning rate).
    pub trees: Vec<Tree>,
}

impl GradientBoosting {
    /// Trains on `x`, labels `y` (true = churned) and optional non-negative weights.
    pub fn fit(
        x: &Array2<f64>,
        y: &[bool],
        weights: Option<&[f64]>,
        config: &GradientBoostingConfig,
    ) -> Result<Self> {
        config.check()?;
        let FitData {
            w,
            n,
            p,
            mapper,
            binned,
        } = FitData::new(x, y, weights, config.class_weight)?;
        let pos: f64 = w.iter().zip(y).filter(|(_, &l)| l).map(|(w, _)| w).sum();
        let total: f64 = w.iter().sum();
        let base_score = (pos / (total - pos)).ln();
        let params = GrowParams {
            min_child_weight: config.min_child_weight,
            lambda: config.l2,
            leaf_scale: config.learning_rate,
            ..GrowParams::base(config.max_depth, config.min_samples_leaf)
        };
        let mut score = vec![base_score; n];
        let (mut grad, mut hess) = (vec![0.0; n], vec![0.0; n]);
        let mut rng = SplitMix64::new(config.seed);
        let active: Vec<u32> = (0..n as u32).filter(|&i| w[i as usize] > 0.0).collect();
        let mut trees = Vec::with_capacity(config.n_trees);
        for _ in 0..config.n_trees {
            for i in 0..n {
                let pr = sigmoid(score[i]);
                grad[i] = w[i] * (pr - if y[i] { 1.0 } else { 0.0 });
                hess[i] = (w[i] * pr * (1.0 - pr)).max(1e-16 * w[i]);
            }
            let mut rows = if config.subsample < 1.0 {
                let k = ((active.len() as f64 * config.subsample).ceil() as usize).max(1);
                rng.sample_without_replacement(active.len(), k)
                    .into_iter()
                    .map(|j| active[j])
                    .collect()
            } else {
                active.clone()
            };
            let grower = Grower::new(&binned, &mapper, &grad, &hess, params, rng.next_u64());
            let (tree, leaf_of) = grower.grow(&mut rows);
            for (i, s) in score.iter_mut().enumerate() {
                *s += match leaf_of[i] {
                    u32::MAX => tree.predict_binned(&binned, i),
                    leaf => tree.nodes[leaf as usize].value,
                };
            }
            trees.push(tree);
        }
        Ok(Self {
            format: MODEL_FORMAT,
            config: *config,
            n_features: p,
            base_score,
            trees,
        })
    }

    /// Raw scores (log-odds) per row.
    pub fn decision_function(&self, x: &Array2<f64>) -> Result<Vec<f64>> {
        check_features(x, Some(self.n_features))?;
        let mut out = super::sum_trees(&self.trees, x);
        out.iter_mut().for_each(|v| *v += self.base_score);
        Ok(out)
    }

    /// P(churn) per row.
    pub fn predict_proba(&self, x: &Array2<f64>) -> Result<Vec<f64>> {
        Ok(self
            .decision_function(x)?
            .into_iter()
            .map(sigmoid)
            .collect())
    }

    /// Exact TreeSHAP contributions of one row, in log-odds.
    pub fn explain(&self, row: &[f64]) -> Result<Explanation> {
        check_row(row, self.n_features)?;
        let mut phi = vec![0.0; self.n_features];
        let mut base = self.base_score;
        let mut value = self.base_score;
        for t in &self.trees {
            tree_shap(t, row, &mut phi);
            base += t.expected_value();
            value += t.predict_row(row);
        }
        Ok(Explanation {
            space: OutputSpace::LogOdds,
            base_value: base,
            contributions: phi,
            value,
        })
    }

    /// Share of the total split gain per feature.
    pub fn feature_importances(&self) -> Vec<f64> {
        feature_importances(&self.trees, self.n_features)
    }

    /// The model as JSON.
    pub fn to_json(&self) -> Result<String> {
        model_to_json(self)
    }

    /// A model from [`GradientBoosting::to_json`] output, checked for consistency.
    pub fn from_json(json: &str) -> Result<Self> {
        model_from_json(
            json,
            "gradient boosting",
            |m: &Self| (m.format, &m.trees, m.n_features),
            |m| {
                if m.base_score.is_finite() {
                    Ok(())
                } else {
                    Err(Error::Model {
                        message: "base_score is not finite".into(),
                    })
                }
            },
        )
    }
}
