//! stream-fanout, driven with real DynamoDB stream payloads.

mod support;

use std::sync::atomic::Ordering;

use chrono::NaiveDate;
use processors::handlers::stream_fanout::{handle, Deps};
use serde_json::{json, Value};
use shipment::connections::{connection_row, subscription_row};
use shipment::contract::metrics as metric;
use shipment::item::{event_item, Arrival, StoreMeta};
use shipment::summary::DailySummary;
use shipment::{parse_value, Dedupe, Item, Status};
use support::fakes::{FakeConnections, FakePublisher, FakePush};
use support::payloads::{stream_event, stream_record};
use support::{metrics, now};

const NOTIFY: &str = "arn:aws:sns:us-east-1:123456789012:notifications";
const ALERTS: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

fn deps() -> Deps<FakePublisher, FakeConnections, FakePush> {
    Deps {
        publisher: FakePublisher::default(),
        connections: FakeConnections::default(),
        push: FakePush::default(),
        notifications_topic_arn: NOTIFY.into(),
        shipment_alerts_topic_arn: ALERTS.into(),
        environment: "prod".into(),
        in_flight: 16,
        batch_entries: 10,
    }
}

fn item(shipment_id: &str, status: &str, extra: Value) -> Item {
    let mut body = json!({"shipmentId": shipment_id, "status": status, "timestamp": "2025-10-17T12:00:00Z",
        "location": "Dallas, TX", "carrier": "FedEx", "customerEmail": "c@example.com"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let event = parse_value(&body, None).unwrap();
    event_item(
        &event,
        Dedupe::Content,
        StoreMeta {
            ingested_at: now(),
            ttl_days: 90,
            arrival: Arrival::EventBridge,
        },
    )
}

async fn subscribe(
    deps: &Deps<FakePublisher, FakeConnections, FakePush>,
    connection: &str,
    shipment: &str,
) {
    use processors::ports::Connections;
    deps.connections
        .put_row(&connection_row(connection, now()))
        .await
        .unwrap();
    deps.connections
        .put_row(&subscription_row(connection, shipment, now()))
        .await
        .unwrap();
}

/// Fans out one INSERT of `record`, which must succeed.
async fn inserted(
    deps: &Deps<FakePublisher, FakeConnections, FakePush>,
    m: &processors::metrics::Metrics,
    record: &Item,
    sequence_number: &str,
) {
    let event = stream_event(vec![stream_record(
        "INSERT",
        sequence_number,
        Some(record),
        None,
    )]);
    assert!(failures(&handle(event, deps, m).await).is_empty());
}

fn failures(
    response: &aws_lambda_events::event::streams::DynamoDbEventResponse,
) -> Vec<Option<String>> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn new_event_is_published_and_pushed_only_to_its_subscribers() {
    let deps = deps();
    subscribe(&deps, "watcher", "SHIP-1").await;
    subscribe(&deps, "other-customer", "SHIP-2").await;
    let m = metrics("stream-fanout");
    let record = item(
        "SHIP-1",
        "IN_TRANSIT",
        json!({"details": {"weightKg": 12.75}}),
    );
    inserted(&deps, &m, &record, "100").await;

    let notes = deps.publisher.to(NOTIFY);
    assert_eq!(notes.len(), 1);
    let message: Value = serde_json::from_str(&notes[0].message).unwrap();
    // Seed 000's consumers read its flat keys and its subject.
    assert_eq!(notes[0].subject, "Shipment SHIP-1 Status Update");
    for (key, value) in [
        ("shipmentId", "SHIP-1"),
        ("status", "IN_TRANSIT"),
        ("location", "Dallas, TX"),
        ("timestamp", "2025-10-17T12:00:00.000Z"),
        ("customerId", ""),
        ("customerEmail", "c@example.com"),
    ] {
        assert_eq!(message[key], value, "{key}");
    }
    assert_eq!(message["shipment"]["shipmentId"], "SHIP-1");
    assert_eq!(message["shipment"]["details"]["weightKg"], json!(12.75));
    assert!(notes[0]
        .attributes
        .contains(&("status".into(), "IN_TRANSIT".into())));
    assert!(
        deps.publisher.to(ALERTS).is_empty(),
        "IN_TRANSIT is not critical"
    );

    let posted = deps.push.posted();
    assert_eq!(
        posted.len(),
        1,
        "seed 000 pushed every update to every client"
    );
    assert_eq!(posted[0].0, "watcher");
    let pushed: Value = serde_json::from_str(&posted[0].1).unwrap();
    // `data` is seed 000's key; its clients keep reading it.
    let view = json!({"shipmentId": "SHIP-1", "status": "IN_TRANSIT", "eventTime": "2025-10-17T12:00:00.000Z",
        "timestamp": "2025-10-17T12:00:00.000Z", "location": "Dallas, TX", "carrier": "FedEx"});
    assert_eq!(
        pushed,
        json!({"type": "shipment-update", "shipment": view, "data": view})
    );
    assert_eq!(
        m.get(metric::NOTIFICATIONS_PUBLISHED, Some("IN_TRANSIT")),
        1
    );
    assert_eq!(
        m.get(metric::EVENTS_PROCESSED, None),
        0,
        "the writers count stored events; the fanout does not count them again"
    );
    assert_eq!(m.get(metric::WEBSOCKET_MESSAGES_SENT, None), 1);
}

#[tokio::test]
async fn critical_status_raises_an_alert_an_operator_can_act_on() {
    let deps = deps();
    let m = metrics("stream-fanout");
    let record = item("SHIP-9", "LOST", json!({"trackingNumber": "1Z999"}));
    handle(
        stream_event(vec![stream_record("INSERT", "1", Some(&record), None)]),
        &deps,
        &m,
    )
    .await;
    let alerts = deps.publisher.to(ALERTS);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].subject, "[prod] Shipment SHIP-9 is LOST");
    for needle in [
        "SHIP-9",
        "LOST",
        "Dallas, TX",
        "FedEx",
        "1Z999",
        "2025-10-17T12:00:00.000Z",
        "prod",
    ] {
        assert!(
            alerts[0].message.contains(needle),
            "{needle} missing from {}",
            alerts[0].message
        );
    }
    assert_eq!(deps.publisher.to(NOTIFY).len(), 1);
    assert_eq!(m.get(metric::ALERTS_PUBLISHED, Some("LOST")), 1);
}

