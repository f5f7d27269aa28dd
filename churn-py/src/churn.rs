//! Churn models: `ChurnModel` (a trained, calibrated `TrainedModel`) and the
//! train / evaluate / score / explain calls on `Analytics`, reading the store through
//! `EventTable::from_store`. Settings are the core's serde structs (`FeatureConfig`,
//! `TrainConfig`, `LogisticParams`, `LabelConfig`) built from keyword dicts.

use churn_core::churn::{
    evaluate as core_evaluate, explain_row, features_at, labelled_at, model_from_json,
    model_to_json, score_all, EventTable, FeatureConfig, LabelConfig, LogisticParams,
    RiskThresholds, TrainConfig, TrainedModel,
};
use churn_core::{Error, Timestamp};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use serde_json::json;

use crate::analytics::Analytics;
use crate::convert::{opt_timestamp, report, request, timestamp, to_py};
use crate::error::IntoPy;

/// A trained, calibrated churn model. Immutable; safe to share between threads.
#[pyclass(frozen, module = "churnlens._churnlens")]
pub struct ChurnModel {
    pub(crate) model: TrainedModel,
}

#[pymethods]
impl ChurnModel {
    /// The model's name.
    #[getter]
    fn name(&self) -> String {
        self.model.name.clone()
    }

    /// Feature column names, in order.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.model
            .schema()
            .names()
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// Held-out metrics, when evaluated at training.
    #[getter]
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        report(py, &self.model.metrics)
    }

    /// The whole model as a dict (the core's JSON shape).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        report(py, &self.model)
    }

    /// The versioned JSON document `save` writes.
    fn to_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = model_to_json(&self.model).py_err()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Read a model from `to_json` output.
    #[staticmethod]
    fn from_json(py: Python<'_>, data: &[u8]) -> PyResult<ChurnModel> {
        let model = py.detach(|| model_from_json(data)).py_err()?;
        Ok(ChurnModel { model })
    }

    /// Write the model to `path` (JSON, format-versioned).
    fn save(&self, py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<()> {
        let path = fspath(py, path)?;
        py.detach(|| {
            let bytes = model_to_json(&self.model)?;
            std::fs::write(&path, bytes).map_err(|source| Error::Io {
                path: path.clone().into(),
                source,
            })
        })
        .py_err()
    }

    /// Read a model written by `save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<ChurnModel> {
        let path = fspath(py, path)?;
        let model = py
            .detach(|| {
                let bytes = std::fs::read(&path).map_err(|source| Error::Io {
                    path: path.clone().into(),
                    source,
                })?;
                model_from_json(&bytes)
            })
            .py_err()?;
        Ok(ChurnModel { model })
    }

    fn __repr__(&self) -> String {
        format!(
            "ChurnModel(name={:?}, features={}, trained_at={})",
            self.model.name,
            self.model.schema().len(),
            self.model.trained_at
        )
    }
}

fn fspath(py: Python<'_>, p: &Bound<'_, PyAny>) -> PyResult<String> {
    py.import("os")?.call_method1("fspath", (p,))?.extract()
}

fn thresholds(t: Option<(f64, f64, f64)>) -> PyResult<RiskThresholds> {
    match t {
        None => Ok(RiskThresholds::default()),
        Some((m, h, c)) => RiskThresholds::new(m, h, c).py_err(),
    }
}

fn labels(lookback_days: u32, horizon_days: u32) -> LabelConfig {
    LabelConfig::default()
        .lookback_days(lookback_days)
        .horizon_days(horizon_days)
}

/// Features of every customer as of `as_of`: `{"as_of", "columns", "customers", "values"}`.
pub fn features<'py>(
    a: &Analytics,
    py: Python<'py>,
    as_of: &Bound<'py, PyAny>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg: FeatureConfig = request(options, "features")?;
    let t = timestamp(as_of, "as_of")?;
    let core = a.core()?;
    let f = py
        .detach(|| {
            core.tracker.flush()?;
            let table = EventTable::from_store(
                core.tracker.store().as_ref(),
                core.tracker.project(),
                &cfg,
            )?;
            features_at(&table, t, &cfg.resolved_for(&table))
        })
        .py_err()?;
    let values: Vec<Vec<f64>> = f.x.rows().into_iter().map(|r| r.to_vec()).collect();
    let v = json!({
        "as_of": f.as_of,
        "columns": f.schema.names(),
        "customers": f.customers,
        "values": values,
    });
    to_py(py, &v)
}

/// Keyword arguments of `train_churn`.
pub struct TrainArgs<'a, 'py> {
    pub name: &'a str,
    pub lookback_days: u32,
    pub horizon_days: u32,
    pub features: Option<&'a Bound<'py, PyDict>>,
    pub training: Option<&'a Bound<'py, PyDict>>,
    pub logistic: Option<&'a Bound<'py, PyDict>>,
}

pub fn train(
    a: &Analytics,
    py: Python<'_>,
    as_of: &Bound<'_, PyAny>,
    o: TrainArgs<'_, '_>,
) -> PyResult<ChurnModel> {
    let t = timestamp(as_of, "as_of")?;
    let cfg: FeatureConfig = request(o.features, "features")?;
    let tc: TrainConfig = request(o.training, "training")?;
    let lp: LogisticParams = request(o.logistic, "logistic")?;
    let lc = labels(o.lookback_days, o.horizon_days);
    let name = o.name.to_string();
    let core = a.core()?;
    let model = py
        .detach(|| {
            core.tracker.flush()?;
            let store = core.tracker.store();
            let table = EventTable::from_store(store.as_ref(), core.tracker.project(), &cfg)?;
            let cfg = cfg.resolved_for(&table);
            let data = labelled_at(&table, t, &cfg, &lc)?;
            TrainedModel::train_logistic(&name, &data, &cfg, &tc, &lp)
        })
        .py_err()?;
    Ok(ChurnModel { model })
}

