//! The axum application: shared state, the route table, and the middleware that applies
//! to every request (per-IP rate limit, CORS).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;

use super::churn_jobs::ChurnJobs;
use super::config::ServerConfig;
use super::datasets::Datasets;
use super::engines::Engines;
use super::error::ApiError;
use super::ingest::{Ingest, IngestConfig, TrackerIngest};
use super::live::Live;
use super::projects::Projects;
use super::ratelimit::{retry_after_secs, Limiter};
use super::routes;
use crate::error::Result;
use crate::store::Store;

/// Everything handlers share.
pub struct Shared {
    /// Settings.
    pub config: ServerConfig,
    /// Projects and keys.
    pub projects: Projects,
    /// Where messages go.
    pub ingest: Arc<dyn Ingest>,
    /// One query engine per project.
    pub engines: Arc<Engines>,
    /// Churn training status and scores.
    pub churn: Arc<ChurnJobs>,
    /// Dataset uploads.
    pub datasets: Arc<Datasets>,
    /// Live counters and alerts.
    pub live: Arc<Live>,
    pub(crate) ip_limiter: Limiter<IpAddr>,
    pub(crate) key_limiter: Limiter<String>,
}

/// Cheap-to-clone handle on [`Shared`].
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State from parts.
    pub fn new(config: ServerConfig, projects: Projects, ingest: Arc<dyn Ingest>) -> Self {
        AppState(Arc::new(Shared {
            engines: Arc::new(Engines::new(ingest.store().clone(), config.engine_refresh)),
            churn: Arc::new(ChurnJobs::default()),
            datasets: Arc::new(Datasets::default()),
            live: Arc::new(Live::default()),
            ip_limiter: Limiter::new(config.ip_rate),
            key_limiter: Limiter::new(config.key_rate),
            config,
            projects,
            ingest,
        }))
    }

    /// State over a store: projects loaded from it, one tracker per project.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use churn_core::server::{AppState, ServerConfig, build_app};
    /// use churn_core::store::MemoryStore;
    /// let state = AppState::from_store(Arc::new(MemoryStore::new()), ServerConfig::default())?;
    /// let _router = build_app(state);
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn from_store(store: Arc<dyn Store>, config: ServerConfig) -> Result<Self> {
        let projects = Projects::load(store.clone())?;
        let ingest: Arc<dyn Ingest> = Arc::new(TrackerIngest::new(store, config.ingest.clone()));
        Ok(AppState::new(config, projects, ingest))
    }

    /// The tracker settings in use.
    pub fn ingest_config(&self) -> &IngestConfig {
        &self.config.ingest
    }
}

/// A route of the table: path and methods (the OpenAPI test reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// Path in axum / OpenAPI syntax.
    pub path: &'static str,
    /// Methods served (OPTIONS preflights are answered for every path by the CORS layer).
    pub methods: Vec<Method>,
}

pub(crate) struct Table {
    router: Router<AppState>,
    pub(crate) routes: Vec<RouteInfo>,
}

fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        Method::HEAD => MethodFilter::HEAD,
        _ => MethodFilter::GET,
    }
}

impl Table {
    pub(crate) fn new() -> Self {
        Table {
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    /// Serve `path` with `handler` for each of `methods`.
    pub(crate) fn add<H, T>(mut self, path: &'static str, methods: &[Method], handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let mut mr: MethodRouter<AppState> = MethodRouter::new();
        for m in methods {
            mr = mr.on(filter(m), handler.clone());
        }
        self.router = self.router.route(path, mr);
        self.routes.push(RouteInfo {
            path,
            methods: methods.to_vec(),
        });
        self
    }
}

/// Every route the app serves.
pub fn route_table() -> Vec<RouteInfo> {
    routes::table().routes
}

/// The application for `state`: every route, JSON 404/405, per-IP rate limit, CORS and
/// the security headers ([`super::headers`]).
pub fn build_app(state: AppState) -> Router {
    routes::table()
        .router
        .fallback(|| async { ApiError::not_found("no such route (see /openapi.json)") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn(super::headers::security_headers))
        .with_state(state)
}

/// The client's IP: the socket peer, or the first `X-Forwarded-For` entry when trusted.
pub(crate) fn client_ip(state: &AppState, req: &Request) -> Option<IpAddr> {
    if state.config.trust_forwarded_for {
        let fwd = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok());
        if fwd.is_some() {
            return fwd;
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Whether a path reads data (secret key) rather than ingesting.
pub(crate) fn is_read_path(path: &str) -> bool {
    path.starts_with("/api/") && path != "/api/track" && path != "/api/identify"
}

fn origin_of(h: &HeaderMap) -> Option<String> {
    h.get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Per-IP rate limit, CORS preflights, and `Access-Control-Allow-Origin` on ingestion
/// responses for origins some project accepts.
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(ip) = client_ip(&state, &req) {
        if let Err(wait) = state.ip_limiter.check(&ip) {
            return ApiError::rate_limited("IP address", retry_after_secs(wait)).into_response();
        }
    }
    let origin = origin_of(req.headers());
    let read = is_read_path(req.uri().path());
    let allowed = origin.as_deref().filter(|o| {
        if read {
            state.projects.any_allows_read_from(o)
        } else {
            state.projects.any_allows_ingest_from(o)
        }
    });
    if req.method() == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        if let Some(o) = allowed {
            let h = r.headers_mut();
            set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
            set(
                h,
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PATCH, DELETE, OPTIONS",
            );
            let asked = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("content-type, content-encoding, authorization");
            set(h, header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
            set(h, header::ACCESS_CONTROL_MAX_AGE, "600");
            if read {
                set(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
            }
        }
        set(r.headers_mut(), header::VARY, "Origin");
        return r;
    }
    let mut r = next.run(req).await;
    if let Some(o) = allowed {
        let h = r.headers_mut();
        if !read && !h.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        }
        set(h, header::VARY, "Origin");
    }
    r
}

pub(crate) fn set(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}
