//! `queue-processor`: SQS batches from the events queue (seeds 001 and 002).
//!
//! Bodies are EventBridge envelopes (seed 002's rule delivers the whole envelope) or bare
//! events of any dialect. For each message:
//! - valid: a conditional put keyed by the event's identity; a redelivery finds its item
//!   and is acknowledged as a duplicate;
//! - invalid (unparseable, unknown status, too large...): sent **directly** to the
//!   dead-letter queue, body unchanged, with the reason in the `rejectionReason` message
//!   attribute, then acknowledged. Retrying it could never succeed;
//! - transient failure (throttling, network, the DLQ send itself failing): reported in
//!   `batchItemFailures`, so SQS redelivers exactly that message; after the queue's
//!   `maxReceiveCount` (3) the redrive policy moves it to the same DLQ. Nothing vanishes.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::join_all;
use shipment::contract::functions;
use shipment::item::Arrival;
use shipment::{parse_body, Dedupe, Rejection};

use crate::ingest::{dead_letter, store_event};
use crate::metrics::Metrics;
use crate::ports::{DeadLetters, EventStore};

/// What the queue processor needs: the same as every bus-event writer.
pub use crate::ingest::WriterDeps as Deps;

/// Handles one SQS batch; the response lists exactly the messages to redeliver.
pub async fn handle<S: EventStore, D: DeadLetters>(
    event: SqsEvent,
    deps: &Deps<S, D>,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> SqsBatchResponse {
    let outcomes = join_all(
        event
            .records
            .iter()
            .map(|message| process(message, deps, now, metrics)),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (message, ok) in event.records.iter().zip(outcomes) {
        if !ok {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Returns whether the message may be deleted from the queue.
async fn process<S: EventStore, D: DeadLetters>(
    message: &SqsMessage,
    deps: &Deps<S, D>,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> bool {
    let message_id = message.message_id.as_deref();
    // The send time is the same on every redelivery: a stable event time for bare events
    // that carry none (seed 001's producers may omit it).
    let sent_at = message
        .attributes
        .get("SentTimestamp")
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    let body = message.body.as_deref().unwrap_or_default();
    let parsed = match message.body.as_deref() {
        Some(body) => parse_body(body, sent_at),
        None => Err(Rejection::invalid(shipment::FieldError::new(
            "body",
            "is missing",
        ))),
    };
    match parsed {
        Ok(event) => store_event(
            &deps.store,
            &event,
            Dedupe::Content,
            now,
            deps.ttl_days,
            Arrival::Sqs {
                message_id: message_id.unwrap_or_default(),
                receive_count: message
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|count| count.parse().ok()),
            },
            metrics,
        )
        .await
        .is_ok(),
        Err(rejection) => {
            let (reason, sent) = dead_letter(
                &deps.dead_letters,
                body,
                &rejection,
                functions::QUEUE_PROCESSOR,
                message_id,
                metrics,
            )
            .await;
            match sent {
                Ok(()) => {
                    let shipment_id = shipment::event::raw_shipment_id(body);
                    tracing::warn!(shipment_id, message_id, reason = %reason, outcome = "rejected", "invalid event sent to the dead-letter queue");
                    true
                }
                Err(error) => {
                    tracing::error!(message_id, reason = %reason, error = %error, outcome = "failed", "sending an invalid event to the dead-letter queue failed; it will be redelivered");
                    false
                }
            }
        }
    }
}
