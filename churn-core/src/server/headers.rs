//! Security headers on every response: `X-Content-Type-Options: nosniff` (no MIME
//! sniffing of JSON, CSV or error bodies into HTML), `X-Frame-Options: DENY` (no framing,
//! against clickjacking; the dashboard's CSP also says `frame-ancestors 'none'`) and
//! `Referrer-Policy: no-referrer`.
//!
//! ```
//! use axum::http::HeaderMap;
//! use churn_core::server::headers::add_security_headers;
//! let mut h = HeaderMap::new();
//! add_security_headers(&mut h);
//! assert_eq!(h["x-content-type-options"], "nosniff");
//! assert_eq!(h["x-frame-options"], "DENY");
//! ```

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// Set the security headers on `h` (replacing any earlier value).
pub fn add_security_headers(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Middleware: [`add_security_headers`] on every response, errors included.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    add_security_headers(r.headers_mut());
    r
}
