//! queue-processor and event-processor, driven with real SQS / EventBridge payloads.

mod support;

use std::sync::atomic::Ordering;

use processors::handlers::{event_processor, queue_processor};
use serde_json::json;
use shipment::contract::{functions, metrics as metric, shipments_table as st};
use shipment::AttrValue;
use support::fakes::{FakeDlq, FakeStore};
use support::payloads::{seed_003_event, seed_004_event, sqs_event, sqs_record};
use support::{metrics, now};

fn queue_deps() -> queue_processor::Deps<FakeStore, FakeDlq> {
    queue_processor::Deps {
        store: FakeStore::default(),
        dead_letters: FakeDlq::default(),
        ttl_days: 30,
    }
}

fn failures(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

const SEED_001_BODY: &str = r#"{"tracking_id":"TRK-1","status":"IN_TRANSIT","location":"Leeds","carrier":"DPD","details":{"weightKg":12.75},"timestamp":"2025-10-17T08:00:00Z"}"#;

#[tokio::test]
async fn redelivered_message_is_written_once() {
    let deps = queue_deps();
    let m = metrics(functions::QUEUE_PROCESSOR);
    // Seed 001 stored 5 items for 5 deliveries; we store one.
    for delivery in 0..5 {
        let response = queue_processor::handle(
            sqs_event(vec![sqs_record(&format!("m-{delivery}"), SEED_001_BODY)]),
            &deps,
            now(),
            &m,
        )
        .await;
        assert!(failures(&response).is_empty());
    }
    assert_eq!(deps.store.len(), 1);
    assert_eq!(m.get(metric::EVENTS_PROCESSED, Some("IN_TRANSIT")), 1);
    assert_eq!(m.get(metric::DUPLICATES_SKIPPED, None), 4);
    // The delivery that stored it, as seeds 001 and 002 recorded it: message id, receive count.
    let stored = shipment::item::item_to_json(&deps.store.items()[0]);
    assert_eq!(
        stored["delivery"],
        json!({"via": "SQS", "messageId": "m-0", "receiveCount": 1})
    );
}

#[tokio::test]
async fn seed_002_envelope_bodies_are_read_from_detail() {
    let deps = queue_deps();
    let envelope = json!({"version":"0","id":"e1","source":"shipment.service","detail-type":"shipment.delivered",
        "time":"2025-10-17T10:00:00Z","detail":{"shipment_id":"S-2","event_timestamp":"2025-10-17T09:59:00Z",
        "event_type":"DELIVERED","event_data":{"signedBy":"J. Doe","lat":51.5072}}});
    let response = queue_processor::handle(
        sqs_event(vec![sqs_record("m-1", &envelope.to_string())]),
        &deps,
        now(),
        &metrics("q"),
    )
    .await;
    assert!(failures(&response).is_empty());
    let item = &deps.store.items()[0];
    assert_eq!(item[st::PARTITION_KEY], AttrValue::S("S-2".into()));
    assert_eq!(item[st::STATUS], AttrValue::S("DELIVERED".into()));
    assert!(item[st::STATUS_INDEX_PARTITION_KEY]
        .as_s()
        .unwrap()
        .starts_with("DELIVERED#"));
    let AttrValue::M(details) = &item["details"] else {
        panic!("details")
    };
    assert_eq!(details["lat"], AttrValue::N("51.5072".into()));
    assert!(deps.dead_letters.letters().is_empty());
}

#[tokio::test]
async fn distinct_events_with_the_same_timestamp_are_both_kept() {
    let deps = queue_deps();
    let a = r#"{"shipment_id":"S-3","event_timestamp":"2025-10-17T10:00:00Z","event_type":"IN_TRANSIT","event_data":{"scan":"A"}}"#;
    let b = r#"{"shipment_id":"S-3","event_timestamp":"2025-10-17T10:00:00Z","event_type":"IN_TRANSIT","event_data":{"scan":"B"}}"#;
    let response = queue_processor::handle(
        sqs_event(vec![sqs_record("m-a", a), sqs_record("m-b", b)]),
        &deps,
        now(),
        &metrics("q"),
    )
    .await;
    assert!(failures(&response).is_empty());
    assert_eq!(deps.store.len(), 2);
}

#[tokio::test]
async fn bare_event_without_time_uses_the_send_time_so_redeliveries_still_collide() {
    let deps = queue_deps();
    let body = r#"{"tracking_id":"TRK-9","status":"CREATED"}"#;
    for id in ["m-1", "m-2"] {
        queue_processor::handle(
            sqs_event(vec![sqs_record(id, body)]),
            &deps,
            now(),
            &metrics("q"),
        )
        .await;
    }
    let items = deps.store.items();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0][st::STATUS_INDEX_SORT_KEY],
        AttrValue::S("2025-10-17T12:00:00.000Z".into())
    );
}

