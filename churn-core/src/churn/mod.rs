//! Churn prediction (BG/NBD, Gamma-Gamma and CLV in [`clv`], tree ensembles in [`trees`]): features as of a time, automatic labels and leakage-free temporal
//! splits, models behind one interface ([`ChurnModel`]), calibration, evaluation,
//! scoring with risk segments, per-customer explanations, persistence and a registry.
//!
//! ```
//! use churn_core::churn::*;
//! use churn_core::Timestamp;
//!
//! let day = 86_400_000;
//! let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
//! let mut rows = Vec::new();
//! for c in 0..300 {
//!     // Every third customer stops buying after two weeks.
//!     let last = if c % 3 == 0 { 14 } else { 120 };
//!     for d in (0..last).step_by(7) {
//!         rows.push(Transaction::purchase(format!("c{c}"), t0.add_millis(d * day), 20.0));
//!     }
//! }
//! let cfg = FeatureConfig::default();
//! let table = EventTable::from_transactions(&rows, &cfg)?;
//! let split = TemporalSplit::new(t0.add_millis(21 * day), t0.add_millis(60 * day), LabelConfig::default())?;
//! let train = split.train(&table, &cfg)?;
//! let model = TrainedModel::train_logistic("churn", &train, &cfg, &TrainConfig::default(), &LogisticParams::default())?;
//! let scores = score_all(&model, &table, t0.add_millis(21 * day), &RiskThresholds::default())?;
//! assert_eq!(scores.len(), 300);
//! # Ok::<(), churn_core::Error>(())
//! ```

mod bgnbd_model;
mod calibrate;
pub mod clv;
mod compare;
mod ensemble;
mod eval;
mod explain;
mod features;
mod irls;
mod labels;
mod logistic;
mod model;
mod persist;
mod registry;
pub mod report;
mod score;
mod table;
mod table_build;
#[cfg(feature = "import")]
mod table_csv;
pub mod trees;

pub use bgnbd_model::{BgNbdChurnParams, BgNbdModel, INPUT_AGE, INPUT_FREQUENCY, INPUT_RECENCY};
pub use calibrate::{CalibrationMethod, Calibrator};
pub use compare::{
    compare_and_keep, compare_models, lift_curve, CompareConfig, ComparisonReport, ComparisonRow,
    SkippedModel,
};
pub use ensemble::{BoostingModel, BoostingParams, ForestModel, ForestParams};
pub use eval::{
    average_precision, brier, calibration_table, confusion, evaluate, k_fold, log_loss, roc_auc,
    temporal_holdout, top_decile, CalibrationBin, Confusion, Metrics,
};
pub use explain::{explain_customer, explain_row, Explanation};
pub use features::{
    features_at, FeatureConfig, FeatureKind, FeatureMatrix, FeatureSchema, FeatureSpec,
};
pub use labels::{labelled_at, Dataset, LabelConfig, TemporalSplit, TrainingWindow};
pub use logistic::{ClassWeight, FitReport, LogisticModel, LogisticParams, NanPolicy, Solver};
pub use model::{
    check_input, check_training_data, AnyModel, ChurnModel, Contribution, ContributionScale,
    FitChurnModel, ModelKind, ModelSpec, TrainConfig, TrainedModel,
};
pub use persist::{model_from_json, model_to_json, LIBRARY_VERSION, MODEL_FORMAT_VERSION};
pub use registry::{
    ModelEntry, ModelRegistry, TrainingState, TrainingStatus, MODELS_NAMESPACE, STATUS_NAMESPACE,
};
pub use score::{
    customer_features, predict_customer, score_all, score_matrix, CustomerScore, RiskSegment,
    RiskThresholds,
};
pub use table::{EventTable, Transaction};
#[cfg(feature = "import")]
pub use table_csv::{read_transactions_csv, read_transactions_csv_lenient};
