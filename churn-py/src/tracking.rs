//! The tracking methods of `Analytics`: `track`, `page`, `identify`, `alias`,
//! `track_batch` (in chunks: `batch.rs`) and the file imports (`import.rs`). Arguments
//! are converted by `message.rs`; each core call runs with the GIL released.

use churn_core::event::{Event, Identify};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::analytics::Analytics;
use crate::convert::{opt_object, opt_string, opt_timestamp, py_str, report};
use crate::error::IntoPy;
use crate::message::{fill_event, finish_event};

#[pymethods]
impl Analytics {
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
}
