//! `Analytics.track_batch`: a list of message dicts into the core's tracker, a chunk at
//! a time.
//!
//! Each chunk of [`CHUNK`] dicts is read into the core's `MessageInput`s with the GIL
//! held, then validated and queued by `churn_core::Analytics::track_batch` with the GIL
//! released. Chunks keep the working set small: converting a whole 200,000-message list
//! first held ~90 MB of inputs (and the core as much again of checked messages), fresh
//! pages the kernel had to fault in and zero on every call. The list is read as it was
//! at the call (a tuple snapshot), so other threads changing it meanwhile change
//! nothing. The report is the one a single core call would give: indexes into the whole
//! list, sorted.

use churn_core::event::{BatchReport, Rejected};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::analytics::Analytics;
use crate::error::{core_err, validation};
use crate::message::{batch_item, rejected_from};

/// Messages per core call (about 450 KB of inputs: stays in the CPU's caches).
const CHUNK: usize = 1024;

/// Validate and queue `messages` (a list of dicts); the batch report as the core's.
pub(crate) fn track_batch(
    a: &Analytics,
    py: Python<'_>,
    messages: &Bound<'_, PyAny>,
) -> PyResult<BatchReport> {
    let core = a.core()?;
    let list = messages
        .cast::<PyList>()
        .map_err(|_| validation("messages", "expected a list of dicts"))?;
    let items: Bound<'_, PyTuple> = list.to_tuple();
    let n = items.len();
    let mut report = BatchReport::default();
    let mut index_of = Vec::with_capacity(CHUNK.min(n));
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let mut inputs = Vec::with_capacity(end - start);
        index_of.clear();
        for i in start..end {
            let item = items.get_borrowed_item(i)?;
            match batch_item(&item, i) {
                Ok(m) => {
                    inputs.push(m);
                    index_of.push(i);
                }
                Err(e) => report.rejected.push(rejected_from(py, i, &e)),
            }
        }
        match py.detach(|| core.tracker.track_batch(inputs)) {
            Ok(r) => {
                report.accepted += r.accepted;
                report.duplicates += r.duplicates;
                report
                    .rejected
                    .extend(r.rejected.into_iter().map(|mut rej| {
                        rej.index = index_of.get(rej.index).copied().unwrap_or(rej.index);
                        rej
                    }));
            }
            // Nothing accepted yet: the call fails as a single core call would.
            Err(e) if report.accepted == 0 => return Err(core_err(e)),
            // Some messages were accepted (they will be stored): report the rest as
            // refused with the error (e.g. closed meanwhile by another thread), so the
            // caller learns exactly which ones to resend.
            Err(e) => {
                report
                    .rejected
                    .extend(index_of.iter().map(|&i| Rejected::new(i, &e)));
                report
                    .rejected
                    .extend((end..n).map(|i| Rejected::new(i, &e)));
                break;
            }
        }
        start = end;
    }
    report.rejected.sort_by_key(|x| x.index);
    Ok(report)
}
