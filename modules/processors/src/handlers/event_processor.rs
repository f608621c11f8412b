//! `event-processor`: EventBridge events delivered straight to Lambda (seeds 003 and 004).
//!
//! EventBridge invokes the function asynchronously. An invalid event is sent directly to
//! the dead-letter queue (body unchanged, reason in the `rejectionReason` attribute) and
//! the invocation succeeds: retrying it could never help. A transient failure returns an
//! error, so Lambda's asynchronous retries run it again and, when they are exhausted, the
//! function's own dead-letter destination keeps it.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shipment::contract::functions;
use shipment::item::Arrival;
use shipment::{parse_body, Dedupe};

use crate::ingest::{dead_letter, store_event, ToStore};
use crate::metrics::Metrics;
use crate::ports::{DeadLetters, EventStore, PutOutcome, Transient};

/// What the event processor needs: the same as every bus-event writer.
pub use crate::ingest::WriterDeps as Deps;

/// Handles one EventBridge event. `Ok` carries a short outcome for the invocation log.
pub async fn handle<S: EventStore, D: DeadLetters>(
    event: Value,
    deps: &Deps<S, D>,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> Result<Value, Transient> {
    let raw = event.to_string();
    let envelope_id = event.get("id").and_then(Value::as_str);
    match parse_body(&raw, None) {
        Ok(shipment_event) => {
            let to_store = ToStore {
                event: &shipment_event,
                dedupe: Dedupe::Content,
                arrival: Arrival::EventBridge,
            };
            let (item, outcome) =
                store_event(&deps.store, to_store, now, deps.ttl_days, metrics).await?;
            Ok(json!({
                "outcome": match outcome { PutOutcome::Created => "stored", PutOutcome::AlreadyExists => "duplicate" },
                "shipmentId": shipment_event.shipment_id,
                "eventKey": item.get(shipment::contract::shipments_table::SORT_KEY).map(|v| v.to_json()),
            }))
        }
        Err(rejection) => {
            let (reason, sent) = dead_letter(
                &deps.dead_letters,
                &raw,
                &rejection,
                functions::EVENT_PROCESSOR,
                envelope_id,
                metrics,
            )
            .await;
            if let Err(error) = sent {
                tracing::error!(event_id = envelope_id, reason = %reason, error = %error, outcome = "failed", "sending an invalid event to the dead-letter queue failed");
                return Err(error);
            }
            let shipment_id = shipment::event::raw_shipment_id(&raw);
            tracing::warn!(shipment_id, event_id = envelope_id, reason = %reason, outcome = "rejected", "invalid event sent to the dead-letter queue");
            Ok(json!({"outcome": "rejected", "reason": reason}))
        }
    }
}
