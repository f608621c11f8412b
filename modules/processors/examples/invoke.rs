//! Runs a function binary as Lambda runs it, through the local harness's Runtime API, and
//! invokes it with events from files (or stdin). For trying a build locally:
//!
//! ```text
//! cargo build --release -p shipstack-processors
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 SHIPMENTS_TABLE=shipments AWS_REGION=us-east-1 FUNCTION_TIMEOUT_S=30 \
//!   cargo run -p shipstack-processors --example invoke -- \
//!   target/release/ingest-api event.json [more.json ...]
//! ```
//!
//! The binary gets this process's environment (the function's settings, AWS credentials and
//! endpoint) plus Lambda's reserved variables. Each reply is printed as one JSON line on
//! stdout; the function's own log lines go to stderr, with the cold start (process start to
//! the runtime's first request for work, and to the first reply) and each invocation's
//! duration.

#[path = "../tests/support/lambda.rs"]
mod lambda;

use std::io::Read;
use std::path::PathBuf;

use lambda::Lambda;
use local::lambda::Outcome;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(binary) = args.next().map(PathBuf::from) else {
        eprintln!(
            "usage: invoke <function binary> [event.json ...]   (no files: one event from stdin)"
        );
        std::process::exit(2);
    };
    let binary = binary
        .canonicalize()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let mut events = Vec::new();
    for path in args {
        events.push(
            serde_json::from_str(&std::fs::read_to_string(&path)?)
                .map_err(|e| format!("{path}: {e}"))?,
        );
    }
    if events.is_empty() {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        events.push(serde_json::from_str(&text)?);
    }
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function")
        .to_owned();
    let lambda = Lambda::new(&binary, &name, std::env::vars().collect(), true);
    let mut exit = 0;
    for (i, event) in events.into_iter().enumerate() {
        let invocation = lambda.function.invoke(event).await;
        if let Some(init) = invocation.init {
            eprintln!(
                "{name}: cold start: init {init:?}, first reply {:?}",
                invocation.duration
            );
        }
        eprintln!(
            "{name}: invocation {} took {:?}",
            i + 1,
            invocation.duration
        );
        match invocation.outcome {
            Outcome::Response(value) => println!("{value}"),
            Outcome::Error(error) => {
                println!("{error}");
                exit = 1;
            }
            Outcome::Timeout => {
                eprintln!("{name}: no reply within {:?}", lambda.function.spec.timeout);
                exit = 1;
                break;
            }
        }
    }
    std::process::exit(exit);
}
