//! Churn prediction: customer-base models (BG/NBD, Gamma-Gamma, CLV) and tree ensembles.
pub mod clv;
pub mod trees;
