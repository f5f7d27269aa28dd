//! The model interface every churn model implements ([`ChurnModel`], [`FitChurnModel`]),
//! the closed set of saved model kinds ([`AnyModel`]), and the trained, calibrated
//! package ([`TrainedModel`]) that is scored, explained and saved.
//!
//! Adding a model (random forest, gradient boosting, BG/NBD): implement
//! [`ChurnModel`] + [`FitChurnModel`] for it, add a variant to [`AnyModel`] and a line to
//! each `match` in this file. Use [`check_training_data`] and [`check_input`] so bad
//! input gives the same errors everywhere.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::bgnbd_model::{BgNbdChurnParams, BgNbdModel};
use super::calibrate::{CalibrationMethod, Calibrator};
use super::ensemble::{BoostingModel, BoostingParams, ForestModel, ForestParams};
use super::eval::Metrics;
use super::features::{FeatureConfig, FeatureMatrix, FeatureSchema};
use super::labels::{Dataset, TrainingWindow};
use super::logistic::{LogisticModel, LogisticParams};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// The kinds of churn model churnlens knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelKind {
    /// L2-regularized logistic regression on standardized features.
    Logistic,
    /// Random forest.
    RandomForest,
    /// Gradient-boosted trees.
    GradientBoosting,
    /// BG/NBD (+ Gamma-Gamma): label-free, P(no purchase in the horizon).
    BgNbd,
}

impl ModelKind {
    /// Stable name (`logistic`, `random_forest`, `gradient_boosting`, `bg_nbd`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ModelKind::Logistic => "logistic",
            ModelKind::RandomForest => "random_forest",
            ModelKind::GradientBoosting => "gradient_boosting",
            ModelKind::BgNbd => "bg_nbd",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "logistic" | "logreg" => Ok(ModelKind::Logistic),
            "random_forest" | "rf" | "forest" => Ok(ModelKind::RandomForest),
            "gradient_boosting" | "gbt" | "gbm" | "boosting" => Ok(ModelKind::GradientBoosting),
            "bg_nbd" | "bgnbd" => Ok(ModelKind::BgNbd),
            _ => Err(Error::invalid(
                "model",
                format!("{s:?}: expected logistic, random_forest, gradient_boosting or bg_nbd"),
            )),
        }
    }
}

/// The scale contributions are measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContributionScale {
    /// Log-odds of the raw (uncalibrated) model; exact for linear models.
    Logit,
    /// Probability points.
    Probability,
}

/// How much one feature pushes one customer's score, relative to the model's baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Feature name.
    pub feature: String,
    /// The customer's value of the feature.
    pub value: f64,
    /// Signed push: positive raises the churn score.
    pub contribution: f64,
}

/// A churn model: raw churn probabilities and per-feature contributions for rows of a
/// feature matrix laid out as [`ChurnModel::schema`].
pub trait ChurnModel: Send + Sync + fmt::Debug {
    /// Which kind of model this is.
    fn kind(&self) -> ModelKind;
    /// The feature schema it was trained on.
    fn schema(&self) -> &FeatureSchema;
    /// Raw (uncalibrated) probability of churn for each row of `x`.
    fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>>;
    /// Contributions of each feature for one row, in schema order.
    fn explain(&self, row: ArrayView1<'_, f64>) -> Result<Vec<Contribution>>;
    /// The scale of [`ChurnModel::explain`]'s contributions.
    fn contribution_scale(&self) -> ContributionScale;
}

/// A churn model that learns from a labelled matrix.
pub trait FitChurnModel: ChurnModel + Sized {
    /// Hyper-parameters.
    type Params: Default;
    /// Fit on `x` (rows x `schema.len()`) and labels `y` (`true` = churned).
    fn fit(
        x: ArrayView2<'_, f64>,
        y: &[bool],
        schema: &FeatureSchema,
        params: &Self::Params,
    ) -> Result<Self>;
}

/// Shape and label checks shared by every model's `fit`: no rows, a length mismatch, a
/// column count other than the schema's, or a single class are errors. (Values are
/// each model's business: see its NaN policy.)
pub fn check_training_data(
    x: ArrayView2<'_, f64>,
    y: &[bool],
    schema: &FeatureSchema,
) -> Result<()> {
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
    check_width(x.ncols(), schema)?;
    let pos = y.iter().filter(|&&v| v).count();
    if pos == 0 || pos == y.len() {
        return Err(Error::model(format!(
            "the training labels hold a single class (all {}); a churn model needs churned and retained customers",
            if pos == 0 { "retained" } else { "churned" }
        )));
    }
    Ok(())
}

fn check_width(ncols: usize, schema: &FeatureSchema) -> Result<()> {
    if ncols != schema.len() {
        return Err(Error::SchemaMismatch {
            reason: format!("the model expects {} columns, got {ncols}", schema.len()),
        });
    }
    Ok(())
}

/// Check a matrix to score: the column count must match the schema.
pub fn check_input(x: ArrayView2<'_, f64>, schema: &FeatureSchema) -> Result<()> {
    check_width(x.ncols(), schema)
}

/// Every model kind that can be saved and loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AnyModel {
    /// Logistic regression.
    Logistic(LogisticModel),
    /// Random forest (balanced class weights by default; calibrated by [`TrainedModel`]).
    RandomForest(ForestModel),
    /// Gradient-boosted trees.
    GradientBoosting(BoostingModel),
    /// BG/NBD: label-free, P(no purchase in the horizon).
    BgNbd(BgNbdModel),
}

