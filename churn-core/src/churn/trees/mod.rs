//! Tree ensembles for churn classification: a random forest and gradient-boosted trees,
//! both on a hand-written histogram CART (features binned into at most 256 quantile
//! bins), with exact TreeSHAP explanations and JSON persistence.
//!
//! Why hand-written: linfa-trees 0.8.1 / linfa-ensemble 0.8.1 build here but predict hard
//! labels only (no probabilities) and took 25 s for one depth-10 tree on 100k x 30;
//! smartcore 0.7 needs ndarray 0.17 for its ndarray bindings and took 61 s for 20 trees;
//! forust-ml 0.8 builds and has SHAP but is no longer developed (its successor perpetual
//! needs a nightly compiler). Owning the trees gives probabilities, sample weights,
//! TreeSHAP and a stable serialized form.
//!
//! Inputs must be finite (NaN is an error, not "missing"); constant features are
//! accepted and never split on.

mod binning;
mod boost;
mod data;
mod forest;
mod rng;
mod shap;
mod tree;

pub use binning::{BinMapper, MAX_BINS};
pub use boost::{GradientBoosting, GradientBoostingConfig};
pub use data::{ClassWeight, Explanation, OutputSpace};
pub use forest::{RandomForest, RandomForestConfig};
pub use tree::{Node, Tree};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};
use binning::Binned;
use data::training_weights;
use tree::GrowParams;

/// Version of the serialized model layout; loading another version is an error.
pub const MODEL_FORMAT: u32 = 1;

fn check_format(found: u32) -> Result<()> {
    if found == MODEL_FORMAT {
        Ok(())
    } else {
        Err(Error::Model {
            message: format!(
                "tree model format {found} is not supported (this build reads format {MODEL_FORMAT})"
            ),
        })
    }
}

fn feature_importances(trees: &[Tree], n_features: usize) -> Vec<f64> {
    let mut imp = vec![0.0; n_features];
    for t in trees {
        for n in t.nodes.iter().filter(|n| !n.is_leaf()) {
            if let Some(v) = imp.get_mut(n.feature as usize) {
                *v += n.gain;
            }
        }
    }
    let total: f64 = imp.iter().sum();
    if total > 0.0 {
        imp.iter_mut().for_each(|v| *v /= total);
    }
    imp
}

/// Sum of the trees' outputs per row, tree by tree (one tree stays in cache while all
/// rows go through it; row by row over 100 deep trees is ~40x slower).
fn sum_trees(trees: &[Tree], x: &ndarray::Array2<f64>) -> Vec<f64> {
    let mut out = vec![0.0; x.nrows()];
    let rows: Vec<_> = x.rows().into_iter().collect();
    for t in trees {
        for (o, r) in out.iter_mut().zip(&rows) {
            *o += t.predict_view(r);
        }
    }
    out
}

/// What both ensembles fit on: the per-row training weights, the matrix shape and the
/// binned matrix with its bin edges.
struct FitData {
    w: Vec<f64>,
    n: usize,
    p: usize,
    mapper: BinMapper,
    binned: Binned,
}

impl FitData {
    fn new(
        x: &ndarray::Array2<f64>,
        y: &[bool],
        weights: Option<&[f64]>,
        class_weight: ClassWeight,
    ) -> Result<Self> {
        let w = training_weights(x, y, weights, class_weight)?;
        let (n, p) = x.dim();
        let mapper = BinMapper::fit(x);
        let binned = mapper.transform(x);
        Ok(Self {
            w,
            n,
            p,
            mapper,
            binned,
        })
    }
}

impl GrowParams {
    /// Depth and leaf-size limits (a leaf holds at least 1 row), a minimum gain of
    /// 1e-12, no weight or L2 limit, every feature per split, unscaled leaves: the
    /// ensembles override what they tune.
    fn base(max_depth: usize, min_samples_leaf: usize) -> Self {
        Self {
            max_depth,
            min_samples_leaf: min_samples_leaf.max(1),
            min_child_weight: 0.0,
            lambda: 0.0,
            min_gain: 1e-12,
            features_per_split: None,
            leaf_scale: 1.0,
        }
    }
}

fn model_to_json<T: Serialize>(m: &T) -> Result<String> {
    serde_json::to_string(m).map_err(|e| Error::Model {
        message: e.to_string(),
    })
}

/// Parse a model of kind `what` and check its format version and trees.
fn model_from_json<T: DeserializeOwned>(
    json: &str,
    what: &str,
    parts: impl Fn(&T) -> (u32, &[Tree], usize),
    check: impl Fn(&T) -> Result<()>,
) -> Result<T> {
    let m: T = serde_json::from_str(json).map_err(|e| Error::Model {
        message: format!("cannot read {what} JSON: {e}"),
    })?;
    let (format, trees, n_features) = parts(&m);
    check_format(format)?;
    check(&m)?;
    for t in trees {
        t.validate(n_features)?;
    }
    Ok(m)
}
