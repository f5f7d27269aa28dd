//! Shared helpers of the server integration tests: a real server on 127.0.0.1 (port 0)
//! over a SQLite file, and a blocking HTTP client that does not treat 4xx as errors.
#![allow(dead_code)]

#[cfg(all(feature = "cli", feature = "postgres", unix))]
pub mod pg;
#[cfg(all(feature = "cli", unix))]
pub mod process;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use churn_core::server::{AppState, IngestConfig, NewKeys, ServerConfig, ServerHandle};
use churn_core::store::{SqliteStore, Store};
use serde_json::Value;

pub struct TestServer {
    pub server: Option<ServerHandle>,
    pub store: Arc<dyn Store>,
    pub keys: NewKeys,
    pub state: AppState,
    pub dir: tempfile::TempDir,
}

pub fn config() -> ServerConfig {
    ServerConfig::default()
        .ingest(IngestConfig::default().flush_interval(Duration::from_millis(20)))
}

pub fn start(config: ServerConfig) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("churn.db")).unwrap());
    let state = AppState::from_store(store.clone(), config).unwrap();
    let keys = state.projects.ensure_default().unwrap().unwrap();
    let server = ServerHandle::start(state.clone(), "127.0.0.1:0").unwrap();
    TestServer {
        server: Some(server),
        store,
        keys,
        state,
        dir,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.as_ref().unwrap().url(), path)
    }

    /// Stop the server (stores everything accepted).
    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().unwrap();
        }
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// Send any method; (status, JSON or Null, raw text).
pub fn call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value, String) {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body.to_vec()).unwrap();
    let mut resp = agent().run(req).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

/// POST `body` with headers; returns (status, body JSON or Null, headers).
pub fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value, ureq::http::HeaderMap) {
    let mut req = agent().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body).unwrap();
    finish(&mut resp)
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Value, ureq::http::HeaderMap) {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.call().unwrap();
    finish(&mut resp)
}

fn finish(resp: &mut ureq::http::Response<ureq::Body>) -> (u16, Value, ureq::http::HeaderMap) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, json, headers)
}

pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn basic(key: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

/// Assert the stable error shape and return the code.
pub fn error_code(v: &Value) -> String {
    let code = v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {v}"));
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    code.to_string()
}
