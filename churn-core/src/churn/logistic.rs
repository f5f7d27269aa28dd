//! Logistic regression on standardized features with an L2 penalty and class weights.
//!
//! Objective (the one linfa-logistic minimizes, plus weights): `sum_i w_i * logloss_i +
//! l2 / 2 * |beta|^2` over standardized features; the intercept is not penalized.
//! linfa-logistic 0.8.1 has no sample weights, so two solvers are offered:
//! - [`Solver::Irls`] (default): weighted Newton / IRLS written here, exact weights;
//! - [`Solver::Linfa`]: linfa-logistic (L-BFGS) on a row-oversampled matrix, where the
//!   minority class is replicated `n_major / n_minor` times (the fractional part by a
//!   deterministic sample), which is the same objective when the ratio is whole.
//!
//! [`ClassWeight::Balanced`] gives the minority class weight `n_major / n_minor` and the
//! majority 1 (equivalent to oversampling to parity).
//!
//! Constant columns (zero variance in training) are dropped: their coefficient is 0 and
//! they are listed in [`LogisticModel::dropped`]; all columns constant is an error.
//! NaN follows [`NanPolicy`] (default: error naming the column and row); infinities are
//! always an error.

use std::str::FromStr;

use linfa::traits::Fit;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, CowArray, Ix2};
use serde::{Deserialize, Serialize};

use super::calibrate::sigmoid;
use super::features::FeatureSchema;
use super::irls::irls;
use super::model::{
    check_input, check_training_data, shuffled, ChurnModel, Contribution, ContributionScale,
    FitChurnModel, ModelKind,
};
use crate::error::{Error, Result};

/// How to weight the classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every row weighs 1.
    None,
    /// Minority class weighs `n_major / n_minor` (default).
    #[default]
    Balanced,
}

/// Which optimizer fits the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// Weighted Newton (IRLS), exact class weights (default).
    #[default]
    Irls,
    /// linfa-logistic's L-BFGS on an oversampled matrix.
    Linfa,
}

/// What to do with NaN feature values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NanPolicy {
    /// Refuse, naming the column and row (default).
    #[default]
    Error,
    /// Replace by the training median of the column (also at scoring time).
    ImputeMedian,
}

macro_rules! parse_enum {
    ($t:ty, $field:literal, $($s:literal => $v:expr),+) => {
        impl FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s.to_ascii_lowercase().as_str() {
                    $($s => Ok($v),)+
                    _ => Err(Error::invalid($field, format!("{s:?}: expected one of {}", [$($s),+].join(", ")))),
                }
            }
        }
    };
}
parse_enum!(ClassWeight, "class_weight", "none" => ClassWeight::None, "balanced" => ClassWeight::Balanced);
parse_enum!(Solver, "solver", "irls" => Solver::Irls, "linfa" => Solver::Linfa);
parse_enum!(NanPolicy, "nan_policy", "error" => NanPolicy::Error, "impute_median" => NanPolicy::ImputeMedian);

/// Logistic regression hyper-parameters.
///
/// ```
/// use churn_core::churn::{LogisticParams, Solver};
/// let p = LogisticParams::default().l2(0.5).solver("linfa".parse()?);
/// assert_eq!(p.solver, Solver::Linfa);
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LogisticParams {
    /// L2 penalty on standardized coefficients (default 1.0, as linfa's `alpha`).
    pub l2: f64,
    /// Class weights (default balanced).
    pub class_weight: ClassWeight,
    /// Optimizer (default IRLS).
    pub solver: Solver,
    /// Iteration limit (Newton steps; L-BFGS gets 10x).
    pub max_iter: u64,
    /// NaN handling.
    pub nan_policy: NanPolicy,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            l2: 1.0,
            class_weight: ClassWeight::Balanced,
            solver: Solver::Irls,
            max_iter: 50,
            nan_policy: NanPolicy::Error,
        }
    }
}

impl LogisticParams {
    /// Set the L2 penalty.
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }
    /// Set the class weights.
    pub fn class_weight(mut self, w: ClassWeight) -> Self {
        self.class_weight = w;
        self
    }
    /// Set the solver.
    pub fn solver(mut self, s: Solver) -> Self {
        self.solver = s;
        self
    }
    /// Set the NaN policy.
    pub fn nan_policy(mut self, n: NanPolicy) -> Self {
        self.nan_policy = n;
        self
    }
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    schema: FeatureSchema,
    /// Training mean per column.
    mean: Vec<f64>,
    /// Training standard deviation per column (1 for dropped columns).
    scale: Vec<f64>,
    /// Median per column when NaN are imputed.
    impute: Option<Vec<f64>>,
    /// Coefficient per standardized column (0 for dropped columns).
    coef: Vec<f64>,
    intercept: f64,
    dropped: Vec<String>,
    /// Solver used, iterations run and whether the solver converged.
    pub fit_report: FitReport,
}

