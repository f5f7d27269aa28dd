//! Plain reference implementations for `engine2_reference.rs`, one module per analysis.

pub mod funnels;
pub mod paths;
pub mod segments;
