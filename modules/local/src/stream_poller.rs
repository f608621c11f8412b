//! A DynamoDB stream event source mapping, played as Lambda plays it.
//!
//! One poller per shard, in order: `GetRecords` up to the batch size within the batching
//! window, then a synchronous invocation with the `aws:dynamodb` event. The shard does not
//! advance until the batch is done:
//!
//! - `batchItemFailures` (with `ReportBatchItemFailures`): the records before the earliest
//!   reported sequence number are done; the batch is retried from it;
//! - function error or timeout: with `BisectBatchOnFunctionError` the batch is split in two
//!   and each half retried on its own, else it is retried whole;
//! - every retry counts against `MaximumRetryAttempts`, per record: progress past a
//!   reported failure starts the count again at the new first record; records older than
//!   `MaximumRecordAgeInSeconds` are not retried; what is given up on is described to the
//!   on-failure destination (S3, SQS or SNS) in Lambda's invocation-record format, and the
//!   shard moves on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::deployed::Mapping;
use crate::faults::raw_request;
use crate::lambda::{EmulatedFunction, Outcome};
use crate::sdk_clients::{arn_name, Clients, REGION};

/// Counters of one stream source.
#[derive(Debug, Default)]
pub struct StreamStats {
    pub batches: AtomicU64,
    pub records: AtomicU64,
    pub retries: AtomicU64,
    pub bisections: AtomicU64,
    /// Records given up on and sent to the on-failure destination.
    pub discarded: AtomicU64,
}

/// A batch given up on: Lambda's invocation record, and whether the on-failure
/// destination took it.
#[derive(Debug, Clone)]
pub struct GivenUp {
    pub invocation_record: Value,
    pub delivered: bool,
}

/// The poller of a DynamoDB stream event source mapping.
pub struct StreamPoller {
    pub mapping: Mapping,
    pub stats: StreamStats,
    clients: Clients,
    function: Arc<EmulatedFunction>,
    moto_endpoint: String,
    /// True while any shard has fetched records it has not finished.
    busy: AtomicBool,
    /// When each shard last found nothing new (caught up with the stream).
    caught_up: Mutex<Option<Instant>>,
    started_position: Mutex<Option<String>>,
    given_up: Mutex<Vec<GivenUp>>,
}

