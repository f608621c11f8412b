//! Driving the deployed platform from outside, as producers and operators do: signed REST
//! calls, `PutEvents` on the bus, reading the table back. Used by the tests and the load
//! benchmark.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use shipment::contract::shipments_table;

use crate::aws::Clients;
use crate::faults::fake_authorization;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
}

impl HttpAnswer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// `POST url` with a JSON body, SigV4-shaped auth (when `signed`) and extra headers.
pub async fn post(
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
    signed: bool,
) -> Result<HttpAnswer> {
    let mut request = hyper::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/json")
        .header("user-agent", "shipstack-local-e2e");
    if signed {
        request = request.header("authorization", fake_authorization("execute-api"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body.to_owned())))?;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .request(request)
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(HttpAnswer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// One event for the bus.
#[derive(Debug, Clone)]
pub struct BusEvent {
    pub source: String,
    pub detail_type: String,
    pub detail: Value,
    /// The envelope time (EventBridge's `Time`), when the producer sets it.
    pub time: Option<chrono::DateTime<chrono::Utc>>,
}

impl BusEvent {
    pub fn new(source: &str, detail_type: &str, detail: Value) -> BusEvent {
        BusEvent {
            source: source.into(),
            detail_type: detail_type.into(),
            detail,
            time: None,
        }
    }
}

/// `PutEvents` in calls of up to ten entries; failed entries are retried (as producers
/// must), so every event is accepted once.
pub async fn put_events(clients: &Clients, bus: &str, events: &[BusEvent]) -> Result<()> {
    for chunk in events.chunks(10) {
        let mut pending: Vec<PutEventsRequestEntry> = chunk
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(e.detail.to_string())
                    .set_time(e.time.map(|t| {
                        aws_sdk_eventbridge::primitives::DateTime::from_millis(t.timestamp_millis())
                    }))
                    .build()
            })
            .collect();
        for attempt in 0..5 {
            let output = clients
                .events
                .put_events()
                .set_entries(Some(pending.clone()))
                .send()
                .await
                .context("events:PutEvents")?;
            if output.failed_entry_count() == 0 {
                pending.clear();
                break;
            }
            pending = output
                .entries()
                .iter()
                .zip(pending)
                .filter(|(result, _)| result.error_code().is_some())
                .map(|(_, entry)| entry)
                .collect();
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        if !pending.is_empty() {
            bail!(
                "{} entries refused by PutEvents after retries",
                pending.len()
            );
        }
    }
    Ok(())
}

pub type Row = HashMap<String, AttributeValue>;

/// The items of one shipment (consistent Query).
pub async fn items_of(clients: &Clients, table: &str, shipment_id: &str) -> Result<Vec<Row>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = clients
            .dynamodb
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", shipments_table::PARTITION_KEY)
            .expression_attribute_values(":pk", AttributeValue::S(shipment_id.into()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .context("dynamodb:Query")?;
        items.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(items),
        }
    }
}

/// Every item whose shipment id starts with `prefix` (a Scan: the test reads everything;
/// the platform itself never scans).
pub async fn items_with_prefix(clients: &Clients, table: &str, prefix: &str) -> Result<Vec<Row>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = clients
            .dynamodb
            .scan()
            .table_name(table)
            .filter_expression("begins_with(#pk, :p)")
            .expression_attribute_names("#pk", shipments_table::PARTITION_KEY)
            .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .context("dynamodb:Scan")?;
        items.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(items),
        }
    }
}

/// The table's item count (`DescribeTable`; live on moto, about six-hourly on AWS).
pub async fn item_count(clients: &Clients, table: &str) -> Result<usize> {
    let output = clients
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .context("dynamodb:DescribeTable")?;
    Ok(output
        .table()
        .and_then(|t| t.item_count())
        .unwrap_or(0)
        .max(0) as usize)
}

/// A string attribute.
pub fn s<'a>(row: &'a Row, name: &str) -> &'a str {
    row.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or_default()
}

/// Polls `check` until it returns `Some`, or fails with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub sent: usize,
    pub stored: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// From the first `PutEvents` to the last event stored.
    pub elapsed: Duration,
    pub events_per_second: f64,
    /// Per event: `PutEvents` accepted -> item's `ingestedAt`.
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events sent, {} stored, {} lost, {} duplicated in {:.1} s: {:.0} events/s; latency p50 {} ms, p99 {} ms, max {} ms",
            self.sent,
            self.stored,
            self.lost,
            self.duplicated,
            self.elapsed.as_secs_f64(),
            self.events_per_second,
            self.p50.as_millis(),
            self.p99.as_millis(),
            self.max.as_millis()
        )
    }
}

