//! `stream-fanout`: the shipments table's stream (seed 000's stream processor, corrected).
//!
//! For each new shipment event (INSERT), and for a MODIFY whose status changed (our writes
//! are conditional puts, so a MODIFY only comes from an operator's edit; re-notifying
//! unchanged statuses would spam customers):
//! 1. find the connections subscribed to that shipment (Query on the subscribers index:
//!    never a Scan, never everyone) and post them the public view of the event; a 410 Gone
//!    deletes that connection's rows; other post errors are logged (the push is best-effort,
//!    the notification is the durable channel);
//! 2. publish the event to the notifications topic, in seed 000's message (its flat
//!    `shipmentId, status, location, timestamp, customerId, customerEmail` and its subject
//!    `Shipment <id> Status Update`) with the full record added under `shipment`;
//! 3. for a critical status, publish an alert to the business alerts topic (not the on-call
//!    alarms topic).
//!
//! REMOVE records (TTL expiry) and the daily summary items are skipped. On the first
//! failing record the handler stops and reports its sequence number in
//! `batchItemFailures`: Lambda retries from that record on, so the records before it are
//! not replayed, and the ones after it are not processed twice. A record retried after its
//! notification went out publishes it again: delivery is at least once, and every message
//! carries the `eventKey` attribute for subscribers that deduplicate.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures_util::future::join_all;
use serde_json::json;
use shipment::contract::metrics as metric;
use shipment::item::attrs;
use shipment::{Item, StoredEvent};

use crate::dynamo_json::item_from_image;
use crate::metrics::Metrics;
use crate::ports::{
    forget_connection, Connections, Notification, PostOutcome, Publisher, Push, Transient,
};

/// What the fanout needs.
pub struct Deps<P, C, W> {
    pub publisher: P,
    pub connections: C,
    pub push: W,
    pub notifications_topic_arn: String,
    pub shipment_alerts_topic_arn: String,
    /// Named in alerts.
    pub environment: String,
}

