//! Per-batch outcome: how many messages were stored, how many were duplicates, and which
//! were refused (by index, with the reason).

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// One refused message of a batch.
///
/// ```
/// use churn_core::event::Rejected;
/// use churn_core::{Error, ValidationError};
/// let r = Rejected::new(3, &Error::from(ValidationError::MissingIdentity));
/// assert_eq!((r.index, r.code.as_str()), (3, "ERR_VALIDATION"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Position in the batch (0-based) or line number (1-based) for files.
    pub index: usize,
    /// Error code ([`Error::code`]).
    pub code: String,
    /// Human-readable reason.
    pub reason: String,
}

impl Rejected {
    /// Describe `error` for message `index`.
    pub fn new(index: usize, error: &Error) -> Self {
        let reason = match error {
            Error::Validation(v) => v.to_string(),
            other => other.to_string(),
        };
        Rejected {
            index,
            code: error.code().to_string(),
            reason,
        }
    }
}

/// What happened to a batch.
///
/// ```
/// use churn_core::event::BatchReport;
/// let r = BatchReport::default();
/// assert!(r.is_clean());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReport {
    /// Messages accepted (stored, or queued to be stored by the tracker).
    pub accepted: usize,
    /// Accepted messages whose `message_id` was already stored (kept once).
    pub duplicates: usize,
    /// Refused messages.
    pub rejected: Vec<Rejected>,
}

impl BatchReport {
    /// True when nothing was refused.
    pub fn is_clean(&self) -> bool {
        self.rejected.is_empty()
    }
}
