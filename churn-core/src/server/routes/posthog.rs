//! PostHog capture routes. See [`crate::server::decode::posthog`].

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{accept, header_str, ingest_project, read_body};
use crate::server::app::{AppState, Table};
use crate::server::decode::{posthog, RequestParts};
use crate::server::error::ApiError;
use crate::time::Timestamp;

/// The PostHog capture paths (each GET and POST), as the PostHog SDKs call them; the
/// router and the OpenAPI document both list these.
pub(crate) const PATHS: &[&str] = &[
    "/e",
    "/e/",
    "/i/v0/e",
    "/i/v0/e/",
    "/capture",
    "/capture/",
    "/track",
    "/track/",
    "/batch",
    "/batch/",
];

pub(crate) fn add_routes(mut t: Table, paths: &[&'static str]) -> Table {
    for &p in paths {
        t = t.add(p, &[Method::GET, Method::POST], handle);
    }
    t
}

async fn handle(State(state): State<AppState>, req: Request) -> Response {
    match run(&state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, req: Request) -> Result<Response, ApiError> {
    let received_at = Timestamp::now();
    let (parts, body) = req.into_parts();
    let limits = &state.config.posthog_limits;
    let bytes = read_body(state, &parts.headers, body, limits.max_request_bytes).await?;
    let rp = RequestParts {
        query: parts.uri.query(),
        content_type: header_str(&parts.headers, header::CONTENT_TYPE),
        content_encoding: header_str(&parts.headers, header::CONTENT_ENCODING),
        authorization: header_str(&parts.headers, header::AUTHORIZATION),
        body: &bytes,
        received_at,
    };
    let decoded = posthog::decode(&rp, limits).map_err(ApiError::body)?;
    let key = decoded
        .key
        .clone()
        .or_else(|| super::header_key(&parts.headers));
    let project = ingest_project(
        state,
        &parts.headers,
        key.as_deref(),
        "send the project token as api_key (or token) in the body",
    )?;
    let report = accept(state, &project, decoded).await?;
    if posthog::Query::parse(parts.uri.query()).beacon {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(json!({
        "status": 1,
        "accepted": report.accepted,
        "rejected": report.rejected,
    }))
    .into_response())
}
