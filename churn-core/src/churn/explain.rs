//! Per-customer explanations: the features pushing the churn score up and down.
//!
//! For the logistic model the contributions are exact on the raw model's logit scale:
//! `coefficient x standardized value`, relative to a customer at the training mean of
//! every feature; they plus the intercept sum to the raw log-odds. Calibration is
//! monotone, so it keeps every direction but not the magnitudes.

use serde::{Deserialize, Serialize};

use super::features::FeatureMatrix;
use super::model::{ChurnModel, Contribution, ContributionScale, TrainedModel};
use super::score::{customer_features, RiskSegment, RiskThresholds};
use super::table::Transaction;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Why a customer scored as they did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The customer.
    pub customer_id: String,
    /// Calibrated churn probability.
    pub probability: f64,
    /// Risk segment.
    pub segment: RiskSegment,
    /// Scale of the contributions.
    pub scale: ContributionScale,
    /// Largest positive contributions first (raise the score).
    pub top_up: Vec<Contribution>,
    /// Most negative contributions first (lower the score).
    pub top_down: Vec<Contribution>,
}

/// Explain row `row` of a feature matrix, keeping the `top` features each way.
pub fn explain_row(
    model: &TrainedModel,
    f: &FeatureMatrix,
    row: usize,
    top: usize,
    thresholds: &RiskThresholds,
) -> Result<Explanation> {
    model.schema().check_same(&f.schema)?;
    if row >= f.customers.len() {
        return Err(Error::invalid(
            "row",
            format!("{row} is past the {} rows", f.customers.len()),
        ));
    }
    let view = f.x.row(row);
    let p = model.predict_proba(view.insert_axis(ndarray::Axis(0)))?[0];
    let mut c = model.model.explain(view)?;
    c.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    let top_up: Vec<Contribution> = c
        .iter()
        .filter(|x| x.contribution > 0.0)
        .take(top)
        .cloned()
        .collect();
    let top_down: Vec<Contribution> = c
        .iter()
        .rev()
        .filter(|x| x.contribution < 0.0)
        .take(top)
        .cloned()
        .collect();
    Ok(Explanation {
        customer_id: f.customers[row].clone(),
        probability: p,
        segment: thresholds.segment(p),
        scale: model.model.contribution_scale(),
        top_up,
        top_down,
    })
}

/// Explain one customer from their transactions as of `as_of`.
pub fn explain_customer(
    model: &TrainedModel,
    rows: &[Transaction],
    as_of: Timestamp,
    top: usize,
    thresholds: &RiskThresholds,
) -> Result<Explanation> {
    let f = customer_features(model, rows, as_of)?;
    explain_row(model, &f, 0, top, thresholds)
}
