//! The security table of `server_security.rs`: every route and method the server must
//! have, with who may call it. Written out by hand (not taken from the router), so a
//! route added or dropped in the server without an entry here fails the test.

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key: holds no project data.
    Public,
    /// Write key (or secret key) of a project; data goes to that project.
    Ingest,
    /// Secret key (`Authorization: Bearer sk_...`) only.
    Read,
}
use Access::*;

pub const POSTHOG: &[&str] = &[
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

/// (method, path, access): one row per route and method. Keep in step with the router.
pub fn table() -> Vec<(&'static str, &'static str, Access)> {
    let mut t = vec![
        ("GET", "/", Public),
        ("GET", "/health", Public),
        ("GET", "/openapi.json", Public),
        ("POST", "/v1/track", Ingest),
        ("POST", "/v1/identify", Ingest),
        ("POST", "/v1/page", Ingest),
        ("POST", "/v1/screen", Ingest),
        ("POST", "/v1/group", Ingest),
        ("POST", "/v1/alias", Ingest),
        ("POST", "/v1/batch", Ingest),
        ("POST", "/v1/import", Ingest),
        ("POST", "/api/track", Ingest),
        ("POST", "/api/identify", Ingest),
        ("GET", "/api/project", Read),
        ("PATCH", "/api/project", Read),
        ("GET", "/api/metrics", Read),
        ("GET", "/api/active-users", Read),
        ("GET", "/api/retention", Read),
        ("GET", "/api/revenue", Read),
        ("GET", "/api/sessions", Read),
        ("GET", "/api/export", Read),
        ("GET", "/api/users/{id}", Read),
        ("DELETE", "/api/users/{id}", Read),
        ("GET", "/api/users/{id}/export", Read),
        ("GET", "/api/churn/scores", Read),
        ("POST", "/api/churn/train", Read),
        ("GET", "/api/churn/training-status", Read),
        ("POST", "/api/churn/predict", Read),
        ("POST", "/api/datasets", Read),
        ("GET", "/api/datasets/{id}", Read),
        ("GET", "/api/live", Read),
        ("GET", "/api/funnel", Read),
        ("GET", "/api/segments", Read),
        ("POST", "/api/segments", Read),
        ("GET", "/api/segments/{name}", Read),
        ("PUT", "/api/segments/{name}", Read),
        ("DELETE", "/api/segments/{name}", Read),
        ("GET", "/api/dashboard", Read),
    ];
    for p in POSTHOG {
        t.push(("GET", p, Ingest));
        t.push(("POST", p, Ingest));
    }
    t
}
