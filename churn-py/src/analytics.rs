//! `churnlens.Analytics`: the tracker and the query engine behind one Python object.
//!
//! Every method converts its arguments, releases the GIL (`py.detach`) around the
//! churn-core call and converts the result. The object is `Sync` and may be shared by
//! Python threads.
//!
//! Fork: a forked child inherits the object but not its writer thread. Each call
//! compares the process id with the one that built the core object; in a child a
//! file-backed instance reopens the same SQLite file (the parent's copy is leaked, never
//! flushed or closed, so the parent's queued events are written once, by the parent),
//! and an in-memory instance raises `ClosedError`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use churn_core::engine::{
    ActiveUsersRequest, FunnelRequest, PathsRequest, ProfileRequest, RetentionRequest,
    RevenueRequest, SessionsRequest,
};
use churn_core::event::{Event, Identify};
use churn_core::privacy::PrivacyPolicy;
use churn_core::tracker::Backpressure;
use churn_core::Error;
use parking_lot::RwLock;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use serde_json::Value;

use crate::convert::{self, opt_object, opt_string, opt_timestamp, py_str, report};
use crate::engine::analysis;
use crate::error::{core_err, raise, validation, IntoPy};
use crate::message::{fill_event, finish_event};
use crate::process::{Config, Core};

/// Product analytics and churn prediction over a SQLite file or in memory.
#[pyclass(frozen, subclass, module = "churnlens._churnlens")]
pub struct Analytics {
    core: RwLock<Arc<Core>>,
    config: Config,
}

fn backpressure(s: &str) -> PyResult<Backpressure> {
    s.parse().py_err()
}

impl Analytics {
    /// The core objects of this process (reopened after a fork), or `ClosedError`.
    pub(crate) fn core(&self) -> PyResult<Arc<Core>> {
        let core = self.core.read().clone();
        if core.pid != std::process::id() {
            return self.reopen_after_fork(core);
        }
        if core.closed.load(Ordering::Acquire) {
            return Err(core_err(Error::Closed));
        }
        Ok(core)
    }

    #[cold]
    fn reopen_after_fork(&self, inherited: Arc<Core>) -> PyResult<Arc<Core>> {
        let mut slot = self.core.write();
        if slot.pid == std::process::id() {
            return Ok(slot.clone());
        }
        if self.config.path.is_none() {
            return Err(raise(
                "ERR_CLOSED",
                "this in-memory Analytics was created before os.fork(); its data stays in \
                 the parent: create a new Analytics in the child (see the fork notes)",
            ));
        }
        let fresh = Arc::new(Core::new(&self.config).py_err()?);
        // The inherited copy has no writer thread: never flush, close or drop it.
        std::mem::forget(inherited);
        std::mem::forget(std::mem::replace(&mut *slot, fresh.clone()));
        Ok(fresh)
    }
}