enum Verdict {
    Done,
    /// Retry from this index on (the records before it are done).
    RetryFrom(usize, &'static str),
    FunctionError(&'static str),
}

impl StreamPoller {
    pub fn new(
        mapping: Mapping,
        clients: Clients,
        function: Arc<EmulatedFunction>,
        moto_endpoint: &str,
    ) -> StreamPoller {
        StreamPoller {
            mapping,
            stats: StreamStats::default(),
            clients,
            function,
            moto_endpoint: moto_endpoint.to_owned(),
            busy: AtomicBool::new(false),
            caught_up: Mutex::new(None),
            started_position: Mutex::new(None),
            given_up: Mutex::new(Vec::new()),
        }
    }

    /// Every batch given up on so far.
    pub fn given_up(&self) -> Vec<GivenUp> {
        self.given_up.lock().unwrap().clone()
    }

    /// Whether every record written before `since` has been handled: not busy and caught
    /// up with the stream after `since`.
    pub fn idle_since(&self, since: Instant) -> bool {
        !self.busy.load(Ordering::SeqCst)
            && self.caught_up.lock().unwrap().is_some_and(|t| t > since)
    }

    /// The shard iterators, positioned as the mapping says (at start-up).
    pub async fn open(&self) -> Result<Vec<(String, String)>> {
        let arn = &self.mapping.source_arn;
        let description = self
            .clients
            .streams
            .describe_stream()
            .stream_arn(arn)
            .send()
            .await
            .context("dynamodbstreams:DescribeStream")?;
        let kind = match self.mapping.starting_position.as_deref() {
            Some("TRIM_HORIZON") => ShardIteratorType::TrimHorizon,
            _ => ShardIteratorType::Latest,
        };
        *self.started_position.lock().unwrap() = Some(kind.as_str().to_owned());
        let mut iterators = Vec::new();
        for shard in description
            .stream_description()
            .map(|d| d.shards())
            .unwrap_or_default()
        {
            let Some(shard_id) = shard.shard_id() else {
                continue;
            };
            let iterator = self
                .clients
                .streams
                .get_shard_iterator()
                .stream_arn(arn)
                .shard_id(shard_id)
                .shard_iterator_type(kind.clone())
                .send()
                .await
                .context("dynamodbstreams:GetShardIterator")?;
            if let Some(iterator) = iterator.shard_iterator() {
                iterators.push((shard_id.to_owned(), iterator.to_owned()));
            }
        }
        Ok(iterators)
    }

    /// One shard's poller: runs until its task is aborted.
    pub async fn run_shard(self: Arc<Self>, shard_id: String, mut iterator: String) {
        let batch_size = self.mapping.batch_size.max(1) as usize;
        let window = self.mapping.batching_window;
        let mut pending: Vec<Value> = Vec::new();
        let mut first_at: Option<Instant> = None;
        loop {
            let asked_at = Instant::now();
            let want = (batch_size - pending.len()) as i32;
            let output = self
                .clients
                .streams
                .get_records()
                .shard_iterator(&iterator)
                .limit(want)
                .send()
                .await;
            let output = match output {
                Ok(output) => output,
                Err(error) => {
                    eprintln!("[stream {shard_id}] GetRecords failed: {error}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let records = output.records();
            if !records.is_empty() {
                self.busy.store(true, Ordering::SeqCst);
                first_at.get_or_insert_with(Instant::now);
                pending.extend(
                    records
                        .iter()
                        .map(|r| stream_record(r, &self.mapping.source_arn)),
                );
            }
            if let Some(next) = output.next_shard_iterator() {
                iterator = next.to_owned();
            } else {
                // The shard is closed: Lambda moves to its children (moto never splits).
                if !pending.is_empty() {
                    self.deliver(&shard_id, std::mem::take(&mut pending)).await;
                }
                self.busy.store(false, Ordering::SeqCst);
                return;
            }
            let full = pending.len() >= batch_size;
            let window_over = first_at.is_some_and(|t| t.elapsed() >= window);
            if !pending.is_empty()
                && (full || window_over || records.is_empty() && window.is_zero())
            {
                first_at = None;
                self.deliver(&shard_id, std::mem::take(&mut pending)).await;
                continue;
            }
            if records.is_empty() {
                if pending.is_empty() {
                    self.busy.store(false, Ordering::SeqCst);
                    *self.caught_up.lock().unwrap() = Some(asked_at);
                }
                // Lambda polls each shard about four times a second.
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }

    async fn deliver(&self, shard_id: &str, records: Vec<Value>) {
        let max_retries = self.mapping.max_retry_attempts;
        let mut work: VecDeque<(Vec<Value>, u32)> = VecDeque::from([(records, 0)]);
        while let Some((batch, retries)) = work.pop_front() {
            if batch.is_empty() {
                continue;
            }
            let (batch, expired) = self.split_expired(batch);
            if !expired.is_empty() {
                self.discard(shard_id, &expired, "MaximumRecordAgeExceeded", retries)
                    .await;
            }
            if batch.is_empty() {
                continue;
            }
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            self.stats
                .records
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            let invocation = self.function.invoke(json!({"Records": batch})).await;
            let verdict = self.verdict(&invocation.outcome, &batch);
            let over_limit = |count: u32| max_retries.is_some_and(|max| count > max as u32);
            match verdict {
                Verdict::Done => {}
                Verdict::RetryFrom(index, why) => {
                    // The limit is per record: after progress the new first record has
                    // failed once, so its count starts there rather than carrying the
                    // batch's (else a 20 % fault rate ends a 100-record batch in S3 after
                    // a few partial successes).
                    let retries = if index > 0 { 1 } else { retries + 1 };
                    let rest = batch[index..].to_vec();
                    if over_limit(retries) {
                        self.discard(shard_id, &rest, why, retries).await;
                    } else {
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        backoff(retries - 1).await;
                        work.push_front((rest, retries));
                    }
                }
                Verdict::FunctionError(why) => {
                    let retries = retries + 1;
                    if over_limit(retries) {
                        self.discard(shard_id, &batch, why, retries).await;
                    } else if self.mapping.bisect_on_error && batch.len() > 1 {
                        self.stats.bisections.fetch_add(1, Ordering::Relaxed);
                        let (first, second) = batch.split_at(batch.len() / 2);
                        work.push_front((second.to_vec(), retries));
                        work.push_front((first.to_vec(), retries));
                    } else {
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        backoff(retries - 1).await;
                        work.push_front((batch, retries));
                    }
                }
            }
        }
    }

    fn verdict(&self, outcome: &Outcome, batch: &[Value]) -> Verdict {
        let response = match outcome {
            Outcome::Response(response) => response,
            Outcome::Error(_) => return Verdict::FunctionError("RetryAttemptsExhausted"),
            Outcome::Timeout => return Verdict::FunctionError("RetryAttemptsExhausted"),
        };
        if !self.mapping.report_batch_item_failures {
            return Verdict::Done;
        }
        let failures = match response.get("batchItemFailures") {
            None | Some(Value::Null) => return Verdict::Done,
            Some(Value::Array(f)) if f.is_empty() => return Verdict::Done,
            Some(Value::Array(f)) => f,
            Some(_) => return Verdict::FunctionError("RetryAttemptsExhausted"),
        };
        let mut earliest: Option<usize> = None;
        for failure in failures {
            let id = failure.get("itemIdentifier").and_then(Value::as_str);
            let index = id.and_then(|id| {
                batch
                    .iter()
                    .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(id))
            });
            match index {
                // An unknown or empty identifier: Lambda treats the whole batch as failed.
                None => return Verdict::RetryFrom(0, "RetryAttemptsExhausted"),
                Some(i) => earliest = Some(earliest.map_or(i, |e: usize| e.min(i))),
            }
        }
        Verdict::RetryFrom(earliest.unwrap_or(0), "RetryAttemptsExhausted")
    }

    fn split_expired(&self, batch: Vec<Value>) -> (Vec<Value>, Vec<Value>) {
        let Some(max_age) = self.mapping.max_record_age else {
            return (batch, Vec::new());
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        batch.into_iter().partition(|r| {
            r["dynamodb"]["ApproximateCreationDateTime"]
                .as_f64()
                .is_none_or(|created| now - created <= max_age.as_secs_f64())
        })
    }

    /// Sends Lambda's invocation record for records given up on to the on-failure
    /// destination, and counts them.
    async fn discard(&self, shard_id: &str, records: &[Value], condition: &str, attempts: u32) {
        self.stats
            .discarded
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        let Some(destination) = self.mapping.on_failure.clone() else {
            eprintln!(
                "[stream {shard_id}] {} records dropped ({condition}), no on-failure destination",
                records.len()
            );
            return;
        };
        let now = chrono::Utc::now();
        let seq = |r: Option<&Value>| {
            r.and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let arrival = |r: Option<&Value>| {
            r.and_then(|r| r["dynamodb"]["ApproximateCreationDateTime"].as_f64())
                .and_then(|s| chrono::DateTime::from_timestamp_millis((s * 1000.0) as i64))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        };
        let record = json!({
            "requestContext": {
                "requestId": format!("{}-{}", self.mapping.uuid, now.timestamp_millis()),
                "functionArn": self.function.spec.arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": seq(records.first()),
                "endSequenceNumber": seq(records.last()),
                "approximateArrivalOfFirstRecord": arrival(records.first()),
                "approximateArrivalOfLastRecord": arrival(records.last()),
                "batchSize": records.len(),
                "streamArn": self.mapping.source_arn,
            },
            "payload": json!({"Records": records}).to_string(),
        });
        let body = record.to_string();
        let mut given_up = GivenUp {
            invocation_record: record,
            delivered: false,
        };
        let result: Result<()> = async {
            if let Some(bucket) = destination.strip_prefix("arn:aws:s3:::") {
                let key = format!(
                    "aws/lambda/{}/{}/{}/{}-{}",
                    self.mapping.uuid,
                    shard_id,
                    now.format("%Y/%m/%d"),
                    now.format("%Y-%m-%dT%H.%M.%S"),
                    now.timestamp_nanos_opt().unwrap_or_default()
                );
                let url = format!("{}/{}/{}", self.moto_endpoint, bucket, key);
                let (status, answer) = raw_request(
                    "PUT",
                    &url,
                    "s3",
                    &self.clients.credentials,
                    body.into_bytes(),
                )
                .await?;
                // moto 5.2.5 evaluates bucket policies without their conditions, so the
                // bucket's TLS-only deny (`aws:SecureTransport = false`) denies every
                // PutObject here; Lambda writes over TLS. The record stays in `given_up`.
                anyhow::ensure!(
                    status < 300,
                    "s3:PutObject {status} (403: moto applies the TLS-only deny without its condition): {}",
                    String::from_utf8_lossy(&answer)
                );
            } else if destination.starts_with("arn:aws:sqs:") {
                let url = self
                    .clients
                    .sqs
                    .get_queue_url()
                    .queue_name(arn_name(&destination))
                    .send()
                    .await?;
                self.clients
                    .sqs
                    .send_message()
                    .queue_url(url.queue_url().unwrap_or_default())
                    .message_body(body)
                    .send()
                    .await?;
            } else if destination.starts_with("arn:aws:sns:") {
                self.clients
                    .sns
                    .publish()
                    .topic_arn(&destination)
                    .message(body)
                    .send()
                    .await?;
            } else {
                anyhow::bail!("unsupported on-failure destination {destination}");
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => given_up.delivered = true,
            Err(error) => {
                eprintln!("[stream {shard_id}] writing the on-failure record failed: {error:#}")
            }
        }
        self.given_up.lock().unwrap().push(given_up);
    }
}

async fn backoff(retries: u32) {
    let ms = (100u64 << retries.min(5)).min(2000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// One stream record as Lambda's DynamoDB event record.
pub fn stream_record(record: &Record, stream_arn: &str) -> Value {
    let mut change = Map::new();
    if let Some(data) = record.dynamodb() {
        if let Some(t) = data.approximate_creation_date_time() {
            change.insert("ApproximateCreationDateTime".into(), json!(t.secs() as f64));
        }
        for (name, image) in [
            ("Keys", data.keys()),
            ("NewImage", data.new_image()),
            ("OldImage", data.old_image()),
        ] {
            if let Some(image) = image {
                change.insert(
                    name.into(),
                    Value::Object(
                        image
                            .iter()
                            .map(|(k, v)| (k.clone(), attribute(v)))
                            .collect(),
                    ),
                );
            }
        }
        if let Some(sequence) = data.sequence_number() {
            change.insert("SequenceNumber".into(), json!(sequence));
        }
        if let Some(size) = data.size_bytes() {
            change.insert("SizeBytes".into(), json!(size));
        }
        if let Some(view) = data.stream_view_type() {
            change.insert("StreamViewType".into(), json!(view.as_str()));
        }
    }
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": record.event_source().unwrap_or("aws:dynamodb"),
        "awsRegion": record.aws_region().unwrap_or(REGION),
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    })
}

/// A stream attribute value in DynamoDB's JSON (`{"S": "..."}`).
pub fn attribute(value: &AttributeValue) -> Value {
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => json!({"B": b64(b)}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::Bs(v) => json!({"BS": v.iter().map(b64).collect::<Vec<_>>()}),
        AttributeValue::M(m) => {
            json!({"M": m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<Map<_, _>>()})
        }
        AttributeValue::L(l) => json!({"L": l.iter().map(attribute).collect::<Vec<_>>()}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        _ => json!({"NULL": true}),
    }
}

/// The stream's table name (for messages).
pub fn table_of(stream_arn: &str) -> &str {
    stream_arn
        .split("/stream/")
        .next()
        .map(arn_name)
        .unwrap_or(stream_arn)
        .trim_start_matches("table/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord, StreamViewType};

    #[test]
    fn records_have_the_shape_of_lambdas_dynamodb_event() {
        let record = Record::builder()
            .event_id("e-1")
            .event_name(OperationType::Insert)
            .event_source("aws:dynamodb")
            .dynamodb(
                StreamRecord::builder()
                    .keys("shipmentId", AttributeValue::S("S-1".into()))
                    .new_image("shipmentId", AttributeValue::S("S-1".into()))
                    .new_image("count", AttributeValue::N("3".into()))
                    .new_image("tags", AttributeValue::L(vec![AttributeValue::Bool(true)]))
                    .sequence_number("100")
                    .size_bytes(42)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .approximate_creation_date_time(
                        aws_sdk_dynamodbstreams::primitives::DateTime::from_secs(1_760_000_000),
                    )
                    .build(),
            )
            .build();
        let event = json!({"Records": [stream_record(&record, "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x")]});
        let typed: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_value(event).expect("a DynamoDB event");
        let first = &typed.records[0];
        assert_eq!(first.event_name, "INSERT");
        assert_eq!(first.change.sequence_number.as_deref(), Some("100"));
        assert_eq!(
            first.event_source_arn.as_deref(),
            Some("arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x")
        );
    }

    #[test]
    fn table_names_come_out_of_stream_arns() {
        assert_eq!(
            table_of("arn:aws:dynamodb:us-east-1:1:table/shipments/stream/2025"),
            "shipments"
        );
    }
}