pub fn evaluate<'py>(
    a: &Analytics,
    py: Python<'py>,
    m: &ChurnModel,
    as_of: &Bound<'py, PyAny>,
    threshold: f64,
    (lookback_days, horizon_days): (u32, u32),
) -> PyResult<Bound<'py, PyAny>> {
    let t = timestamp(as_of, "as_of")?;
    let lc = labels(lookback_days, horizon_days);
    let core = a.core()?;
    let metrics = py
        .detach(|| {
            core.tracker.flush()?;
            let cfg = &m.model.feature_config;
            let table =
                EventTable::from_store(core.tracker.store().as_ref(), core.tracker.project(), cfg)?;
            let data = labelled_at(&table, t, cfg, &lc)?;
            core_evaluate(&m.model, &data, threshold)
        })
        .py_err()?;
    report(py, &metrics)
}

pub fn scores<'py>(
    a: &Analytics,
    py: Python<'py>,
    m: &ChurnModel,
    as_of: Option<&Bound<'py, PyAny>>,
    th: Option<(f64, f64, f64)>,
) -> PyResult<Bound<'py, PyAny>> {
    let t = opt_timestamp(as_of, "as_of")?.unwrap_or_else(Timestamp::now);
    let th = thresholds(th)?;
    let core = a.core()?;
    let s = py
        .detach(|| {
            core.tracker.flush()?;
            let cfg = &m.model.feature_config;
            let table =
                EventTable::from_store(core.tracker.store().as_ref(), core.tracker.project(), cfg)?;
            score_all(&m.model, &table, t, &th)
        })
        .py_err()?;
    report(py, &s)
}

pub fn explain<'py>(
    a: &Analytics,
    py: Python<'py>,
    m: &ChurnModel,
    user_id: &str,
    as_of: Option<&Bound<'py, PyAny>>,
    top: usize,
    th: Option<(f64, f64, f64)>,
) -> PyResult<Bound<'py, PyAny>> {
    let t = opt_timestamp(as_of, "as_of")?.unwrap_or_else(Timestamp::now);
    let th = thresholds(th)?;
    let core = a.core()?;
    let e = py
        .detach(|| {
            core.tracker.flush()?;
            let cfg = &m.model.feature_config;
            let table =
                EventTable::from_store(core.tracker.store().as_ref(), core.tracker.project(), cfg)?;
            let f = features_at(&table, t, cfg)?;
            let row = f
                .customers
                .iter()
                .position(|c| c == user_id)
                .ok_or_else(|| Error::NotFound {
                    what: format!("customer {user_id} (no event before {t})"),
                })?;
            explain_row(&m.model, &f, row, top, &th)
        })
        .py_err()?;
    report(py, &e)
}

// ---- the churn methods of `Analytics` -------------------------------------------------

#[pymethods]
impl Analytics {
    /// Churn features of every customer as of `as_of`.
    #[pyo3(signature = (as_of, **features))]
    fn churn_features<'py>(
        &self,
        py: Python<'py>,
        as_of: &Bound<'py, PyAny>,
        features: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self::features(self, py, as_of, features)
    }

    /// Train a churn model on labels as of `as_of`.
    #[pyo3(signature = (as_of, *, name="churn", lookback_days=90, horizon_days=30,
        features=None, training=None, logistic=None))]
    #[allow(clippy::too_many_arguments)]
    fn train_churn(
        &self,
        py: Python<'_>,
        as_of: &Bound<'_, PyAny>,
        name: &str,
        lookback_days: u32,
        horizon_days: u32,
        features: Option<&Bound<'_, PyDict>>,
        training: Option<&Bound<'_, PyDict>>,
        logistic: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<ChurnModel> {
        let opts = TrainArgs {
            name,
            lookback_days,
            horizon_days,
            features,
            training,
            logistic,
        };
        train(self, py, as_of, opts)
    }

    /// Metrics of `model` on labels as of `as_of`.
    #[pyo3(signature = (model, as_of, *, threshold=0.5, lookback_days=90, horizon_days=30))]
    fn evaluate_churn<'py>(
        &self,
        py: Python<'py>,
        model: &ChurnModel,
        as_of: &Bound<'py, PyAny>,
        threshold: f64,
        lookback_days: u32,
        horizon_days: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        evaluate(
            self,
            py,
            model,
            as_of,
            threshold,
            (lookback_days, horizon_days),
        )
    }

    /// Churn probability and risk segment of every customer as of `as_of` (default now).
    #[pyo3(signature = (model, as_of=None, *, thresholds=None))]
    fn churn_scores<'py>(
        &self,
        py: Python<'py>,
        model: &ChurnModel,
        as_of: Option<&Bound<'py, PyAny>>,
        thresholds: Option<(f64, f64, f64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        scores(self, py, model, as_of, thresholds)
    }

    /// Why `model` gives `user_id` its score: the top features each way.
    #[pyo3(signature = (model, user_id, as_of=None, *, top=5, thresholds=None))]
    fn explain_churn<'py>(
        &self,
        py: Python<'py>,
        model: &ChurnModel,
        user_id: &str,
        as_of: Option<&Bound<'py, PyAny>>,
        top: usize,
        thresholds: Option<(f64, f64, f64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        explain(self, py, model, user_id, as_of, top, thresholds)
    }
}