impl AnyModel {
    /// Check a loaded model's internal consistency (called when loading from bytes).
    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            AnyModel::Logistic(m) => m.validate(),
            AnyModel::RandomForest(m) => m.validate(),
            AnyModel::GradientBoosting(m) => m.validate(),
            AnyModel::BgNbd(m) => m.validate(),
        }
    }

    fn inner(&self) -> &dyn ChurnModel {
        match self {
            AnyModel::Logistic(m) => m,
            AnyModel::RandomForest(m) => m,
            AnyModel::GradientBoosting(m) => m,
            AnyModel::BgNbd(m) => m,
        }
    }

    /// Global feature importance in schema order when the model has its own measure
    /// (trees: share of split gain; logistic: |coefficient| on standardized features,
    /// normalised to sum 1); `None` for BG/NBD, which reads three inputs only.
    pub fn feature_importances(&self) -> Option<Vec<f64>> {
        let v = match self {
            AnyModel::Logistic(m) => {
                let a: Vec<f64> = m.coefficients().iter().map(|c| c.abs()).collect();
                let s: f64 = a.iter().sum();
                a.into_iter()
                    .map(|v| if s > 0.0 { v / s } else { 0.0 })
                    .collect()
            }
            AnyModel::RandomForest(m) => m.feature_importances(),
            AnyModel::GradientBoosting(m) => m.feature_importances(),
            AnyModel::BgNbd(_) => return None,
        };
        Some(v)
    }
}

/// Which model to train, with its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelSpec {
    /// Logistic regression.
    Logistic(LogisticParams),
    /// Random forest.
    RandomForest(ForestParams),
    /// Gradient-boosted trees.
    GradientBoosting(BoostingParams),
    /// BG/NBD (its horizon is taken from the training labels).
    BgNbd(BgNbdChurnParams),
}

impl ModelSpec {
    /// The default settings of a model kind.
    pub fn default_for(kind: ModelKind) -> ModelSpec {
        match kind {
            ModelKind::Logistic => ModelSpec::Logistic(LogisticParams::default()),
            ModelKind::RandomForest => ModelSpec::RandomForest(ForestParams::default()),
            ModelKind::GradientBoosting => ModelSpec::GradientBoosting(BoostingParams::default()),
            ModelKind::BgNbd => ModelSpec::BgNbd(BgNbdChurnParams::default()),
        }
    }

    /// The kind it trains.
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelSpec::Logistic(_) => ModelKind::Logistic,
            ModelSpec::RandomForest(_) => ModelKind::RandomForest,
            ModelSpec::GradientBoosting(_) => ModelKind::GradientBoosting,
            ModelSpec::BgNbd(_) => ModelKind::BgNbd,
        }
    }

    /// Fit on a labelled data set (no calibration: see [`TrainedModel::train`]).
    pub fn fit(&self, d: &Dataset) -> Result<AnyModel> {
        let (x, y, s) = (d.features.x.view(), &d.labels, &d.features.schema);
        Ok(match self {
            ModelSpec::Logistic(p) => AnyModel::Logistic(LogisticModel::fit(x, y, s, p)?),
            ModelSpec::RandomForest(p) => AnyModel::RandomForest(ForestModel::fit(x, y, s, p)?),
            ModelSpec::GradientBoosting(p) => {
                AnyModel::GradientBoosting(BoostingModel::fit(x, y, s, p)?)
            }
            ModelSpec::BgNbd(p) => {
                let p = p.horizon_days(d.window.horizon_days as f64);
                AnyModel::BgNbd(BgNbdModel::fit(x, y, s, &p)?)
            }
        })
    }
}

