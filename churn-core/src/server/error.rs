//! HTTP error responses with one stable JSON shape:
//! `{"error": {"code": "ERR_...", "message": "..."}}`.
//!
//! Codes reuse [`Error::code`] where one fits (`ERR_VALIDATION`, `ERR_NOT_FOUND`,
//! `ERR_QUEUE_FULL`, `ERR_STORAGE`, ...); transport-level refusals have their own:
//! [`ApiError`] documents each constructor's status and code. These are responses, not a
//! second error type of the library: every library failure arrives as an [`Error`] and
//! converts with `From`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::{Error, ValidationError};

/// An HTTP error response.
///
/// ```
/// use churn_core::server::ApiError;
/// let e = ApiError::unauthorized("unknown write key");
/// assert_eq!((e.status.as_u16(), e.code), (401, "ERR_UNAUTHORIZED"));
/// ```
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Any status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `ERR_VALIDATION` for an unreadable body (413 `ERR_PAYLOAD_TOO_LARGE` when it
    /// is too large).
    pub fn body(e: ValidationError) -> Self {
        match e {
            ValidationError::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "ERR_PAYLOAD_TOO_LARGE",
                format!("request body too large: {e}"),
            ),
            other => ApiError::new(StatusCode::BAD_REQUEST, "ERR_VALIDATION", other.to_string()),
        }
    }

    /// 401 `ERR_UNAUTHORIZED`: missing or unknown key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "ERR_UNAUTHORIZED", message)
    }

    /// 403 `ERR_FORBIDDEN_ORIGIN`: the project does not allow this browser origin.
    pub fn forbidden_origin(origin: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "ERR_FORBIDDEN_ORIGIN",
            format!("origin {origin:?} is not in this project's allowed origins"),
        )
    }

    /// 404 `ERR_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "ERR_NOT_FOUND", message)
    }

    /// 405 `ERR_METHOD_NOT_ALLOWED`.
    pub fn method_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "ERR_METHOD_NOT_ALLOWED",
            "this method is not allowed on this path (see /openapi.json)",
        )
    }

    /// 408 `ERR_TIMEOUT`: the client sent its body too slowly.
    pub fn timeout(secs: u64) -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "ERR_TIMEOUT",
            format!("the request body was not received within {secs} s"),
        )
    }

    /// 415 `ERR_UNSUPPORTED_MEDIA_TYPE`.
    pub fn media_type(found: &str) -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "ERR_UNSUPPORTED_MEDIA_TYPE",
            format!("Content-Type {found:?} is not accepted here; send application/json"),
        )
    }

    /// 429 `ERR_RATE_LIMITED` with `Retry-After`.
    pub fn rate_limited(what: &str, retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ERR_RATE_LIMITED",
                format!(
                    "too many requests for this {what}; retry after {} s",
                    retry_after.max(1)
                ),
            )
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        let (status, retry) = match &e {
            Error::Validation(ValidationError::TooLarge { .. }) => {
                return ApiError::body(match e {
                    Error::Validation(v) => v,
                    _ => ValidationError::MissingIdentity,
                })
            }
            Error::Validation(_) | Error::InvalidArgument { .. } => (StatusCode::BAD_REQUEST, None),
            Error::ConsentWithdrawn { .. } => (StatusCode::FORBIDDEN, None),
            Error::NotFound { .. } => (StatusCode::NOT_FOUND, None),
            Error::QueueFull { .. } | Error::Closed => (StatusCode::SERVICE_UNAVAILABLE, Some(1)),
            Error::Unavailable { retry_after, .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(retry_after.as_secs_f64().ceil().max(1.0) as u64),
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
            retry_after: retry,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let e = ApiError::body(ValidationError::TooLarge { size: 2, max: 1 });
        assert_eq!((e.status.as_u16(), e.code), (413, "ERR_PAYLOAD_TOO_LARGE"));
        let e = ApiError::body(ValidationError::InvalidJson { reason: "x".into() });
        assert_eq!((e.status.as_u16(), e.code), (400, "ERR_VALIDATION"));
        let e = ApiError::from(Error::QueueFull { capacity: 1 });
        assert_eq!(
            (e.status.as_u16(), e.code, e.retry_after),
            (503, "ERR_QUEUE_FULL", Some(1))
        );
        let e = ApiError::from(Error::Unavailable {
            message: "database restarting".into(),
            retry_after: std::time::Duration::from_millis(1500),
        });
        assert_eq!(
            (e.status.as_u16(), e.code, e.retry_after),
            (503, "ERR_STORAGE", Some(2))
        );
        let e = ApiError::from(Error::storage("disk"));
        assert_eq!((e.status.as_u16(), e.code), (500, "ERR_STORAGE"));
        let e = ApiError::from(Error::from(ValidationError::TooLarge { size: 2, max: 1 }));
        assert_eq!(e.status.as_u16(), 413);
        let r = ApiError::rate_limited("IP", 0).into_response();
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