/// How a fit went.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Solver used.
    pub solver: Solver,
    /// Iterations run (IRLS only; 0 for linfa, which does not report them).
    pub iterations: u64,
    /// Whether the convergence test passed (IRLS only; linfa: true).
    pub converged: bool,
}

impl LogisticModel {
    /// Coefficients per schema column, on the standardized scale.
    pub fn coefficients(&self) -> &[f64] {
        &self.coef
    }
    /// Intercept: the log-odds of a customer at the training mean of every feature.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }
    /// Check the internal consistency of a loaded model (lengths and finite values), so a
    /// damaged file is an error rather than a panic at scoring time.
    pub(crate) fn validate(&self) -> Result<()> {
        let p = self.schema.len();
        let lens_ok = self.mean.len() == p
            && self.scale.len() == p
            && self.coef.len() == p
            && self.impute.as_ref().is_none_or(|m| m.len() == p);
        let finite = self.intercept.is_finite()
            && self.mean.iter().chain(&self.coef).all(|v| v.is_finite())
            && self.scale.iter().all(|v| v.is_finite() && *v > 0.0);
        if !lens_ok || !finite {
            return Err(Error::model(
                "the logistic model's parameters do not match its schema or are not finite (damaged model file)",
            ));
        }
        Ok(())
    }

    /// Columns dropped because they were constant in training.
    pub fn dropped(&self) -> &[String] {
        &self.dropped
    }

    fn value(&self, j: usize, v: f64, row: usize) -> Result<f64> {
        if v.is_finite() {
            return Ok(v);
        }
        match (&self.impute, v.is_nan()) {
            (Some(m), true) => Ok(m[j]),
            _ => Err(bad_value(&self.schema, j, row, v)),
        }
    }

    fn logit(&self, row: ArrayView1<'_, f64>, r: usize) -> Result<f64> {
        let mut z = self.intercept;
        for (j, &v) in row.iter().enumerate() {
            if self.coef[j] != 0.0 {
                z += self.coef[j] * (self.value(j, v, r)? - self.mean[j]) / self.scale[j];
            }
        }
        Ok(z)
    }
}

