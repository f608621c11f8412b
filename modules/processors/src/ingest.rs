//! The ingestion step shared by the API, the queue and the EventBridge processors.

use chrono::{DateTime, Utc};
use shipment::contract::metrics as metric;
use shipment::item::{event_item, Arrival, StoreMeta};
use shipment::{Dedupe, Item, Rejection, ShipmentEvent};

use crate::metrics::Metrics;
use crate::ports::{DeadLetter, DeadLetters, EventStore, PutOutcome, Transient};

/// What a bus-event writer (queue-processor, event-processor) needs: where events are stored,
/// where invalid ones go, and how long they are kept.
pub struct WriterDeps<S, D> {
    pub store: S,
    pub dead_letters: D,
    pub ttl_days: u32,
}

/// Writes one validated event with a conditional put, logs it and counts it.
pub async fn store_event<S: EventStore>(
    store: &S,
    event: &ShipmentEvent,
    dedupe: Dedupe<'_>,
    now: DateTime<Utc>,
    ttl_days: u32,
    arrival: Arrival<'_>,
    metrics: &Metrics,
) -> Result<(Item, PutOutcome), Transient> {
    let item = event_item(
        event,
        dedupe,
        StoreMeta {
            ingested_at: now,
            ttl_days,
            arrival,
        },
    );
    let event_key = item
        .get(shipment::contract::shipments_table::SORT_KEY)
        .and_then(|v| v.as_s())
        .unwrap_or_default()
        .to_owned();
    // Every outcome is logged with the same fields identifying the event, then its own.
    macro_rules! log_outcome {
        ($level:ident, $outcome:literal $(, $field:ident = $value:expr)*; $message:literal) => {
            tracing::$level!(
                shipment_id = %event.shipment_id,
                status = %event.status,
                event_key = %event_key,
                outcome = $outcome,
                $($field = %$value,)*
                $message
            )
        };
    }
    match store.put_if_absent(&item).await {
        Ok(PutOutcome::Created) => {
            metrics.incr_status(metric::EVENTS_PROCESSED, &event.status);
            if event.status.is_unrecognised() {
                metrics.incr_status(metric::UNRECOGNISED_STATUS, &event.status);
            }
            log_outcome!(info, "stored"; "shipment event stored");
            Ok((item, PutOutcome::Created))
        }
        Ok(PutOutcome::AlreadyExists) => {
            metrics.incr(metric::DUPLICATES_SKIPPED);
            log_outcome!(info, "duplicate"; "redelivered shipment event skipped");
            Ok((item, PutOutcome::AlreadyExists))
        }
        Err(error) => {
            metrics.incr(metric::PROCESSING_ERRORS);
            log_outcome!(error, "failed", error = error; "storing shipment event failed");
            Err(error)
        }
    }
}

/// Sends an invalid event's body, unchanged, to the dead-letter queue with its (shortened)
/// reason, and counts the outcome: rejected once it is there, a processing error if the send
/// failed. Returns the reason for the caller's log line, and how the send went.
pub async fn dead_letter<D: DeadLetters>(
    dead_letters: &D,
    body: &str,
    rejection: &Rejection,
    function: &str,
    original_id: Option<&str>,
    metrics: &Metrics,
) -> (String, Result<(), Transient>) {
    let reason = short_reason(&rejection.to_string());
    let letter = DeadLetter {
        body,
        reason: &reason,
        function,
        original_id,
    };
    let sent = dead_letters.send(&letter).await;
    metrics.incr(match sent {
        Ok(()) => metric::EVENTS_REJECTED,
        Err(_) => metric::PROCESSING_ERRORS,
    });
    (reason, sent)
}

/// Truncates a reason to what fits comfortably in a message attribute.
pub fn short_reason(reason: &str) -> String {
    const MAX: usize = 1024;
    if reason.len() <= MAX {
        return reason.to_owned();
    }
    let mut end = MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &reason[..end])
}
