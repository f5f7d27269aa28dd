//! BG/NBD ([`super::clv::BgNbd`]) behind the [`ChurnModel`] interface.
//!
//! It reads three columns of the churn feature matrix and ignores the rest:
//! - `x` = repeat purchases = `frequency - 1` (0 without purchases);
//! - `t_x` = days from the first to the last purchase =
//!   `purchase_age_days - recency_purchase_days` (0 for fewer than two purchases);
//! - `T` = days since the first purchase = `purchase_age_days`.
//!
//! (`frequency` counts purchase rows, so two purchases on one day are two here, where
//! [`super::clv::summarize`] merges them as `lifetimes` does.)
//!
//! The model is label-free: fitting uses only these summaries (labels are ignored, so a
//! single class is accepted). Its churn score is **P(no purchase in the horizon)**, the
//! horizon being the training labels' (`horizon_days`), not `1 - P(alive)`, which is 0
//! for every one-time buyer.
//!
//! Explanations are in terms of the model's own inputs, named
//! [`INPUT_FREQUENCY`], [`INPUT_RECENCY`] and [`INPUT_AGE`]: exact Shapley values of the
//! raw P(no purchase) over those three inputs (all 3! orders, 8 evaluations) relative
//! to a baseline customer with the training means (x rounded to a whole number). They
//! sum to the customer's score minus the baseline's.

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::clv::{BgNbd, BgNbdConfig, BgNbdParams, CustomerSummary};
use super::features::FeatureSchema;
use super::model::{
    check_input, ChurnModel, Contribution, ContributionScale, FitChurnModel, ModelKind,
};
use crate::error::{Error, Result};

/// Name of the repeat-purchase input in BG/NBD explanations.
pub const INPUT_FREQUENCY: &str = "bgnbd:frequency (repeat purchases x)";
/// Name of the recency input in BG/NBD explanations.
pub const INPUT_RECENCY: &str = "bgnbd:recency (days first to last purchase t_x)";
/// Name of the age input in BG/NBD explanations.
pub const INPUT_AGE: &str = "bgnbd:age (days since first purchase T)";

/// Settings of the BG/NBD churn model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BgNbdChurnParams {
    /// Horizon of the churn score in days (`TrainedModel` sets the labels' horizon).
    pub horizon_days: f64,
    /// The fit settings (a fit that does not converge is retried with penalizer 0.01).
    pub config: BgNbdConfig,
}

impl Default for BgNbdChurnParams {
    fn default() -> Self {
        BgNbdChurnParams {
            horizon_days: 30.0,
            config: BgNbdConfig::default(),
        }
    }
}

impl BgNbdChurnParams {
    /// Set the horizon in days.
    pub fn horizon_days(mut self, d: f64) -> Self {
        self.horizon_days = d;
        self
    }
}

/// A fitted BG/NBD model used as a churn model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgNbdModel {
    /// The feature schema of the matrices it reads.
    pub schema: FeatureSchema,
    /// The fitted BG/NBD (time in days).
    pub model: BgNbd,
    /// Horizon of the churn score in days.
    pub horizon_days: f64,
    /// Baseline (x, t_x, T) of the explanations.
    pub baseline: [f64; 3],
}

/// Column indices of frequency, recency_purchase_days, purchase_age_days.
fn columns(schema: &FeatureSchema) -> Result<[usize; 3]> {
    let col = |n: &str| {
        schema.index_of(n).ok_or_else(|| Error::SchemaMismatch {
            reason: format!("BG/NBD needs the feature column {n}"),
        })
    };
    Ok([
        col("frequency")?,
        col("recency_purchase_days")?,
        col("purchase_age_days")?,
    ])
}

/// (x, t_x, T) of one feature row.
fn inputs(row: ArrayView1<'_, f64>, c: [usize; 3], r: usize) -> Result<[f64; 3]> {
    let (f, rec, age) = (row[c[0]], row[c[1]], row[c[2]]);
    if ![f, rec, age].iter().all(|v| v.is_finite() && *v >= 0.0) {
        return Err(Error::invalid(
            format!("row {r}"),
            format!("BG/NBD inputs must be finite and >= 0: frequency {f}, recency_purchase_days {rec}, purchase_age_days {age}"),
        ));
    }
    let x = (f.round() - 1.0).max(0.0);
    let tx = if x > 0.0 {
        (age - rec).clamp(0.0, age)
    } else {
        0.0
    };
    Ok([x, tx, age])
}

