//! `queue-processor`: SQS batches from the events queue (seeds 001 and 002).
//!
//! Bodies are EventBridge envelopes (seed 002's rule delivers the whole envelope) or bare
//! events of any dialect. For each message:
//! - valid: a conditional put keyed by the event's identity (the batch's puts in one
//!   PartiQL request); a redelivery finds its item and is acknowledged as a duplicate;
//! - invalid (unparseable, unknown status, too large...): sent **directly** to the
//!   dead-letter queue, body unchanged, with the reason in the `rejectionReason` message
//!   attribute, then acknowledged. Retrying it could never succeed;
//! - transient failure (throttling, network, the DLQ send itself failing): reported in
//!   `batchItemFailures`, so SQS redelivers exactly that message; after the queue's
//!   `maxReceiveCount` (3) the redrive policy moves it to the same DLQ. Nothing vanishes.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::{join, join_all};
use shipment::contract::functions;
use shipment::item::Arrival;
use shipment::{parse_body, Dedupe, Rejection, ShipmentEvent};

use crate::ingest::{dead_letter, store_events, ToStore};
use crate::metrics::Metrics;
use crate::ports::{DeadLetters, EventStore};

/// What the queue processor needs: the same as every bus-event writer.
pub use crate::ingest::WriterDeps as Deps;

/// Handles one SQS batch; the response lists exactly the messages to redeliver.
/// The valid events are stored together (one request for up to 25, [`crate::partiql`]), while
/// the invalid ones go to the dead-letter queue.
pub async fn handle<S: EventStore, D: DeadLetters>(
    event: SqsEvent,
    deps: &Deps<S, D>,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> SqsBatchResponse {
    let parsed: Vec<Result<ShipmentEvent, Rejection>> = event.records.iter().map(parse).collect();
    let messages = || event.records.iter().zip(&parsed);
    let to_store: Vec<ToStore> = messages()
        .filter_map(|(message, parsed)| {
            Some(ToStore {
                event: parsed.as_ref().ok()?,
                dedupe: Dedupe::Content,
                arrival: arrival(message),
            })
        })
        .collect();
    let rejections = messages().filter_map(|(message, parsed)| {
        let rejection = parsed.as_ref().err()?;
        Some(reject(message, rejection, deps, metrics))
    });
    let (stored, rejected) = join(
        store_events(&deps.store, &to_store, now, deps.ttl_days, metrics),
        join_all(rejections),
    )
    .await;
    // Each message's outcome, from the list its kind went to (a missing one is a failure).
    let (mut stored, mut rejected) = (stored.into_iter(), rejected.into_iter());
    let mut response = SqsBatchResponse::default();
    for (message, parsed) in messages() {
        let done = match parsed {
            Ok(_) => stored.next().is_some_and(|result| result.is_ok()),
            Err(_) => rejected.next().unwrap_or(false),
        };
        if !done {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

fn parse(message: &SqsMessage) -> Result<ShipmentEvent, Rejection> {
    // The send time is the same on every redelivery: a stable event time for bare events
    // that carry none (seed 001's producers may omit it).
    let sent_at = message
        .attributes
        .get("SentTimestamp")
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    match message.body.as_deref() {
        Some(body) => parse_body(body, sent_at),
        None => Err(Rejection::invalid(shipment::FieldError::new(
            "body",
            "is missing",
        ))),
    }
}

fn arrival(message: &SqsMessage) -> Arrival<'_> {
    Arrival::Sqs {
        message_id: message.message_id.as_deref().unwrap_or_default(),
        receive_count: message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok()),
    }
}

/// Sends an invalid message to the dead-letter queue; returns whether it may be deleted.
async fn reject<S: EventStore, D: DeadLetters>(
    message: &SqsMessage,
    rejection: &Rejection,
    deps: &Deps<S, D>,
    metrics: &Metrics,
) -> bool {
    let message_id = message.message_id.as_deref();
    let body = message.body.as_deref().unwrap_or_default();
    let (reason, sent) = dead_letter(
        &deps.dead_letters,
        body,
        rejection,
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
