//! churnlens for Python: a thin pyo3 layer over churn-core.
//!
//! Modules mirror the core: `analytics` (the Python class and its lifecycle; `process` the
//! churn-core objects behind it), its methods by topic: `tracking` (with `message` for
//! event arguments and `batch` for `track_batch`), `privacy`, `engine` (analyses),
//! `churn` (models), `import`; then `convert` (Python -> serde JSON, times), `pyser`
//! (reports -> Python objects), `error` (core errors -> exception classes), `bench`
//! (bench-only hooks). No analytics logic lives here.
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
mod privacy;
mod process;
mod pyser;
mod tracking;

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