/// Handles one stream batch.
pub async fn handle<P: Publisher, C: Connections, W: Push>(
    event: Event,
    deps: &Deps<P, C, W>,
    metrics: &Metrics,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        if let Err(error) = process(record, deps, metrics).await {
            metrics.incr(metric::PROCESSING_ERRORS);
            let sequence_number = record.change.sequence_number.clone();
            tracing::error!(sequence_number = sequence_number.as_deref(), error = %error, "stream record failed; retrying from it");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence_number;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}

/// Whether a record should be fanned out, and as what.
pub fn fanout_event(record: &EventRecord) -> Option<StoredEvent> {
    let new = match record.event_name.as_str() {
        "INSERT" | "MODIFY" => StoredEvent::from_item(&image(&record.change.new_image)?)?,
        _ => return None,
    };
    if record.event_name == "MODIFY" {
        let old = image(&record.change.old_image).and_then(|item| StoredEvent::from_item(&item));
        if old.is_some_and(|old| old.status == new.status) {
            return None;
        }
    }
    Some(new)
}

fn image<T: serde::Serialize>(image: &T) -> Option<Item> {
    item_from_image(image).filter(|item| !item.is_empty())
}

async fn process<P: Publisher, C: Connections, W: Push>(
    record: &EventRecord,
    deps: &Deps<P, C, W>,
    metrics: &Metrics,
) -> Result<(), Transient> {
    let Some(event) = fanout_event(record) else {
        return Ok(());
    };
    let subscribers = deps.connections.subscribers(&event.shipment_id).await?;
    push_to_subscribers(&event, &subscribers, deps, metrics).await;

    let attributes = vec![
        ("shipmentId".to_owned(), event.shipment_id.clone()),
        ("status".to_owned(), event.status.as_str().to_owned()),
        ("eventKey".to_owned(), event.event_key.clone()),
        (
            "critical".to_owned(),
            event.status.is_critical().to_string(),
        ),
    ];
    deps.publisher
        .publish(&Notification {
            topic_arn: deps.notifications_topic_arn.clone(),
            subject: subject(&format!("Shipment {} Status Update", event.shipment_id)),
            message: notification_message(&event).to_string(),
            attributes: attributes.clone(),
        })
        .await?;
    metrics.incr_status(metric::NOTIFICATIONS_PUBLISHED, &event.status);
    if event.status.is_critical() {
        deps.publisher
            .publish(&Notification {
                topic_arn: deps.shipment_alerts_topic_arn.clone(),
                subject: subject(&format!(
                    "[{}] Shipment {} is {}",
                    deps.environment, event.shipment_id, event.status
                )),
                message: alert_text(&event, &deps.environment),
                attributes,
            })
            .await?;
        metrics.incr_status(metric::ALERTS_PUBLISHED, &event.status);
    }
    tracing::info!(
        shipment_id = %event.shipment_id,
        status = %event.status,
        event_key = %event.event_key,
        subscribers = subscribers.len(),
        outcome = "notified",
        "shipment event fanned out"
    );
    Ok(())
}

async fn push_to_subscribers<P: Publisher, C: Connections, W: Push>(
    event: &StoredEvent,
    subscribers: &[String],
    deps: &Deps<P, C, W>,
    metrics: &Metrics,
) {
    // `data` is seed 000's key for the update; `shipment` is ours. Both are the public view.
    let view = event.public_view();
    let payload = json!({"type": "shipment-update", "shipment": view, "data": view}).to_string();
    let posts = subscribers.iter().map(|connection_id| {
        let payload = payload.as_bytes();
        async move { (connection_id, deps.push.post(connection_id, payload).await) }
    });
    for (connection_id, outcome) in join_all(posts).await {
        match outcome {
            Ok(PostOutcome::Delivered) => metrics.incr(metric::WEBSOCKET_MESSAGES_SENT),
            Ok(PostOutcome::Gone) => {
                match forget_connection(&deps.connections, connection_id).await {
                    Ok(rows) => {
                        metrics.incr(metric::STALE_CONNECTIONS_REMOVED);
                        tracing::info!(connection_id = %connection_id, rows, "stale connection removed");
                    }
                    Err(error) => {
                        tracing::warn!(connection_id = %connection_id, error = %error, "removing a stale connection failed; its TTL will")
                    }
                }
            }
            Err(error) => {
                tracing::warn!(shipment_id = %event.shipment_id, connection_id = %connection_id, error = %error, "posting to a connection failed")
            }
        }
    }
}

/// The notification: seed 000's flat keys (its consumers read them, with its defaults for
/// what the event lacks), plus `type` and the full stored record under `shipment`.
pub fn notification_message(event: &StoredEvent) -> serde_json::Value {
    let text = |name: &str| {
        event
            .record
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    json!({
        "shipmentId": event.shipment_id,
        "status": event.status.as_str(),
        "location": event.location.clone().unwrap_or_else(|| "Unknown".into()),
        "timestamp": event.event_time,
        "customerId": text(attrs::CUSTOMER_ID).unwrap_or_default(),
        "customerEmail": text(attrs::CUSTOMER_EMAIL).unwrap_or_default(),
        "type": "shipment-update",
        "shipment": event.record,
    })
}

/// SNS subjects: at most 100 characters, no line breaks.
fn subject(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(100)
        .collect()
}

/// The alert body: what an operator needs to act, in plain text.
pub fn alert_text(event: &StoredEvent, environment: &str) -> String {
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    format!(
        "Critical shipment status: {status}\n\n\
         Shipment:        {id}\n\
         Status:          {status}\n\
         Event time:      {time}\n\
         Location:        {location}\n\
         Carrier:         {carrier}\n\
         Tracking number: {tracking}\n\
         Environment:     {environment}\n\
         Event key:       {key}\n\n\
         The full record is attached to the notifications topic message with the same event key.",
        status = event.status,
        id = event.shipment_id,
        time = event.event_time,
        location = or_unknown(&event.location),
        carrier = or_unknown(&event.carrier),
        tracking = or_unknown(&event.tracking_number),
        key = event.event_key,
    )
}