/// P(no purchase in (T, T+h]) for real-valued inputs (see `clv::BgNbd`).
fn p_no_purchase(p: &BgNbdParams, x: f64, tx: f64, t: f64, h: f64) -> f64 {
    let BgNbdParams { r, alpha, a, b } = *p;
    let tx = tx.min(t);
    let p_alive = if x <= 0.0 {
        1.0
    } else {
        let l = a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + t).ln() - (alpha + tx).ln());
        if l > 0.0 {
            let e = (-l).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + l.exp())
        }
    };
    let ln_survive = (r + x) * ((alpha + t).ln() - (alpha + t + h).ln());
    (1.0 + p_alive * ln_survive.exp_m1()).clamp(0.0, 1.0)
}

impl BgNbdModel {
    /// Check a loaded model's internal consistency.
    pub(crate) fn validate(&self) -> Result<()> {
        columns(&self.schema)?;
        BgNbd::from_params(self.model.params)?;
        let ok_horizon = self.horizon_days.is_finite() && self.horizon_days > 0.0;
        if !ok_horizon || !self.baseline.iter().all(|v| v.is_finite() && *v >= 0.0) {
            return Err(Error::model("BG/NBD model has a bad horizon or baseline"));
        }
        Ok(())
    }

    fn score(&self, v: [f64; 3]) -> f64 {
        p_no_purchase(&self.model.params, v[0], v[1], v[2], self.horizon_days)
    }
}

impl FitChurnModel for BgNbdModel {
    type Params = BgNbdChurnParams;
    /// Fits on the rows' (x, t_x, T); `y` is only checked for length.
    fn fit(
        x: ArrayView2<'_, f64>,
        y: &[bool],
        schema: &FeatureSchema,
        params: &BgNbdChurnParams,
    ) -> Result<Self> {
        if x.nrows() == 0 {
            return Err(Error::model("no training rows (empty data)"));
        }
        if x.nrows() != y.len() {
            return Err(Error::model(format!(
                "{} feature rows but {} labels",
                x.nrows(),
                y.len()
            )));
        }
        if !(params.horizon_days.is_finite() && params.horizon_days > 0.0) {
            return Err(Error::invalid("horizon_days", "must be finite and > 0"));
        }
        check_input(x, schema)?;
        let c = columns(schema)?;
        let mut summaries = Vec::with_capacity(x.nrows());
        let mut sum = [0.0; 3];
        for (r, row) in x.rows().into_iter().enumerate() {
            let v = inputs(row, c, r)?;
            sum.iter_mut().zip(v).for_each(|(s, v)| *s += v);
            summaries.push(CustomerSummary::new(v[0] as u32, v[1], v[2], 0.0));
        }
        let model = match BgNbd::fit(&summaries, &params.config) {
            Ok(m) => m,
            Err(_) if params.config.penalizer < 0.01 => {
                BgNbd::fit(&summaries, &params.config.penalizer(0.01))?
            }
            Err(e) => return Err(e),
        };
        let n = x.nrows() as f64;
        let t = sum[2] / n;
        let baseline = [(sum[0] / n).round(), (sum[1] / n).min(t), t];
        Ok(BgNbdModel {
            schema: schema.clone(),
            model,
            horizon_days: params.horizon_days,
            baseline,
        })
    }
}