impl ModelKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ModelKind; 4] = [
        ModelKind::Logistic,
        ModelKind::RandomForest,
        ModelKind::GradientBoosting,
        ModelKind::BgNbd,
    ];
}

impl ChurnModel for AnyModel {
    fn kind(&self) -> ModelKind {
        self.inner().kind()
    }
    fn schema(&self) -> &FeatureSchema {
        self.inner().schema()
    }
    fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.inner().predict_proba(x)
    }
    fn explain(&self, row: ArrayView1<'_, f64>) -> Result<Vec<Contribution>> {
        self.inner().explain(row)
    }
    fn contribution_scale(&self) -> ContributionScale {
        self.inner().contribution_scale()
    }
}

/// How to train: share of the rows held out to fit the calibration, the calibration
/// method, and the seed of the (deterministic) shuffle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TrainConfig {
    /// Share of training rows used only to fit the calibration (default 0.2; 0 = none).
    pub calibration_fraction: f64,
    /// Calibration method (default [`CalibrationMethod::Auto`]).
    pub calibration: CalibrationMethod,
    /// Seed of the row shuffle.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            calibration_fraction: 0.2,
            calibration: CalibrationMethod::Auto,
            seed: 42,
        }
    }
}

impl TrainConfig {
    /// Set the calibration method.
    pub fn calibration(mut self, m: CalibrationMethod) -> Self {
        self.calibration = m;
        self
    }
    /// Set the calibration share.
    pub fn calibration_fraction(mut self, f: f64) -> Self {
        self.calibration_fraction = f;
        self
    }
    /// Set the seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
}

/// A trained, calibrated model with everything needed to score new data the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedModel {
    /// Name (registry key).
    pub name: String,
    /// The fitted model.
    pub model: AnyModel,
    /// Calibration applied to the model's raw probabilities.
    pub calibrator: Calibrator,
    /// Feature configuration (plan vocabulary resolved) used to build its features.
    pub feature_config: FeatureConfig,
    /// The training window.
    pub window: TrainingWindow,
    /// Metrics measured on held-out data, when evaluated.
    pub metrics: Option<Metrics>,
    /// When it was trained.
    pub trained_at: Timestamp,
}

/// splitmix64: a tiny deterministic generator for shuffles and folds.
pub(crate) fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

impl TrainedModel {
    /// Train with any fitting function: the rows are shuffled, `calibration_fraction`
    /// of them held out, `fit` sees the rest, and the calibration is fitted on the
    /// held-out rows' raw scores. `feature_config` must be the config `data` was built
    /// with (plan vocabulary resolved).
    pub fn train_with(
        name: &str,
        data: &Dataset,
        feature_config: &FeatureConfig,
        cfg: &TrainConfig,
        fit: impl FnOnce(&Dataset) -> Result<AnyModel>,
    ) -> Result<TrainedModel> {
        Self::train_impl(name, data, feature_config, cfg, true, fit)
    }

    /// [`TrainedModel::train_with`]; `ids = false` when `fit` does not read the
    /// customer ids (the fitting subset then leaves them out).
    fn train_impl(
        name: &str,
        data: &Dataset,
        feature_config: &FeatureConfig,
        cfg: &TrainConfig,
        ids: bool,
        fit: impl FnOnce(&Dataset) -> Result<AnyModel>,
    ) -> Result<TrainedModel> {
        if !(0.0..0.9).contains(&cfg.calibration_fraction) {
            return Err(Error::invalid(
                "calibration_fraction",
                "must be in [0, 0.9)",
            ));
        }
        FeatureSchema::for_config(feature_config).check_same(&data.features.schema)?;
        if data.is_empty() {
            return Err(Error::model("no training rows (empty data)"));
        }
        let order = shuffled(data.len(), cfg.seed);
        let n_cal = if cfg.calibration == CalibrationMethod::None {
            0
        } else {
            (data.len() as f64 * cfg.calibration_fraction).round() as usize
        };
        let (cal_idx, fit_idx) = order.split_at(n_cal);
        let fit_data = if ids {
            data.subset(fit_idx)
        } else {
            data.subset_for_fit(fit_idx)
        };
        let model = fit(&fit_data)?;
        drop(fit_data);
        let calibrator = if n_cal == 0 {
            Calibrator::Identity
        } else {
            let cal = data.subset_for_fit(cal_idx);
            let raw = model.predict_proba(cal.features.x.view())?;
            Calibrator::fit(
                cfg.calibration,
                raw.as_slice().unwrap_or(&raw.to_vec()),
                &cal.labels,
            )?
        };
        Ok(TrainedModel {
            name: name.to_string(),
            model,
            calibrator,
            feature_config: feature_config.clone(),
            window: data.window,
            metrics: None,
            trained_at: Timestamp::now(),
        })
    }

