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
//! REMOVE records (TTL expiry) and the daily summary items are skipped.
//!
//! A batch (up to 100 records) is worked in two passes, so it costs a handful of round trips
//! rather than two per record: the subscriber lookups and pushes run for different
//! shipments at once, one shipment's records in stream order; then the notifications, and
//! after them the alerts, go out in PublishBatch requests of [`Deps::batch_entries`]
//! (`FANOUT_BATCH_ENTRIES`). At most [`Deps::in_flight`] of either are in flight at once
//! (`FANOUT_IN_FLIGHT`).
//! The first failing record (its lookup failed, or SNS did not take its notification or
//! alert) is reported by sequence number in `batchItemFailures`, and no record after it is
//! started once it is known: Lambda retries from that record on, so the records before it
//! are not replayed. Records after it that had already gone out go out again on the retry,
//! as does a retried record's notification: delivery is at least once, and every message
//! carries the `eventKey` attribute for subscribers that deduplicate. SNS standard topics do
//! not order deliveries either way; each message carries its event time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use serde_json::json;
use shipment::contract::metrics as metric;
use shipment::item::attrs;
use shipment::{Item, StoredEvent};

use crate::dynamo_json::item_from_image;
use crate::metrics::Metrics;
use crate::ports::{
    forget_connection, publish_batches, Connections, Notification, PostOutcome, Publisher, Push,
    Transient,
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
    /// Shipments looked up (and pushed to), or PublishBatch requests, in flight at once: bounds
    /// the connections table's read rate and the connection pool per invocation.
    pub in_flight: usize,
    /// Entries per PublishBatch request (SNS: at most 10).
    pub batch_entries: usize,
}

/// The batch's earliest failed record (position, why), shared by the concurrent work.
#[derive(Default)]
struct FirstFailure(Mutex<Option<(usize, Transient)>>);

