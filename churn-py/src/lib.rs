//! churnlens for Python: a thin pyo3 layer over churn-core.
//!
//! Modules mirror the core: `analytics` (the Python class; `process` the churn-core objects
//! behind it, `message` its event arguments),
//! `engine` (analyses), `churn` (models), `import`, `convert` (Python <-> serde JSON),
//! `error` (core errors -> exception classes). No analytics logic lives here.
#![deny(clippy::unwrap_used)]

mod analytics;
mod batch;
mod bench;
mod churn;
mod convert;
mod engine;
mod error;
mod import;
mod message;
mod process;
mod pyser;

use pyo3::prelude::*;

/// The native module; the Python package `churnlens` re-exports it.
#[pymodule]
fn _churnlens(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<analytics::Analytics>()?;
    m.add_class::<churn::ChurnModel>()?;
    // Bench hooks: set as attributes, not added to `__all__` (not public API, no stubs).
    m.setattr(
        "_bench_rust_analysis",
        wrap_pyfunction!(bench::rust_analysis, m)?,
    )?;
    m.setattr("_bench_report_us", wrap_pyfunction!(bench::report_us, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