fn bad_value(schema: &FeatureSchema, j: usize, row: usize, v: f64) -> Error {
    let name = schema.columns.get(j).map_or("?", |c| c.name.as_str());
    Error::model(format!(
        "feature {name:?} is {v} in row {row}; use NanPolicy::ImputeMedian or clean the data"
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Row indices that oversample the class with weight > 1 to the given weights.
fn oversample(labels: &[bool], w_pos: f64, w_neg: f64, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    for (class, weight) in [(true, w_pos), (false, w_neg)] {
        if weight <= 1.0 {
            continue;
        }
        let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        let whole = weight.floor() as usize;
        for _ in 1..whole {
            idx.extend_from_slice(&members);
        }
        let extra = ((weight - whole as f64) * members.len() as f64).round() as usize;
        let order = shuffled(members.len(), seed);
        idx.extend(order.iter().take(extra).map(|&i| members[i]));
    }
    idx
}

impl FitChurnModel for LogisticModel {
    type Params = LogisticParams;

    fn fit(
        x: ArrayView2<'_, f64>,
        y: &[bool],
        schema: &FeatureSchema,
        params: &LogisticParams,
    ) -> Result<Self> {
        check_training_data(x, y, schema)?;
        if !(params.l2.is_finite() && params.l2 >= 0.0) || params.max_iter == 0 {
            return Err(Error::invalid(
                "logistic params",
                "l2 must be finite and >= 0, max_iter >= 1",
            ));
        }
        let (n, p) = x.dim();
        // Values: infinities refused; NaN refused or imputed. (`iter` is row-major, so
        // the first bad value reported is the first in row order.)
        let at = |i: usize| (i / p, i % p);
        let mut impute = None;
        if let Some((r, j)) = x.iter().position(|v| !v.is_finite()).map(at) {
            let v = x[[r, j]];
            if v.is_nan() && params.nan_policy == NanPolicy::ImputeMedian {
                if let Some((r, j)) = x.iter().position(|v| v.is_infinite()).map(at) {
                    return Err(bad_value(schema, j, r, x[[r, j]]));
                }
                impute = Some(
                    (0..p)
                        .map(|j| {
                            median(
                                x.column(j)
                                    .iter()
                                    .copied()
                                    .filter(|v| !v.is_nan())
                                    .collect(),
                            )
                        })
                        .collect::<Vec<_>>(),
                );
            } else {
                return Err(bad_value(schema, j, r, v));
            }
        }
        let x: CowArray<'_, f64, Ix2> = match &impute {
            Some(m) => {
                let mut o = x.to_owned();
                for ((_, j), v) in o.indexed_iter_mut() {
                    if v.is_nan() {
                        *v = m[j];
                    }
                }
                o.into()
            }
            None => x.into(),
        };
        // Column means and variances in row-major passes (the matrix is stored by row).
        let mut mean = vec![0.0; p];
        for row in x.rows() {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        let mut var = vec![0.0; p];
        for row in x.rows() {
            for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (v - m).powi(2);
            }
        }
        let mut scale = vec![1.0; p];
        let mut active = Vec::new();
        let mut dropped = Vec::new();
        for j in 0..p {
            let sd = (var[j] / n as f64).sqrt();
            if sd > 1e-12 * (1.0 + mean[j].abs()) && sd.is_finite() {
                scale[j] = sd;
                active.push(j);
            } else {
                dropped.push(schema.columns[j].name.clone());
            }
        }
        if active.is_empty() {
            return Err(Error::model(
                "every feature is constant in the training data; nothing to learn from",
            ));
        }
        let mut zv = Vec::with_capacity(n * active.len());
        for row in x.rows() {
            zv.extend(active.iter().map(|&j| (row[j] - mean[j]) / scale[j]));
        }
        let z = Array2::from_shape_vec((n, active.len()), zv)
            .map_err(|e| Error::model(format!("logistic regression: {e}")))?;
        let npos = y.iter().filter(|&&v| v).count() as f64;
        let nneg = n as f64 - npos;
        let (w_pos, w_neg) = match params.class_weight {
            ClassWeight::None => (1.0, 1.0),
            ClassWeight::Balanced if npos < nneg => (nneg / npos, 1.0),
            ClassWeight::Balanced => (1.0, npos / nneg),
        };
        let (beta, intercept, report) = match params.solver {
            Solver::Irls => {
                let yf: Vec<f64> = y.iter().map(|&v| v as u8 as f64).collect();
                let w: Vec<f64> = y.iter().map(|&v| if v { w_pos } else { w_neg }).collect();
                let (b, c, it, conv) = irls(&z, &yf, &w, params.l2, params.max_iter)?;
                (
                    b,
                    c,
                    FitReport {
                        solver: Solver::Irls,
                        iterations: it,
                        converged: conv,
                    },
                )
            }
            Solver::Linfa => {
                let idx = oversample(y, w_pos, w_neg, 7);
                let zs = z.select(Axis(0), &idx);
                let ys: Array1<bool> = idx.iter().map(|&i| y[i]).collect();
                let ds = linfa::Dataset::new(zs, ys);
                let fitted = linfa_logistic::LogisticRegression::default()
                    .alpha(params.l2)
                    .max_iterations(params.max_iter * 10)
                    .gradient_tolerance(1e-6)
                    .fit(&ds)
                    .map_err(|e| Error::model(format!("linfa-logistic: {e}")))?;
                // linfa's probability is of `labels().pos`, which may be `false`.
                let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
                (
                    fitted.params().mapv(|v| v * sign),
                    fitted.intercept() * sign,
                    FitReport {
                        solver: Solver::Linfa,
                        iterations: 0,
                        converged: true,
                    },
                )
            }
        };
        if !intercept.is_finite() || beta.iter().any(|v| !v.is_finite()) {
            return Err(Error::model(
                "logistic regression diverged (non-finite coefficients); raise l2",
            ));
        }
        let mut coef = vec![0.0; p];
        for (a, &j) in active.iter().enumerate() {
            coef[j] = beta[a];
        }
        Ok(LogisticModel {
            schema: schema.clone(),
            mean,
            scale,
            impute,
            coef,
            intercept,
            dropped,
            fit_report: report,
        })
    }
}

impl ChurnModel for LogisticModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Logistic
    }

    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        check_input(x, &self.schema)?;
        let mut out = Array1::zeros(x.nrows());
        for (r, row) in x.rows().into_iter().enumerate() {
            out[r] = sigmoid(self.logit(row, r)?);
        }
        Ok(out)
    }

    /// Exact on the logit scale: `coef_j * (x_j - mean_j) / sd_j`; the contributions plus
    /// [`LogisticModel::intercept`] sum to the raw model's log-odds.
    fn explain(&self, row: ArrayView1<'_, f64>) -> Result<Vec<Contribution>> {
        if row.len() != self.schema.len() {
            return Err(Error::SchemaMismatch {
                reason: format!(
                    "the model expects {} columns, got {}",
                    self.schema.len(),
                    row.len()
                ),
            });
        }
        let mut out = Vec::with_capacity(row.len());
        for (j, &v) in row.iter().enumerate() {
            let v = self.value(j, v, 0)?;
            out.push(Contribution {
                feature: self.schema.columns[j].name.clone(),
                value: v,
                contribution: self.coef[j] * (v - self.mean[j]) / self.scale[j],
            });
        }
        Ok(out)
    }

    fn contribution_scale(&self) -> ContributionScale {
        ContributionScale::Logit
    }
}

#[cfg(test)]
#[path = "logistic_tests.rs"]
mod tests;