#[tokio::test]
async fn invalid_message_goes_to_the_dead_letter_queue_with_its_reason_and_is_not_retried() {
    let deps = queue_deps();
    let m = metrics("q");
    let bad = r#"{"tracking_id":"TRK-1","status":" "}"#;
    let response = queue_processor::handle(
        sqs_event(vec![
            sqs_record("m-bad", bad),
            sqs_record("m-junk", "not json"),
            sqs_record("m-ok", SEED_001_BODY),
        ]),
        &deps,
        now(),
        &m,
    )
    .await;
    assert!(
        failures(&response).is_empty(),
        "invalid messages are acknowledged, not retried"
    );
    let letters = deps.dead_letters.letters();
    assert_eq!(letters.len(), 2);
    let bad_letter = letters
        .iter()
        .find(|l| l.original_id.as_deref() == Some("m-bad"))
        .unwrap();
    assert_eq!(bad_letter.body, bad, "the original body, unchanged");
    assert!(
        bad_letter.reason.starts_with("status: must not be empty"),
        "{}",
        bad_letter.reason
    );
    assert_eq!(bad_letter.function, functions::QUEUE_PROCESSOR);
    assert!(letters
        .iter()
        .any(|l| l.original_id.as_deref() == Some("m-junk")
            && l.reason.starts_with("body: is not valid JSON")));
    assert_eq!(deps.store.len(), 1);
    assert_eq!(m.get(metric::EVENTS_REJECTED, None), 2);
}

#[tokio::test]
async fn oversized_message_is_dead_lettered_as_too_large() {
    let deps = queue_deps();
    let body = format!(
        r#"{{"tracking_id":"T","status":"CREATED","details":{{"pad":"{}"}}}}"#,
        "x".repeat(70_000)
    );
    let response = queue_processor::handle(
        sqs_event(vec![sqs_record("m-big", &body)]),
        &deps,
        now(),
        &metrics("q"),
    )
    .await;
    assert!(failures(&response).is_empty());
    assert!(deps.dead_letters.letters()[0]
        .reason
        .contains("the limit is 65536"));
}

#[tokio::test]
async fn transient_failure_reports_exactly_that_message() {
    let deps = queue_deps();
    *deps.store.fail_shipment.lock().unwrap() = Some("S-FAIL".into());
    let m = metrics("q");
    let failing =
        r#"{"shipmentId":"S-FAIL","status":"CREATED","timestamp":"2025-10-17T10:00:00Z"}"#;
    let response = queue_processor::handle(
        sqs_event(vec![
            sqs_record("m-1", SEED_001_BODY),
            sqs_record("m-2", failing),
            sqs_record(
                "m-3",
                r#"{"shipmentId":"S-OK","status":"CREATED","timestamp":"2025-10-17T10:00:00Z"}"#,
            ),
        ]),
        &deps,
        now(),
        &m,
    )
    .await;
    assert_eq!(failures(&response), ["m-2"]);
    assert_eq!(deps.store.len(), 2);
    assert_eq!(m.get(metric::PROCESSING_ERRORS, None), 1);
    assert!(
        deps.dead_letters.letters().is_empty(),
        "transient failures are retried, not dead-lettered"
    );
}

#[tokio::test]
async fn failing_to_dead_letter_an_invalid_message_retries_it_instead_of_dropping_it() {
    let deps = queue_deps();
    deps.dead_letters.fail.store(1, Ordering::SeqCst);
    let response = queue_processor::handle(
        sqs_event(vec![sqs_record("m-bad", "{}")]),
        &deps,
        now(),
        &metrics("q"),
    )
    .await;
    assert_eq!(failures(&response), ["m-bad"]);
}

#[tokio::test]
async fn message_without_body_is_dead_lettered() {
    let deps = queue_deps();
    let mut record = sqs_record("m-empty", "");
    record.as_object_mut().unwrap().remove("body");
    let response =
        queue_processor::handle(sqs_event(vec![record]), &deps, now(), &metrics("q")).await;
    assert!(failures(&response).is_empty());
    assert_eq!(deps.dead_letters.letters()[0].reason, "body: is missing");
}