impl FirstFailure {
    fn at(&self, position: usize, error: Transient) {
        let mut first = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if first
            .as_ref()
            .is_none_or(|(earliest, _)| position < *earliest)
        {
            *first = Some((position, error));
        }
    }
    /// Whether `position` is still worth starting: nothing before it has failed.
    fn allows(&self, position: usize) -> bool {
        let first = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        first
            .as_ref()
            .is_none_or(|(earliest, _)| position < *earliest)
    }
    fn into_inner(self) -> Option<(usize, Transient)> {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handles one stream batch.
pub async fn handle<P: Publisher, C: Connections, W: Push>(
    event: Event,
    deps: &Deps<P, C, W>,
    metrics: &Metrics,
) -> DynamoDbEventResponse {
    let events: Vec<(usize, StoredEvent)> = event
        .records
        .iter()
        .enumerate()
        .filter_map(|(position, record)| Some((position, fanout_event(record)?)))
        .collect();
    let failure = FirstFailure::default();

    let mut shipments: Vec<Vec<&(usize, StoredEvent)>> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for entry in &events {
        let group = *group_of.entry(&entry.1.shipment_id).or_insert_with(|| {
            shipments.push(Vec::new());
            shipments.len() - 1
        });
        shipments[group].push(entry);
    }
    let subscribers: Vec<Vec<(usize, usize)>> = stream::iter(shipments)
        .map(|records| push_in_order(records, deps, metrics, &failure))
        .buffer_unordered(deps.in_flight)
        .collect()
        .await;
    let subscribers: HashMap<usize, usize> = subscribers.into_iter().flatten().collect();

    let notifications: Vec<(usize, &StoredEvent, Notification)> = started(&events, &failure)
        .map(|(position, event)| (position, event, notification(event, deps)))
        .collect();
    for event in publish(deps, &notifications, &failure).await {
        metrics.incr_status(metric::NOTIFICATIONS_PUBLISHED, &event.status);
    }

    let alerts: Vec<(usize, &StoredEvent, Notification)> = started(&events, &failure)
        .filter(|(_, event)| event.status.is_critical())
        .map(|(position, event)| (position, event, alert(event, deps)))
        .collect();
    for event in publish(deps, &alerts, &failure).await {
        metrics.incr_status(metric::ALERTS_PUBLISHED, &event.status);
    }

    for (position, event) in started(&events, &failure) {
        tracing::info!(
            shipment_id = %event.shipment_id,
            status = %event.status,
            event_key = %event.event_key,
            subscribers = subscribers.get(&position).copied().unwrap_or_default(),
            outcome = "notified",
            "shipment event fanned out"
        );
    }

    let mut response = DynamoDbEventResponse::default();
    if let Some((position, error)) = failure.into_inner() {
        metrics.incr(metric::PROCESSING_ERRORS);
        let sequence_number = event.records[position].change.sequence_number.clone();
        tracing::error!(sequence_number = sequence_number.as_deref(), error = %error, "stream record failed; retrying from it");
        let mut failed = DynamoDbBatchItemFailure::default();
        failed.item_identifier = sequence_number;
        response.batch_item_failures.push(failed);
    }
    response
}

/// The events before the first failure.
fn started<'a>(
    events: &'a [(usize, StoredEvent)],
    failure: &'a FirstFailure,
) -> impl Iterator<Item = (usize, &'a StoredEvent)> + 'a {
    events
        .iter()
        .filter(|(position, _)| failure.allows(*position))
        .map(|(position, event)| (*position, event))
}

/// One shipment's records, in order, until one fails or an earlier record of the batch has:
/// the positions done, each with its subscriber count.
async fn push_in_order<P: Publisher, C: Connections, W: Push>(
    records: Vec<&(usize, StoredEvent)>,
    deps: &Deps<P, C, W>,
    metrics: &Metrics,
    failure: &FirstFailure,
) -> Vec<(usize, usize)> {
    let mut done = Vec::new();
    for (position, event) in records {
        if !failure.allows(*position) {
            break;
        }
        match deps.connections.subscribers(&event.shipment_id).await {
            Ok(subscribers) => {
                push_to_subscribers(event, &subscribers, deps, metrics).await;
                done.push((*position, subscribers.len()));
            }
            Err(error) => {
                failure.at(*position, error);
                break;
            }
        }
    }
    done
}

/// Publishes `messages` (one topic) in PublishBatch requests, [`Deps::in_flight`] at once; a
/// request that fails, or an entry SNS refuses, fails its record. Answers the events SNS took.
async fn publish<'e, P: Publisher, C: Connections, W: Push>(
    deps: &Deps<P, C, W>,
    messages: &[(usize, &'e StoredEvent, Notification)],
    failure: &FirstFailure,
) -> Vec<&'e StoredEvent> {
    let requests = stream::iter(publish_batches(messages, deps.batch_entries, |(_, _, n)| n))
        .map(|batch| async move {
            let notes: Vec<&Notification> = batch.iter().map(|(_, _, n)| n).collect();
            match deps
                .publisher
                .publish_batch(&notes[0].topic_arn, &notes)
                .await
            {
                Ok(refused) => {
                    let mut taken = vec![true; batch.len()];
                    for (i, error) in refused {
                        taken[i] = false;
                        failure.at(batch[i].0, error);
                    }
                    let events = batch.iter().map(|(_, event, _)| *event);
                    events
                        .zip(taken)
                        .filter_map(|(event, taken)| taken.then_some(event))
                        .collect()
                }
                Err(error) => {
                    failure.at(batch[0].0, error);
                    Vec::new()
                }
            }
        })
        .buffer_unordered(deps.in_flight);
    let taken: Vec<Vec<&StoredEvent>> = requests.collect().await;
    taken.into_iter().flatten().collect()
}

fn attributes(event: &StoredEvent) -> Vec<(String, String)> {
    vec![
        ("shipmentId".to_owned(), event.shipment_id.clone()),
        ("status".to_owned(), event.status.as_str().to_owned()),
        ("eventKey".to_owned(), event.event_key.clone()),
        (
            "critical".to_owned(),
            event.status.is_critical().to_string(),
        ),
    ]
}

fn notification<P, C, W>(event: &StoredEvent, deps: &Deps<P, C, W>) -> Notification {
    Notification {
        topic_arn: deps.notifications_topic_arn.clone(),
        subject: subject(&format!("Shipment {} Status Update", event.shipment_id)),
        message: notification_message(event).to_string(),
        attributes: attributes(event),
    }
}

fn alert<P, C, W>(event: &StoredEvent, deps: &Deps<P, C, W>) -> Notification {
    Notification {
        topic_arn: deps.shipment_alerts_topic_arn.clone(),
        subject: subject(&format!(
            "[{}] Shipment {} is {}",
            deps.environment, event.shipment_id, event.status
        )),
        message: alert_text(event, &deps.environment),
        attributes: attributes(event),
    }
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
