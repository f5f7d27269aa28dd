//! The HTTP server (cargo feature `server`).
pub mod auth;
pub mod decode;
