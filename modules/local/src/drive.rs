//! Driving the deployed platform from outside, as producers and operators do: signed REST
//! calls, `PutEvents` on the bus, reading the table back. Used by the tests and the load
//! benchmark.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use shipment::contract::shipments_table;

use crate::faults::{fake_authorization, http_client};
use crate::sdk_clients::Clients;

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
    let response = http_client()
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
/// `bus: None` is the account's default bus (a `put-events` without `EventBusName`, as seed
/// 004's producer sends).
pub async fn put_events(clients: &Clients, bus: Option<&str>, events: &[BusEvent]) -> Result<()> {
    for chunk in events.chunks(10) {
        let mut pending: Vec<PutEventsRequestEntry> = chunk
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .set_event_bus_name(bus.map(str::to_owned))
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
    clients
        .dynamodb
        .query()
        .table_name(table)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", shipments_table::PARTITION_KEY)
        .expression_attribute_values(":pk", AttributeValue::S(shipment_id.into()))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .context("dynamodb:Query")
}

/// Every item whose shipment id starts with `prefix` (a Scan: the test reads everything;
/// the platform itself never scans).
pub async fn items_with_prefix(clients: &Clients, table: &str, prefix: &str) -> Result<Vec<Row>> {
    clients
        .dynamodb
        .scan()
        .table_name(table)
        .filter_expression("begins_with(#pk, :p)")
        .expression_attribute_names("#pk", shipments_table::PARTITION_KEY)
        .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .context("dynamodb:Scan")
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

/// One load run: `events` distinct events (both producer dialects, ten per shipment, on
/// `day`, shipment ids starting with `prefix`), at most `in_flight` of them sent but not
/// yet stored, all stored within `timeout`.
#[derive(Debug, Clone)]
pub struct LoadRun<'a> {
    pub prefix: &'a str,
    pub day: &'a str,
    pub events: usize,
    pub in_flight: usize,
    pub timeout: Duration,
}

/// Sends a [`LoadRun`] through the bus, waits until every event is stored or the timeout
/// passes, and measures.
///
/// A closed loop rather than one burst: a burst measures the emulator's queue, not the
/// pipeline. moto's SQS walks every message of a queue on each send and on each received
/// message (queue attributes, retention check), so a queue holding thousands of messages
/// makes each call cost milliseconds per message held: 3,000 events at once ran at
/// 7 events/s, mostly inside moto's `Queue.attributes`. A small window is also faster:
/// 30,000 events ran at 31 events/s (p50 4.4 s) with 200 in flight, 42 events/s (p50 73 ms)
/// with 40.
pub async fn load(
    clients: &Clients,
    bus: &str,
    table: &str,
    run: &LoadRun<'_>,
) -> Result<LoadReport> {
    let LoadRun {
        prefix,
        day,
        events: count,
        in_flight,
        timeout,
    } = run.clone();
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
    let stored = || async {
        Ok::<_, anyhow::Error>(item_count(clients, table).await?.saturating_sub(baseline))
    };
    let started = Instant::now();
    let deadline = started + timeout;
    let start_wall = chrono::Utc::now();
    let mut sent_at: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut done = 0;
    for chunk in events.chunks(10) {
        while sent_at.len() + chunk.len() > done + in_flight.max(chunk.len()) {
            if Instant::now() > deadline {
                bail!(
                    "{done} of {} sent events stored after {timeout:?}",
                    sent_at.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            done = stored().await?;
        }
        let bus_events: Vec<BusEvent> = chunk.iter().map(|(_, _, e)| e.clone()).collect();
        put_events(clients, Some(bus), &bus_events).await?;
        let now = chrono::Utc::now().timestamp_millis();
        for (shipment, time, _) in chunk {
            sent_at.insert((shipment.clone(), normalise_time(time)), now);
        }
    }
    while done < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        done = stored().await?;
    }
    let rows = items_with_prefix(clients, table, prefix).await?;
    let elapsed = started.elapsed();
    let sent = sent_at;
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
