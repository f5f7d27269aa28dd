//! The privacy methods of `Analytics`: consent, export, deletion, anonymization and
//! retention purges, each a churn-core call with the GIL released.

use pyo3::prelude::*;

use crate::analytics::Analytics;
use crate::convert::{self, report};
use crate::error::IntoPy;

#[pymethods]
impl Analytics {
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
}
