//! Random forest: bagged CART trees with a random feature subset at every split,
//! probabilities as the mean of the trees' leaf shares of positives.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::data::{check_features, ClassWeight, Explanation, OutputSpace};
use super::rng::SplitMix64;
use super::shap::tree_shap;
use super::tree::{GrowParams, Grower, Tree};
use super::{feature_importances, model_from_json, model_to_json, FitData, MODEL_FORMAT};
use crate::{Error, Result};

/// Settings of a random forest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RandomForestConfig {
    /// Number of trees.
    pub n_trees: usize,
    /// Depth limit of each tree.
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    pub min_samples_leaf: usize,
    /// Features tried per split; `None` = round(sqrt(number of features)).
    pub max_features: Option<usize>,
    /// Class-imbalance handling.
    pub class_weight: ClassWeight,
    /// Seed of the bootstrap and feature sampling.
    pub seed: u64,
}

impl Default for RandomForestConfig {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_depth: 12,
            min_samples_leaf: 5,
            max_features: None,
            class_weight: ClassWeight::None,
            seed: 42,
        }
    }
}

builder_setters!(RandomForestConfig {
    /// Sets the number of trees.
    n_trees: usize;
    /// Sets the depth limit.
    max_depth: usize;
    /// Sets the fewest rows per leaf.
    min_samples_leaf: usize;
    /// Sets the features tried per split.
    max_features: Some(usize);
    /// Sets class-imbalance handling.
    class_weight: ClassWeight;
    /// Sets the seed.
    seed: u64;
});

/// A fitted random forest.
///
/// ```
/// use churn_core::churn::trees::{RandomForest, RandomForestConfig};
/// use ndarray::Array2;
/// let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * (j + 3)) % 17) as f64);
/// let y: Vec<bool> = (0..200).map(|i| x[[i, 0]] > 8.0).collect();
/// let rf = RandomForest::fit(&x, &y, None, &RandomForestConfig::default().n_trees(20))?;
/// let p = rf.predict_proba(&x)?;
/// assert!(p[0] < 0.5 && (0.0..=1.0).contains(&p[1]));
/// let e = rf.explain(&[15.0, 0.0])?; // exact TreeSHAP, in probability space
/// let total: f64 = e.base_value + e.contributions.iter().sum::<f64>();
/// assert!((total - e.value).abs() < 1e-9);
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForest {
    /// Serialization format version ([`MODEL_FORMAT`]).
    pub format: u32,
    /// The settings it was trained with.
    pub config: RandomForestConfig,
    /// Number of feature columns.
    pub n_features: usize,
    /// The trees (leaf values are weighted shares of positives).
    pub trees: Vec<Tree>,
}

impl RandomForest {
    /// Trains on `x` (rows = customers), labels `y` (true = churned) and optional
    /// non-negative sample weights.
    pub fn fit(
        x: &Array2<f64>,
        y: &[bool],
        weights: Option<&[f64]>,
        config: &RandomForestConfig,
    ) -> Result<Self> {
        if config.n_trees == 0 {
            return Err(Error::invalid("n_trees", "must be at least 1"));
        }
        let FitData {
            w,
            n,
            p,
            mapper,
            binned,
        } = FitData::new(x, y, weights, config.class_weight)?;
        let k = config
            .max_features
            .unwrap_or_else(|| (p as f64).sqrt().round() as usize)
            .clamp(1, p);
        let params = GrowParams {
            features_per_split: Some(k),
            ..GrowParams::base(config.max_depth, config.min_samples_leaf)
        };
        let mut seeds = SplitMix64::new(config.seed);
        let mut trees = Vec::with_capacity(config.n_trees);
        let mut counts = vec![0u32; n];
        let (mut grad, mut hess) = (vec![0.0; n], vec![0.0; n]);
        for _ in 0..config.n_trees {
            let mut rng = SplitMix64::new(seeds.next_u64());
            counts.iter_mut().for_each(|c| *c = 0);
            for _ in 0..n {
                counts[rng.below(n)] += 1;
            }
            let mut rows: Vec<u32> = Vec::with_capacity(n);
            for i in 0..n {
                let cw = counts[i] as f64 * w[i];
                grad[i] = if y[i] { -cw } else { 0.0 };
                hess[i] = cw;
                if cw > 0.0 {
                    rows.push(i as u32);
                }
            }
            let grower = Grower::new(&binned, &mapper, &grad, &hess, params, rng.next_u64());
            let (tree, _) = grower.grow(&mut rows);
            trees.push(tree);
        }
        Ok(Self {
            format: MODEL_FORMAT,
            config: *config,
            n_features: p,
            trees,
        })
    }

    /// P(churn) per row: the mean over trees of the leaf's weighted share of positives.
    pub fn predict_proba(&self, x: &Array2<f64>) -> Result<Vec<f64>> {
        check_features(x, Some(self.n_features))?;
        let nt = self.trees.len().max(1) as f64;
        let mut out = super::sum_trees(&self.trees, x);
        out.iter_mut().for_each(|v| *v /= nt);
        Ok(out)
    }

    /// Exact TreeSHAP contributions of one row, in probability space.
    pub fn explain(&self, row: &[f64]) -> Result<Explanation> {
        check_row(row, self.n_features)?;
        let nt = self.trees.len().max(1) as f64;
        let mut phi = vec![0.0; self.n_features];
        let mut base = 0.0;
        let mut value = 0.0;
        for t in &self.trees {
            tree_shap(t, row, &mut phi);
            base += t.expected_value();
            value += t.predict_row(row);
        }
        phi.iter_mut().for_each(|v| *v /= nt);
        Ok(Explanation {
            space: OutputSpace::Probability,
            base_value: base / nt,
            contributions: phi,
            value: value / nt,
        })
    }

    /// Share of the total split gain per feature (sums to 1 unless no split was made).
    pub fn feature_importances(&self) -> Vec<f64> {
        feature_importances(&self.trees, self.n_features)
    }

    /// The model as JSON.
    pub fn to_json(&self) -> Result<String> {
        model_to_json(self)
    }

    /// A model from [`RandomForest::to_json`] output, checked for consistency.
    pub fn from_json(json: &str) -> Result<Self> {
        model_from_json(
            json,
            "random forest",
            |m: &Self| (m.format, &m.trees, m.n_features),
            |_| Ok(()),
        )
    }
}

pub(crate) fn check_row(row: &[f64], n_features: usize) -> Result<()> {
    if row.len() != n_features {
        return Err(Error::invalid(
            "row",
            format!(
                "has {} values, the model was trained on {n_features} features",
                row.len()
            ),
        ));
    }
    if let Some((j, v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::invalid(
            format!("row[{j}]"),
            format!("must be finite, got {v}"),
        ));
    }
    Ok(())
}
