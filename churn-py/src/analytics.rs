//! `churnlens.Analytics`: the tracker and the query engine behind one Python object.
//!
//! This module holds the class, its construction, lifecycle (`flush`, `close`, context
//! manager) and fork handling. Its other methods sit with the code they call, one
//! `#[pymethods]` block each (pyo3's `multiple-pymethods`): `tracking.rs` (track, page,
//! identify, alias, batches, imports), `privacy.rs`, `engine.rs` (analyses, segments),
//! `churn.rs` (models).
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

use churn_core::privacy::PrivacyPolicy;
use churn_core::tracker::Backpressure;
use churn_core::Error;
use parking_lot::RwLock;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde_json::Value;

use crate::convert::{self, opt_object, report};
use crate::error::{core_err, raise, validation, IntoPy};
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
}
