//! Scoring: calibrated churn probabilities for every customer or for one customer from
//! a list of transactions (the REST "predict" call), with risk segments.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::features::{features_at, features_for, FeatureMatrix};
use super::model::TrainedModel;
use super::table::{EventTable, TableBuilder, Transaction};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// A risk segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskSegment {
    /// Below the medium threshold.
    Low,
    /// From the medium threshold.
    Medium,
    /// From the high threshold.
    High,
    /// From the critical threshold.
    Critical,
}

impl fmt::Display for RiskSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RiskSegment::Low => "low",
            RiskSegment::Medium => "medium",
            RiskSegment::High => "high",
            RiskSegment::Critical => "critical",
        })
    }
}

impl FromStr for RiskSegment {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(RiskSegment::Low),
            "medium" => Ok(RiskSegment::Medium),
            "high" => Ok(RiskSegment::High),
            "critical" => Ok(RiskSegment::Critical),
            _ => Err(Error::invalid(
                "segment",
                format!("{s:?}: expected low, medium, high or critical"),
            )),
        }
    }
}

/// Segment boundaries: Low < `medium` <= Medium < `high` <= High < `critical` <= Critical.
///
/// ```
/// use churn_core::churn::{RiskSegment, RiskThresholds};
/// let t = RiskThresholds::default();
/// assert_eq!(t.segment(0.2), RiskSegment::Low);
/// assert_eq!(t.segment(0.25), RiskSegment::Medium);
/// assert_eq!(t.segment(0.75), RiskSegment::Critical);
/// assert!(RiskThresholds::new(0.5, 0.4, 0.9).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskThresholds {
    medium: f64,
    high: f64,
    critical: f64,
}

impl Default for RiskThresholds {
    fn default() -> Self {
        RiskThresholds {
            medium: 0.25,
            high: 0.5,
            critical: 0.75,
        }
    }
}

impl RiskThresholds {
    /// Thresholds; they must satisfy `0 < medium < high < critical <= 1`.
    pub fn new(medium: f64, high: f64, critical: f64) -> Result<Self> {
        if !(0.0 < medium && medium < high && high < critical && critical <= 1.0) {
            return Err(Error::invalid(
                "risk thresholds",
                format!("need 0 < medium < high < critical <= 1, got {medium}, {high}, {critical}"),
            ));
        }
        Ok(RiskThresholds {
            medium,
            high,
            critical,
        })
    }

    /// The segment of probability `p`.
    pub fn segment(&self, p: f64) -> RiskSegment {
        if p >= self.critical {
            RiskSegment::Critical
        } else if p >= self.high {
            RiskSegment::High
        } else if p >= self.medium {
            RiskSegment::Medium
        } else {
            RiskSegment::Low
        }
    }
}

/// One customer's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerScore {
    /// The customer.
    pub customer_id: String,
    /// Calibrated churn probability.
    pub probability: f64,
    /// Risk segment.
    pub segment: RiskSegment,
}

/// Score every row of a feature matrix (its schema must be the model's).
pub fn score_matrix(
    model: &TrainedModel,
    f: &FeatureMatrix,
    thresholds: &RiskThresholds,
) -> Result<Vec<CustomerScore>> {
    let p = model.predict(f)?;
    Ok(f.customers
        .iter()
        .zip(p.iter())
        .map(|(c, &p)| CustomerScore {
            customer_id: c.clone(),
            probability: p,
            segment: thresholds.segment(p),
        })
        .collect())
}

/// Score every customer with an event before `as_of`. Build `table` with the model's
/// `feature_config` so event names mean what they meant in training.
pub fn score_all(
    model: &TrainedModel,
    table: &EventTable,
    as_of: Timestamp,
    thresholds: &RiskThresholds,
) -> Result<Vec<CustomerScore>> {
    let f = features_at(table, as_of, &model.feature_config)?;
    score_matrix(model, &f, thresholds)
}

/// Features of one customer from their transactions (all rows must share one
/// customer id), as of `as_of`.
pub fn customer_features(
    model: &TrainedModel,
    rows: &[Transaction],
    as_of: Timestamp,
) -> Result<FeatureMatrix> {
    let Some(first) = rows.first() else {
        return Err(Error::invalid("transactions", "no transactions given"));
    };
    if let Some(r) = rows.iter().find(|r| r.customer_id != first.customer_id) {
        return Err(Error::invalid(
            "transactions",
            format!(
                "rows of several customers ({:?} and {:?}); predict takes one",
                first.customer_id, r.customer_id
            ),
        ));
    }
    let mut b = TableBuilder::with_capacity(&model.feature_config, rows.len());
    for r in rows {
        b.push(&r.customer_id, r.date, &r.event_type, r.amount, None)?;
    }
    let table = b.finish();
    features_for(&table, &[0], as_of, &model.feature_config)
}

/// Score one customer from their transactions (the REST "predict" call). A customer
/// with no transaction before `as_of` is an error.
///
/// ```
/// # use churn_core::churn::*;
/// # use churn_core::Timestamp;
/// # let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
/// # let day = 86_400_000;
/// # let mut rows = Vec::new();
/// # for c in 0..100 {
/// #     let n = if c % 2 == 0 { 3 } else { 20 };
/// #     for d in 0..n { rows.push(Transaction::purchase(format!("c{c}"), t0.add_millis(d * 3 * day), 10.0)); }
/// # }
/// # let cfg = FeatureConfig::default();
/// # let table = EventTable::from_transactions(&rows, &cfg)?;
/// # let ds = labelled_at(&table, t0.add_millis(30 * day), &cfg, &LabelConfig::default())?;
/// # let model = TrainedModel::train_logistic("m", &ds, &cfg, &TrainConfig::default(), &LogisticParams::default())?;
/// let mine = vec![Transaction::purchase("new", t0, 25.0)];
/// let s = predict_customer(&model, &mine, t0.add_millis(30 * day), &RiskThresholds::default())?;
/// assert_eq!(s.customer_id, "new");
/// assert!((0.0..=1.0).contains(&s.probability));
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn predict_customer(
    model: &TrainedModel,
    rows: &[Transaction],
    as_of: Timestamp,
    thresholds: &RiskThresholds,
) -> Result<CustomerScore> {
    if !rows.iter().any(|r| r.date < as_of) {
        return Err(Error::invalid(
            "transactions",
            format!("no transaction before {as_of}; nothing to score"),
        ));
    }
    let f = customer_features(model, rows, as_of)?;
    let mut s = score_matrix(model, &f, thresholds)?;
    s.pop().ok_or_else(|| Error::model("no score produced"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_at_the_boundaries() {
        let t = RiskThresholds::new(0.1, 0.2, 0.3).unwrap();
        let got: Vec<RiskSegment> = [0.0, 0.0999, 0.1, 0.2, 0.29, 0.3, 1.0]
            .iter()
            .map(|&p| t.segment(p))
            .collect();
        use RiskSegment::*;
        assert_eq!(got, vec![Low, Low, Medium, High, High, Critical, Critical]);
        assert!(RiskThresholds::new(0.0, 0.2, 0.3).is_err());
        assert!(RiskThresholds::new(0.1, 0.2, 1.1).is_err());
        assert!(RiskThresholds::new(f64::NAN, 0.2, 0.3).is_err());
        assert_eq!("High".parse::<RiskSegment>().unwrap(), High);
        assert_eq!(Critical.to_string(), "critical");
        assert!("extreme".parse::<RiskSegment>().is_err());
    }
}
