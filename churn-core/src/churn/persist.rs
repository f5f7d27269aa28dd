//! Saving and loading trained models as JSON bytes.
//!
//! The envelope is `{"format_version": 1, "library_version": "...", "model": {...}}`
//! where `model` holds the fitted parameters, calibration, feature schema and config,
//! training window and metrics. Loading checks the format version before anything else
//! ([`Error::ModelVersion`] when it differs) and that the saved schema is the one its
//! feature config produces ([`Error::SchemaMismatch`] otherwise).

use serde::{Deserialize, Serialize};

use super::features::FeatureSchema;
use super::model::TrainedModel;
use crate::error::{Error, Result};

/// The model format version this build writes and reads.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// The churnlens version that wrote a model.
pub const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format_version: u32,
    library_version: &'a str,
    model: &'a TrainedModel,
}

#[derive(Deserialize)]
struct Header {
    format_version: u32,
    #[serde(default)]
    library_version: String,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    model: TrainedModel,
}

/// Serialize a trained model to JSON bytes.
///
/// ```
/// # use churn_core::churn::*;
/// # use churn_core::Timestamp;
/// # let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
/// # let mut rows = Vec::new();
/// # for c in 0..60 { for d in 0..(if c % 2 == 0 { 2 } else { 12 }) {
/// #     rows.push(Transaction::purchase(format!("c{c}"), t0.add_millis(d * 5 * 86_400_000), 5.0)); } }
/// # let cfg = FeatureConfig::default();
/// # let table = EventTable::from_transactions(&rows, &cfg)?;
/// # let ds = labelled_at(&table, t0.add_millis(30 * 86_400_000), &cfg, &LabelConfig::default())?;
/// # let model = TrainedModel::train_logistic("m", &ds, &cfg, &TrainConfig::default(), &LogisticParams::default())?;
/// let bytes = model_to_json(&model)?;
/// let back = model_from_json(&bytes)?;
/// assert_eq!(back, model);
/// let old = String::from_utf8(bytes).unwrap().replacen("\"format_version\":1", "\"format_version\":0", 1);
/// assert_eq!(model_from_json(old.as_bytes()).unwrap_err().code(), "ERR_MODEL_VERSION");
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn model_to_json(model: &TrainedModel) -> Result<Vec<u8>> {
    serde_json::to_vec(&EnvelopeOut {
        format_version: MODEL_FORMAT_VERSION,
        library_version: LIBRARY_VERSION,
        model,
    })
    .map_err(|e| Error::model(format!("cannot serialize the model: {e}")))
}

/// Load a trained model from JSON bytes (see the module docs for the checks).
pub fn model_from_json(bytes: &[u8]) -> Result<TrainedModel> {
    let header: Header = serde_json::from_slice(bytes)
        .map_err(|e| Error::model(format!("not a churnlens model file: {e}")))?;
    if header.format_version != MODEL_FORMAT_VERSION {
        return Err(Error::ModelVersion {
            found: header.format_version,
            supported: MODEL_FORMAT_VERSION,
        });
    }
    let env: EnvelopeIn = serde_json::from_slice(bytes).map_err(|e| {
        Error::model(format!(
            "model file (written by churnlens {}) cannot be read: {e}",
            header.library_version
        ))
    })?;
    FeatureSchema::for_config(&env.model.feature_config).check_same(env.model.schema())?;
    env.model.model.validate()?;
    env.model.calibrator.validate()?;
    Ok(env.model)
}