    /// Train a logistic regression (see [`TrainedModel::train_with`]).
    ///
    /// ```
    /// use churn_core::churn::{labelled_at, EventTable, FeatureConfig, LabelConfig,
    ///     LogisticParams, TrainConfig, TrainedModel, Transaction};
    /// use churn_core::Timestamp;
    /// let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
    /// let mut rows = Vec::new();
    /// for c in 0..200 {
    ///     let active_days = if c % 3 == 0 { 5 } else { 80 }; // a third stop early
    ///     for d in (0..active_days).step_by(4) {
    ///         rows.push(Transaction::event(format!("c{c}"), t0.add_millis(d * 86_400_000), "login"));
    ///     }
    /// }
    /// let cfg = FeatureConfig::default();
    /// let table = EventTable::from_transactions(&rows, &cfg)?;
    /// let ds = labelled_at(&table, t0.add_millis(30 * 86_400_000), &cfg, &LabelConfig::default())?;
    /// let m = TrainedModel::train_logistic("demo", &ds, &cfg, &TrainConfig::default(), &LogisticParams::default())?;
    /// let p = m.predict(&ds.features)?;
    /// assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn train_logistic(
        name: &str,
        data: &Dataset,
        feature_config: &FeatureConfig,
        cfg: &TrainConfig,
        params: &LogisticParams,
    ) -> Result<TrainedModel> {
        Self::train_impl(name, data, feature_config, cfg, false, |d| {
            LogisticModel::fit(d.features.x.view(), &d.labels, &d.features.schema, params)
                .map(AnyModel::Logistic)
        })
    }

    /// Train any model kind (see [`TrainedModel::train_with`]); tree ensembles and
    /// BG/NBD are calibrated on the held-out rows like the logistic model.
    ///
    /// ```
    /// use churn_core::churn::*;
    /// use churn_core::Timestamp;
    /// let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
    /// let mut rows = Vec::new();
    /// for c in 0..200 {
    ///     let last = if c % 3 == 0 { 20 } else { 90 }; // a third stop buying early
    ///     for d in (0..last).step_by(3 + c % 4) {
    ///         rows.push(Transaction::purchase(format!("c{c}"), t0.add_millis(d as i64 * 86_400_000), 9.0));
    ///     }
    /// }
    /// let cfg = FeatureConfig::default();
    /// let table = EventTable::from_transactions(&rows, &cfg)?;
    /// let ds = labelled_at(&table, t0.add_millis(40 * 86_400_000), &cfg, &LabelConfig::default())?;
    /// for kind in ModelKind::ALL {
    ///     let m = TrainedModel::train("demo", &ds, &cfg, &TrainConfig::default(), &ModelSpec::default_for(kind))?;
    ///     assert_eq!(m.model.kind(), kind);
    ///     assert_eq!(m.predict(&ds.features)?.len(), ds.len());
    /// }
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn train(
        name: &str,
        data: &Dataset,
        feature_config: &FeatureConfig,
        cfg: &TrainConfig,
        spec: &ModelSpec,
    ) -> Result<TrainedModel> {
        Self::train_impl(name, data, feature_config, cfg, false, |d| spec.fit(d))
    }

    /// Calibrated churn probabilities for a raw matrix laid out as the model's schema.
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        let mut p = self.model.predict_proba(x)?;
        p.mapv_inplace(|v| self.calibrator.apply(v));
        Ok(p)
    }

    /// Calibrated churn probabilities for a feature matrix; its schema must be the
    /// model's ([`Error::SchemaMismatch`] otherwise).
    pub fn predict(&self, f: &FeatureMatrix) -> Result<Array1<f64>> {
        self.model.schema().check_same(&f.schema)?;
        self.predict_proba(f.x.view())
    }

    /// The feature schema.
    pub fn schema(&self) -> &FeatureSchema {
        self.model.schema()
    }
}
