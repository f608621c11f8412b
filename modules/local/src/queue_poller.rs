//! An SQS event source mapping, played as Lambda plays it: long-polls the queue, gathers a
//! batch up to the mapping's batch size within its batching window, invokes the function
//! synchronously with the `aws:sqs` event, and deletes what succeeded.
//!
//! - Whole success: every message is deleted.
//! - `ReportBatchItemFailures` and a `batchItemFailures` answer: every message but the
//!   listed ones is deleted; an empty, unknown or malformed identifier fails the whole batch
//!   (Lambda's rule).
//! - EmulatedFunction error or timeout: nothing is deleted.
//!
//! Messages not deleted stay in flight until the queue's own visibility timeout ends and are
//! received again; after `maxReceiveCount` receives the queue's redrive policy (the
//! emulator's, not ours) moves them to the dead-letter queue. The harness never changes a
//! message's visibility: Lambda does not either.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{json, Map, Value};

use crate::deployed::Mapping;
use crate::lambda::{EmulatedFunction, Outcome};
use crate::sdk_clients::{arn_name, REGION};

/// Counters of one queue poller.
#[derive(Debug, Default)]
pub struct QueuePollerStats {
    pub batches: AtomicU64,
    pub records: AtomicU64,
    pub deleted: AtomicU64,
    pub failed_items: AtomicU64,
    pub failed_batches: AtomicU64,
    /// Batches being gathered or processed right now.
    pub busy: AtomicUsize,
}

/// The poller of an SQS event source mapping.
pub struct QueuePoller {
    pub mapping: Mapping,
    pub queue_url: String,
    pub stats: QueuePollerStats,
    sqs: aws_sdk_sqs::Client,
    function: Arc<EmulatedFunction>,
}

impl QueuePoller {
    /// `lookup` finds the queue's URL (Lambda knows it; the function's role need not
    /// allow sqs:GetQueueUrl); `sqs` receives and deletes, so it should act as the
    /// function's execution role, as Lambda's mapping does.
    pub async fn new(
        mapping: Mapping,
        lookup: &aws_sdk_sqs::Client,
        sqs: aws_sdk_sqs::Client,
        function: Arc<EmulatedFunction>,
    ) -> Result<QueuePoller> {
        let queue_url = lookup
            .get_queue_url()
            .queue_name(arn_name(&mapping.source_arn))
            .send()
            .await
            .with_context(|| format!("sqs:GetQueueUrl for {}", mapping.source_arn))?
            .queue_url()
            .unwrap_or_default()
            .to_owned();
        Ok(QueuePoller {
            mapping,
            queue_url,
            stats: QueuePollerStats::default(),
            sqs,
            function,
        })
    }

    /// Pollers to run: the mapping's maximum concurrency (Lambda starts with five).
    pub fn pollers(&self) -> usize {
        self.mapping
            .max_concurrency
            .map(|n| n.max(1) as usize)
            .unwrap_or(5)
    }

