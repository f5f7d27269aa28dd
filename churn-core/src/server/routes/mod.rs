//! Route handlers, one file per API family, and the helpers they share: reading a body
//! within limits and time, resolving the project of a key, handing messages to the
//! ingest and merging the per-message refusals.

mod admin;
mod analytics;
mod churn;
mod dashboard;
mod datasets;
mod live;
mod native;
mod posthog;
mod segment;
mod segments;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method};
use http_body_util::BodyExt;

use super::app::{AppState, Table};
use super::auth::{basic_username, bearer_token};
use super::decode::Decoded;
use super::error::ApiError;
use super::projects::Project;
use super::ratelimit::retry_after_secs;
use crate::error::Error;
use crate::event::{BatchReport, Rejected};

pub(crate) use admin::openapi_document;

/// The route table (paths and handlers).
pub(crate) fn table() -> Table {
    use segment::Call;
    let t = Table::new();
    let t = segment::add_routes(
        t,
        &[
            ("/v1/track", Call::Track),
            ("/v1/identify", Call::Identify),
            ("/v1/page", Call::Page),
            ("/v1/screen", Call::Screen),
            ("/v1/group", Call::Group),
            ("/v1/alias", Call::Alias),
            ("/v1/batch", Call::Batch),
            ("/v1/import", Call::Batch),
        ],
    );
    let t = posthog::add_routes(t, posthog::PATHS);
    let t = native::add_routes(t);
    let t = analytics::add_routes(t);
    let t = churn::add_routes(t);
    let t = datasets::add_routes(t);
    let t = live::add_routes(t);
    let t = segments::add_routes(t);
    let t = dashboard::add_routes(t);
    admin::add_routes(t)
}

/// A JSON ingestion request read up to its body: the prelude the native and Segment
/// routes share (content type checked, body read within `max_bytes`, receive time taken
/// before anything else).
pub(crate) struct JsonRequest {
    pub(crate) parts: axum::http::request::Parts,
    pub(crate) bytes: Bytes,
    pub(crate) received_at: crate::time::Timestamp,
}

impl JsonRequest {
    /// Check the content type and read the body.
    pub(crate) async fn read(
        state: &AppState,
        req: axum::extract::Request,
        max_bytes: usize,
    ) -> Result<Self, ApiError> {
        let received_at = crate::time::Timestamp::now();
        let (parts, body) = req.into_parts();
        let ct = header_str(&parts.headers, header::CONTENT_TYPE);
        if !super::decode::native::json_content_type_ok(ct) {
            return Err(ApiError::media_type(ct.unwrap_or("")));
        }
        let bytes = read_body(state, &parts.headers, body, max_bytes).await?;
        Ok(JsonRequest {
            parts,
            bytes,
            received_at,
        })
    }

    /// The request as the decoders see it.
    pub(crate) fn request_parts(&self) -> super::decode::RequestParts<'_> {
        let h = &self.parts.headers;
        super::decode::RequestParts {
            query: self.parts.uri.query(),
            content_type: header_str(h, header::CONTENT_TYPE),
            content_encoding: header_str(h, header::CONTENT_ENCODING),
            authorization: header_str(h, header::AUTHORIZATION),
            body: &self.bytes,
            received_at: self.received_at,
        }
    }
}

/// Read a body of at most `max` bytes within the configured timeout.
///
/// A body over the limit is refused with 413 (400 on Segment routes); up to
/// [`drain_cap`] bytes of it are still read and discarded first, so that the client,
/// still sending, gets the answer instead of a reset connection.
pub(crate) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = |size| ApiError::body(crate::ValidationError::TooLarge { size, max });
    let cap = drain_cap(max);
    if let Some(n) = declared.filter(|&n| n > max) {
        if n > cap {
            return Err(too_large(n));
        }
    }
    let timeout = state.config.body_timeout;
    let read = async {
        let mut body = body;
        let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(max));
        let mut seen = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ApiError::body(crate::ValidationError::Invalid {
                    field: "body".into(),
                    reason: format!("could not read the request body: {e}"),
                })
            })?;
            if let Ok(data) = frame.into_data() {
                seen += data.len();
                if seen > cap {
                    break;
                }
                if seen <= max {
                    buf.extend_from_slice(&data);
                }
            }
        }
        if seen > max {
            return Err(too_large(declared.unwrap_or(seen).max(seen)));
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::timeout(timeout.as_secs().max(1))),
    }
}

/// How much of an oversize body is read and discarded before answering: 4 times the
/// limit plus 1 MiB.
pub(crate) fn drain_cap(max: usize) -> usize {
    max.saturating_mul(4).saturating_add(1 << 20)
}