#[tokio::test]
async fn an_unrecognised_status_is_notified_but_never_alerted() {
    let deps = deps();
    let m = metrics("stream-fanout");
    let record = item("SHIP-5", "CUSTOMS_HOLD", json!({}));
    inserted(&deps, &m, &record, "1").await;
    let notes = deps.publisher.to(NOTIFY);
    assert_eq!(notes.len(), 1);
    let message: Value = serde_json::from_str(&notes[0].message).unwrap();
    assert_eq!(message["status"], "CUSTOMS_HOLD");
    assert!(deps.publisher.to(ALERTS).is_empty());
}

#[tokio::test]
async fn modify_notifies_only_when_the_status_changed() {
    let deps = deps();
    let old = item("SHIP-1", "IN_TRANSIT", json!({}));
    let mut same = old.clone();
    same.insert(
        "location".into(),
        shipment::AttrValue::S("Corrected".into()),
    );
    let mut changed = old.clone();
    changed.insert("status".into(), shipment::AttrValue::S("DELAYED".into()));
    let response = handle(
        stream_event(vec![
            stream_record("MODIFY", "1", Some(&same), Some(&old)),
            stream_record("MODIFY", "2", Some(&changed), Some(&old)),
        ]),
        &deps,
        &metrics("f"),
    )
    .await;
    assert!(failures(&response).is_empty());
    assert_eq!(deps.publisher.to(NOTIFY).len(), 1);
    assert_eq!(deps.publisher.to(ALERTS).len(), 1);
}

#[tokio::test]
async fn removals_and_daily_summaries_are_ignored() {
    let deps = deps();
    let old = item("SHIP-1", "DELIVERED", json!({}));
    let summary = DailySummary::new(
        NaiveDate::from_ymd_opt(2025, 10, 16).unwrap(),
        [(Status::Lost, 3)],
        now(),
    )
    .to_item();
    let response = handle(
        stream_event(vec![
            stream_record("REMOVE", "1", None, Some(&old)),
            stream_record("INSERT", "2", Some(&summary), None),
            stream_record("MODIFY", "3", Some(&summary), Some(&summary)),
        ]),
        &deps,
        &metrics("f"),
    )
    .await;
    assert!(failures(&response).is_empty());
    assert!(deps.publisher.sent().is_empty());
}

