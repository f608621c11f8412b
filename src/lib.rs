//! shipstack: the logistics platform as typed Rust, rendered to reviewable Terraform JSON, and
//! its Rust Lambdas packaged deterministically.
//!
//! - [`platform`]: the whole platform, composed from the `aws` components (start here).
//! - [`config`]: one environment's typed, schema-validated configuration.
//! - [`envdoc`]: the README of each rendered environment, with its architecture diagram.
//! - [`render`]: loading, rendering and writing one environment atomically.
//! - [`package`]: building the processors into deterministic Lambda zips.
//! - [`operate`]: `plan`, `apply`, `destroy`, `output` of one environment, around Terraform.
//! - [`review`]: what a change to `generated/` does, before any plan: the review gate.

pub mod config;
pub mod envdoc;
pub mod operate;
pub mod package;
pub mod platform;
pub mod render;
pub mod review;
