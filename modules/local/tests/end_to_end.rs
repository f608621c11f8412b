//! End to end: the rendered `generated/local` applied by real Terraform to moto on
//! a free loopback port, the real packaged functions run by the harness, driven through the
//! real queues, stream and APIs.
//!
//! One apply serves every scenario (an apply takes about 90 s on two cores): the scenarios
//! run in order as steps of one test, each on its own shipment ids and event days so none
//! can see another's events; a failing step is reported and the others still run; destroy
//! always runs last. Needs `scripts/setup-python` (moto) and `cargo run -- package` (zips).

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::{FutureExt, SinkExt, StreamExt};
use local::drive::{self, eventually, items_of, post, s, BusEvent};
use local::terraform::Outputs;
use local::{Deployment, Harness, HarnessOptions, Moto};
use serde_json::{json, Value};
use shipment::contract::{dead_letter, shipments_table};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Events of the CI load run (the benchmark sends 30,000), and how many may be in flight
/// (see `drive::load`).
const LOAD_EVENTS: usize = 3_000;
const LOAD_IN_FLIGHT: usize = 40;
/// Share of DynamoDB and SNS calls the fault run fails.
const FAULT_SHARE: f64 = 0.2;
const FAULT_SEED: u64 = 5;

struct Ctx {
    harness: Harness,
    outputs: Outputs,
    table: String,
    bus: String,
    dlq_url: String,
    shipments_url: String,
}

#[test]
fn platform_end_to_end() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let report = run().await;
        match report {
            Ok(failures) if failures.is_empty() => {}
            Ok(failures) => panic!(
                "{} scenario(s) failed:\n\n{}",
                failures.len(),
                failures.join("\n\n")
            ),
            Err(error) => panic!("{error:#}"),
        }
    });
}

async fn run() -> Result<Vec<String>> {
    // IAM enforced: Terraform and the test act as moto's admin user, each function and
    // poller as its execution role, so a missing grant fails a scenario.
    let moto = Moto::start_iam().await?;
    ensure!(moto.enforces_iam(), "moto does not enforce IAM");
    let endpoint = moto.endpoint();
    let deployment = Deployment::temporary(&endpoint)?;
    let mut failures = Vec::new();
    let mut figures: BTreeMap<&str, String> = BTreeMap::new();

    // Scenario 1: apply, then a plan shows nothing but the emulator's known quirks.
    let init = deployment.init()?;
    let applied = deployment.apply()?;
    figures.insert(
        "terraform apply",
        format!(
            "{:.1} s (init {:.1} s)",
            applied.as_secs_f64(),
            init.as_secs_f64()
        ),
    );
    let (planned, changes) = deployment.plan()?;
    figures.insert("terraform plan", format!("{:.1} s", planned.as_secs_f64()));
    if let Err(error) = local::terraform::only_emulator_quirks(&changes) {
        failures.push(format!("1 second plan: {error:#}"));
    }

    let scenarios = async {
        let mut failures = Vec::new();
        let mut figures: BTreeMap<&str, String> = BTreeMap::new();
        let outputs = deployment.outputs()?;
        let harness = Harness::start(
            &endpoint,
            HarnessOptions {
                fault_seed: Some(FAULT_SEED),
                extra_mappings: Deployment::harness_mappings(&outputs),
                ..Default::default()
            },
        )
        .await?;
        let ctx = Ctx {
            table: outputs.get("shipments_table_name")?,
            bus: outputs.get("event_bus_name")?,
            dlq_url: outputs.get("dead_letter_queue_url")?,
            shipments_url: harness
                .rest_url("/shipments")
                .context("no /shipments route")?,
            harness,
            outputs,
        };

        step(&mut failures, "2 REST", rest(&ctx)).await;
        step(&mut failures, "3 EventBridge", bus(&ctx)).await;
        step(&mut failures, "4 stream", stream(&ctx)).await;
        step(&mut failures, "5 daily summary", daily_summary(&ctx)).await;
        if let Some(load) = step(&mut failures, "6 load", load(&ctx)).await {
            figures.insert("load", load);
        }
        if let Some(injected) = step(&mut failures, "7 faults", faults(&ctx)).await {
            figures.insert("faults", injected);
        }
        if !failures.is_empty() {
            eprintln!(
                "--- last function log lines ---\n{}",
                ctx.harness.logs.recent().join("\n")
            );
        }
        drop(ctx);
        Ok::<_, anyhow::Error>((failures, figures))
    }
    .await;
    match scenarios {
        Ok((more_failures, more_figures)) => {
            failures.extend(more_failures);
            figures.extend(more_figures);
        }
        Err(error) => failures.push(format!("harness: {error:#}")),
    }

    // Scenario 1, end: destroy leaves nothing, in the state or in the emulator.
    let destroyed = deployment.destroy()?;
    figures.insert(
        "terraform destroy",
        format!("{:.1} s", destroyed.as_secs_f64()),
    );
    if let Err(error) = nothing_left(&deployment, &endpoint).await {
        failures.push(format!("1 destroy: {error:#}"));
    }
    println!("\n=== end-to-end figures ===");
    for (name, value) in &figures {
        println!("{name:>18}: {value}");
    }
    Ok(failures)
}

