//! Segment HTTP tracking API routes (`/v1/*`). See [`crate::server::decode::segment`].

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{accept, header_str, ingest_project, read_body, POST};
use crate::server::app::{AppState, Table};
pub(crate) use crate::server::decode::segment::Call;
use crate::server::decode::{native::json_content_type_ok, segment, RequestParts};
use crate::server::error::ApiError;
use crate::time::Timestamp;

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
    let received_at = Timestamp::now();
    let (parts, body) = req.into_parts();
    let ct = header_str(&parts.headers, header::CONTENT_TYPE);
    if !json_content_type_ok(ct) {
        return Err(ApiError::media_type(ct.unwrap_or("")));
    }
    let limits = &state.config.segment_limits;
    let bytes = read_body(state, &parts.headers, body, limits.max_request_bytes).await?;
    let rp = RequestParts {
        query: parts.uri.query(),
        content_type: ct,
        content_encoding: header_str(&parts.headers, header::CONTENT_ENCODING),
        authorization: header_str(&parts.headers, header::AUTHORIZATION),
        body: &bytes,
        received_at,
    };
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
    let report = accept(state, &project, decoded)?;
    Ok(Json(json!({
        "success": true,
        "accepted": report.accepted,
        "rejected": report.rejected,
    }))
    .into_response())
}
