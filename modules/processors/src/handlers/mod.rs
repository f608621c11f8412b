//! One module per function; each exposes a plain async `handle` that the binary's `main`
//! wires to `lambda_runtime` and the tests call directly.

pub mod daily_summary;
pub mod event_processor;
pub mod ingest_api;
pub mod queue_processor;
pub mod stream_fanout;
pub mod websocket_handler;
