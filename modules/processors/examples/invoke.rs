//! Runs a function binary as Lambda runs it, through an emulated Lambda Runtime API, and
//! invokes it with events from files (or stdin). For trying a build locally:
//!
//! ```text
//! cargo build --release -p shipstack-processors
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 SHIPMENTS_TABLE=shipments AWS_REGION=us-east-1 \
//!   cargo run -p shipstack-processors --example invoke -- \
//!   target/release/ingest-api event.json [more.json ...]
//! ```
//!
//! The binary inherits this process's environment (the function's settings, AWS
//! credentials/endpoint), plus the `AWS_LAMBDA_*` variables. Each reply is printed as one
//! JSON line on stdout; the function's own logs go to stderr, followed by the time from
//! process start to the first reply (the local cold start) and each invocation's duration.

#[path = "../tests/support/http.rs"]
mod http;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use runtime_api::{Function, Outcome, RuntimeApi};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(binary) = args.next().map(PathBuf::from) else {
        eprintln!(
            "usage: invoke <function binary> [event.json ...]   (no files: one event from stdin)"
        );
        std::process::exit(2);
    };
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
    let api = RuntimeApi::start().await;
    let function = Function::spawn(&binary, &api, &name, &[], false);
    let mut exit = 0;
    for (i, event) in events.iter().enumerate() {
        let started = Instant::now();
        let outcome = api.invoke(event, Duration::from_secs(60)).await;
        if i == 0 {
            eprintln!(
                "{name}: process start to first reply: {:?}",
                function.started.elapsed()
            );
        }
        eprintln!("{name}: invocation {} took {:?}", i + 1, started.elapsed());
        match outcome {
            Ok(Outcome::Response(value)) => println!("{value}"),
            Ok(Outcome::Error(error)) => {
                println!("{error}");
                exit = 1;
            }
            Err(message) => {
                eprintln!("{name}: {message}");
                exit = 1;
                break;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for line in function
        .stdout
        .lock()
        .unwrap()
        .iter()
        .chain(function.stderr.lock().unwrap().iter())
    {
        eprintln!("  | {line}");
    }
    std::process::exit(exit);
}