/// A header as text.
pub(crate) fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A key from `Authorization` (Basic user name or Bearer token).
pub(crate) fn header_key(h: &HeaderMap) -> Option<String> {
    let auth = header_str(h, header::AUTHORIZATION)?;
    basic_username(auth).or_else(|| bearer_token(auth).map(str::to_string))
}

/// The project an ingestion key belongs to, after the per-key rate limit and the
/// project's origin rule.
pub(crate) fn ingest_project(
    state: &AppState,
    headers: &HeaderMap,
    key: Option<&str>,
    hint: &str,
) -> Result<Project, ApiError> {
    let key = key.ok_or_else(|| ApiError::unauthorized(format!("no project key: {hint}")))?;
    let project = state
        .projects
        .for_ingest(key)
        .ok_or_else(|| ApiError::unauthorized("unknown project key"))?;
    if let Err(wait) = state.key_limiter.check(&project.id) {
        return Err(ApiError::rate_limited(
            "project key",
            retry_after_secs(wait),
        ));
    }
    if let Some(origin) = header_str(headers, header::ORIGIN) {
        if !project.allows_ingest_from(origin) {
            return Err(ApiError::forbidden_origin(origin));
        }
    }
    Ok(project)
}

/// The project of the secret key in `Authorization: Bearer`.
pub(crate) fn secret_project(state: &AppState, headers: &HeaderMap) -> Result<Project, ApiError> {
    let token = header_str(headers, header::AUTHORIZATION)
        .and_then(bearer_token)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "send the project's secret key as Authorization: Bearer <secret>",
            )
        })?;
    let p = state
        .projects
        .by_secret_key(token)
        .ok_or_else(|| ApiError::unauthorized("unknown secret key"))?;
    if let Err(wait) = state.key_limiter.check(&p.id) {
        return Err(ApiError::rate_limited(
            "project key",
            retry_after_secs(wait),
        ));
    }
    Ok(p)
}

/// Hand the decoded messages to the ingest and wait (without blocking a server thread)
/// until the accepted ones are committed: a 2xx means durable. Refusals from decoding
/// and from validation are merged by their index in the request. A full queue answers
/// 503; so does a store failure while waiting (what was accepted stays accepted and is
/// retried by the writer; a client's retry is deduplicated by message id).
pub(crate) async fn accept(
    state: &AppState,
    project: &Project,
    decoded: Decoded,
) -> Result<BatchReport, ApiError> {
    let mut positions = Vec::with_capacity(decoded.items.len());
    let mut inputs = Vec::with_capacity(decoded.items.len());
    let mut rejected = Vec::new();
    for (i, item) in decoded.items.into_iter().enumerate() {
        match item {
            Ok(m) => {
                positions.push(i);
                inputs.push(m);
            }
            Err(e) => rejected.push(Rejected::new(i, &Error::from(e))),
        }
    }
    let (mut report, stored) = if inputs.is_empty() {
        (BatchReport::default(), None)
    } else {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let done = Box::new(move |r| {
            let _ = tx.send(r);
        });
        (
            state.ingest.ingest_then(&project.id, inputs, done)?,
            Some(rx),
        )
    };
    for r in &mut report.rejected {
        r.index = positions.get(r.index).copied().unwrap_or(r.index);
    }
    report.rejected.extend(rejected);
    report.rejected.sort_by_key(|r| r.index);
    if report.rejected.iter().any(|r| r.code == "ERR_QUEUE_FULL") {
        let mut e = ApiError::from(Error::QueueFull {
            capacity: state.config.ingest.queue_capacity,
        });
        e.message = format!(
            "{}; {} messages of this request were accepted",
            e.message, report.accepted
        );
        return Err(e);
    }
    if let Some(rx) = stored {
        let r = rx
            .await
            .unwrap_or_else(|_| Err(Error::storage("the writer thread stopped")));
        if let Err(e) = r {
            return Err(ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "ERR_STORAGE",
                    format!(
                        "{} messages were accepted but are not stored yet: {e}; retry \
                         (a retry is deduplicated by message id)",
                        report.accepted
                    ),
                )
            });
        }
    }
    state.live.record(&project.id, report.accepted as u64);
    Ok(report)
}

/// Run `f` on a blocking thread (store reads, engine queries, training).
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> crate::error::Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::from(Error::storage(format!("task failed: {e}")))),
    }
}

/// Methods of ingestion routes.
pub(crate) const POST: &[Method] = &[Method::POST];