#[tokio::test]
async fn gone_connections_are_deleted_with_their_subscriptions() {
    let deps = deps();
    subscribe(&deps, "live", "SHIP-1").await;
    subscribe(&deps, "stale", "SHIP-1").await;
    {
        use processors::ports::Connections;
        deps.connections
            .put_row(&subscription_row("stale", "SHIP-7", now()))
            .await
            .unwrap();
    }
    deps.push.gone.lock().unwrap().insert("stale".into());
    let m = metrics("f");
    let record = item("SHIP-1", "DELIVERED", json!({}));
    inserted(&deps, &m, &record, "1").await;
    assert!(deps.connections.sort_keys("stale").is_empty());
    assert_eq!(deps.connections.sort_keys("live").len(), 2);
    assert_eq!(m.get(metric::STALE_CONNECTIONS_REMOVED, None), 1);
}

#[tokio::test]
async fn a_broken_connection_does_not_block_the_notification() {
    let deps = deps();
    subscribe(&deps, "broken", "SHIP-1").await;
    deps.push.broken.lock().unwrap().insert("broken".into());
    let record = item("SHIP-1", "DELIVERED", json!({}));
    let response = handle(
        stream_event(vec![stream_record("INSERT", "1", Some(&record), None)]),
        &deps,
        &metrics("f"),
    )
    .await;
    assert!(failures(&response).is_empty());
    assert_eq!(deps.publisher.to(NOTIFY).len(), 1);
    assert_eq!(
        deps.connections.sort_keys("broken").len(),
        2,
        "only 410 removes a connection"
    );
}

fn shipment_ids(notes: &[processors::ports::Notification]) -> Vec<String> {
    notes
        .iter()
        .map(|n| {
            serde_json::from_str::<Value>(&n.message).unwrap()["shipment"]["shipmentId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// INSERTs of (shipment, status), sequence numbers from 101, a minute apart.
fn inserts(records: &[(&str, &str)]) -> Vec<Value> {
    records
        .iter()
        .enumerate()
        .map(|(i, (shipment, status))| {
            let time = format!("2025-10-17T{:02}:{:02}:00Z", 12 + i / 60, i % 60);
            let record = item(shipment, status, json!({ "timestamp": time }));
            stream_record("INSERT", &(101 + i).to_string(), Some(&record), None)
        })
        .collect()
}

#[tokio::test]
async fn a_failing_record_is_reported_by_sequence_number_and_its_retry_completes_the_batch() {
    let deps = deps();
    let m = metrics("f");
    let batch = inserts(&[
        ("SHIP-1", "IN_TRANSIT"),
        ("SHIP-2", "DAMAGED"),
        ("SHIP-3", "DELIVERED"),
    ]);
    *deps.publisher.fail_topic.lock().unwrap() = Some(ALERTS.into());
    let response = handle(stream_event(batch.clone()), &deps, &m).await;
    assert_eq!(failures(&response), [Some("102".to_owned())]);
    assert_eq!(m.get(metric::PROCESSING_ERRORS, None), 1);
    assert_eq!(shipment_ids(&deps.publisher.to(NOTIFY))[0], "SHIP-1");
    assert_eq!(m.get(metric::ALERTS_PUBLISHED, Some("DAMAGED")), 0);

    // Lambda retries from 102 on: every record ends notified, the one before it only once.
    *deps.publisher.fail_topic.lock().unwrap() = None;
    let retry = handle(stream_event(batch[1..].to_vec()), &deps, &m).await;
    assert!(failures(&retry).is_empty());
    let notified = shipment_ids(&deps.publisher.to(NOTIFY));
    assert_eq!(notified.iter().filter(|id| *id == "SHIP-1").count(), 1);
    for id in ["SHIP-2", "SHIP-3"] {
        assert!(notified.contains(&id.to_owned()), "{id} never notified");
    }
    assert_eq!(deps.publisher.to(ALERTS).len(), 1);
    assert_eq!(m.get(metric::ALERTS_PUBLISHED, Some("DAMAGED")), 1);
}

#[tokio::test]
async fn an_entry_sns_refuses_fails_its_record_and_the_rest_go_in_batches_of_ten() {
    let deps = deps();
    let m = metrics("f");
    let ids: Vec<String> = (0..25).map(|i| format!("SHIP-{i:02}")).collect();
    let records: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "CREATED")).collect();
    *deps.publisher.refuse_shipment.lock().unwrap() = Some("SHIP-17".into());
    let response = handle(stream_event(inserts(&records)), &deps, &m).await;
    assert_eq!(failures(&response), [Some("118".to_owned())]);
    assert_eq!(*deps.publisher.batches.lock().unwrap(), [10, 10, 5]);
    let notified = shipment_ids(&deps.publisher.to(NOTIFY));
    assert!(ids[..17].iter().all(|id| notified.contains(id)));
    assert!(!notified.contains(&"SHIP-17".to_owned()));
    assert_eq!(
        m.get(metric::NOTIFICATIONS_PUBLISHED, Some("CREATED")),
        24,
        "every notification SNS took, and only those"
    );
}

#[tokio::test]
async fn publish_batches_hold_at_most_the_configured_entries() {
    let deps = Deps {
        batch_entries: 4,
        ..deps()
    };
    let ids: Vec<String> = (0..25).map(|i| format!("SHIP-{i:02}")).collect();
    let records: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "CREATED")).collect();
    let response = handle(stream_event(inserts(&records)), &deps, &metrics("f")).await;
    assert!(failures(&response).is_empty());
    let mut sizes = deps.publisher.batches.lock().unwrap().clone();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 4, 4, 4, 4, 4, 4]);
    let mut notified = shipment_ids(&deps.publisher.to(NOTIFY));
    notified.sort();
    assert_eq!(notified, ids, "every event notified once");
}

