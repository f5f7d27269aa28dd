//! Analyses: keyword arguments -> the core's request struct -> `Engine` -> report dict.
//!
//! Each call stores every accepted event first and merges what the store gained since
//! the last call (events written by other processes too), with the GIL released.
//! Adding an analysis is one method in `analytics.rs` calling [`analysis`].

use churn_core::engine::{Engine, SegmentExpr, SegmentRef};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::analytics::Analytics;
use crate::convert::{from_json, opt_timestamp, report, request, to_json};
use crate::error::IntoPy;

/// Build `Req` from `options`, run `run` on the refreshed engine without the GIL, and
/// return the report as plain Python objects. The `Analytics` methods call it with the
/// analysis name (for error messages) and the engine method.
pub(crate) fn analysis<'py, Req, Rep>(
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
    with_engine(a, py, |e| run(e, &req))
}

pub fn refresh<'py>(a: &Analytics, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    with_engine(a, py, |e| e.refresh())
}

pub fn memory_usage<'py>(a: &Analytics, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    with_engine(a, py, |e| Ok(e.memory_usage()))
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
