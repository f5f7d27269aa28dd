//! churn-core errors as Python exceptions.
//!
//! Each [`Error::code`] has its own exception class, defined in
//! `churnlens/errors.py` under the base `churnlens.ChurnError` (so classes can also
//! derive from the matching built-in: `ValidationError` is a `ValueError`,
//! `NotFoundError` a `LookupError`, `FileError` an `OSError`). Every instance carries
//! `.code` (the core's `ERR_*` code); the message is the core's `Display` text.

use churn_core::{Error, ValidationError};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

static BY_CODE: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// The exception class for `code` (`ChurnError` for an unknown code).
fn class_for<'py>(py: Python<'py>, code: &str) -> PyResult<Bound<'py, PyAny>> {
    let map = BY_CODE.get_or_try_init(py, || -> PyResult<Py<PyDict>> {
        let m = py.import("churnlens.errors")?.getattr("BY_CODE")?;
        Ok(m.cast_into::<PyDict>()?.unbind())
    })?;
    let map = map.bind(py);
    match map.get_item(code)? {
        Some(c) => Ok(c),
        None => py.import("churnlens.errors")?.getattr("ChurnError"),
    }
}

/// A churn-core error as the matching Python exception.
pub fn core_err(e: Error) -> PyErr {
    let code = e.code();
    let msg = e.to_string();
    Python::attach(|py| match class_for(py, code) {
        Ok(cls) => match cls.call1((msg.clone(),)) {
            Ok(inst) => PyErr::from_value(inst),
            Err(err) => err,
        },
        Err(_) => PyRuntimeError::new_err(format!("[{code}] {msg}")),
    })
}

/// A `ValidationError` about `field`.
pub fn validation(field: &str, reason: impl Into<String>) -> PyErr {
    core_err(Error::from(ValidationError::Invalid {
        field: field.to_string(),
        reason: reason.into(),
    }))
}

/// Map a core result.
pub trait IntoPy<T> {
    /// Convert the error side to a Python exception.
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for churn_core::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(core_err)
    }
}

/// The exception class of `code` with a message of the binding's own.
pub fn raise(code: &str, msg: &str) -> PyErr {
    Python::attach(
        |py| match class_for(py, code).and_then(|c| c.call1((msg,))) {
            Ok(inst) => PyErr::from_value(inst),
            Err(err) => err,
        },
    )
}