async fn step<T>(
    failures: &mut Vec<String>,
    name: &str,
    scenario: impl Future<Output = Result<T>>,
) -> Option<T> {
    let started = Instant::now();
    let outcome = AssertUnwindSafe(scenario).catch_unwind().await;
    let took = started.elapsed().as_secs_f64();
    match outcome {
        Ok(Ok(value)) => {
            println!("scenario {name}: ok ({took:.1} s)");
            Some(value)
        }
        Ok(Err(error)) => {
            println!("scenario {name}: FAILED ({took:.1} s): {error:#}");
            failures.push(format!("{name}: {error:#}"));
            None
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{name}: panicked: {message}"));
            None
        }
    }
}

// ------------------------------------------------------------------ 1 plan and destroy

async fn nothing_left(deployment: &Deployment, endpoint: &str) -> Result<()> {
    let state = deployment.state_list()?;
    ensure!(state.is_empty(), "terraform state still lists {state:?}");
    let clients = local::sdk_clients::Clients::new(endpoint).await;
    let tables = clients
        .dynamodb
        .list_tables()
        .send()
        .await?
        .table_names()
        .to_vec();
    let queues = clients
        .sqs
        .list_queues()
        .send()
        .await?
        .queue_urls()
        .to_vec();
    let functions: Vec<String> = clients
        .lambda
        .list_functions()
        .send()
        .await?
        .functions()
        .iter()
        .filter_map(|f| f.function_name().map(str::to_owned))
        .collect();
    let topics: Vec<String> = clients
        .sns
        .list_topics()
        .send()
        .await?
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn().map(str::to_owned))
        .collect();
    let buses: Vec<String> = clients
        .events
        .list_event_buses()
        .send()
        .await?
        .event_buses()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .filter(|n| n != "default")
        .collect();
    let alarms: Vec<String> = local::faults::query_api(
        endpoint,
        "monitoring",
        "Action=DescribeAlarms&Version=2010-08-01",
    )
    .await?
    .split("<AlarmName>")
    .skip(1)
    .filter_map(|a| a.split("</AlarmName>").next().map(str::to_owned))
    .collect();
    let rest_apis = clients
        .apigateway
        .get_rest_apis()
        .send()
        .await?
        .items()
        .len();
    let ws_apis = clients.apigatewayv2.get_apis().send().await?.items().len();
    let left = json!({"tables": tables, "queues": queues, "functions": functions, "topics": topics, "buses": buses, "alarms": alarms, "rest_apis": rest_apis, "websocket_apis": ws_apis});
    let empty = tables.is_empty()
        && queues.is_empty()
        && functions.is_empty()
        && topics.is_empty()
        && buses.is_empty()
        && alarms.is_empty()
        && rest_apis == 0
        && ws_apis == 0;
    ensure!(empty, "the emulator still holds: {left}");
    Ok(())
}

// ------------------------------------------------------------------ 2 REST

async fn rest(ctx: &Ctx) -> Result<()> {
    let url = &ctx.shipments_url;
    let event = json!({"shipmentId": "E2E-REST-1", "status": "IN_TRANSIT", "timestamp": "2025-03-01T10:00:00Z", "location": "Memphis, TN", "carrier": "FedEx"});
    let key = [("Idempotency-Key", "e2e-rest-1")];

    let created = post(url, &event.to_string(), &key, true).await?;
    ensure!(
        created.status == 200 && created.json()["outcome"] == "stored",
        "valid event: expected 200 stored (seed 000's status), got {} {}",
        created.status,
        created.body
    );
    // Seed 000's reply keys, then the stored record.
    let reply = created.json();
    ensure!(
        reply["message"] == "Shipment status updated successfully"
            && reply["shipmentId"] == "E2E-REST-1"
            && reply["status"] == "IN_TRANSIT"
            && reply["timestamp"] == "2025-03-01T10:00:00.000Z"
            && reply["eventKey"].is_string(),
        "the reply has seed 000's keys and the stored record: {}",
        created.body
    );

    let replay = post(url, &event.to_string(), &key, true).await?;
    ensure!(
        replay.status == 200 && replay.json()["outcome"] == "replay",
        "same Idempotency-Key: expected 200 replay, got {} {}",
        replay.status,
        replay.body
    );

    let invalid = post(
        url,
        r#"{"shipmentId":"E2E-REST-1","status":"TELE<PORTED>","timestamp":"2025-03-01T11:00:00Z"}"#,
        &[],
        true,
    )
    .await?;
    ensure!(
        invalid.status == 400,
        "malformed status: expected 400 from the function, got {} {}",
        invalid.status,
        invalid.body
    );
    ensure!(
        invalid.json()["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["field"] == "status")),
        "the 400 names the field: {}",
        invalid.body
    );

    let empty = post(url, "{}", &[], true).await?;
    ensure!(
        empty.status == 400 && empty.json()["message"] == "Invalid request body",
        "empty object: expected API Gateway's model 400, got {} {}",
        empty.status,
        empty.body
    );
    let not_json = post(url, "shipment please", &[], true).await?;
    ensure!(
        not_json.status == 400,
        "not JSON: expected 400, got {} {}",
        not_json.status,
        not_json.body
    );

    let unsigned = post(url, &event.to_string(), &key, false).await?;
    ensure!(
        unsigned.status == 403,
        "AWS_IAM method without a signature: expected 403, got {}",
        unsigned.status
    );

    let second = json!({"shipmentId": "E2E-REST-1", "status": "OUT_FOR_DELIVERY", "timestamp": "2025-03-01T12:00:00Z"});
    let created = post(url, &second.to_string(), &[], true).await?;
    ensure!(
        created.status == 200 && created.json()["outcome"] == "stored",
        "second distinct event: expected 200 stored, got {} {}",
        created.status,
        created.body
    );
    let resent = post(url, &second.to_string(), &[], true).await?;
    ensure!(
        resent.status == 200,
        "same content again (no key): expected 200, got {} {}",
        resent.status,
        resent.body
    );

    let items = items_of(&ctx.harness.clients, &ctx.table, "E2E-REST-1").await?;
    let statuses: Vec<&str> = items.iter().map(|i| s(i, "status")).collect();
    ensure!(
        items.len() == 2,
        "exactly one item per distinct event: {statuses:?}"
    );
    for item in &items {
        let via = delivery(item, "via");
        ensure!(
            via == "REST" && !delivery(item, "requestId").is_empty(),
            "a REST item records its request id: {item:?}"
        );
    }
    Ok(())
}

/// A field of an item's delivery trace (empty when absent).
fn delivery<'a>(item: &'a drive::Row, field: &str) -> &'a str {
    item.get("delivery")
        .and_then(|d| d.as_m().ok())
        .and_then(|d| d.get(field))
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