/// Sends `count` distinct events through the bus (in both producer dialects, ten events
/// per shipment, on `day`), waits until they are all stored or `timeout` passes, and
/// measures. Shipment ids start with `prefix`.
pub async fn load(
    clients: &Clients,
    bus: &str,
    table: &str,
    prefix: &str,
    day: &str,
    count: usize,
    timeout: Duration,
) -> Result<LoadReport> {
    const STATUSES: [&str; 5] = [
        "CREATED",
        "PICKED_UP",
        "IN_TRANSIT",
        "OUT_FOR_DELIVERY",
        "DELIVERED",
    ];
    let events: Vec<(String, String, BusEvent)> = (0..count)
        .map(|i| {
            let shipment = format!("{prefix}{:06}", i / 10);
            let time = format!("{day}T{:02}:{:02}:{:02}.{:03}Z", (i / 3600) % 24, (i / 60) % 60, i % 60, i % 1000);
            let status = STATUSES[i % STATUSES.len()];
            let event = if i % 2 == 0 {
                BusEvent::new("logistics.shipments", "Shipment Update", json!({"shipmentId": shipment, "status": status, "timestamp": time, "carrier": "LoadCo"}))
            } else {
                BusEvent::new("shipment.service", &format!("shipment.{}", status.to_lowercase()), json!({"shipment_id": shipment, "event_type": status, "event_timestamp": time, "event_data": {"n": i}}))
            };
            (shipment, time, event)
        })
        .collect();
    let baseline = item_count(clients, table).await?;
    let started = Instant::now();
    let start_wall = chrono::Utc::now();
    let sent_at: Arc<std::sync::Mutex<BTreeMap<(String, String), i64>>> = Arc::default();
    let chunks: Vec<Vec<(String, String, BusEvent)>> =
        events.chunks(10).map(|c| c.to_vec()).collect();
    let mut senders = tokio::task::JoinSet::new();
    let per_sender = chunks.len().div_ceil(4);
    for group in chunks.chunks(per_sender.max(1)).map(|g| g.to_vec()) {
        let clients = clients.clone();
        let bus = bus.to_owned();
        let sent_at = sent_at.clone();
        senders.spawn(async move {
            for chunk in group {
                let bus_events: Vec<BusEvent> = chunk.iter().map(|(_, _, e)| e.clone()).collect();
                put_events(&clients, &bus, &bus_events).await?;
                let now = chrono::Utc::now().timestamp_millis();
                let mut sent = sent_at.lock().unwrap();
                for (shipment, time, _) in chunk {
                    sent.insert((shipment, normalise_time(&time)), now);
                }
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(result) = senders.join_next().await {
        result??;
    }
    // Progress is watched with the table's item count (cheap); the items are read once at
    // the end (a Scan on moto costs seconds at this size and would slow what it measures).
    let deadline = Instant::now() + timeout;
    while item_count(clients, table).await? < baseline + count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let rows = items_with_prefix(clients, table, prefix).await?;
    let elapsed = started.elapsed();
    let sent = sent_at.lock().unwrap().clone();
    let mut seen = HashSet::new();
    let mut duplicated = 0;
    let mut latencies = Vec::new();
    for row in &rows {
        let key = (
            s(row, shipments_table::PARTITION_KEY).to_owned(),
            normalise_time(s(row, shipments_table::STATUS_INDEX_SORT_KEY)),
        );
        if !seen.insert(key.clone()) {
            duplicated += 1;
            continue;
        }
        if let (Some(sent_ms), Ok(ingested)) = (
            sent.get(&key),
            chrono::DateTime::parse_from_rfc3339(s(row, "ingestedAt")),
        ) {
            latencies.push(Duration::from_millis(
                (ingested.timestamp_millis() - sent_ms).max(0) as u64,
            ));
        }
    }
    let lost = sent.keys().filter(|k| !seen.contains(*k)).count();
    let last_ingested = rows
        .iter()
        .filter_map(|r| chrono::DateTime::parse_from_rfc3339(s(r, "ingestedAt")).ok())
        .max()
        .map(|t| (t.timestamp_millis() - start_wall.timestamp_millis()).max(1) as u64)
        .map(Duration::from_millis)
        .unwrap_or(elapsed);
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    Ok(LoadReport {
        sent: count,
        stored: rows.len(),
        lost,
        duplicated,
        elapsed: last_ingested,
        events_per_second: seen.len() as f64 / last_ingested.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        max: latencies.last().copied().unwrap_or_default(),
    })
}

/// RFC 3339 with milliseconds, UTC: how the table stores event times.
pub fn normalise_time(time: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(time)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_else(|_| time.to_owned())
}
