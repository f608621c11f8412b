//! Functions benchmark: the packaged binaries on the local platform (moto, the
//! applied `generated/local`, the harness's Runtime API).
//!
//! - CPU time per 1,000 SQS events for `queue-processor`: 1,000 distinct EventBridge events
//!   in SQS records, in batches of the mapping's batch size, invoked on one warm instance;
//!   the CPU is the process's own (user + system, `/proc/<pid>/stat`), so moto's time
//!   is not in it, but the wall time is. Then the same 1,000 again: every one a duplicate.
//!   Measured twice: through the harness's pass-through proxy, which keeps the function's
//!   connections open as DynamoDB and SQS do, and straight to moto, which closes every
//!   connection, so the difference is the emulator's connection cost, not the function's.
//!   With `BASELINE_ZIP=<queue-processor.zip>` (another build, say of main), the kept-alive
//!   rounds alternate between it and the packaged binary, so the two are compared in the same
//!   minutes: this VM's CPU time per unit of work drifts by a half from one run to the next.
//! - Wall time of `stream-fanout` for one stream batch of 100 new events (25 shipments, 4
//!   events each, one in ten critical, no WebSocket subscribers): its subscriber lookups and
//!   its notifications and alerts, on one warm instance, through the pass-through proxy,
//!   one request and one message at a time, then at 1, 4 and 16 requests in flight
//!   (`FANOUT_IN_FLIGHT`) with 10 messages per PublishBatch (`FANOUT_BATCH_ENTRIES`), and
//!   the function's own CPU per batch (moto's time is in the wall time, not in it). A
//!   setting whose batch fails (moto past the SDK's timeouts) prints why and the run goes on.
//! - Cold start of each binary: process start to the runtime asking for work (init), and to
//!   its first reply, with an event of the kind the function receives, on a new instance
//!   each time; then the same event once more on the last instance (warm), so the first
//!   reply's extra is what the first call sets up (clients, connections).
//!
//!   cargo bench -p shipstack-local --bench functions
//!   ROUNDS=5 COLD_STARTS=10 cargo bench -p shipstack-local --bench functions
//!   ROUNDS=0 COLD_STARTS=0 cargo bench -p shipstack-local --bench functions  # fanout alone
//!   BASELINE_ZIP=/tmp/main/generated/dist/queue-processor.zip cargo bench -p shipstack-local --bench functions

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use local::harness::unzip;
use local::lambda::EmulatedFunction;
use local::queue_poller::sqs_record;
use local::{paths, Harness, HarnessOptions};
use serde_json::{json, Value};
use shipment::contract::{env_vars, functions};
use support::{benchmarking, setting, Platform};

const EVENTS: usize = 1_000;

fn main() -> Result<()> {
    if !benchmarking("functions") {
        return Ok(());
    }
    let rounds = setting("ROUNDS", 3);
    let cold_starts = setting("COLD_STARTS", 5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // The pass-through proxy (no faults are ever set) in front of moto.
        let platform = Platform::start_with(HarnessOptions {
            fault_seed: Some(0),
            ..HarnessOptions::default()
        })
        .await?;
        let harness = &platform.harness;
        let kept_alive = harness.function(functions::QUEUE_PROCESSOR);
        let direct = with_env(
            harness,
            kept_alive,
            &[("AWS_ENDPOINT_URL", &harness.moto_endpoint)],
        );
        let work = platform.deployment.work();
        let baseline = std::env::var_os("BASELINE_ZIP")
            .map(|zip| with_code(harness, kept_alive, Path::new(&zip), work))
            .transpose()?;
        let mut kept_alive_variants = vec![("packaged", kept_alive.as_ref())];
        kept_alive_variants.extend(baseline.as_ref().map(|b| ("baseline", b)));
        for (variants, connections, tag) in [
            (kept_alive_variants, "kept alive (as on AWS)", "K"),
            (
                vec![("packaged", &direct)],
                "straight to moto (one per call)",
                "D",
            ),
        ] {
            if rounds > 0 {
                println!();
                queue_processor_cpu(&variants, connections, tag, rounds, harness).await?;
            }
        }
        if cold_starts > 0 {
            println!();
            cold_start_of_each(harness, cold_starts).await?;
        }
        // Last: the stream poller has drained the rounds' writes by now (the cold starts
        // settle), so it does not share moto with the batches.
        println!();
        stream_fanout_batch(harness, rounds.max(5)).await
    })
}

