//! churn-core errors as JavaScript errors.
//!
//! A core [`Error`](churn_core::Error) becomes an napi error whose message starts with
//! the core's code in brackets (`[ERR_VALIDATION] validation failed: ...`). The package
//! entry (`index.js`) turns it into an instance of the matching exported class
//! (`ValidationError`, `StorageError`, ... all extending `ChurnError`) with a `code`
//! property equal to [`churn_core::Error::code`], for synchronous throws and for
//! rejected Promises alike. Doing the class mapping in JavaScript keeps one mapping
//! table for both paths (napi's `AsyncTask` rejects with a plain napi error).

use napi::Status;

/// Convert a churn-core error into an napi error carrying the core's code.
pub fn to_napi(e: churn_core::Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("[{}] {e}", e.code()))
}

/// Extension: map a churn-core result into an napi result.
pub trait IntoNapi<T> {
    /// Map the error with [`to_napi`].
    fn napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for churn_core::Result<T> {
    fn napi(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}

/// An `ERR_INVALID_ARGUMENT` error for a bad argument of a binding call.
pub fn invalid(name: &str, reason: impl Into<String>) -> napi::Error {
    to_napi(churn_core::Error::invalid(name, reason))
}