// ------------------------------------------------------------------ 3 EventBridge

fn time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

async fn bus(ctx: &Ctx) -> Result<()> {
    let clients = &ctx.harness.clients;
    // Seed 003's sample, verbatim (its docstring), and seed 004's `put-events` example.
    let seed_003 = BusEvent {
        time: Some(time("2025-10-17T12:00:00Z")),
        ..BusEvent::new(
            "logistics.shipments",
            "Shipment Update",
            json!({
        "shipmentId": "SHIP-12345", "status": "IN_TRANSIT", "location": "Dallas, TX", "carrier": "FedEx",
        "trackingNumber": "1234567890", "timestamp": "2025-10-17T12:00:00Z"}),
        )
    };
    let seed_004 = BusEvent {
        time: Some(time("2025-10-17T14:05:09Z")),
        ..BusEvent::new(
            "logistics.shipments",
            "Shipment Update",
            json!({
        "shipmentId": "SHIP-12345", "status": "IN_TRANSIT", "location": "Memphis, TN", "carrier": "FedEx"}),
        )
    };
    // Seed 002's producer: snake_case, the status in event_type, its own source.
    let seed_002 = BusEvent::new(
        "shipment.service",
        "shipment.picked_up",
        json!({
        "shipment_id": "E2E-BUS-002", "event_timestamp": "2025-03-02T08:00:00Z", "event_type": "shipment.picked_up",
        "event_data": {"warehouse": "DFW-1"}}),
    );
    // Seeds 000 and 001 wrote through other doors; their bodies on the bus must work too.
    let seed_000 = BusEvent::new(
        "logistics.shipments",
        "Shipment Created",
        json!({
        "shipmentId": "E2E-BUS-000", "status": "CREATED", "location": "Austin, TX", "timestamp": "2025-03-02T09:00:00Z"}),
    );
    let seed_001 = BusEvent::new(
        "logistics.shipments",
        "Shipment Delayed",
        json!({
        "tracking_id": "E2E-BUS-001", "status": "DELAYED", "timestamp": "2025-03-02T10:00:00Z", "details": {"reason": "weather"}}),
    );
    let poison = BusEvent::new(
        "logistics.shipments",
        "Shipment Update",
        json!({"shipmentId": "E2E-POISON-1", "status": ""}),
    );

    // A status no seed knows: stored as sent (normalised), counted, not rejected.
    let carrier_status = BusEvent::new(
        "logistics.shipments",
        "Shipment Update",
        json!({"shipmentId": "E2E-BUS-OPEN", "status": "Customs Hold", "timestamp": "2025-03-02T11:00:00Z"}),
    );
    let events = vec![
        seed_003.clone(),
        carrier_status,
        seed_002,
        seed_000,
        seed_001,
        poison,
    ];
    drive::put_events(clients, Some(&ctx.bus), &events).await?;
    // A producer retry: the same event again.
    drive::put_events(clients, Some(&ctx.bus), &[seed_003]).await?;
    // Seed 004's `aws events put-events`, exactly: no EventBusName, so the default bus.
    drive::put_events(clients, None, &[seed_004]).await?;

    let expected = [
        ("SHIP-12345", 2usize),
        ("E2E-BUS-002", 1),
        ("E2E-BUS-000", 1),
        ("E2E-BUS-001", 1),
        ("E2E-BUS-OPEN", 1),
    ];
    for (shipment, count) in expected {
        eventually(
            &format!("{count} item(s) of {shipment}"),
            Duration::from_secs(60),
            || async move {
                Ok((items_of(clients, &ctx.table, shipment).await?.len() >= count).then_some(()))
            },
        )
        .await?;
    }
    ctx.harness.settle(Duration::from_secs(60)).await?;
    for (shipment, count) in expected {
        let items = items_of(clients, &ctx.table, shipment).await?;
        ensure!(
            items.len() == count,
            "{shipment}: expected exactly {count} item(s), found {}",
            items.len()
        );
    }
    let seed_002_item = &items_of(clients, &ctx.table, "E2E-BUS-002").await?[0];
    ensure!(
        s(seed_002_item, "status") == "PICKED_UP",
        "seed 002's event_type is the status: {seed_002_item:?}"
    );
    // Queued delivery: the SQS message and the EventBridge event it carried, both traced.
    ensure!(
        delivery(seed_002_item, "via") == "SQS"
            && !delivery(seed_002_item, "messageId").is_empty()
            && !delivery(seed_002_item, "eventId").is_empty()
            && seed_002_item["delivery"]
                .as_m()
                .is_ok_and(|d| d.get("receiveCount").is_some_and(|n| n.as_n().is_ok())),
        "the item records the SQS message, its receive count and the bus event: {seed_002_item:?}"
    );
    let open_item = &items_of(clients, &ctx.table, "E2E-BUS-OPEN").await?[0];
    ensure!(
        s(open_item, "status") == "CUSTOMS_HOLD",
        "an unrecognised status is stored in its normalised spelling: {open_item:?}"
    );
    let seed_004_item = items_of(clients, &ctx.table, "SHIP-12345")
        .await?
        .into_iter()
        .find(|item| s(item, "location") == "Memphis, TN");
    ensure!(
        seed_004_item.is_some(),
        "seed 004's default-bus event is stored"
    );

    // The poison event: in the DLQ with its reason, and what the alarm watches sees it.
    let (visible, _) = ctx.harness.queue_depth(&ctx.dlq_url).await?;
    ensure!(visible >= 1, "the DLQ's ApproximateNumberOfMessages (what the alarm's ApproximateNumberOfMessagesVisible metric reports) is {visible}");
    let letter = eventually(
        "the poison event in the DLQ",
        Duration::from_secs(30),
        || async {
            let received = clients
                .sqs
                .receive_message()
                .queue_url(&ctx.dlq_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .wait_time_seconds(1)
                .send()
                .await?;
            Ok(received
                .messages()
                .iter()
                .find(|m| m.body().unwrap_or_default().contains("E2E-POISON-1"))
                .cloned())
        },
    )
    .await?;
    let reason = letter
        .message_attributes()
        .and_then(|a| a.get(dead_letter::REASON_ATTRIBUTE))
        .and_then(|v| v.string_value())
        .unwrap_or_default()
        .to_owned();
    ensure!(
        reason.contains("status"),
        "rejection reason names the field: {reason:?}"
    );
    let rejected_by = letter
        .message_attributes()
        .and_then(|a| a.get(dead_letter::FUNCTION_ATTRIBUTE))
        .and_then(|v| v.string_value())
        .unwrap_or_default();
    ensure!(
        rejected_by == "queue-processor",
        "rejected by the queue processor: {rejected_by:?}"
    );
    // moto computes no CloudWatch metrics for SQS: what can be checked honestly is that
    // the alarm exists on this queue's ApproximateNumberOfMessagesVisible, and the queue
    // attribute that metric is published from (above).
    let dlq_name = ctx.dlq_url.rsplit('/').next().unwrap_or_default();
    let alarms = local::faults::query_api(
        &ctx.harness.moto_endpoint,
        "monitoring",
        "Action=DescribeAlarms&Version=2010-08-01",
    )
    .await?;
    let watching = alarms.split("<AlarmName>").any(|alarm| {
        alarm.contains("<MetricName>ApproximateNumberOfMessagesVisible</MetricName>")
            && alarm.contains("<Namespace>AWS/SQS</Namespace>")
            && alarm.contains("<Name>QueueName</Name>")
            && alarm.contains(&format!("<Value>{dlq_name}</Value>"))
    });
    ensure!(
        watching,
        "an alarm on AWS/SQS ApproximateNumberOfMessagesVisible >= 1 for {dlq_name}"
    );
    clients
        .sqs
        .delete_message()
        .queue_url(&ctx.dlq_url)
        .receipt_handle(letter.receipt_handle().unwrap_or_default())
        .send()
        .await?;
    Ok(())
}

// ------------------------------------------------------------------ 4 stream

async fn probe_queue(ctx: &Ctx, name: &str, topic_arn: &str) -> Result<(String, String)> {
    let clients = &ctx.harness.clients;
    let url = clients
        .sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let arn = format!("arn:aws:sqs:us-east-1:123456789012:{name}");
    let subscription = clients
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(&arn)
        .send()
        .await?;
    Ok((
        url,
        subscription
            .subscription_arn()
            .unwrap_or_default()
            .to_owned(),
    ))
}

/// Messages in a probe queue (SNS envelopes) mentioning `needle`, read for `window`.
async fn drain_probe(ctx: &Ctx, url: &str, needle: &str, window: Duration) -> Result<Vec<Value>> {
    let deadline = Instant::now() + window;
    let mut found = Vec::new();
    while Instant::now() < deadline {
        let received = ctx
            .harness
            .clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        for message in received.messages() {
            let body: Value =
                serde_json::from_str(message.body().unwrap_or("null")).unwrap_or(Value::Null);
            if message.body().unwrap_or_default().contains(needle) {
                found.push(body);
            }
            ctx.harness
                .clients
                .sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await?;
        }
    }
    Ok(found)
}

fn stream_diagnostics(ctx: &Ctx) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let sources: Vec<String> = ctx
        .harness
        .stream_pollers
        .iter()
        .map(|s| {
            format!(
                "{}: batches {} records {} retries {} bisections {} discarded {}",
                s.mapping.source_arn,
                s.stats.batches.load(Relaxed),
                s.stats.records.load(Relaxed),
                s.stats.retries.load(Relaxed),
                s.stats.bisections.load(Relaxed),
                s.stats.discarded.load(Relaxed)
            )
        })
        .collect();
    let fanout = ctx.harness.function("stream-fanout");
    let outcomes: Vec<String> = fanout
        .history()
        .iter()
        .rev()
        .take(5)
        .map(|i| format!("{:?} in {:?}", i.outcome, i.duration))
        .collect();
    let posts = ctx
        .harness
        .ws
        .as_ref()
        .map(|w| w.posts())
        .unwrap_or_default();
    let logs: Vec<String> = ctx
        .harness
        .logs
        .recent()
        .into_iter()
        .filter(|l| l.contains("stream-fanout"))
        .rev()
        .take(15)
        .collect();
    format!("stream sources: {sources:?}\nfanout invocations {} (last: {outcomes:?})\nposts: {posts:?}\nfanout log (newest first):\n{}", fanout.stats.invocations.load(Relaxed), logs.join("\n"))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(ctx: &Ctx) -> Result<(Socket, String)> {
    let mut request = ctx.harness.ws_url.as_str().into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        local::faults::fake_authorization("execute-api").parse()?,
    );
    let before = ctx
        .harness
        .ws
        .as_ref()
        .map(|w| w.connection_ids().len())
        .unwrap_or(0);
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("WebSocket connect")?;
    let ids = ctx
        .harness
        .ws
        .as_ref()
        .context("no WebSocket API")?
        .connection_ids();
    ensure!(ids.len() == before + 1, "one new connection");
    Ok((socket, ids.last().cloned().unwrap_or_default()))
}

