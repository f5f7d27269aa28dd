//! Analyses: keyword arguments -> the core's request struct -> `Engine` -> report dict.
//!
//! Each call stores every accepted event first and merges what the store gained since
//! the last call (events written by other processes too), with the GIL released.
//! Adding an analysis is one function here and one method in `analytics.rs`.

use churn_core::engine::{
    ActiveUsersRequest, Engine, RetentionRequest, RevenueRequest, SessionsRequest,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::analytics::Analytics;
use crate::convert::{report, request};
use crate::error::IntoPy;

/// Build `Req` from `options`, run `run` on the refreshed engine without the GIL, and
/// return the report as plain Python objects.
fn analysis<'py, Req, Rep>(
    a: &Analytics,
    py: Python<'py>,
    options: Option<&Bound<'py, PyDict>>,
    what: &str,
    run: impl FnOnce(&Engine, &Req) -> churn_core::Result<Rep> + Send,
) -> PyResult<Bound<'py, PyAny>>
where
    Req: DeserializeOwned + Serialize + Default + Send + Sync,
    Rep: Serialize + Send,
{
    let req: Req = request(options, what)?;
    let core = a.core()?;
    let r = py
        .detach(|| core.engine().and_then(|e| run(&e, &req)))
        .py_err()?;
    report(py, &r)
}

pub fn active_users<'py>(
    a: &Analytics,
    py: Python<'py>,
    o: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    analysis(a, py, o, "active_users", |e, r: &ActiveUsersRequest| {
        e.active_users(r)
    })
}

pub fn sessions<'py>(
    a: &Analytics,
    py: Python<'py>,
    o: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    analysis(a, py, o, "sessions", |e, r: &SessionsRequest| e.sessions(r))
}

pub fn retention<'py>(
    a: &Analytics,
    py: Python<'py>,
    o: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    analysis(a, py, o, "retention", |e, r: &RetentionRequest| {
        e.retention(r)
    })
}

pub fn revenue<'py>(
    a: &Analytics,
    py: Python<'py>,
    o: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    analysis(a, py, o, "revenue", |e, r: &RevenueRequest| e.revenue(r))
}

pub fn refresh<'py>(a: &Analytics, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    let core = a.core()?;
    let r = py
        .detach(|| core.engine().and_then(|e| e.refresh()))
        .py_err()?;
    report(py, &r)
}

pub fn memory_usage<'py>(a: &Analytics, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    let core = a.core()?;
    let r = py
        .detach(|| core.engine().map(|e| e.memory_usage()))
        .py_err()?;
    report(py, &r)
}
