//! The `server` module when churn-core is built with the `decoders` feature and without
//! `server`: only the request decoders and the auth helpers they use, without the HTTP
//! stack (axum, tokio, hyper) or SQLite. The fuzz targets (`churn-core/fuzz`) build
//! this, which keeps their cold build short; with `server` on, `server/mod.rs` is used.

pub mod auth;
pub mod decode;