async fn subscribe(
    ctx: &Ctx,
    socket: &mut Socket,
    connection_id: &str,
    shipment: &str,
) -> Result<()> {
    socket
        .send(Message::Text(
            json!({"action": "subscribe", "shipmentId": shipment})
                .to_string()
                .into(),
        ))
        .await?;
    let connections = ctx.outputs.get("connections_table_name")?;
    let clients = &ctx.harness.clients;
    eventually(
        &format!("{connection_id} subscribed to {shipment}"),
        Duration::from_secs(20),
        || {
            let connections = connections.clone();
            async move {
                let row = clients
                    .dynamodb
                    .get_item()
                    .table_name(&connections)
                    .key("connectionId", AttributeValue::S(connection_id.into()))
                    .key("sk", AttributeValue::S(format!("SUB#{shipment}")))
                    .consistent_read(true)
                    .send()
                    .await?;
                Ok(row.item().map(|_| ()))
            }
        },
    )
    .await
}

async fn stream(ctx: &Ctx) -> Result<()> {
    let alerts_arn = ctx.outputs.get("shipment_alerts_topic_arn")?;
    let notifications_arn = ctx.outputs.get("notifications_topic_arn")?;
    let (alerts_probe, alerts_sub) = probe_queue(ctx, "e2e-alerts-probe", &alerts_arn).await?;
    let (notes_probe, notes_sub) =
        probe_queue(ctx, "e2e-notifications-probe", &notifications_arn).await?;
    let hub = ctx.harness.ws.as_ref().context("no WebSocket API")?;

    let (mut subscribed, subscribed_id) = connect(ctx).await?;
    let (mut other, other_id) = connect(ctx).await?;
    let (mut stale, stale_id) = connect(ctx).await?;
    subscribe(ctx, &mut subscribed, &subscribed_id, "E2E-STREAM-1").await?;
    subscribe(ctx, &mut other, &other_id, "E2E-STREAM-OTHER").await?;
    subscribe(ctx, &mut stale, &stale_id, "E2E-STREAM-1").await?;
    hub.mark_stale(&stale_id);

    let critical = json!({"shipmentId": "E2E-STREAM-1", "status": "DELAYED", "timestamp": "2025-03-03T10:00:00Z", "location": "Reno, NV"});
    let created = post(&ctx.shipments_url, &critical.to_string(), &[], true).await?;
    ensure!(
        created.status == 200,
        "critical event stored: {} {}",
        created.status,
        created.body
    );

    // The subscribed client receives the update.
    let pushed = tokio::time::timeout(Duration::from_secs(30), subscribed.next())
        .await
        .map_err(|_| {
            anyhow!(
                "the subscribed client received nothing within 30 s\n{}",
                stream_diagnostics(ctx)
            )
        })?
        .context("socket closed")??;
    let pushed: Value = serde_json::from_str(pushed.to_text()?)?;
    ensure!(
        pushed["shipment"]["shipmentId"] == "E2E-STREAM-1"
            && pushed["shipment"]["status"] == "DELAYED",
        "pushed update: {pushed}"
    );
    // Seed 000's clients read `type` and `data`.
    ensure!(
        pushed["type"] == "shipment-update"
            && pushed["data"]["shipmentId"] == "E2E-STREAM-1"
            && pushed["data"]["timestamp"] == "2025-03-03T10:00:00.000Z",
        "seed 000's push keys: {pushed}"
    );

    let alerts = drain_probe(ctx, &alerts_probe, "E2E-STREAM-1", Duration::from_secs(6)).await?;
    let notes = drain_probe(ctx, &notes_probe, "E2E-STREAM-1", Duration::from_secs(2)).await?;
    ctx.harness.settle(Duration::from_secs(30)).await?;
    ensure!(
        alerts.len() == 1,
        "one alert on the alerts topic, got {}: {alerts:?}",
        alerts.len()
    );
    ensure!(
        alerts[0]["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("Critical shipment status: DELAYED"),
        "alert text: {}",
        alerts[0]
    );
    ensure!(
        notes.len() == 1,
        "one notification, got {}: {notes:?}",
        notes.len()
    );
    seed_000_notification(&notes[0])?;
    // The platform's own buffer queue gets the same envelope, for seed 000's queue consumers.
    let buffer = ctx.outputs.get("notifications_queue_url")?;
    let buffered = drain_probe(ctx, &buffer, "E2E-STREAM-1", Duration::from_secs(3)).await?;
    ensure!(
        buffered.len() == 1,
        "one notification in the buffer queue, got {buffered:?}"
    );
    seed_000_notification(&buffered[0])?;

    // The other client: nothing on its socket, and no post addressed to it.
    let nothing = tokio::time::timeout(Duration::from_secs(2), other.next()).await;
    ensure!(
        nothing.is_err(),
        "the unsubscribed client received {nothing:?}"
    );
    let posts = hub.posts();
    let to = |id: &str| {
        posts
            .iter()
            .filter(|p| p.connection_id == id)
            .cloned()
            .collect::<Vec<_>>()
    };
    ensure!(
        to(&subscribed_id).len() == 1 && to(&subscribed_id)[0].status == 200,
        "one delivered post to the subscriber: {posts:?}"
    );
    ensure!(
        to(&other_id).is_empty(),
        "no post to the unsubscribed connection: {posts:?}"
    );
    // The stale one answered 410 and the fanout forgot it.
    ensure!(
        to(&stale_id).iter().all(|p| p.status == 410) && !to(&stale_id).is_empty(),
        "410 for the stale connection: {posts:?}"
    );
    let connections = ctx.outputs.get("connections_table_name")?;
    let left = ctx
        .harness
        .clients
        .dynamodb
        .query()
        .table_name(&connections)
        .key_condition_expression("connectionId = :c")
        .expression_attribute_values(":c", AttributeValue::S(stale_id.clone()))
        .consistent_read(true)
        .send()
        .await?
        .count();
    ensure!(
        left == 0,
        "the stale connection's rows are deleted ({left} left)"
    );

    for socket in [&mut subscribed, &mut other, &mut stale] {
        let _ = socket.close(None).await;
    }
    let clients = &ctx.harness.clients;
    for sub in [alerts_sub, notes_sub] {
        clients
            .sns
            .unsubscribe()
            .subscription_arn(sub)
            .send()
            .await?;
    }
    for url in [alerts_probe, notes_probe] {
        clients.sqs.delete_queue().queue_url(url).send().await?;
    }
    Ok(())
}

/// Seed 000's notification, as its SQS consumers read it: an SNS envelope with its subject and
/// its flat message keys.
fn seed_000_notification(envelope: &Value) -> Result<()> {
    ensure!(
        envelope["Subject"] == "Shipment E2E-STREAM-1 Status Update",
        "the seed's subject: {envelope}"
    );
    let message: Value = serde_json::from_str(envelope["Message"].as_str().unwrap_or_default())?;
    for (key, value) in [
        ("shipmentId", "E2E-STREAM-1"),
        ("status", "DELAYED"),
        ("location", "Reno, NV"),
        ("timestamp", "2025-03-03T10:00:00.000Z"),
        ("customerId", ""),
        ("customerEmail", ""),
    ] {
        ensure!(message[key] == value, "the seed's {key}: {message}");
    }
    Ok(())
}

// ------------------------------------------------------------------ 5 daily summary

async fn daily_summary(ctx: &Ctx) -> Result<()> {
    let day = [
        ("DELIVERED", 3),
        ("IN_TRANSIT", 2),
        ("DELAYED", 1),
        ("LOST", 1),
    ];
    let mut n = 0;
    for (status, count) in day {
        for _ in 0..count {
            n += 1;
            let event = json!({"shipmentId": format!("E2E-DAY-{n}"), "status": status, "timestamp": format!("2025-04-10T{:02}:15:00Z", n + 3)});
            let answer = post(&ctx.shipments_url, &event.to_string(), &[], true).await?;
            ensure!(
                answer.status == 200,
                "{event}: {} {}",
                answer.status,
                answer.body
            );
        }
    }
    // The day before and after do not count.
    for (i, time) in ["2025-04-09T23:59:59Z", "2025-04-11T00:00:00Z"]
        .iter()
        .enumerate()
    {
        let event = json!({"shipmentId": format!("E2E-DAY-EDGE-{i}"), "status": "DELIVERED", "timestamp": time});
        ensure!(
            post(&ctx.shipments_url, &event.to_string(), &[], true)
                .await?
                .status
                == 200
        );
    }
    // The schedule's event (cron(0 1 * * ? *)) the morning after.
    let scheduled = json!({
        "version": "0", "id": "e2e-summary-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2025-04-11T01:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/shipstack-local-daily-summary"], "detail": {}
    });
    let summary_key = |clients: &local::sdk_clients::Clients| {
        clients
            .dynamodb
            .get_item()
            .table_name(&ctx.table)
            .key(
                shipments_table::PARTITION_KEY,
                AttributeValue::S("SUMMARY#2025-04-10".into()),
            )
            .key(shipments_table::SORT_KEY, AttributeValue::S("DAILY".into()))
            .consistent_read(true)
    };
    for run in 1..=2 {
        let attempts = ctx
            .harness
            .invoke_async("daily-summary", scheduled.clone())
            .await?;
        ensure!(
            attempts.len() == 1 && attempts[0].outcome.is_ok(),
            "run {run}: {:?}",
            attempts.last().map(|a| &a.outcome)
        );
        let item = summary_key(&ctx.harness.clients)
            .send()
            .await?
            .item()
            .cloned()
            .context("no summary item")?;
        let counts = item
            .get("counts")
            .and_then(|c| c.as_m().ok())
            .context("counts")?;
        let count = |status: &str| {
            counts
                .get(status)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        };
        for (status, expected) in day {
            ensure!(
                count(status) == expected,
                "run {run}: {status} = {} (expected {expected})",
                count(status)
            );
        }
        for status in [
            "CREATED",
            "PICKED_UP",
            "OUT_FOR_DELIVERY",
            "EXCEPTION",
            "DAMAGED",
            "RETURNED",
            "CANCELLED",
        ] {
            ensure!(
                count(status) == 0,
                "run {run}: {status} = {}",
                count(status)
            );
        }
        ensure!(
            item.get("total")
                .and_then(|v| v.as_n().ok())
                .map(String::as_str)
                == Some("7"),
            "run {run}: total {:?}",
            item.get("total")
        );
        ensure!(
            item.get("critical")
                .and_then(|v| v.as_n().ok())
                .map(String::as_str)
                == Some("2"),
            "run {run}: critical {:?}",
            item.get("critical")
        );
        let summaries = items_of(&ctx.harness.clients, &ctx.table, "SUMMARY#2025-04-10").await?;
        ensure!(
            summaries.len() == 1,
            "run {run}: {} summary items for the day",
            summaries.len()
        );
    }
    Ok(())
}

