//! ingest-api, driven with real API Gateway REST proxy payloads.

mod support;

use std::sync::atomic::Ordering;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::ApiGatewayProxyResponse;
use processors::handlers::ingest_api::{handle, Deps};
use serde_json::Value;
use shipment::contract::metrics as metric;
use support::fakes::FakeStore;
use support::payloads::api_request;
use support::{metrics, now};

fn deps() -> Deps<FakeStore> {
    Deps {
        store: FakeStore::default(),
        ttl_days: 90,
    }
}

fn body(response: &ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).expect("JSON body"),
        other => panic!("unexpected body {other:?}"),
    }
}

fn error_fields(response: &ApiGatewayProxyResponse) -> Vec<String> {
    body(response)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

/// Seed 000's request body: no timestamp, no idempotency key.
const SEED_000: &str = r#"{"shipmentId":"SHIP-1","status":"OUT_FOR_DELIVERY","location":"Depot 4","customerId":"C-1","customerEmail":"c@example.com"}"#;
const WITH_TIME: &str = r#"{"shipmentId":"SHIP-2","status":"DELIVERED","timestamp":"2025-10-17T09:00:00Z","details":{"weightKg":2.5}}"#;

#[tokio::test]
async fn new_event_is_created_with_the_stored_record() {
    let deps = deps();
    let m = metrics("ingest-api");
    let response = handle(
        api_request(Some(SEED_000), &[("Content-Type", "application/json")]),
        &deps,
        now(),
        &m,
    )
    .await;
    // Seed 000 answered 200 with `message, shipmentId, status, timestamp`: its clients keep
    // working, and read the stored record and the outcome besides.
    assert_eq!(response.status_code, 200);
    assert_eq!(response.headers["content-type"], "application/json");
    let record = body(&response);
    assert_eq!(record["message"], "Shipment status updated successfully");
    assert_eq!(record["outcome"], "stored");
    assert_eq!(record["shipmentId"], "SHIP-1");
    assert_eq!(record["status"], "OUT_FOR_DELIVERY");
    assert_eq!(record["timestamp"], "2025-10-17T09:30:00.000Z");
    // No timestamp: API Gateway's request time.
    assert_eq!(record["eventTime"], "2025-10-17T09:30:00.000Z");
    assert!(record["eventKey"]
        .as_str()
        .unwrap()
        .starts_with("2025-10-17T09:30:00.000Z#"));
    assert_eq!(deps.store.len(), 1);
    assert_eq!(m.get(metric::EVENTS_PROCESSED, None), 1);
}

#[tokio::test]
async fn retried_request_is_stored_once_and_answered_200_with_the_first_record() {
    let deps = deps();
    let m = metrics("ingest-api");
    let first = handle(api_request(Some(WITH_TIME), &[]), &deps, now(), &m).await;
    assert_eq!(body(&first)["outcome"], "stored");
    let later = now() + chrono::Duration::minutes(5);
    let replay = handle(api_request(Some(WITH_TIME), &[]), &deps, later, &m).await;
    assert_eq!(replay.status_code, 200);
    let (mut first, mut replay) = (body(&first), body(&replay));
    assert_eq!(replay["outcome"], "replay");
    for reply in [&mut first, &mut replay] {
        reply.as_object_mut().unwrap().remove("outcome");
    }
    assert_eq!(
        replay, first,
        "the record stored first, ingestedAt included"
    );
    assert_eq!(deps.store.len(), 1);
    assert_eq!(m.get(metric::DUPLICATES_SKIPPED, None), 1);
}

#[tokio::test]
async fn same_idempotency_key_is_a_replay_and_a_different_key_a_new_event() {
    let deps = deps();
    let m = metrics("ingest-api");
    let key = [("Idempotency-Key", "order-77-delivered")];
    assert_eq!(
        handle(api_request(Some(WITH_TIME), &key), &deps, now(), &m)
            .await
            .status_code,
        200
    );
    // Header names are case-insensitive.
    let replay = handle(
        api_request(
            Some(WITH_TIME),
            &[("idempotency-key", "order-77-delivered")],
        ),
        &deps,
        now(),
        &m,
    )
    .await;
    assert_eq!(body(&replay)["outcome"], "replay");
    assert_eq!(body(&replay)["idempotencyKey"], "order-77-delivered");
    let other = handle(
        api_request(Some(WITH_TIME), &[("Idempotency-Key", "order-77-again")]),
        &deps,
        now(),
        &m,
    )
    .await;
    assert_eq!(body(&other)["outcome"], "stored");
    assert_eq!(deps.store.len(), 2);
}

#[tokio::test]
async fn reusing_an_idempotency_key_for_a_different_event_is_422() {
    let deps = deps();
    let key = [("Idempotency-Key", "k-1")];
    handle(
        api_request(Some(WITH_TIME), &key),
        &deps,
        now(),
        &metrics("i"),
    )
    .await;
    let different = WITH_TIME.replace("2.5", "3.5");
    let response = handle(
        api_request(Some(&different), &key),
        &deps,
        now(),
        &metrics("i"),
    )
    .await;
    assert_eq!(response.status_code, 422);
    assert_eq!(error_fields(&response), ["Idempotency-Key"]);
    assert_eq!(deps.store.len(), 1);
}

#[tokio::test]
async fn idempotency_key_without_timestamp_is_400_naming_timestamp() {
    let response = handle(
        api_request(Some(SEED_000), &[("Idempotency-Key", "k-2")]),
        &deps(),
        now(),
        &metrics("i"),
    )
    .await;
    assert_eq!(response.status_code, 400);
    assert_eq!(error_fields(&response), ["timestamp"]);
    assert!(body(&response)["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));
}

#[tokio::test]
async fn invalid_fields_are_400_with_every_field_named() {
    let deps = deps();
    let response = handle(
        api_request(
            Some(r#"{"shipmentId":"","status":"","timestamp":"soon"}"#),
            &[],
        ),
        &deps,
        now(),
        &metrics("i"),
    )
    .await;
    assert_eq!(response.status_code, 400);
    assert_eq!(
        error_fields(&response),
        ["shipmentId", "status", "timestamp"]
    );
    assert_eq!(body(&response)["message"], "invalid shipment event");
    assert_eq!(deps.store.len(), 0);
}

#[tokio::test]
async fn malformed_or_missing_bodies_and_bad_keys_are_400() {
    for (request_body, headers, field) in [
        (None, vec![], "body"),
        (Some("{oops"), vec![], "body"),
        (
            Some(WITH_TIME),
            vec![("Idempotency-Key", "has spaces in it")],
            "Idempotency-Key",
        ),
    ] {
        let response = handle(
            api_request(request_body, &headers),
            &deps(),
            now(),
            &metrics("i"),
        )
        .await;
        assert_eq!(response.status_code, 400);
        assert_eq!(error_fields(&response), [field]);
    }
}

#[tokio::test]
async fn oversized_body_is_413() {
    let big = format!(
        r#"{{"shipmentId":"S","status":"CREATED","details":{{"pad":"{}"}}}}"#,
        "x".repeat(70_000)
    );
    let response = handle(api_request(Some(&big), &[]), &deps(), now(), &metrics("i")).await;
    assert_eq!(response.status_code, 413);
    assert_eq!(error_fields(&response), ["body"]);
}

#[tokio::test]
async fn base64_bodies_are_decoded() {
    use base64::Engine;
    let mut request = api_request(
        Some(&base64::engine::general_purpose::STANDARD.encode(WITH_TIME)),
        &[],
    );
    request.is_base64_encoded = true;
    assert_eq!(
        handle(request, &deps(), now(), &metrics("i"))
            .await
            .status_code,
        200
    );
    let mut request = api_request(Some("!!!not base64"), &[]);
    request.is_base64_encoded = true;
    assert_eq!(
        handle(request, &deps(), now(), &metrics("i"))
            .await
            .status_code,
        400
    );
}

#[tokio::test]
async fn storage_failure_is_500_without_internals() {
    let deps = deps();
    deps.store.fail_puts.store(1, Ordering::SeqCst);
    let m = metrics("i");
    let response = handle(api_request(Some(WITH_TIME), &[]), &deps, now(), &m).await;
    assert_eq!(response.status_code, 500);
    let text = body(&response).to_string();
    assert!(
        !text.contains("throttled") && !text.contains("dynamodb"),
        "{text}"
    );
    assert_eq!(
        body(&response)["requestId"],
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
    assert_eq!(m.get(metric::PROCESSING_ERRORS, None), 1);

    // A replay whose read-back fails is a 500 too, and the retry then succeeds.
    handle(api_request(Some(WITH_TIME), &[]), &deps, now(), &m).await;
    deps.store.fail_gets.store(1, Ordering::SeqCst);
    assert_eq!(
        handle(api_request(Some(WITH_TIME), &[]), &deps, now(), &m)
            .await
            .status_code,
        500
    );
    assert_eq!(
        handle(api_request(Some(WITH_TIME), &[]), &deps, now(), &m)
            .await
            .status_code,
        200
    );
}
