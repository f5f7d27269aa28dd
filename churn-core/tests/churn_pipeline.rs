//! End to end: transactions -> features -> labels -> logistic -> calibration -> scores,
//! explanations, persistence and the registry; and every bad input as a clear error.

use std::collections::HashMap;

use churn_core::churn::*;
use churn_core::store::{MemoryStore, DEFAULT_PROJECT};
use churn_core::{Error, Timestamp};
use ndarray::Array2;

const DAY: i64 = 86_400_000;

fn t0() -> Timestamp {
    Timestamp::from_ymd(2026, 1, 1).unwrap()
}

fn rows() -> Vec<Transaction> {
    let mut rows = Vec::new();
    for c in 0..500u64 {
        // Staggered starts; every third customer stops after 15..75 days.
        let start = ((c * 37) % 120) as i64;
        let life = if c % 3 == 0 {
            15 + ((c * 13) % 60) as i64
        } else {
            400
        };
        let step = 2 + (c % 6) as i64;
        for d in (start..start + life).step_by(step as usize) {
            rows.push(Transaction::purchase(
                format!("c{c}"),
                t0().add_millis(d * DAY),
                5.0 + (c % 11) as f64,
            ));
            if c % 4 == 0 {
                rows.push(Transaction::event(
                    format!("c{c}"),
                    t0().add_millis(d * DAY + 3_600_000),
                    "login",
                ));
            }
        }
    }
    rows
}

fn trained() -> (EventTable, FeatureConfig, TrainedModel, TemporalSplit) {
    let cfg = FeatureConfig::default();
    let table = EventTable::from_transactions(&rows(), &cfg).unwrap();
    let cfg = cfg.resolved_for(&table);
    let split = TemporalSplit::new(
        t0().add_millis(150 * DAY),
        t0().add_millis(200 * DAY),
        LabelConfig::default(),
    )
    .unwrap();
    let train = split.train(&table, &cfg).unwrap();
    let model = TrainedModel::train_logistic(
        "churn",
        &train,
        &cfg,
        &TrainConfig::default(),
        &LogisticParams::default(),
    )
    .unwrap();
    (table, cfg, model, split)
}