// ------------------------------------------------------------------ 6 load

async fn load(ctx: &Ctx) -> Result<String> {
    let report = drive::load(
        &ctx.harness.clients,
        &ctx.bus,
        &ctx.table,
        &drive::LoadRun {
            prefix: "E2E-LOAD-",
            day: "2025-02-01",
            events: LOAD_EVENTS,
            in_flight: LOAD_IN_FLIGHT,
            timeout: Duration::from_secs(240),
        },
    )
    .await?;
    println!("load: {report}");
    ensure!(
        report.lost == 0 && report.duplicated == 0 && report.stored == LOAD_EVENTS,
        "{report}"
    );
    // The fanout may be behind by then: every record is a subscriber Query and a publish,
    // which moto answers one at a time whatever the fanout's `fanout_in_flight` (2 in the
    // local env).
    ctx.harness.settle(Duration::from_secs(360)).await?;
    let stored = drive::items_with_prefix(&ctx.harness.clients, &ctx.table, "E2E-LOAD-")
        .await?
        .len();
    ensure!(
        stored == LOAD_EVENTS,
        "after settling: {stored} items for {LOAD_EVENTS} events"
    );
    Ok(report.to_string())
}

// ------------------------------------------------------------------ 7 faults

async fn faults(ctx: &Ctx) -> Result<String> {
    let proxy = ctx
        .harness
        .faults
        .as_ref()
        .context("the harness runs without the fault proxy")?;
    let before = proxy.injected().total();
    proxy.set_share(FAULT_SHARE);
    let result = faults_inner(ctx).await;
    proxy.set_share(0.0);
    let injected = proxy.injected();
    let count = injected.total() - before;
    println!("faults injected: {count} ({:?})", injected.0);
    result?;
    ensure!(count > 0, "no fault was injected");
    Ok(format!(
        "{count} injected failures ({:?}), share {FAULT_SHARE}, seed {FAULT_SEED}",
        injected.0
    ))
}

