//! `import_file` / `import_csv`: keyword arguments -> `ImportOptions` -> core import.
//!
//! Column keywords (`user_id="customer"`, `timestamp="day"`, ...) fill
//! `ImportOptions.columns`; the other keywords are `ImportOptions` fields. The project is
//! always the `Analytics` object's own. Queued events are flushed first.

use churn_core::import::{import_file as core_import, ColumnMapping, ImportOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::analytics::Analytics;
use crate::convert::{report, request};
use crate::error::IntoPy;

const COLUMN_KEYS: &[&str] = &[
    "user_id",
    "anonymous_id",
    "timestamp",
    "event",
    "amount",
    "message_id",
    "session_id",
];

pub fn import_file<'py>(
    a: &Analytics,
    py: Python<'py>,
    path: &Bound<'py, PyAny>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let path: String = py
        .import("os")?
        .call_method1("fspath", (path,))?
        .extract()?;
    let columns = PyDict::new(py);
    let rest = PyDict::new(py);
    if let Some(o) = options {
        for (k, v) in o.iter() {
            let key: String = k.extract()?;
            let target = if COLUMN_KEYS.contains(&key.as_str()) {
                &columns
            } else {
                &rest
            };
            target.set_item(key, v)?;
        }
    }
    let mut opts: ImportOptions = request(Some(&rest), "import options")?;
    let mapping: ColumnMapping = request(Some(&columns), "import columns")?;
    if COLUMN_KEYS
        .iter()
        .any(|k| columns.contains(k).unwrap_or(false))
    {
        opts.columns = mapping;
    }
    let core = a.core()?;
    opts.project = core.tracker.project().to_string();
    let r = py
        .detach(|| {
            core.tracker.flush()?;
            core_import(core.tracker.store().as_ref(), &path, &opts, &mut |_| {})
        })
        .py_err()?;
    report(py, &r)
}
