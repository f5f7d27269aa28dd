//! Node.js bindings for churnlens (the npm package `churnlens`), built with napi-rs.
//!
//! Thin by design: every function converts its JavaScript input into a churn-core type
//! ([`convert`]), calls churn-core and converts the serde result back into a plain
//! JavaScript object. Module names mirror the core: [`analytics`] (the tracker and its
//! privacy calls), [`engine`] (analyses), [`churn`] (train / score / explain / predict),
//! [`error`] (core errors to JavaScript errors with a `code`).
//!
//! Anything that can take time (flush, close, analyses, training, import, privacy
//! calls that touch the store) runs on the libuv thread pool as an napi `AsyncTask`
//! and returns a Promise; `track`, `identify`, `page`, `alias` and `trackBatch` only
//! validate and enqueue, so they are synchronous.
#![deny(clippy::unwrap_used)]
#![warn(missing_docs)]

pub mod analytics;
pub mod churn;
pub mod columnar;
pub mod convert;
pub mod engine;
pub mod error;
pub mod segment;
