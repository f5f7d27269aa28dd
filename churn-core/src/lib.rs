//! # churn-core
//!
//! Embeddable product analytics and churn prediction. Capture events with
//! [`Analytics`] (or write straight to a [`store::Store`]),
//! then analyse them: sessions, funnels, active users, retention, revenue, churn scores.
//!
//! ```
//! use churn_core::event::Event;
//! use churn_core::store::{MemoryStore, Store, StoreExt, ScanRequest, DEFAULT_PROJECT};
//!
//! let store = MemoryStore::new();
//! store.append(DEFAULT_PROJECT, &[Event::track("signup").user_id("u1").build()?])?;
//! assert_eq!(store.scan_all(DEFAULT_PROJECT, &ScanRequest::new())?.len(), 1);
//! # Ok::<(), churn_core::Error>(())
//! ```
#![warn(missing_docs)]
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[macro_use]
mod setters;

pub mod chart;
#[cfg(feature = "churn")]
pub mod churn;
#[cfg(feature = "cli")]
pub mod cli;
pub mod demo;
pub mod engine;
pub mod error;
pub mod event;
pub mod event_names;
pub mod import;
pub mod privacy;
#[cfg(feature = "server")]
pub mod server;
// Only the request decoders, for the fuzz targets (feature `decoders` without `server`).
#[cfg(all(feature = "decoders", not(feature = "server")))]
#[path = "server/decoders_only.rs"]
pub mod server;
pub mod store;
pub mod time;
#[cfg(feature = "tracker")]
pub mod tracker;

pub use error::{Error, Result, ValidationError};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
pub use time::{TimeRange, Timestamp};
#[cfg(feature = "tracker")]
pub use tracker::Analytics;
