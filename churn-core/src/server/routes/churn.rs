//! Churn routes (secret key required): scores of the latest run, background training
//! with its status, and one-customer prediction. See [`crate::server::churn_jobs`].

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::analytics::reply;
use super::{blocking, read_body, secret_project};
use crate::churn::{explain_customer, ModelRegistry, RiskSegment, RiskThresholds, Transaction};
use crate::server::app::{AppState, Table};
use crate::server::churn_jobs::{
    train_and_score, Reason, ScoredUser, TrainOptions, MODEL_NAME, REASONS_PER_USER,
};
use crate::server::decode::body::parse_json_object;
use crate::server::error::ApiError;
use crate::server::live::{send_webhook, CriticalAlert};
use crate::server::query::Query;
use crate::time::Timestamp;

/// Largest body of the churn POST routes: 8 MiB.
pub const CHURN_BODY_MAX: usize = 8 << 20;

pub(crate) fn add_routes(t: Table) -> Table {
    t.add("/api/churn/scores", &[Method::GET], scores)
        .add("/api/churn/train", &[Method::POST], train)
        .add(
            "/api/churn/training-status",
            &[Method::GET],
            training_status,
        )
        .add("/api/churn/predict", &[Method::POST], predict)
}

#[derive(Serialize)]
struct ScoresPage<'a> {
    model: &'a str,
    version: u32,
    as_of: Timestamp,
    scored_at: Timestamp,
    segments: &'a std::collections::BTreeMap<RiskSegment, u64>,
    segment: Option<RiskSegment>,
    total: usize,
    users: Vec<&'a ScoredUser>,
}

async fn scores(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let run = async {
        let p = secret_project(&state, &headers)?;
        let q = Query::parse(uri.query(), &["segment", "limit", "offset"])?;
        let segment = q.parsed::<RiskSegment>("segment")?;
        let limit = q.int("limit", 100, 1, 10_000)? as usize;
        let offset = q.int("offset", 0, 0, u32::MAX as u64)? as usize;
        let (store, churn) = (state.ingest.store().clone(), state.churn.clone());
        let pid = p.id.clone();
        let run = blocking(move || churn.latest(store.as_ref(), &pid))
            .await?
            .ok_or_else(|| {
                ApiError::not_found("no churn scores yet: POST /api/churn/train first")
            })?;
        let matching: Vec<&ScoredUser> = run
            .users
            .iter()
            .filter(|u| segment.is_none_or(|s| u.segment == s))
            .collect();
        let page = ScoresPage {
            model: &run.model,
            version: run.version,
            as_of: run.as_of,
            scored_at: run.scored_at,
            segments: &run.segments,
            segment,
            total: matching.len(),
            users: matching.into_iter().skip(offset).take(limit).collect(),
        };
        Ok(Json(page).into_response())
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}

/// Start a training run in the background (used by the route and `--demo`). Returns
/// `false` when one is already running for the project.
pub fn start_training(state: &AppState, project: &str, opts: TrainOptions) -> crate::Result<bool> {
    let store = state.ingest.store().clone();
    if !state.churn.begin(store.as_ref(), project)? {
        return Ok(false);
    }
    let (st, pid) = (state.clone(), project.to_string());
    std::thread::Builder::new()
        .name("churnlens-train".into())
        .spawn(move || {
            let store = st.ingest.store().clone();
            let _ = st.ingest.flush();
            let result = train_and_score(store.as_ref(), &pid, &opts).map(|(run, _)| run);
            let ok = result.as_ref().ok().cloned();
            let entered = st.churn.finish(store.as_ref(), &pid, result);
            if let (Some(run), Ok(users)) = (ok, entered) {
                if !users.is_empty() {
                    let alert = Arc::new(CriticalAlert::new(&pid, &run, users));
                    st.live.publish(alert.clone());
                    if let Some(url) = st.projects.get(&pid).and_then(|p| p.webhook_url) {
                        send_webhook(&url, &alert, st.config.webhook_attempts);
                    }
                }
            }
        })
        .map_err(|e| crate::Error::storage(format!("could not start training: {e}")))?;
    Ok(true)
}

async fn train(State(state): State<AppState>, req: Request) -> Response {
    let run = async {
        let (parts, body) = req.into_parts();
        let p = secret_project(&state, &parts.headers)?;
        Query::parse(parts.uri.query(), &[])?;
        let bytes = read_body(&state, &parts.headers, body, 64 * 1024).await?;
        let opts: TrainOptions = if bytes.iter().all(u8::is_ascii_whitespace) {
            TrainOptions::default()
        } else {
            parse_json_object(&bytes).map_err(ApiError::body)?
        };
        let st = state.clone();
        let pid = p.id.clone();
        let started = blocking(move || start_training(&st, &pid, opts)).await?;
        if !started {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "ERR_CONFLICT",
                "a training run is already in progress; see /api/churn/training-status",
            ));
        }
        let (store, churn) = (state.ingest.store().clone(), state.churn.clone());
        let status = blocking(move || churn.status(store.as_ref(), &p.id)).await?;
        Ok((StatusCode::ACCEPTED, Json(status)).into_response())
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}

async fn training_status(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    reply(
        async {
            let p = secret_project(&state, &headers)?;
            Query::parse(uri.query(), &[])?;
            let (store, churn) = (state.ingest.store().clone(), state.churn.clone());
            blocking(move || churn.status(store.as_ref(), &p.id))
                .await?
                .ok_or_else(|| ApiError::not_found("no training run yet: POST /api/churn/train"))
        }
        .await,
    )
}

/// `POST /api/churn/predict` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictBody {
    /// One customer's rows.
    transactions: Vec<Transaction>,
    /// Score as of this time (default: now).
    #[serde(default)]
    as_of: Option<Timestamp>,
}

/// `POST /api/churn/predict` answer.
#[derive(Debug, Serialize)]
struct Prediction {
    customer_id: String,
    probability: f64,
    segment: RiskSegment,
    reasons: Vec<Reason>,
    model: String,
    version: u32,
}

async fn predict(State(state): State<AppState>, req: Request) -> Response {
    reply(
        async {
            let (parts, body) = req.into_parts();
            let p = secret_project(&state, &parts.headers)?;
            Query::parse(parts.uri.query(), &[])?;
            let bytes = read_body(&state, &parts.headers, body, CHURN_BODY_MAX).await?;
            let body: PredictBody = parse_json_object(&bytes).map_err(ApiError::body)?;
            let store = state.ingest.store().clone();
            blocking(move || {
                let (version, model) = ModelRegistry::new(store.as_ref(), &p.id)
                    .load_latest(MODEL_NAME)
                    .map_err(|e| match e {
                        crate::Error::NotFound { .. } => crate::Error::NotFound {
                            what: "churn model (POST /api/churn/train first)".into(),
                        },
                        other => other,
                    })?;
                let as_of = body.as_of.unwrap_or_else(Timestamp::now);
                let e = explain_customer(
                    &model,
                    &body.transactions,
                    as_of,
                    REASONS_PER_USER,
                    &RiskThresholds::default(),
                )?;
                Ok(Prediction {
                    customer_id: e.customer_id,
                    probability: e.probability,
                    segment: e.segment,
                    reasons: e
                        .top_up
                        .into_iter()
                        .map(|c| Reason {
                            feature: c.feature,
                            value: c.value,
                            contribution: c.contribution,
                        })
                        .collect(),
                    model: model.name,
                    version,
                })
            })
            .await
        }
        .await,
    )
}
