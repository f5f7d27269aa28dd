//! The HTTP server (cargo feature `server`): churnlens' own ingestion API, drop-in
//! Segment and PostHog ingestion, projects with write and secret keys, per-IP and per-key
//! rate limits, CORS per project, an OpenAPI document, graceful shutdown.
//!
//! | Route | What |
//! |---|---|
//! | `POST /v1/{track,identify,page,screen,group,alias,batch,import}` | Segment HTTP tracking API ([`decode::segment`]) |
//! | `GET`/`POST /e`, `/i/v0/e`, `/capture`, `/track`, `/batch` (and with `/`) | PostHog capture API ([`decode::posthog`]) |
//! | `POST /api/track`, `POST /api/identify` | native API ([`decode::native`]) |
//! | `GET /health` | store status, queue depth |
//! | `GET /openapi.json` | OpenAPI 3.1 document of all of the above |
//! | `GET`/`PATCH /api/project` | the secret key's project; set allowed origins |
//! | `OPTIONS *` | CORS preflight |
//!
//! Errors are `{"error": {"code", "message"}}` ([`ApiError`]).
//!
//! ```
//! use std::sync::Arc;
//! use churn_core::server::{AppState, ServerConfig, ServerHandle};
//! use churn_core::store::{MemoryStore, Store};
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let state = AppState::from_store(store, ServerConfig::default())?;
//! let keys = state.projects.ensure_default()?.expect("new store");
//! let server = ServerHandle::start(state, "127.0.0.1:0")?;
//! // ... point an SDK at server.url() with keys.write_key ...
//! server.shutdown()?; // every accepted event is stored
//! # Ok::<(), churn_core::Error>(())
//! ```

pub mod app;
pub mod auth;
pub mod churn_jobs;
pub mod config;
pub mod dashboard;
pub mod datasets;
pub mod decode;
pub mod engines;
pub mod error;
pub mod headers;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod projects;
pub mod query;
pub mod ratelimit;
mod routes;
pub mod run;

pub use app::{build_app, route_table, AppState, RouteInfo};
pub use config::ServerConfig;
pub use error::ApiError;
pub use ingest::{Ingest, IngestConfig, TrackerIngest};
pub use projects::{NewKeys, Project, Projects};
pub use run::{run_until_signal, serve, shutdown_signal, ServerHandle};

/// The OpenAPI 3.1 document served at `/openapi.json`.
pub fn openapi_document() -> serde_json::Value {
    routes::openapi_document()
}