/// The events queue's mapping to queue-processor.
fn sqs_mapping(harness: &Harness) -> Result<&local::deployed::Mapping> {
    let deployed_name = &harness
        .function(functions::QUEUE_PROCESSOR)
        .spec
        .deployed_name;
    harness
        .deployed
        .mappings
        .iter()
        .find(|m| &m.function_name == deployed_name && m.is_sqs())
        .context("no SQS mapping for queue-processor")
}

/// The same function with `vars` set in its environment.
fn with_env(
    harness: &Harness,
    function: &EmulatedFunction,
    vars: &[(&str, &str)],
) -> EmulatedFunction {
    let mut spec = function.spec.clone();
    for (name, value) in vars {
        spec.env.insert((*name).to_owned(), (*value).to_owned());
    }
    EmulatedFunction::new(spec, harness.logs.clone())
}

/// The same function running the package `zip` (unzipped under `work`).
fn with_code(
    harness: &Harness,
    function: &EmulatedFunction,
    zip: &Path,
    work: &Path,
) -> Result<EmulatedFunction> {
    let mut spec = function.spec.clone();
    spec.task_root = work.join("baseline");
    unzip(zip, &spec.task_root)?;
    Ok(EmulatedFunction::new(spec, harness.logs.clone()))
}

/// Each round runs on every variant in turn (the packaged binary, and a baseline if there
/// is one). `tag` keeps each measurement's events apart: new events are new to the table.
async fn queue_processor_cpu(
    variants: &[(&str, &EmulatedFunction)],
    connections: &str,
    tag: &str,
    rounds: usize,
    harness: &Harness,
) -> Result<()> {
    let mapping = sqs_mapping(harness)?;
    let batch_size = mapping.batch_size.max(1) as usize;
    println!(
        "queue-processor: {EVENTS} SQS events per round, batches of {batch_size}, one warm instance ({} MB configured), connections {connections}",
        variants[0].1.spec.memory_mb
    );
    for (variant, function) in variants {
        // Warm: the instance exists and has made its first calls.
        let warm = events(
            &mapping.source_arn,
            &format!("BENCH-{tag}{variant}WARM-"),
            batch_size,
        );
        run_batches(function, &warm, batch_size).await?;
    }
    println!(
        "  {:<31} {:>12} {:>12} {:>12} {:>12}",
        "round", "CPU ms/1000", "wall ms", "batch p50", "batch p99"
    );
    let mut cpu = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        for (cpu, (variant, function)) in cpu.iter_mut().zip(variants) {
            let prefix = format!("BENCH-{tag}{variant}{round}-");
            let records = events(&mapping.source_arn, &prefix, EVENTS);
            for (label, kind) in [("new", "new events"), ("again", "duplicates")] {
                let measured = run_batches(function, &records, batch_size).await?;
                println!(
                    "  {:<31} {:>12.1} {:>12.0} {:>10.1}ms {:>10.1}ms",
                    format!("{} {kind} ({variant})", round + 1),
                    measured.cpu.as_secs_f64() * 1000.0,
                    measured.wall.as_secs_f64() * 1000.0,
                    measured.p50.as_secs_f64() * 1000.0,
                    measured.p99.as_secs_f64() * 1000.0,
                );
                if label == "new" {
                    cpu.push(measured.cpu);
                }
            }
        }
    }
    for (cpu, (variant, function)) in cpu.iter_mut().zip(variants) {
        cpu.sort();
        let median = cpu[cpu.len() / 2];
        println!(
            "  {variant}: median CPU per {EVENTS} new events: {:.1} ms ({:.0} µs per event); peak RSS after every round: {}",
            median.as_secs_f64() * 1000.0,
            median.as_secs_f64() * 1e6 / EVENTS as f64,
            peak_rss(function)
        );
    }
    Ok(())
}

