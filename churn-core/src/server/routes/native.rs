//! churnlens' own ingestion routes: `POST /api/track`, `POST /api/identify`. See
//! [`crate::server::decode::native`].

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{accept, header_str, ingest_project, read_body, POST};
use crate::server::app::{AppState, Table};
use crate::server::decode::native::{self, json_content_type_ok, Endpoint};
use crate::server::decode::RequestParts;
use crate::server::error::ApiError;
use crate::time::Timestamp;

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
    let decoded = native::decode(ep, &rp, limits).map_err(ApiError::body)?;
    let key = super::header_key(&parts.headers).or_else(|| decoded.key.clone());
    let project = ingest_project(
        state,
        &parts.headers,
        key.as_deref(),
        "send Authorization: Bearer <write key> (or writeKey in the body)",
    )?;
    let single = decoded.single;
    let report = accept(state, &project, decoded)?;
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
