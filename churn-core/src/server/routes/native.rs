//! churnlens' own ingestion routes: `POST /api/track`, `POST /api/identify`. See
//! [`crate::server::decode::native`].

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{accept, ingest_project, JsonRequest, POST};
use crate::server::app::{AppState, Table};
use crate::server::decode::native::{self, Endpoint};
use crate::server::error::ApiError;

pub(crate) fn add_routes(t: Table) -> Table {
    t.add("/api/track", POST, |s: State<AppState>, r: Request| {
        handle(s, Endpoint::Track, r)
    })
    .add("/api/identify", POST, |s: State<AppState>, r: Request| {
        handle(s, Endpoint::Identify, r)
    })
}

async fn handle(State(state): State<AppState>, ep: Endpoint, req: Request) -> Response {
    match run(&state, ep, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, ep: Endpoint, req: Request) -> Result<Response, ApiError> {
    let limits = &state.config.segment_limits;
    let request = JsonRequest::read(state, req, limits.max_request_bytes).await?;
    let parts = &request.parts;
    let rp = request.request_parts();
    let decoded = native::decode(ep, &rp, limits).map_err(ApiError::body)?;
    let key = super::header_key(&parts.headers).or_else(|| decoded.key.clone());
    let project = ingest_project(
        state,
        &parts.headers,
        key.as_deref(),
        "send Authorization: Bearer <write key> (or writeKey in the body)",
    )?;
    let single = decoded.single;
    let report = accept(state, &project, decoded).await?;
    if single && report.accepted == 0 {
        if let Some(r) = report.rejected.first() {
            return Err(match r.code.as_str() {
                "ERR_CONSENT" => {
                    ApiError::new(StatusCode::FORBIDDEN, "ERR_CONSENT", r.reason.clone())
                }
                _ => ApiError::new(StatusCode::BAD_REQUEST, "ERR_VALIDATION", r.reason.clone()),
            });
        }
    }
    Ok(Json(report).into_response())
}