const STREAM_BATCH: usize = 100;

/// (requests in flight, entries per PublishBatch) the fanout batch is timed at: one request
/// and one message at a time (the handler before #14), then batches of 10 (every env but
/// the local one) at 1, 4 and 16 (the default) in flight.
const FANOUT_SETTINGS: [(&str, &str); 4] = [("1", "1"), ("1", "10"), ("4", "10"), ("16", "10")];

/// One stream batch of new events, invoked `samples` times on a warm instance for each of
/// [`FANOUT_SETTINGS`] (a redelivered batch does the same work: the fanout keeps no state).
async fn stream_fanout_batch(harness: &Harness, samples: usize) -> Result<()> {
    use shipment::contract::shipments_table as table;
    let records: Vec<Value> = (0..STREAM_BATCH)
        .map(|i| {
            let status = if i % 10 == 9 { "DAMAGED" } else { "IN_TRANSIT" };
            let time = format!("2025-03-03T10:{:02}:{:02}.000Z", i / 60, i % 60);
            json!({
                "eventID": format!("bench-{i}"), "eventName": "INSERT", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/bench/stream/2025-03-03T00:00:00.000",
                "dynamodb": {
                    "SequenceNumber": format!("{}", 1000 + i), "SizeBytes": 200, "StreamViewType": "NEW_AND_OLD_IMAGES",
                    "Keys": {table::PARTITION_KEY: {"S": format!("BENCH-FAN-{:02}", i % 25)}, table::SORT_KEY: {"S": format!("{time}#{i}")}},
                    "NewImage": {
                        table::PARTITION_KEY: {"S": format!("BENCH-FAN-{:02}", i % 25)}, table::SORT_KEY: {"S": format!("{time}#{i}")},
                        table::STATUS: {"S": status}, table::STATUS_INDEX_SORT_KEY: {"S": time}, "location": {"S": "Memphis, TN"},
                    },
                },
            })
        })
        .collect();
    let event = json!({ "Records": records });
    println!("stream-fanout: a batch of {STREAM_BATCH} new events (25 shipments), {samples} times on a warm instance");
    for (in_flight, entries) in FANOUT_SETTINGS {
        let function = with_env(
            harness,
            harness.function(functions::STREAM_FANOUT),
            &[
                (env_vars::FANOUT_IN_FLIGHT, in_flight),
                (env_vars::FANOUT_BATCH_ENTRIES, entries),
            ],
        );
        let setting = format!("  {in_flight:>2} in flight, {entries:>2} per PublishBatch");
        let timed = async {
            invoke_batch(&function, event.clone()).await?; // starts the instance: not measured
            let cpu_before = function.idle_cpu_time();
            let mut times = Vec::new();
            for _ in 0..samples {
                times.push(invoke_batch(&function, event.clone()).await?);
            }
            let cpu = function.idle_cpu_time().saturating_sub(cpu_before) / samples as u32;
            anyhow::Ok((times, cpu))
        };
        match timed.await {
            Ok((times, cpu)) => println!(
                "{setting}: {}; CPU {:.1} ms per batch",
                spread(times),
                cpu.as_secs_f64() * 1000.0
            ),
            // A setting moto cannot serve within the SDK's timeouts (it answers one request at
            // a time) is a finding, not the end of the run.
            Err(error) => {
                let logs = harness.logs.recent();
                let why = logs.iter().rev().find(|l| l.contains(r#""level":"ERROR""#));
                println!(
                    "{setting}: not measured, {error:#}; {}",
                    why.map_or("", |l| l)
                );
            }
        }
    }
    Ok(())
}

/// Invokes one batch, which must succeed without a failed item (a failure would measure the
/// retry path), and answers how long it took.
async fn invoke_batch(function: &EmulatedFunction, batch: Value) -> Result<Duration> {
    let invocation = function.invoke(batch).await;
    match &invocation.outcome {
        local::lambda::Outcome::Response(answer)
            if answer["batchItemFailures"]
                .as_array()
                .is_none_or(Vec::is_empty) =>
        {
            Ok(invocation.duration)
        }
        other => anyhow::bail!("{} batch failed: {other:?}", function.spec.deployed_name),
    }
}

struct Measured {
    cpu: Duration,
    wall: Duration,
    p50: Duration,
    p99: Duration,
}

/// Invokes `records` in batches, one at a time on the idle instance.
async fn run_batches(
    function: &EmulatedFunction,
    records: &[Value],
    batch_size: usize,
) -> Result<Measured> {
    let cpu_before = function.idle_cpu_time();
    let started = Instant::now();
    let mut batches = Vec::new();
    for batch in records.chunks(batch_size) {
        batches.push(invoke_batch(function, json!({ "Records": batch })).await?);
    }
    let wall = started.elapsed();
    let cpu = function.idle_cpu_time().saturating_sub(cpu_before);
    batches.sort();
    let pct = |p: f64| batches[((batches.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    Ok(Measured {
        cpu,
        wall,
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

/// `count` distinct shipment events as the bus rule delivers them to the queue, alternating
/// the two producer dialects, as SQS records of the mapping's queue.
fn events(queue_arn: &str, prefix: &str, count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let time = format!("2025-03-01T{:02}:{:02}:{:02}Z", (i / 3600) % 24, (i / 60) % 60, i % 60);
            let (source, detail_type, detail) = if i % 2 == 0 {
                ("logistics.shipments", "Shipment Update".to_owned(), json!({"shipmentId": format!("{prefix}{i:05}"), "status": "IN_TRANSIT", "timestamp": time, "location": "Memphis, TN"}))
            } else {
                ("shipment.service", "shipment.picked_up".to_owned(), json!({"shipment_id": format!("{prefix}{i:05}"), "event_type": "PICKED_UP", "event_timestamp": time, "event_data": {"n": i}}))
            };
            let body = json!({
                "version": "0", "id": format!("{prefix}{i}"), "detail-type": detail_type, "source": source,
                "account": "123456789012", "time": time, "region": "us-east-1", "resources": [], "detail": detail,
            });
            let message = Message::builder()
                .message_id(format!("{prefix}{i}"))
                .receipt_handle(format!("bench-{prefix}{i}"))
                .body(body.to_string())
                .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1")
                .build();
            sqs_record(&message, queue_arn)
        })
        .collect()
}

async fn cold_start_of_each(harness: &Harness, samples: usize) -> Result<()> {
    println!("cold start ({samples} per function), median [min, max]:");
    println!(
        "  {:<18} {:>28} {:>28} {:>28} {:>10}",
        "function",
        "init (start to ready)",
        "first reply (start to reply)",
        "warm reply (same event)",
        "peak RSS"
    );
    let packages = tempfile::tempdir()?;
    for name in functions::ALL {
        let undeployed;
        let function = if harness.deployed.functions.contains_key(name) {
            harness.function(name).as_ref()
        } else {
            undeployed = undeployed_writer(harness, name, packages.path())?;
            &undeployed
        };
        let event = typical_event(harness, name)?;
        // Nothing else may invoke it meanwhile: the stream poller invokes stream-fanout for
        // what the CPU rounds wrote (thousands of records, ~25/s on moto).
        harness.settle(Duration::from_secs(900)).await?;
        let (mut inits, mut replies) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            function.stop();
            let invocation = function.invoke(event.clone()).await;
            let init = invocation
                .init
                .with_context(|| format!("{name}: an idle instance was reused"))?;
            ensure!(
                invocation.outcome.is_ok(),
                "{name}: {:?}",
                invocation.outcome
            );
            inits.push(init);
            replies.push(invocation.duration);
        }
        // Once, on the last sample's instance (daily-summary's reply takes a minute on moto).
        let warm = function.invoke(event.clone()).await;
        ensure!(
            warm.init.is_none() && warm.outcome.is_ok(),
            "{name}: the warm invoke: {:?}",
            warm.outcome
        );
        // The last sample's instance is the idle one.
        println!(
            "  {name:<18} {:>28} {:>28} {:>28} {:>10}",
            spread(inits),
            spread(replies),
            format!("{:.1} ms", warm.duration.as_secs_f64() * 1000.0),
            peak_rss(function)
        );
    }
    println!("  (first reply includes the first invocation's calls to moto)");
    Ok(())
}

/// A writer the environment does not deploy (the local env's `delivery: queued` has no
/// event-processor), run with queue-processor's settings: the same writer's (table,
/// dead-letter queue, TTL).
fn undeployed_writer(harness: &Harness, name: &str, packages: &Path) -> Result<EmulatedFunction> {
    let template = &harness.function(functions::QUEUE_PROCESSOR).spec;
    let task_root = packages.join(name);
    unzip(&paths::dist().join(format!("{name}.zip")), &task_root)?;
    let mut spec = template.clone();
    spec.deployed_name = template
        .deployed_name
        .replace(functions::QUEUE_PROCESSOR, name);
    spec.task_root = task_root;
    Ok(EmulatedFunction::new(spec, harness.logs.clone()))
}

/// The idle instance's peak resident memory, in MiB.
fn peak_rss(function: &EmulatedFunction) -> String {
    function
        .idle_peak_rss_kib()
        .map_or("unknown".into(), |kib| {
            format!("{:.1} MiB", kib as f64 / 1024.0)
        })
}

/// `median [min, max]` in milliseconds.
fn spread(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    format!(
        "{} [{}, {}] ms",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    )
}

/// An event of the kind each function receives, that it answers without an error.
fn typical_event(harness: &Harness, function: &str) -> Result<Value> {
    Ok(match function {
        functions::INGEST_API => json!({
            "resource": "/shipments", "path": "/shipments", "httpMethod": "POST",
            "headers": {"content-type": "application/json"}, "multiValueHeaders": {},
            "requestContext": {"resourcePath": "/shipments", "httpMethod": "POST", "requestId": "bench", "stage": "local", "identity": {}},
            "body": "{\"shipmentId\": \"\"}", "isBase64Encoded": false,
        }),
        functions::EVENT_PROCESSOR => json!({
            "version": "0", "id": "bench-cold", "detail-type": "Shipment Update", "source": "logistics.shipments",
            "account": "123456789012", "time": "2025-03-02T10:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"shipmentId": "BENCH-COLD", "status": "IN_TRANSIT", "timestamp": "2025-03-02T10:00:00Z"},
        }),
        functions::WEBSOCKET_HANDLER => json!({
            "requestContext": {"routeKey": "$disconnect", "eventType": "DISCONNECT", "connectionId": "bench-cold",
                "requestId": "bench", "stage": "local", "apiId": "bench", "domainName": "localhost",
                "connectedAt": 1_740_000_000_000_i64, "requestTimeEpoch": 1_740_000_060_000_i64},
            "isBase64Encoded": false,
        }),
        functions::DAILY_SUMMARY => json!({
            "version": "0", "id": "bench-summary", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2001-01-02T01:00:00Z", "region": "us-east-1", "resources": [], "detail": {},
        }),
        // One event, stored by the first reply and found again by the warm one.
        functions::QUEUE_PROCESSOR => {
            json!({"Records": events(&sqs_mapping(harness)?.source_arn, "BENCH-COLD-", 1)})
        }
        // stream-fanout: an empty batch still starts the runtime and builds the clients.
        _ => json!({"Records": []}),
    })
}