impl ChurnModel for BgNbdModel {
    fn kind(&self) -> ModelKind {
        ModelKind::BgNbd
    }
    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }
    fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        check_input(x, &self.schema)?;
        let c = columns(&self.schema)?;
        let mut out = Array1::zeros(x.nrows());
        for (r, row) in x.rows().into_iter().enumerate() {
            out[r] = self.score(inputs(row, c, r)?);
        }
        Ok(out)
    }
    /// Exact Shapley values over (x, t_x, T) relative to the baseline customer, named
    /// [`INPUT_FREQUENCY`], [`INPUT_RECENCY`], [`INPUT_AGE`] (not schema columns).
    fn explain(&self, row: ArrayView1<'_, f64>) -> Result<Vec<Contribution>> {
        check_input(row.insert_axis(ndarray::Axis(0)), &self.schema)?;
        let v = inputs(row, columns(&self.schema)?, 0)?;
        // f(S): the customer's value for inputs in S, the baseline's for the others.
        let f = |mask: usize| {
            let mut z = self.baseline;
            for (i, zi) in z.iter_mut().enumerate() {
                if mask & (1 << i) != 0 {
                    *zi = v[i];
                }
            }
            self.score(z)
        };
        // Shapley weights for 3 players: |S|!(2-|S|)!/3! = 1/3, 1/6, 1/3.
        let weight = [1.0 / 3.0, 1.0 / 6.0, 1.0 / 3.0];
        let names = [INPUT_FREQUENCY, INPUT_RECENCY, INPUT_AGE];
        Ok((0..3)
            .map(|i| {
                let phi: f64 = (0..8usize)
                    .filter(|s| s & (1 << i) == 0)
                    .map(|s| weight[s.count_ones() as usize] * (f(s | (1 << i)) - f(s)))
                    .sum();
                Contribution {
                    feature: names[i].to_string(),
                    value: v[i],
                    contribution: phi,
                }
            })
            .collect())
    }
    fn contribution_scale(&self) -> ContributionScale {
        ContributionScale::Probability
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::churn::FeatureConfig;
    use ndarray::Array2;

    fn row(schema: &FeatureSchema, freq: f64, rec: f64, age: f64) -> Vec<f64> {
        let mut r = vec![0.0; schema.len()];
        let c = columns(schema).unwrap();
        r[c[0]] = freq;
        r[c[1]] = rec;
        r[c[2]] = age;
        r
    }

    fn fitted() -> (BgNbdModel, FeatureSchema) {
        let schema = FeatureSchema::for_config(&FeatureConfig::default());
        let mut data = Vec::new();
        for i in 0..300 {
            let f = (i % 6) as f64;
            let age = 60.0 + (i % 40) as f64;
            let rec = if f >= 2.0 {
                age * ((i % 7) as f64 + 1.0) / 8.0
            } else {
                age
            };
            data.extend(row(&schema, f, rec, age));
        }
        let x = Array2::from_shape_vec((300, schema.len()), data).unwrap();
        let m = BgNbdModel::fit(
            x.view(),
            &[false; 300],
            &schema,
            &BgNbdChurnParams::default(),
        )
        .unwrap();
        (m, schema)
    }

    #[test]
    fn score_is_no_purchase_probability_and_agrees_with_clv() {
        let (m, schema) = fitted();
        m.validate().unwrap();
        // A one-time buyer of 90 days: P(alive) = 1, yet a real churn risk.
        let r = row(&schema, 1.0, 90.0, 90.0);
        let x = Array2::from_shape_vec((1, schema.len()), r.clone()).unwrap();
        let p = m.predict_proba(x.view()).unwrap()[0];
        let s = CustomerSummary::new(0, 0.0, 90.0, 0.0);
        assert_eq!(m.model.probability_alive(&s).unwrap(), 1.0);
        let want = m.model.probability_no_purchase(&s, 30.0).unwrap();
        assert!((p - want).abs() < 1e-12, "{p} vs {want}");
        assert!(p > 0.0 && p < 1.0);
        // A repeat buyer: x = 3, t_x = 90 - 10 = 80.
        let r = row(&schema, 4.0, 10.0, 90.0);
        let x = Array2::from_shape_vec((1, schema.len()), r).unwrap();
        let want = m
            .model
            .probability_no_purchase(&CustomerSummary::new(3, 80.0, 90.0, 0.0), 30.0)
            .unwrap();
        assert!((m.predict_proba(x.view()).unwrap()[0] - want).abs() < 1e-12);
    }

    #[test]
    fn shapley_contributions_add_up_and_are_named() {
        let (m, schema) = fitted();
        let r = row(&schema, 5.0, 90.0, 95.0);
        let c = m.explain(ArrayView1::from(&r)).unwrap();
        assert_eq!(
            c.iter().map(|c| c.feature.as_str()).collect::<Vec<_>>(),
            [INPUT_FREQUENCY, INPUT_RECENCY, INPUT_AGE]
        );
        assert_eq!((c[0].value, c[1].value, c[2].value), (4.0, 5.0, 95.0));
        let x = Array2::from_shape_vec((1, schema.len()), r).unwrap();
        let p = m.predict_proba(x.view()).unwrap()[0];
        let total: f64 = c.iter().map(|c| c.contribution).sum();
        assert!((m.score(m.baseline) + total - p).abs() < 1e-12);
        // Long silence since the last purchase (small t_x) pushes the score up.
        assert!(c[1].contribution > 0.0, "{c:?}");
    }

    #[test]
    fn bad_input() {
        let (m, schema) = fitted();
        let mut r = row(&schema, 2.0, 1.0, 5.0);
        r[columns(&schema).unwrap()[1]] = f64::NAN;
        let x = Array2::from_shape_vec((1, schema.len()), r).unwrap();
        assert!(m.predict_proba(x.view()).is_err());
        assert!(m.predict_proba(x.slice(ndarray::s![.., 1..])).is_err());
        let empty = Array2::<f64>::zeros((0, schema.len()));
        assert!(BgNbdModel::fit(empty.view(), &[], &schema, &BgNbdChurnParams::default()).is_err());
        // Nobody ever bought twice: nothing to learn.
        let x = Array2::from_shape_vec(
            (2, schema.len()),
            [row(&schema, 1.0, 3.0, 3.0), row(&schema, 0.0, 3.0, 0.0)].concat(),
        )
        .unwrap();
        assert!(BgNbdModel::fit(
            x.view(),
            &[true, false],
            &schema,
            &BgNbdChurnParams::default()
        )
        .is_err());
    }
}
