//! Churn models (the core's `churn` module): train a logistic model on the tracked
//! events, score every customer, explain one, predict from a customer's transactions.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::Deserialize;
use serde_json::Value;

use churn_core::churn::ChurnModel as _;
use churn_core::churn::{
    explain_customer, explain_row, features_at, labelled_at, model_from_json, model_to_json,
    predict_customer, score_all, EventTable, FeatureConfig, LabelConfig, LogisticParams,
    RiskThresholds, TrainConfig, TrainedModel, Transaction,
};
use churn_core::{Error, Timestamp};

use crate::analytics::Analytics;
use crate::convert::{self, JsonTask};
use crate::error::{invalid, IntoNapi};

/// Options of `trainChurnModel`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TrainOptions {
    name: Option<String>,
    as_of: Option<Timestamp>,
    labels: LabelConfig,
    features: FeatureConfig,
    train: TrainConfig,
    logistic: LogisticParams,
}

/// Thresholds as given (`{ medium, high, critical }`), checked by the core.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Thresholds {
    medium: f64,
    high: f64,
    critical: f64,
}

/// Options of scoring, explaining and predicting.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ScoreOptions {
    as_of: Option<Timestamp>,
    thresholds: Option<Thresholds>,
    top: Option<usize>,
}

impl ScoreOptions {
    fn as_of(&self) -> napi::Result<Timestamp> {
        self.as_of.ok_or_else(|| {
            invalid(
                "asOf",
                "required: the time to score at (Date, ISO string or epoch ms)",
            )
        })
    }
    fn thresholds(&self) -> napi::Result<RiskThresholds> {
        match &self.thresholds {
            None => Ok(RiskThresholds::default()),
            Some(t) => RiskThresholds::new(t.medium, t.high, t.critical).napi(),
        }
    }
}

/// One transaction of `predict` / `explain` (`amount` defaults to 0, `eventType` to
/// `purchase`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionInput {
    customer_id: String,
    date: Timestamp,
    #[serde(default)]
    amount: f64,
    #[serde(default = "purchase")]
    event_type: String,
}

fn purchase() -> String {
    "purchase".into()
}

fn transactions(env: &Env, value: &Unknown<'_>) -> napi::Result<Vec<Transaction>> {
    let v = convert::snake_keys(convert::to_json(env, value, "transactions")?);
    let rows: Vec<TransactionInput> = convert::from_value(v, "transactions")?;
    Ok(rows
        .into_iter()
        .map(|r| Transaction {
            customer_id: r.customer_id,
            date: r.date,
            amount: r.amount,
            event_type: r.event_type,
        })
        .collect())
}

/// A trained, calibrated churn model.
#[napi]
pub struct ChurnModel {
    pub(crate) inner: Arc<TrainedModel>,
}

/// Resolves a training job into a [`ChurnModel`].
pub struct TrainTask {
    job: Option<Box<dyn FnOnce() -> churn_core::Result<TrainedModel> + Send>>,
}

impl Task for TrainTask {
    type Output = TrainedModel;
    type JsValue = ChurnModel;

    fn compute(&mut self) -> napi::Result<TrainedModel> {
        match self.job.take() {
            Some(job) => job().napi(),
            None => Err(invalid("task", "already run")),
        }
    }

    fn resolve(&mut self, _env: Env, output: TrainedModel) -> napi::Result<ChurnModel> {
        Ok(ChurnModel {
            inner: Arc::new(output),
        })
    }
}

fn json<T: serde::Serialize>(v: &T) -> napi::Result<Value> {
    serde_json::to_value(v).map_err(|e| invalid("result", e.to_string()))
}

#[napi]
impl ChurnModel {
    /// Rebuild a model saved with `serialize()`; a damaged or newer file is an
    /// `ERR_MODEL` / `ERR_MODEL_VERSION` error.
    #[napi(factory)]
    pub fn deserialize(text: String) -> napi::Result<Self> {
        Ok(ChurnModel {
            inner: Arc::new(model_from_json(text.as_bytes()).napi()?),
        })
    }

    /// The model as versioned JSON text (the core's persistence format).
    #[napi]
    pub fn serialize(&self) -> napi::Result<String> {
        let bytes = model_to_json(&self.inner).napi()?;
        String::from_utf8(bytes).map_err(|e| invalid("model", e.to_string()))
    }

    /// Name, training window, held-out metrics (when evaluated), training time.
    #[napi(getter, ts_return_type = "ChurnModelInfo")]
    pub fn info(&self) -> napi::Result<Value> {
        let m = &*self.inner;
        Ok(serde_json::json!({
            "name": m.name,
            "kind": json(&m.model.kind())?,
            "window": json(&m.window)?,
            "metrics": json(&m.metrics)?,
            "trainedAt": json(&m.trained_at)?,
            "features": m.schema().names(),
        }))
    }