#[tokio::test]
async fn shipments_are_looked_up_at_once_and_each_shipments_pushes_stay_in_order() {
    let deps = Deps {
        in_flight: 4,
        ..deps()
    };
    subscribe(&deps, "watcher", "SHIP-A").await;
    let mut records = Vec::new();
    for i in 0..40 {
        records.push(if i % 4 == 0 {
            "SHIP-A".to_owned()
        } else {
            format!("SHIP-{i}")
        });
    }
    let pairs: Vec<(&str, &str)> = records
        .iter()
        .map(|id| (id.as_str(), "IN_TRANSIT"))
        .collect();
    let response = handle(stream_event(inserts(&pairs)), &deps, &metrics("f")).await;
    assert!(failures(&response).is_empty());
    let most = deps.connections.most_lookups.load(Ordering::SeqCst);
    assert_eq!(
        most, deps.in_flight,
        "lookups at once: as many as allowed, no more"
    );
    let pushed: Vec<String> = deps
        .push
        .posted()
        .iter()
        .map(|(_, body)| {
            let update: Value = serde_json::from_str(body).unwrap();
            update["shipment"]["eventTime"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(pushed.len(), 10, "SHIP-A's records");
    assert!(
        pushed.is_sorted(),
        "one shipment's updates in stream order: {pushed:?}"
    );
    assert_eq!(deps.publisher.to(NOTIFY).len(), 40);
}

#[tokio::test]
async fn no_record_after_a_failed_lookup_is_published() {
    let deps = deps();
    *deps.connections.fail_shipment.lock().unwrap() = Some("SHIP-B".into());
    let response = handle(
        stream_event(inserts(&[
            ("SHIP-A", "CREATED"),
            ("SHIP-B", "CREATED"),
            ("SHIP-A", "IN_TRANSIT"),
            ("SHIP-C", "CREATED"),
        ])),
        &deps,
        &metrics("f"),
    )
    .await;
    assert_eq!(failures(&response), [Some("102".to_owned())]);
    assert_eq!(shipment_ids(&deps.publisher.sent()), ["SHIP-A"]);
}

#[tokio::test]
async fn a_failing_subscriber_lookup_fails_the_record_before_anything_is_published() {
    let deps = deps();
    deps.connections.fail.store(1, Ordering::SeqCst);
    let response = handle(
        stream_event(vec![stream_record(
            "INSERT",
            "7",
            Some(&item("SHIP-1", "CREATED", json!({}))),
            None,
        )]),
        &deps,
        &metrics("f"),
    )
    .await;
    assert_eq!(failures(&response), [Some("7".to_owned())]);
    assert!(deps.publisher.sent().is_empty());
}

#[test]
fn stream_images_survive_the_lambda_event_types() {
    // Numbers, maps, lists, booleans and nulls come through aws_lambda_events' image type.
    let record = item(
        "SHIP-1",
        "CREATED",
        json!({"details": {"lon": -122.4194155, "tags": ["a", 2], "ok": true, "none": null}}),
    );
    let event = stream_event(vec![stream_record("INSERT", "1", Some(&record), None)]);
    let image =
        processors::dynamo_json::item_from_image(&event.records[0].change.new_image).unwrap();
    assert_eq!(image, record);
}
