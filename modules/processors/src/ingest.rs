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

/// A validated event to store, and how it is identified and arrived.
#[derive(Debug, Clone, Copy)]
pub struct ToStore<'a> {
    pub event: &'a ShipmentEvent,
    pub dedupe: Dedupe<'a>,
    pub arrival: Arrival<'a>,
}

/// Writes validated events, one conditional put each (in as few requests as the store
/// takes), then logs and counts each: one result per event, in order.
pub async fn store_events<S: EventStore>(
    store: &S,
    events: &[ToStore<'_>],
    now: DateTime<Utc>,
    ttl_days: u32,
    metrics: &Metrics,
) -> Vec<Result<(Item, PutOutcome), Transient>> {
    let items: Vec<Item> = events
        .iter()
        .map(|to_store| {
            event_item(
                to_store.event,
                to_store.dedupe,
                StoreMeta {
                    ingested_at: now,
                    ttl_days,
                    arrival: to_store.arrival,
                },
            )
        })
        .collect();
    let results = store.put_all_if_absent(&items).await;
    events
        .iter()
        .zip(items)
        .zip(results)
        .map(|((to_store, item), result)| record(to_store.event, item, result, metrics))
        .collect()
}

/// [`store_events`] for one event.
pub async fn store_event<S: EventStore>(
    store: &S,
    to_store: ToStore<'_>,
    now: DateTime<Utc>,
    ttl_days: u32,
    metrics: &Metrics,
) -> Result<(Item, PutOutcome), Transient> {
    let mut results = store_events(store, &[to_store], now, ttl_days, metrics).await;
    results
        .pop()
        .unwrap_or_else(|| Err(Transient("the event store answered no outcome".into())))
}

/// Logs and counts one event's put.
fn record(
    event: &ShipmentEvent,
    item: Item,
    result: Result<PutOutcome, Transient>,
    metrics: &Metrics,
) -> Result<(Item, PutOutcome), Transient> {
    let event_key = item
        .get(shipment::contract::shipments_table::SORT_KEY)
        .and_then(|v| v.as_s())
        .unwrap_or_default();
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
    match result {
        Ok(PutOutcome::Created) => {
            metrics.incr_status(metric::EVENTS_PROCESSED, &event.status);
            if event.status.is_unrecognised() {
                metrics.incr_status(metric::UNRECOGNISED_STATUS, &event.status);
            }
            log_outcome!(info, "stored"; "shipment event stored");
        }
        Ok(PutOutcome::AlreadyExists) => {
            metrics.incr(metric::DUPLICATES_SKIPPED);
            log_outcome!(info, "duplicate"; "redelivered shipment event skipped");
        }
        Err(ref error) => {
            metrics.incr(metric::PROCESSING_ERRORS);
            log_outcome!(error, "failed", error = error; "storing shipment event failed");
        }
    }
    result.map(|outcome| (item, outcome))
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
