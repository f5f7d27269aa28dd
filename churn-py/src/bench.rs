//! Bench-only hooks for `churn-py/bench/bench_track.py` (not part of the public API,
//! not in the stubs): the "same analysis from Rust" that the Python analyses are held
//! against, run in the same process so the bench can alternate Rust and Python calls.
//!
//! [`rust_analysis`] does the work a Rust program does for a fresh answer: store every
//! accepted event, merge what the store gained ([`crate::process::Core::engine`], the
//! same call the binding makes) and run the analysis through churn-core's API with the
//! request built in Rust. The report stays a Rust value (an opaque [`RustReport`]), so
//! the caller can drop it after stopping its clock, as it drops the Python dict.

use std::any::Any;
use std::time::Instant;

use churn_core::engine::{ActiveUsersRequest, Engine, Period, RetentionRequest, SessionsRequest};
use pyo3::prelude::*;

use crate::analytics::Analytics;
use crate::convert::report;
use crate::error::{validation, IntoPy};

/// Microseconds per conversion of analysis `name`'s report to Python objects (the
/// step a Python call adds after the analysis), median of `runs` conversions.
#[pyfunction]
#[pyo3(name = "_bench_report_us")]
pub fn report_us(py: Python<'_>, a: &Analytics, name: &str, runs: usize) -> PyResult<f64> {
    let core = a.core()?;
    let e = py.detach(|| core.engine()).py_err()?;
    let mut times = Vec::with_capacity(runs);
    macro_rules! time {
        ($r:expr) => {{
            let r = py.detach(|| $r).py_err()?;
            for _ in 0..runs.max(1) {
                let t = Instant::now();
                let v = report(py, &r)?;
                times.push(t.elapsed().as_secs_f64() * 1e6);
                drop(v);
            }
        }};
    }
    match name {
        "active_users" => time!(e.active_users(&ActiveUsersRequest::new().period(Period::Day))),
        "retention" => time!(e.retention(&RetentionRequest::new().period(Period::Week))),
        "sessions" => time!(e.sessions(&SessionsRequest::new())),
        _ => {
            return Err(validation(
                "name",
                "expected active_users, retention or sessions",
            ))
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// A core report kept as a Rust value (bench only).
#[pyclass(frozen, module = "churnlens._churnlens")]
pub struct RustReport {
    _report: Box<dyn Any + Send + Sync>,
}

/// Run analysis `name` (`active_users` by day, `retention` by week, `sessions`) on `a`
/// from Rust: flush, refresh, analysis, with the GIL released, as the Python methods do.
#[pyfunction]
#[pyo3(name = "_bench_rust_analysis")]
pub fn rust_analysis(py: Python<'_>, a: &Analytics, name: &str) -> PyResult<RustReport> {
    let core = a.core()?;
    fn boxed<T: Any + Send + Sync>(r: churn_core::Result<T>) -> churn_core::Result<RustReport> {
        r.map(|r| RustReport {
            _report: Box::new(r),
        })
    }
    let run: fn(&Engine) -> churn_core::Result<RustReport> = match name {
        "active_users" => |e| boxed(e.active_users(&ActiveUsersRequest::new().period(Period::Day))),
        "retention" => |e| boxed(e.retention(&RetentionRequest::new().period(Period::Week))),
        "sessions" => |e| boxed(e.sessions(&SessionsRequest::new())),
        _ => {
            return Err(validation(
                "name",
                "expected active_users, retention or sessions",
            ))
        }
    };
    py.detach(|| core.engine().and_then(|e| run(&e))).py_err()
}