fn event_deps() -> event_processor::Deps<FakeStore, FakeDlq> {
    event_processor::Deps {
        store: FakeStore::default(),
        dead_letters: FakeDlq::default(),
        ttl_days: 30,
    }
}

#[tokio::test]
async fn seed_003_docstring_event_is_stored_once() {
    let deps = event_deps();
    let m = metrics(functions::EVENT_PROCESSOR);
    let first = event_processor::handle(seed_003_event(), &deps, now(), &m)
        .await
        .unwrap();
    assert_eq!(first["outcome"], "stored");
    let again = event_processor::handle(seed_003_event(), &deps, now(), &m)
        .await
        .unwrap();
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(deps.store.len(), 1);
    let item = &deps.store.items()[0];
    assert_eq!(item["trackingNumber"], AttrValue::S("1234567890".into()));
    assert_eq!(item["source"], AttrValue::S("logistics.shipments".into()));
    assert_eq!(
        item[st::TTL_ATTRIBUTE],
        AttrValue::N((now().timestamp() + 30 * 86_400).to_string())
    );
}

#[tokio::test]
async fn seed_004_put_events_example_is_stored_at_the_envelope_time() {
    let deps = event_deps();
    event_processor::handle(seed_004_event(), &deps, now(), &metrics("e"))
        .await
        .unwrap();
    let item = &deps.store.items()[0];
    assert_eq!(
        item[st::STATUS_INDEX_SORT_KEY],
        AttrValue::S("2025-10-17T14:05:09.000Z".into())
    );
    assert_eq!(item["location"], AttrValue::S("Memphis, TN".into()));
}

#[tokio::test]
async fn an_unrecognised_status_is_stored_as_sent_and_counted_not_rejected() {
    let deps = event_deps();
    let m = metrics("e");
    let mut event = seed_004_event();
    event["detail"]["status"] = json!("Customs Hold");
    let outcome = event_processor::handle(event, &deps, now(), &m)
        .await
        .unwrap();
    assert_eq!(outcome["outcome"], "stored");
    assert!(deps.dead_letters.letters().is_empty());
    let stored = deps.store.items();
    assert_eq!(
        stored[0]["status"],
        AttrValue::S("CUSTOMS_HOLD".into()),
        "normalised spelling"
    );
    assert_eq!(m.get(metric::UNRECOGNISED_STATUS, Some("CUSTOMS_HOLD")), 1);
    assert_eq!(m.get(metric::EVENTS_PROCESSED, Some("CUSTOMS_HOLD")), 1);

    let known = event_processor::handle(seed_004_event(), &deps, now(), &m)
        .await
        .unwrap();
    assert_eq!(known["outcome"], "stored");
    assert_eq!(
        m.get(metric::UNRECOGNISED_STATUS, None),
        1,
        "known statuses are not counted"
    );
}

#[tokio::test]
async fn invalid_eventbridge_event_is_dead_lettered_and_acknowledged() {
    let deps = event_deps();
    let mut event = seed_004_event();
    event["detail"]["status"] = json!("MIS<PLACED>");
    let outcome = event_processor::handle(event.clone(), &deps, now(), &metrics("e"))
        .await
        .unwrap();
    assert_eq!(outcome["outcome"], "rejected");
    let letter = &deps.dead_letters.letters()[0];
    assert!(
        letter
            .reason
            .starts_with("detail.status: \"MIS<PLACED>\" is no status"),
        "{}",
        letter.reason
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&letter.body).unwrap(),
        event
    );
    assert_eq!(
        letter.original_id.as_deref(),
        Some("6a7e8feb-b491-4cf7-a9f1-bf3703467718")
    );
    assert_eq!(deps.store.len(), 0);
}

#[tokio::test]
async fn eventbridge_transient_failures_return_an_error_for_lambda_to_retry() {
    let deps = event_deps();
    deps.store.fail_puts.store(1, Ordering::SeqCst);
    let m = metrics("e");
    assert!(event_processor::handle(seed_003_event(), &deps, now(), &m)
        .await
        .is_err());
    assert_eq!(m.get(metric::PROCESSING_ERRORS, None), 1);
    // The retry succeeds and stores it once.
    event_processor::handle(seed_003_event(), &deps, now(), &m)
        .await
        .unwrap();
    assert_eq!(deps.store.len(), 1);

    deps.dead_letters.fail.store(1, Ordering::SeqCst);
    assert!(event_processor::handle(
        json!({"source":"x","detail-type":"y","detail":{}}),
        &deps,
        now(),
        &m
    )
    .await
    .is_err());
}