#[test]
fn pipeline_scores_explains_saves_and_loads() {
    let (table, cfg, mut model, split) = trained();
    let test = split.test(&table, &cfg).unwrap();
    let m = evaluate(&model, &test, 0.5).unwrap();
    assert!(m.roc_auc > 0.75, "holdout AUC {}", m.roc_auc);
    model.metrics = Some(m);

    // Scoring every customer and one customer from their own rows agree.
    let as_of = split.test_cutoff();
    let all = score_all(&model, &table, as_of, &RiskThresholds::default()).unwrap();
    let mine: Vec<Transaction> = rows()
        .into_iter()
        .filter(|r| r.customer_id == "c4")
        .collect();
    let one = predict_customer(&model, &mine, as_of, &RiskThresholds::default()).unwrap();
    let same = all.iter().find(|s| s.customer_id == "c4").unwrap();
    assert!((one.probability - same.probability).abs() < 1e-12);
    assert_eq!(one.segment, same.segment);

    // Explanations: exact logit decomposition, ordered, and monotone-consistent.
    let e = explain_customer(&model, &mine, as_of, 3, &RiskThresholds::default()).unwrap();
    assert_eq!(e.scale, ContributionScale::Logit);
    assert!(e.top_up.len() <= 3 && e.top_down.len() <= 3);
    assert!(e
        .top_up
        .windows(2)
        .all(|w| w[0].contribution >= w[1].contribution));
    assert!(e
        .top_down
        .windows(2)
        .all(|w| w[0].contribution <= w[1].contribution));
    let AnyModel::Logistic(lr) = &model.model else {
        panic!("logistic expected")
    };
    let f = customer_features(&model, &mine, as_of).unwrap();
    let all_c = lr.explain(f.x.row(0)).unwrap();
    let logit = lr.intercept() + all_c.iter().map(|c| c.contribution).sum::<f64>();
    let raw = lr.predict_proba(f.x.view()).unwrap()[0];
    assert!((1.0 / (1.0 + (-logit).exp()) - raw).abs() < 1e-12);

    // Persistence round trip and registry.
    let bytes = model_to_json(&model).unwrap();
    assert_eq!(model_from_json(&bytes).unwrap(), model);
    let store = MemoryStore::new();
    let reg = ModelRegistry::new(&store, DEFAULT_PROJECT);
    assert_eq!(reg.save(&model).unwrap(), 1);
    let mut v2 = model.clone();
    v2.window.horizon_days = 14;
    assert_eq!(reg.save(&v2).unwrap(), 2);
    let (v, latest) = reg.load_latest("churn").unwrap();
    assert_eq!((v, latest.window.horizon_days), (2, 14));
    assert_eq!(reg.load("churn", 1).unwrap(), model);
    assert_eq!(
        reg.list().unwrap(),
        vec![
            ModelEntry {
                name: "churn".into(),
                version: 1
            },
            ModelEntry {
                name: "churn".into(),
                version: 2
            },
        ]
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let (table, cfg, model, _) = trained();
    // Empty data.
    let empty = EventTable::from_transactions(&[], &cfg).unwrap();
    let ds = labelled_at(&empty, t0(), &cfg, &LabelConfig::default()).unwrap();
    let e = TrainedModel::train_logistic(
        "m",
        &ds,
        &cfg,
        &TrainConfig::default(),
        &LogisticParams::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Model { .. }) && e.to_string().contains("empty"),
        "{e}"
    );
    // Single class: at a time where everybody is still active.
    let ds = labelled_at(
        &table,
        t0().add_millis(5 * DAY),
        &cfg,
        &LabelConfig::default(),
    )
    .unwrap();
    let single = Dataset::with_labels(
        ds.features.clone(),
        &ds.features
            .customers
            .iter()
            .map(|c| (c.clone(), false))
            .collect::<HashMap<_, _>>(),
        30,
    )
    .unwrap();
    let e = TrainedModel::train_logistic(
        "m",
        &single,
        &cfg,
        &TrainConfig::default().calibration(CalibrationMethod::None),
        &LogisticParams::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("single class"), "{e}");
    // Constant features only.
    let schema = model.schema().clone();
    let x = Array2::from_elem((10, schema.len()), 1.0);
    let y: Vec<bool> = (0..10).map(|i| i % 2 == 0).collect();
    let e = LogisticModel::fit(x.view(), &y, &schema, &LogisticParams::default()).unwrap_err();
    assert!(e.to_string().contains("constant"), "{e}");
    // NaN at scoring time.
    let mut x = Array2::zeros((1, schema.len()));
    x[[0, 3]] = f64::NAN;
    let e = model.predict_proba(x.view()).unwrap_err();
    assert!(e.to_string().contains("monetary"), "{e}");
    // Wrong model format version; garbage bytes.
    let text = String::from_utf8(model_to_json(&model).unwrap()).unwrap();
    let v9 = text.replacen("\"format_version\":1", "\"format_version\":9", 1);
    let e = model_from_json(v9.as_bytes()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ModelVersion {
                found: 9,
                supported: 1
            }
        ),
        "{e}"
    );
    assert_eq!(
        model_from_json(b"not json").unwrap_err().code(),
        "ERR_MODEL"
    );
    // A saved model whose schema does not match its feature config.
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["model"]["feature_config"]["plans"] = serde_json::json!(["gold"]);
    let e = model_from_json(json.to_string().as_bytes()).unwrap_err();
    assert_eq!(e.code(), "ERR_SCHEMA_MISMATCH");
    // A damaged file (coefficients cut short) is an error, not a panic when scoring.
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["model"]["model"]["params"]["coef"] = serde_json::json!([1.0]);
    let e = model_from_json(json.to_string().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");
    // Schema mismatch at scoring time: features built with another plan vocabulary.
    let other = features_at(
        &table,
        t0().add_millis(60 * DAY),
        &cfg.clone().plans(["gold"]),
    )
    .unwrap();
    let e = model.predict(&other).unwrap_err();
    assert_eq!(e.code(), "ERR_SCHEMA_MISMATCH");
    assert!(e.to_string().contains("the data 26"), "{e}");
    // Predict for nobody / for several customers / with nothing before T.
    let th = RiskThresholds::default();
    assert!(predict_customer(&model, &[], t0(), &th).is_err());
    let mixed = vec![
        Transaction::purchase("a", t0(), 1.0),
        Transaction::purchase("b", t0(), 1.0),
    ];
    assert!(predict_customer(&model, &mixed, t0().add_millis(DAY), &th).is_err());
    assert!(predict_customer(&model, &mixed[..1], t0(), &th).is_err());
    // Bad split and bad registry names.
    assert!(TemporalSplit::new(t0(), t0().add_millis(DAY), LabelConfig::default()).is_err());
    let store = MemoryStore::new();
    let mut bad = model.clone();
    bad.name = "a@b".into();
    assert!(ModelRegistry::new(&store, DEFAULT_PROJECT)
        .save(&bad)
        .is_err());
}
