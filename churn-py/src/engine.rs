//! Analyses: keyword arguments -> the core's request struct -> `Engine` -> report dict.
//!
//! Each call stores every accepted event first and merges what the store gained since
//! the last call (events written by other processes too), with the GIL released.
//! Adding an analysis is one method in the `#[pymethods]` block below calling
//! [`analysis`].

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

// ---- the analysis methods of `Analytics` ----------------------------------------------

#[pymethods]
impl Analytics {
    /// Merge events stored since the last analysis (other processes' too).
    fn refresh<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        refresh(self, py)
    }

    /// Memory held by the query engine.
    fn memory_usage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        memory_usage(self, py)
    }

    /// DAU / WAU / MAU, stickiness, new vs returning.
    #[pyo3(signature = (**options))]
    fn active_users<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        analysis(
            self,
            py,
            options,
            "active_users",
            |e, r: &ActiveUsersRequest| e.active_users(r),
        )
    }

    /// Sessions: counts, durations, bounces, entry and exit pages.
    #[pyo3(signature = (**options))]
    fn sessions<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        analysis(self, py, options, "sessions", |e, r: &SessionsRequest| {
            e.sessions(r)
        })
    }

    /// Retention cohorts.
    #[pyo3(signature = (**options))]
    fn retention<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        analysis(self, py, options, "retention", |e, r: &RetentionRequest| {
            e.retention(r)
        })
    }

    /// Revenue, ARPU, churn rate and LTV per period.
    #[pyo3(signature = (**options))]
    fn revenue<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        analysis(self, py, options, "revenue", |e, r: &RevenueRequest| {
            e.revenue(r)
        })
    }

    /// Funnel conversion: `steps=["signup", "purchase"]` (or step dicts), `window_ms`,
    /// `mode`, `exclusions`, `breakdown`, `segment`, `range`.
    #[pyo3(signature = (**options))]
    fn funnel<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        analysis(self, py, options, "funnel", |e, r: &FunnelRequest| {
            e.funnel(r)
        })
    }

    /// Paths after or before an event, as a Sankey graph.
    #[pyo3(signature = (**options))]
    fn paths<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        analysis(self, py, options, "paths", |e, r: &PathsRequest| e.paths(r))
    }

    /// The profile of one person (user id or anonymous id).
    #[pyo3(signature = (user_id, **options))]
    fn user_profile<'py>(
        &self,
        py: Python<'py>,
        user_id: &str,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let o = match options {
            Some(o) => o.copy()?,
            None => PyDict::new(py),
        };
        o.set_item("user_id", user_id)?;
        analysis(
            self,
            py,
            Some(&o),
            "user_profile",
            |e, r: &ProfileRequest| e.user_profile(r),
        )
    }

    /// Save a segment: `expr` is filter-language text or the JSON form as a dict.
    #[pyo3(signature = (name, expr, description=""))]
    fn create_segment<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        expr: &Bound<'py, PyAny>,
        description: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        create_segment(self, py, name, expr, description)
    }

    /// Saved segments.
    fn segments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        segments(self, py)
    }

    /// One saved segment (`NotFoundError` if missing).
    fn get_segment<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        get_segment(self, py, name)
    }

    /// Delete a saved segment; returns whether it existed.
    fn delete_segment<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        delete_segment(self, py, name)
    }

    /// Ids of the persons in a segment (a saved name or an expression dict), sorted.
    #[pyo3(signature = (segment, as_of=None))]
    fn segment_members<'py>(
        &self,
        py: Python<'py>,
        segment: &Bound<'py, PyAny>,
        as_of: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        segment_members(self, py, segment, as_of)
    }

    /// Size and statistics of a segment.
    fn segment_stats<'py>(
        &self,
        py: Python<'py>,
        segment: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        segment_stats(self, py, segment)
    }
}
