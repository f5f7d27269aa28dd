//! Analyses: keyword arguments -> the core's request struct -> `Engine` -> report dict.
//!
//! Each call stores every accepted event first and merges what the store gained since
//! the last call (events written by other processes too), with the GIL released.
//! Adding an analysis is one function here and one method in `analytics.rs`.

use churn_core::engine::{
    ActiveUsersRequest, Engine, FunnelRequest, PathsRequest, ProfileRequest, RetentionRequest,
    RevenueRequest, SegmentExpr, SegmentRef, SessionsRequest,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::analytics::Analytics;
use crate::convert::{from_json, opt_timestamp, report, request, to_json};
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

pub fn funnel<'py>(
    a: &Analytics,
    py: Python<'py>,
    o: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    analysis(a, py, o, "funnel", |e, r: &FunnelRequest| e.funnel(r))
}

pub fn paths<'py>(
    a: &Analytics,
    py: Python<'py>,
    o: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    analysis(a, py, o, "paths", |e, r: &PathsRequest| e.paths(r))
}

pub fn user_profile<'py>(
    a: &Analytics,
    py: Python<'py>,
    o: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    analysis(a, py, o, "user_profile", |e, r: &ProfileRequest| {
        e.user_profile(r)
    })
}

/// A segment argument: a saved segment's name (`str`) or an expression (`dict`).
fn segment_ref(v: &Bound<'_, PyAny>) -> PyResult<SegmentRef> {
    from_json(to_json(v, "segment")?, "segment")
}

/// A segment expression: filter-language text or the JSON form as a `dict`.
fn segment_expr(v: &Bound<'_, PyAny>) -> PyResult<SegmentExpr> {
    if let Ok(s) = v.extract::<String>() {
        return SegmentExpr::parse(&s).py_err();
    }
    from_json(to_json(v, "expr")?, "expr")
}

/// Run `f` on the refreshed engine without the GIL and convert its result.
fn with_engine<'py, R: Serialize + Send>(
    a: &Analytics,
    py: Python<'py>,
    f: impl FnOnce(&Engine) -> churn_core::Result<R> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let core = a.core()?;
    let r = py.detach(|| core.engine().and_then(|e| f(&e))).py_err()?;
    report(py, &r)
}

pub fn create_segment<'py>(
    a: &Analytics,
    py: Python<'py>,
    name: &str,
    expr: &Bound<'py, PyAny>,
    description: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let expr = segment_expr(expr)?;
    with_engine(a, py, |e| e.segments().create(name, expr, description))
}

pub fn segments<'py>(a: &Analytics, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    with_engine(a, py, |e| e.segments().list())
}

pub fn get_segment<'py>(a: &Analytics, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    with_engine(a, py, |e| e.segments().get(name))
}

pub fn delete_segment<'py>(
    a: &Analytics,
    py: Python<'py>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    with_engine(a, py, |e| e.segments().delete(name))
}

pub fn segment_members<'py>(
    a: &Analytics,
    py: Python<'py>,
    segment: &Bound<'py, PyAny>,
    as_of: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let s = segment_ref(segment)?;
    let t = opt_timestamp(as_of, "as_of")?;
    with_engine(a, py, |e| e.segment_members_at(&s, t))
}

pub fn segment_stats<'py>(
    a: &Analytics,
    py: Python<'py>,
    segment: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let s = segment_ref(segment)?;
    with_engine(a, py, |e| e.segment_stats(&s))
}