    /// One poller: runs until its task is aborted.
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.gather().await {
                Ok(batch) if batch.is_empty() => {}
                Ok(batch) => {
                    self.deliver(batch).await;
                    self.stats.busy.fetch_sub(1, Ordering::SeqCst);
                }
                Err(error) => {
                    eprintln!("[sqs {}] receive failed: {error:#}", self.queue_url);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Receives up to the batch size within the batching window (which starts with the
    /// first message). Marks the source busy when it returns a non-empty batch.
    async fn gather(&self) -> Result<Vec<Message>> {
        let batch_size = self.mapping.batch_size.max(1) as usize;
        let window = self.mapping.batching_window;
        let mut batch: Vec<Message> = Vec::new();
        let mut first_at: Option<Instant> = None;
        loop {
            let remaining = first_at.map(|t| window.saturating_sub(t.elapsed()));
            let wait = match remaining {
                None => 20,
                Some(r) if r.is_zero() => break,
                Some(r) => r.as_secs().clamp(0, 20) as i32,
            };
            let want = (batch_size - batch.len()).min(10) as i32;
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(want)
                .wait_time_seconds(wait)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await;
            let output = match output {
                Ok(output) => output,
                Err(error) if !batch.is_empty() => {
                    eprintln!("[sqs {}] receive failed mid-batch: {error}", self.queue_url);
                    break;
                }
                Err(error) => return Err(error.into()),
            };
            let received = output.messages().to_vec();
            if !received.is_empty() && first_at.is_none() {
                first_at = Some(Instant::now());
                self.stats.busy.fetch_add(1, Ordering::SeqCst);
            }
            batch.extend(received);
            if batch.len() >= batch_size || (!batch.is_empty() && window.is_zero()) {
                break;
            }
            if remaining.is_some_and(|r| r.as_secs() == 0) {
                // Less than a second left: no shorter long poll exists.
                break;
            }
        }
        Ok(batch)
    }

    async fn deliver(&self, batch: Vec<Message>) {
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .records
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let event = json!({
            "Records": batch.iter().map(|m| sqs_record(m, &self.mapping.source_arn)).collect::<Vec<_>>()
        });
        let invocation = self.function.invoke(event).await;
        let failed = failed_ids(
            &invocation.outcome,
            &batch,
            self.mapping.report_batch_item_failures,
        );
        let done: Vec<&Message> = batch
            .iter()
            .filter(|m| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
            .collect();
        if !failed.is_empty() {
            self.stats
                .failed_items
                .fetch_add(failed.len() as u64, Ordering::Relaxed);
            if done.is_empty() {
                self.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.delete(&done).await;
    }

    async fn delete(&self, messages: &[&Message]) {
        for chunk in messages.chunks(10) {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                        .ok()
                })
                .collect();
            let mut attempts = 0;
            loop {
                attempts += 1;
                match self
                    .sqs
                    .delete_message_batch()
                    .queue_url(&self.queue_url)
                    .set_entries(Some(entries.clone()))
                    .send()
                    .await
                {
                    Ok(output) => {
                        self.stats
                            .deleted
                            .fetch_add(output.successful().len() as u64, Ordering::Relaxed);
                        break;
                    }
                    Err(error) if attempts < 3 => {
                        eprintln!("[sqs {}] delete failed, retrying: {error}", self.queue_url);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(error) => {
                        // The messages come back after their visibility timeout: a
                        // redelivery, which the processor recognises as a duplicate.
                        eprintln!("[sqs {}] delete failed: {error}", self.queue_url);
                        break;
                    }
                }
            }
        }
    }
}

/// The message ids to leave on the queue after an invocation.
pub fn failed_ids(outcome: &Outcome, batch: &[Message], report_item_failures: bool) -> Vec<String> {
    let all = || {
        batch
            .iter()
            .map(|m| m.message_id().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let Outcome::Response(response) = outcome else {
        return all();
    };
    if !report_item_failures {
        return Vec::new();
    }
    let failures = match response.get("batchItemFailures") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(failures)) => failures,
        Some(_) => return all(),
    };
    let mut ids = Vec::new();
    for failure in failures {
        match failure.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if batch.iter().any(|m| m.message_id() == Some(id)) => ids.push(id.to_owned()),
            _ => return all(),
        }
    }
    ids
}

/// One message as Lambda's SQS event record.
pub fn sqs_record(message: &Message, source_arn: &str) -> Value {
    let attributes: BTreeMap<String, String> = message
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let message_attributes: Map<String, Value> = message
        .message_attributes()
        .map(|attrs: &HashMap<String, aws_sdk_sqs::types::MessageAttributeValue>| {
            attrs
                .iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        json!({
                            "stringValue": value.string_value(),
                            "binaryValue": value.binary_value().map(|b| base64_encode(b.as_ref())),
                            "stringListValues": value.string_list_values(),
                            "binaryListValues": value.binary_list_values().iter().map(|b| base64_encode(b.as_ref())).collect::<Vec<_>>(),
                            "dataType": value.data_type(),
                        }),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut record = json!({
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body().unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": REGION,
    });
    if let Some(md5) = message.md5_of_message_attributes() {
        record["md5OfMessageAttributes"] = json!(md5);
    }
    record
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("rh-{id}"))
            .body(r#"{"shipmentId":"S-1"}"#)
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .message_attributes(
                "rejectionReason",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("why")
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[test]
    fn records_have_the_shape_of_lambdas_sqs_event() {
        let event = json!({"Records": [sqs_record(&message("m-1"), "arn:aws:sqs:us-east-1:123456789012:q")]});
        let typed: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_value(event).expect("an SqsEvent");
        let record = &typed.records[0];
        assert_eq!(record.message_id.as_deref(), Some("m-1"));
        assert_eq!(record.attributes["ApproximateReceiveCount"], "2");
        assert_eq!(
            record.message_attributes["rejectionReason"]
                .string_value
                .as_deref(),
            Some("why")
        );
        assert_eq!(
            record.event_source_arn.as_deref(),
            Some("arn:aws:sqs:us-east-1:123456789012:q")
        );
    }

    #[test]
    fn partial_batch_failures_keep_only_the_listed_messages() {
        let batch = vec![message("a"), message("b"), message("c")];
        let ok = Outcome::Response(json!({"batchItemFailures": [{"itemIdentifier": "b"}]}));
        assert_eq!(failed_ids(&ok, &batch, true), vec!["b".to_owned()]);
        assert!(failed_ids(
            &Outcome::Response(json!({"batchItemFailures": []})),
            &batch,
            true
        )
        .is_empty());
        // Without ReportBatchItemFailures the answer is not read: the batch succeeded.
        assert!(failed_ids(&ok, &batch, false).is_empty());
    }

    #[test]
    fn errors_and_bad_identifiers_fail_the_whole_batch() {
        let batch = vec![message("a"), message("b")];
        for outcome in [
            Outcome::Timeout,
            Outcome::Error(json!({"errorType": "x"})),
            Outcome::Response(json!({"batchItemFailures": [{"itemIdentifier": "zzz"}]})),
            Outcome::Response(json!({"batchItemFailures": [{"itemIdentifier": ""}]})),
            Outcome::Response(json!({"batchItemFailures": "nope"})),
        ] {
            assert_eq!(failed_ids(&outcome, &batch, true).len(), 2, "{outcome:?}");
        }
    }
}
