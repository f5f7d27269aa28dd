//! Label-free customer-base models: BG/NBD (who is still buying, and how much) and
//! Gamma-Gamma (how much they spend), hence customer lifetime value.
//!
//! Pipeline: [`summarize`] a transaction log as of a calibration end, [`BgNbd::fit`] and
//! [`GammaGamma::fit`] the summaries, then score customers. Use
//! [`BgNbd::probability_no_purchase`] as the churn score, not `1 - P(alive)`.
//!
//! Special functions are hand-written: `ln Γ` by the Lanczos approximation (g = 7,
//! 9 terms, ~1e-15 relative error) and `2F1` by its series with a tail bound, so the
//! module needs no numeric crate.
//!
//! ```
//! use churn_core::churn::clv::*;
//! use churn_core::Timestamp;
//! let day = |d: u32| Timestamp::from_ymd(2024, 1 + (d / 28), 1 + d % 28).unwrap();
//! let mut log = Vec::new();
//! for c in 0..60u32 {
//!     for k in 0..(c % 5) {
//!         log.push(Transaction::purchase(format!("c{c}"), day(c % 20 + 9 * k), 10.0 + k as f64));
//!     }
//! }
//! let summaries = summarize(&log, &SummaryConfig::new(day(200)))?;
//! let bg = BgNbd::fit(&summaries, &BgNbdConfig::default())?;
//! let churn = bg.probability_no_purchase(&summaries[0], 30.0)?;
//! assert!((0.0..=1.0).contains(&churn));
//! # Ok::<(), churn_core::Error>(())
//! ```

mod bgnbd;
mod gamma_gamma;
pub mod optim;
pub mod special;
mod summary;

pub use bgnbd::{BgNbd, BgNbdConfig, BgNbdParams, BgNbdScore};
pub use gamma_gamma::{
    customer_lifetime_value, ClvConfig, GammaGamma, GammaGammaConfig, GammaGammaParams,
};
pub use optim::OptimizerConfig;
pub use summary::{
    summarize, summarize_with, CustomerSummary, SummaryConfig, TimeUnit, Transaction,
};

use serde::{Deserialize, Serialize};

/// How a maximum-likelihood fit went.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FitReport {
    /// The optimiser met its tolerances (fits that do not are returned as errors).
    pub converged: bool,
    /// Nelder-Mead iterations over all starts and restarts.
    pub iterations: usize,
    /// Objective evaluations.
    pub evaluations: usize,
    /// Final objective: mean negative log-likelihood plus penalty (BG/NBD: in the
    /// internal time scale where the oldest customer's age is 1, like `lifetimes`).
    pub objective: f64,
    /// Total log-likelihood at the optimum, in the data's units, without penalty.
    pub log_likelihood: f64,
    /// Customers the model was fitted on.
    pub n_customers: usize,
}
