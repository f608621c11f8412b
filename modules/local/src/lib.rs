//! The platform end to end on an emulated AWS, without an AWS account.
//!
//! - [`moto`]: moto's server on a loopback port, killed on drop;
//! - [`terraform`]: `apply` / `plan` / `destroy` of a temporary copy of `generated/local`;
//! - [`lambda`]: a Lambda Runtime API that runs the packaged `bootstrap` binaries as Lambda
//!   does (one invocation per instance, concurrency capped, timeouts, crashes);
//! - [`deployed`]: what was deployed, read back from the emulator (functions, event source
//!   mappings, API routes), never from the Terraform files;
//! - [`sqs_source`], [`stream_source`]: the event source mappings' pollers, playing Lambda's
//!   part (moto would consume the sources itself, so the local env renders them disabled);
//! - [`gateway`]: API Gateway's REST and WebSocket front doors and the `@connections` API;
//! - [`faults`]: a fault-injecting proxy between the functions and the emulator;
//! - [`harness`]: all of it together.

pub mod aws;
pub mod deployed;
pub mod drive;
pub mod faults;
pub mod gateway;
pub mod harness;
pub mod lambda;
pub mod moto;
pub mod paths;
pub mod sqs_source;
pub mod stream_source;
pub mod terraform;

pub use harness::{Harness, HarnessOptions};
pub use moto::Moto;
pub use terraform::Deployment;
