//! The platform end to end on an emulated AWS, without an AWS account.
//!
//! - [`moto`]: moto's server on a loopback port, killed on drop;
//! - [`sdk_clients`]: SDK clients, credentials and request signing for the emulator;
//! - [`terraform`]: `apply` / `plan` / `destroy` of a byte-for-byte copy of `generated/local`;
//! - [`lambda`]: a Lambda Runtime API that runs the packaged `bootstrap` binaries as Lambda
//!   does (one invocation per instance, concurrency capped, timeouts, crashes);
//! - [`deployed`]: what was deployed, read back from the emulator (functions, event source
//!   mappings, API routes), never from the Terraform files;
//! - [`queue_poller`], [`stream_poller`]: the event source mappings' pollers, playing Lambda's
//!   part (moto would consume the sources itself, so the local env renders queue mappings
//!   disabled and the stream mapping as an output);
//! - [`gateway`]: API Gateway's REST and WebSocket front doors and the `@connections` API;
//! - [`faults`]: a fault-injecting proxy between the functions and the emulator;
//! - [`harness`]: all of it together.

pub mod deployed;
pub mod drive;
pub mod faults;
pub mod gateway;
pub mod harness;
pub mod lambda;
pub mod moto;
pub mod paths;
pub mod queue_poller;
pub mod sdk_clients;
pub mod stream_poller;
pub mod terraform;
pub mod verify;
pub mod watch;

pub use harness::{Harness, HarnessOptions};
pub use moto::Moto;
pub use terraform::Deployment;