async fn faults_inner(ctx: &Ctx) -> Result<()> {
    let clients = &ctx.harness.clients;
    const BUS_EVENTS: usize = 400;
    const REST_EVENTS: usize = 40;
    let events: Vec<BusEvent> = (0..BUS_EVENTS)
        .map(|i| BusEvent::new("logistics.shipments", "Shipment Update", json!({
            "shipmentId": format!("E2E-FAULT-{:04}", i / 4), "status": if i % 10 == 0 { "DELAYED" } else { "IN_TRANSIT" },
            "timestamp": format!("2025-01-15T10:{:02}:{:02}Z", i / 60, i % 60)})))
        .collect();
    let baseline = drive::item_count(clients, &ctx.table).await?;
    let stream_before: u64 = ctx
        .harness
        .stream_pollers
        .iter()
        .map(|s| s.stats.records.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    drive::put_events(clients, Some(&ctx.bus), &events).await?;
    // REST clients retry a 500 with the same request (the API's contract).
    for i in 0..REST_EVENTS {
        let event = json!({"shipmentId": format!("E2E-FAULT-R{i:03}"), "status": "PICKED_UP", "timestamp": "2025-01-15T11:00:00Z"});
        let key = format!("e2e-fault-{i}");
        let mut status = 0;
        for _ in 0..10 {
            status = post(
                &ctx.shipments_url,
                &event.to_string(),
                &[("Idempotency-Key", &key)],
                true,
            )
            .await?
            .status;
            if status == 200 {
                break;
            }
            ensure!(status == 500, "REST under faults: {status}");
        }
        ensure!(status == 200, "REST event {i} never stored");
    }
    let total = BUS_EVENTS + REST_EVENTS;
    // Messages whose three SDK attempts all failed wait for the queue's visibility timeout
    // (190 s) before their redelivery.
    eventually(
        &format!("{total} fault-run events stored"),
        Duration::from_secs(300),
        || async {
            Ok((drive::item_count(clients, &ctx.table).await? >= baseline + total).then_some(()))
        },
    )
    .await?;
    let queue = &ctx.harness.queue_pollers[0].queue_url;
    eventually(
        "the events queue empty (nothing visible or in flight)",
        Duration::from_secs(240),
        || async { Ok((ctx.harness.queue_depth(queue).await? == (0, 0)).then_some(())) },
    )
    .await?;
    // The stream lags the table: the local fanout keeps 2 requests in flight, one entry per
    // publish (envs/local), on a moto that answers one request at a time, and a fifth of its
    // calls fail, so it works 2-4 records/s here (its batches answered 5-48 s apart) and the 440
    // records up to about 220 s after the last write; writers that store in batches finish
    // long before it (120 s was too short once they did: CI, 2026-12-03).
    ctx.harness.settle(Duration::from_secs(360)).await?;
    let items = drive::items_with_prefix(clients, &ctx.table, "E2E-FAULT-").await?;
    let mut keys = std::collections::HashSet::new();
    for item in &items {
        ensure!(
            keys.insert((
                s(item, "shipmentId").to_owned(),
                s(item, "eventTime").to_owned()
            )),
            "duplicate item {item:?}"
        );
    }
    ensure!(
        items.len() == total,
        "exactly once: {} items for {total} events",
        items.len()
    );
    let (dlq_visible, dlq_in_flight) = ctx.harness.queue_depth(&ctx.dlq_url).await?;
    ensure!(
        dlq_visible + dlq_in_flight == 0,
        "nothing in the DLQ: {dlq_visible} visible, {dlq_in_flight} in flight"
    );
    // Given up on = written to the failed-records bucket on AWS (moto's condition-blind
    // bucket policy refuses the harness's write, so the harness keeps them).
    let given_up: Vec<Value> = ctx
        .harness
        .stream_pollers
        .iter()
        .flat_map(|s| s.given_up())
        .map(|g| g.invocation_record["DDBStreamBatchInfo"].clone())
        .collect();
    ensure!(
        given_up.is_empty(),
        "stream batches given up on: {given_up:?}"
    );
    let streamed: u64 = ctx
        .harness
        .stream_pollers
        .iter()
        .map(|s| s.stats.records.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    ensure!(
        streamed - stream_before >= total as u64,
        "the fanout saw every new item ({} records for {total})",
        streamed - stream_before
    );
    Ok(())
}
