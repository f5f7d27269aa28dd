//! Input checks and sample weights shared by the ensembles.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Class-imbalance handling: the same [`crate::churn::ClassWeight`] the logistic model
/// takes. `Balanced` reweights so both classes carry the same total weight
/// (scikit-learn's `class_weight="balanced"`); scores are then no longer probabilities
/// of the original prevalence: calibrate afterwards (`TrainedModel` does).
pub use crate::churn::ClassWeight;

/// Checks that every value is finite.
pub(crate) fn check_features(x: &Array2<f64>, n_features: Option<usize>) -> Result<()> {
    if let Some(p) = n_features {
        if x.ncols() != p {
            return Err(Error::invalid(
                "x",
                format!(
                    "has {} columns, the model was trained on {p} features",
                    x.ncols()
                ),
            ));
        }
    }
    if let Some(((i, j), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::invalid(
            format!("x[{i}, {j}]"),
            format!("features must be finite numbers, got {v}"),
        ));
    }
    Ok(())
}

/// Validates a training set and returns the final per-row weights (user weights times
/// class weights).
pub(crate) fn training_weights(
    x: &Array2<f64>,
    y: &[bool],
    weights: Option<&[f64]>,
    class_weight: ClassWeight,
) -> Result<Vec<f64>> {
    let (n, p) = x.dim();
    if n == 0 || p == 0 {
        return Err(Error::invalid(
            "x",
            format!("empty training set ({n} rows, {p} columns)"),
        ));
    }
    if y.len() != n {
        return Err(Error::invalid(
            "y",
            format!("has {} labels for {n} rows", y.len()),
        ));
    }
    check_features(x, None)?;
    let mut w = match weights {
        None => vec![1.0; n],
        Some(w) => {
            if w.len() != n {
                return Err(Error::invalid(
                    "weights",
                    format!("has {} values for {n} rows", w.len()),
                ));
            }
            if let Some((i, v)) = w
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return Err(Error::invalid(
                    format!("weights[{i}]"),
                    format!("must be finite and >= 0, got {v}"),
                ));
            }
            w.to_vec()
        }
    };
    let pos: f64 = w.iter().zip(y).filter(|(_, &l)| l).map(|(w, _)| w).sum();
    let total: f64 = w.iter().sum();
    let neg = total - pos;
    if pos <= 0.0 || neg <= 0.0 {
        return Err(Error::invalid(
            "y",
            "needs both classes with positive weight (only one class present)",
        ));
    }
    if class_weight == ClassWeight::Balanced {
        let (wp, wn) = (total / (2.0 * pos), total / (2.0 * neg));
        for (w, &l) in w.iter_mut().zip(y) {
            *w *= if l { wp } else { wn };
        }
    }
    Ok(w)
}

/// The scale in which contributions add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputSpace {
    /// Probability (random forest: the average of the trees' leaf shares).
    Probability,
    /// Log-odds (gradient boosting: the raw score before the sigmoid).
    LogOdds,
}

/// Exact TreeSHAP attribution of one prediction:
/// `base_value + Σ contributions = value` (up to rounding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The scale of `base_value`, `contributions` and `value`.
    pub space: OutputSpace,
    /// The model's expected output over the training data (cover-weighted).
    pub base_value: f64,
    /// One contribution per feature, in training column order.
    pub contributions: Vec<f64>,
    /// The model's output for this row in `space`.
    pub value: f64,
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn weights_and_errors() {
        let x = array![[1.0], [2.0], [3.0], [4.0]];
        let y = [true, false, false, false];
        let w = training_weights(&x, &y, None, ClassWeight::Balanced).unwrap();
        assert_eq!(w, vec![2.0, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]);
        let w = training_weights(&x, &y, Some(&[1.0, 2.0, 3.0, 4.0]), ClassWeight::None).unwrap();
        assert_eq!(w, vec![1.0, 2.0, 3.0, 4.0]);
        assert!(training_weights(&x, &[true; 4], None, ClassWeight::None).is_err());
        assert!(training_weights(&x, &y[..3], None, ClassWeight::None).is_err());
        assert!(training_weights(&x, &y, Some(&[1.0, -1.0, 1.0, 1.0]), ClassWeight::None).is_err());
        assert!(training_weights(&x, &y, Some(&[0.0, 1.0, 1.0, 1.0]), ClassWeight::None).is_err());
        let nan = array![[1.0], [f64::NAN], [3.0], [4.0]];
        let e = training_weights(&nan, &y, None, ClassWeight::None).unwrap_err();
        assert!(e.to_string().contains("x[1, 0]"), "{e}");
        assert!(training_weights(&Array2::zeros((0, 3)), &[], None, ClassWeight::None).is_err());
        assert_eq!(
            "balanced".parse::<ClassWeight>().unwrap(),
            ClassWeight::Balanced
        );
        assert!("heavy".parse::<ClassWeight>().is_err());
        assert!(check_features(&x, Some(2)).is_err());
    }

    #[test]
    fn sigmoid_is_stable() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-800.0) >= 0.0 && sigmoid(800.0) <= 1.0);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-15);
    }
}
