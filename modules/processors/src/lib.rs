//! The platform's Lambda functions, one binary each (`src/bin/<name>.rs`, names from
//! [`shipment::contract::functions`]), for `provided.al2023` with handler `bootstrap`.
//!
//! Each handler ([`handlers`]) is a plain async function of (event, dependencies, clock,
//! metrics); the dependencies are the narrow traits of [`ports`], implemented over the AWS
//! SDK in [`sdk`] (the conditional writes as PartiQL batches, [`partiql`]) and by in-memory fakes in the tests. A binary's `main` only loads the
//! configuration, builds the clients and hands the handler to [`shell::serve`].
//!
//! # Failure semantics (no event is lost)
//!
//! | function | invalid event | transient failure |
//! |----------|---------------|-------------------|
//! | ingest-api | 400 / 413 to the client | 500 (the client retries; the retry is idempotent) |
//! | queue-processor | sent directly to the DLQ with `rejectionReason`, acknowledged | reported in `batchItemFailures`; SQS redelivers, and after 3 receives its redrive moves it to the DLQ |
//! | event-processor | sent directly to the DLQ with `rejectionReason`, acknowledged | returns an error; Lambda's async retries run it again, then the function's DLQ keeps it |
//! | stream-fanout | (records are ours) summaries, REMOVEs skipped | stops at the failing record and reports its sequence number |
//! | websocket-handler | 400 with a reason to the client | 500 |
//! | daily-summary | - | returns an error; the async invocation is retried and overwrites |
//!
//! If sending to the DLQ itself fails, the message is treated as a transient failure, so
//! it is retried rather than dropped.
//!
//! # Observability
//!
//! One JSON log line per event (with `shipment_id`) via `tracing`, and CloudWatch Embedded
//! Metric Format lines per invocation ([`metrics`]).

/// Every function's allocator: with glibc's, `malloc`, `free` and their consolidation of
/// free chunks took 15 % of queue-processor's CPU per event (`perf record`, functions bench).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod deadline;
pub mod dynamo_json;
pub mod handlers;
pub mod ingest;
pub mod metrics;
pub mod partiql;
pub mod ports;
pub mod sdk;
pub mod settings;
pub mod shell;
pub mod stdout;

/// JSON logs on stdout ([`stdout::STDOUT`]), one line per event, with the Lambda request id
/// of the current invocation. The level comes from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (a
/// plain level: `debug`, `info`, `warn`...), default `info`.
pub fn init_tracing() {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .and_then(|raw| raw.trim().parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_target(false)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_writer(&stdout::STDOUT)
        .init();
}