#[pymethods]
impl Analytics {
    /// See `churnlens/_churnlens.pyi` for the documented signature.
    #[new]
    #[pyo3(signature = (path=None, *, project="default", batch_size=1000, flush_interval=1.0,
        queue_capacity=100_000, backpressure="block", privacy=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: Option<&Bound<'_, PyAny>>,
        project: &str,
        batch_size: usize,
        flush_interval: f64,
        queue_capacity: usize,
        backpressure: &str,
        privacy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let path = match path.filter(|p| !p.is_none()) {
            None => None,
            Some(p) => Some(
                py.import("os")?
                    .call_method1("fspath", (p,))?
                    .extract::<String>()?,
            ),
        };
        if !(flush_interval.is_finite() && flush_interval > 0.0 && flush_interval < 86_400.0) {
            return Err(validation(
                "flush_interval",
                "must be between 0 and 86400 seconds",
            ));
        }
        let privacy = match opt_object(privacy, "privacy")? {
            None => PrivacyPolicy::default(),
            Some(m) => convert::from_json(Value::Object(m), "privacy")?,
        };
        let config = Config {
            path,
            project: project.to_string(),
            batch_size,
            flush_interval: Duration::from_secs_f64(flush_interval),
            queue_capacity,
            backpressure: self::backpressure(backpressure)?,
            privacy,
        };
        let core = py.detach(|| Core::new(&config)).py_err()?;
        Ok(Analytics {
            core: RwLock::new(Arc::new(core)),
            config,
        })
    }

    /// An instance over a new in-memory store.
    #[staticmethod]
    #[pyo3(signature = (**kwargs))]
    fn in_memory(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        let cls = py.get_type::<Analytics>();
        Ok(cls.call((py.None(),), kwargs)?.unbind())
    }

    /// The SQLite file or PostgreSQL URL, or None in memory.
    #[getter]
    fn path(&self) -> Option<String> {
        self.config.path.clone()
    }

    /// The project events go to.
    #[getter]
    fn project(&self) -> String {
        self.config.project.clone()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.core.read().closed.load(Ordering::Acquire)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        match &self.config.path {
            Some(p) => format!(
                "Analytics({:?}, project={:?})",
                churn_core::store::postgres::redact_url(p),
                self.config.project
            ),
            None => format!("Analytics.in_memory(project={:?})", self.config.project),
        }
    }

    /// Record a `track` call.
    #[pyo3(signature = (event, user_id=None, anonymous_id=None, properties=None, timestamp=None,
        message_id=None, session_id=None, context=None))]
    #[allow(clippy::too_many_arguments)]
    fn track(
        &self,
        py: Python<'_>,
        event: &Bound<'_, PyString>,
        user_id: Option<&Bound<'_, PyString>>,
        anonymous_id: Option<&Bound<'_, PyString>>,
        properties: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
        message_id: Option<&Bound<'_, PyString>>,
        session_id: Option<&Bound<'_, PyString>>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let core = self.core()?;
        let event = py_str(event)?;
        let (user_id, anonymous_id) = (opt_string(user_id)?, opt_string(anonymous_id)?);
        let (message_id, session_id) = (opt_string(message_id)?, opt_string(session_id)?);
        let mut b = Event::track(event);
        b = fill_event(b, user_id, anonymous_id, message_id, session_id);
        b = finish_event(b, properties, timestamp, context)?;
        py.detach(|| core.tracker.track(b)).py_err()
    }

    /// Record a page view (`event` = `page_view`, `properties.path` = `path`).
    #[pyo3(signature = (path, user_id=None, anonymous_id=None, properties=None, timestamp=None,
        message_id=None, session_id=None, context=None))]
    #[allow(clippy::too_many_arguments)]
    fn page(
        &self,
        py: Python<'_>,
        path: &Bound<'_, PyString>,
        user_id: Option<&Bound<'_, PyString>>,
        anonymous_id: Option<&Bound<'_, PyString>>,
        properties: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
        message_id: Option<&Bound<'_, PyString>>,
        session_id: Option<&Bound<'_, PyString>>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let core = self.core()?;
        let path = py_str(path)?;
        let (user_id, anonymous_id) = (opt_string(user_id)?, opt_string(anonymous_id)?);
        let (message_id, session_id) = (opt_string(message_id)?, opt_string(session_id)?);
        let mut b = Event::page(path);
        b = fill_event(b, user_id, anonymous_id, message_id, session_id);
        b = finish_event(b, properties, timestamp, context)?;
        py.detach(|| core.tracker.page(b)).py_err()
    }

    /// Record an `identify` call.
    #[pyo3(signature = (user_id, traits=None, anonymous_id=None, timestamp=None))]
    fn identify(
        &self,
        py: Python<'_>,
        user_id: &str,
        traits: Option<&Bound<'_, PyAny>>,
        anonymous_id: Option<String>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let core = self.core()?;
        let mut b = Identify::user(user_id);
        if let Some(a) = anonymous_id {
            b = b.anonymous_id(a);
        }
        if let Some(traits) = opt_object(traits, "traits")? {
            for (k, v) in traits {
                b = b.trait_(k, v);
            }
        }
        if let Some(t) = opt_timestamp(timestamp, "timestamp")? {
            b = b.timestamp(t);
        }
        py.detach(|| core.tracker.identify(b)).py_err()
    }

    /// Record an `alias` call: `previous_id` is the same person as `user_id`.
    fn alias(&self, py: Python<'_>, user_id: &str, previous_id: &str) -> PyResult<()> {
        let core = self.core()?;
        py.detach(|| core.tracker.alias(user_id, previous_id))
            .py_err()
    }

    /// Validate and queue a list of message dicts; returns the batch report.
    fn track_batch<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = crate::batch::track_batch(self, py, messages)?;
        report(py, &r)
    }

    /// Wait until every accepted message is stored.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let core = self.core()?;
        py.detach(|| core.tracker.flush()).py_err()
    }

    /// Store everything accepted and stop; later calls raise `ClosedError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let core = match self.core() {
            Ok(c) => c,
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyException>(py) && self.closed() => {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        core.closed.store(true, Ordering::Release);
        py.detach(|| core.tracker.close()).py_err()
    }

    /// Tracker counters (accepted, stored, pending, inserted, duplicates, failures).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        report(py, &core.tracker.stats())
    }

    /// Import a CSV or NDJSON file; keywords are `ImportOptions` fields or column names.
    #[pyo3(signature = (path, **options))]
    fn import_file<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::import::import_file(self, py, path, options)
    }

    /// Import a CSV file (same as `import_file`).
    #[pyo3(signature = (path, **options))]
    fn import_csv<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::import::import_file(self, py, path, options)
    }

    // ---- privacy -------------------------------------------------------------------

    /// Record that `user_id` granted or withdrew consent.
    fn set_consent(&self, py: Python<'_>, user_id: &str, granted: bool) -> PyResult<()> {
        let core = self.core()?;
        py.detach(|| core.tracker.set_consent(user_id, granted))
            .py_err()
    }

    /// Everything stored about a person, as a dict.
    fn export_user<'py>(&self, py: Python<'py>, user_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let r = py.detach(|| core.tracker.export_user(user_id)).py_err()?;
        report(py, &r)
    }

    /// Delete everything about a person; returns the counts deleted.
    fn delete_user<'py>(&self, py: Python<'py>, user_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let r = py.detach(|| core.tracker.delete_user(user_id)).py_err()?;
        report(py, &r)
    }

    /// Replace a person by a new random id without PII; returns the new id.
    fn anonymize_user(&self, py: Python<'_>, user_id: &str) -> PyResult<String> {
        let core = self.core()?;
        py.detach(|| core.tracker.anonymize_user(user_id)).py_err()
    }

    /// Delete every event before `before`; returns how many.
    fn purge_before(&self, py: Python<'_>, before: &Bound<'_, PyAny>) -> PyResult<u64> {
        let core = self.core()?;
        let t = convert::timestamp(before, "before")?;
        py.detach(|| core.tracker.purge_before(t)).py_err()
    }

    // ---- analyses (engine.rs) ---------------------------------------------------------

    /// Merge events stored since the last analysis (other processes' too).
    fn refresh<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::engine::refresh(self, py)
    }

    /// Memory held by the query engine.
    fn memory_usage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::engine::memory_usage(self, py)
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
        crate::engine::create_segment(self, py, name, expr, description)
    }

    /// Saved segments.
    fn segments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::engine::segments(self, py)
    }

    /// One saved segment (`NotFoundError` if missing).
    fn get_segment<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        crate::engine::get_segment(self, py, name)
    }

    /// Delete a saved segment; returns whether it existed.
    fn delete_segment<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        crate::engine::delete_segment(self, py, name)
    }

    /// Ids of the persons in a segment (a saved name or an expression dict), sorted.
    #[pyo3(signature = (segment, as_of=None))]
    fn segment_members<'py>(
        &self,
        py: Python<'py>,
        segment: &Bound<'py, PyAny>,
        as_of: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::engine::segment_members(self, py, segment, as_of)
    }

    /// Size and statistics of a segment.
    fn segment_stats<'py>(
        &self,
        py: Python<'py>,
        segment: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::engine::segment_stats(self, py, segment)
    }

    // ---- churn (churn.rs) -------------------------------------------------------------

    /// Churn features of every customer as of `as_of`.
    #[pyo3(signature = (as_of, **features))]
    fn churn_features<'py>(
        &self,
        py: Python<'py>,
        as_of: &Bound<'py, PyAny>,
        features: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::churn::features(self, py, as_of, features)
    }

    /// Train a churn model on labels as of `as_of`.
    #[pyo3(signature = (as_of, *, name="churn", lookback_days=90, horizon_days=30,
        features=None, training=None, logistic=None))]
    #[allow(clippy::too_many_arguments)]
    fn train_churn(
        &self,
        py: Python<'_>,
        as_of: &Bound<'_, PyAny>,
        name: &str,
        lookback_days: u32,
        horizon_days: u32,
        features: Option<&Bound<'_, PyDict>>,
        training: Option<&Bound<'_, PyDict>>,
        logistic: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<crate::churn::ChurnModel> {
        let opts = crate::churn::TrainArgs {
            name,
            lookback_days,
            horizon_days,
            features,
            training,
            logistic,
        };
        crate::churn::train(self, py, as_of, opts)
    }

    /// Metrics of `model` on labels as of `as_of`.
    #[pyo3(signature = (model, as_of, *, threshold=0.5, lookback_days=90, horizon_days=30))]
    fn evaluate_churn<'py>(
        &self,
        py: Python<'py>,
        model: &crate::churn::ChurnModel,
        as_of: &Bound<'py, PyAny>,
        threshold: f64,
        lookback_days: u32,
        horizon_days: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::churn::evaluate(
            self,
            py,
            model,
            as_of,
            threshold,
            (lookback_days, horizon_days),
        )
    }

    /// Churn probability and risk segment of every customer as of `as_of` (default now).
    #[pyo3(signature = (model, as_of=None, *, thresholds=None))]
    fn churn_scores<'py>(
        &self,
        py: Python<'py>,
        model: &crate::churn::ChurnModel,
        as_of: Option<&Bound<'py, PyAny>>,
        thresholds: Option<(f64, f64, f64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::churn::scores(self, py, model, as_of, thresholds)
    }

    /// Why `model` gives `user_id` its score: the top features each way.
    #[pyo3(signature = (model, user_id, as_of=None, *, top=5, thresholds=None))]
    fn explain_churn<'py>(
        &self,
        py: Python<'py>,
        model: &crate::churn::ChurnModel,
        user_id: &str,
        as_of: Option<&Bound<'py, PyAny>>,
        top: usize,
        thresholds: Option<(f64, f64, f64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::churn::explain(self, py, model, user_id, as_of, top, thresholds)
    }
}
