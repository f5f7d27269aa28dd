//! Segment HTTP tracking API routes (`/v1/*`). See [`crate::server::decode::segment`].

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{accept, ingest_project, JsonRequest, POST};
use crate::server::app::{AppState, Table};
use crate::server::decode::segment;
pub(crate) use crate::server::decode::segment::Call;
use crate::server::error::ApiError;

pub(crate) fn add_routes(mut t: Table, routes: &[(&'static str, Call)]) -> Table {
    for &(path, call) in routes {
        t = t.add(path, POST, move |state: State<AppState>, req: Request| {
            handle(state, call, req)
        });
    }
    t
}

async fn handle(State(state): State<AppState>, call: Call, req: Request) -> Response {
    match run(&state, call, req).await {
        Ok(r) => r,
        Err(e) => {
            // Segment answers 400 for bodies over its limits.
            let mut e = e;
            if e.status == StatusCode::PAYLOAD_TOO_LARGE {
                e.status = StatusCode::BAD_REQUEST;
            }
            e.into_response()
        }
    }
}

async fn run(state: &AppState, call: Call, req: Request) -> Result<Response, ApiError> {
    let limits = &state.config.segment_limits;
    let request = JsonRequest::read(state, req, limits.max_request_bytes).await?;
    let parts = &request.parts;
    let rp = request.request_parts();
    let decoded = segment::decode(call, &rp, limits).map_err(ApiError::body)?;
    let key = decoded
        .key
        .clone()
        .or_else(|| super::header_key(&parts.headers));
    let project = ingest_project(
        state,
        &parts.headers,
        key.as_deref(),
        "send HTTP Basic auth with the write key as user name, or writeKey in the body",
    )?;
    let report = accept(state, &project, decoded).await?;
    Ok(Json(json!({
        "success": true,
        "accepted": report.accepted,
        "rejected": report.rejected,
    }))
    .into_response())
}