    /// Score one customer from their transactions (all of one customer) as of `asOf`.
    #[napi(
        ts_args_type = "transactions: TransactionInput[], options: ScoreOptions",
        ts_return_type = "CustomerScore"
    )]
    pub fn predict(
        &self,
        env: Env,
        transactions: Unknown,
        options: Unknown,
    ) -> napi::Result<Value> {
        let rows = self::transactions(&env, &transactions)?;
        let o: ScoreOptions = convert::options(&env, Some(options), "options")?;
        json(&predict_customer(&self.inner, &rows, o.as_of()?, &o.thresholds()?).napi()?)
    }

    /// Explain one customer's score from their transactions: the `top` (default 5)
    /// features pushing it up and down.
    #[napi(
        ts_args_type = "transactions: TransactionInput[], options: ScoreOptions",
        ts_return_type = "Explanation"
    )]
    pub fn explain(
        &self,
        env: Env,
        transactions: Unknown,
        options: Unknown,
    ) -> napi::Result<Value> {
        let rows = self::transactions(&env, &transactions)?;
        let o: ScoreOptions = convert::options(&env, Some(options), "options")?;
        let e = explain_customer(
            &self.inner,
            &rows,
            o.as_of()?,
            o.top.unwrap_or(5),
            &o.thresholds()?,
        );
        json(&e.napi()?)
    }
}

#[napi]
impl Analytics {
    /// Train a churn model on this instance's events: features as of `asOf` (required),
    /// labels from the following `labels.horizonDays`. Options: `name`, `asOf`,
    /// `labels`, `features`, `train`, `logistic` (the core's configs).
    #[napi(
        ts_args_type = "options: TrainOptions",
        ts_return_type = "Promise<ChurnModel>"
    )]
    pub fn train_churn_model(
        &self,
        env: Env,
        options: Unknown,
    ) -> napi::Result<AsyncTask<TrainTask>> {
        self.ensure_open()?;
        let o: TrainOptions = convert::options(&env, Some(options), "options")?;
        let as_of = o.as_of.ok_or_else(|| {
            invalid(
                "asOf",
                "required: the training cutoff (Date, ISO string or epoch ms)",
            )
        })?;
        let inner = self.inner.clone();
        Ok(AsyncTask::new(TrainTask {
            job: Some(Box::new(move || {
                inner.flush()?;
                let table = EventTable::from_store(&**inner.store(), inner.project(), &o.features)?;
                let cfg = o.features.resolved_for(&table);
                let data = labelled_at(&table, as_of, &cfg, &o.labels)?;
                let name = o.name.as_deref().unwrap_or("churn");
                TrainedModel::train_logistic(name, &data, &cfg, &o.train, &o.logistic)
            })),
        }))
    }

    /// Score every customer with an event before `asOf`, with risk segments.
    #[napi(
        ts_args_type = "model: ChurnModel, options: ScoreOptions",
        ts_return_type = "Promise<CustomerScore[]>"
    )]
    pub fn score_churn(
        &self,
        env: Env,
        model: &ChurnModel,
        options: Unknown,
    ) -> napi::Result<AsyncTask<JsonTask>> {
        let o: ScoreOptions = convert::options(&env, Some(options), "options")?;
        let (as_of, thr) = (o.as_of()?, o.thresholds()?);
        let model = model.inner.clone();
        self.run(move |a| {
            a.flush()?;
            let table = EventTable::from_store(&**a.store(), a.project(), &model.feature_config)?;
            score_all(&model, &table, as_of, &thr)
        })
    }

    /// Explain one tracked customer's score as of `asOf` (`ERR_NOT_FOUND` when they
    /// have no event before it).
    #[napi(
        ts_args_type = "model: ChurnModel, customerId: string, options: ScoreOptions",
        ts_return_type = "Promise<Explanation>"
    )]
    pub fn explain_churn(
        &self,
        env: Env,
        model: &ChurnModel,
        customer_id: String,
        options: Unknown,
    ) -> napi::Result<AsyncTask<JsonTask>> {
        let o: ScoreOptions = convert::options(&env, Some(options), "options")?;
        let (as_of, thr, top) = (o.as_of()?, o.thresholds()?, o.top.unwrap_or(5));
        let model = model.inner.clone();
        self.run(move |a| {
            a.flush()?;
            let table = EventTable::from_store(&**a.store(), a.project(), &model.feature_config)?;
            let f = features_at(&table, as_of, &model.feature_config)?;
            let row = f
                .customers
                .iter()
                .position(|c| *c == customer_id)
                .ok_or_else(|| Error::NotFound {
                    what: format!("customer {customer_id} (no event before {as_of})"),
                })?;
            explain_row(&model, &f, row, top, &thr)
        })
    }
}
