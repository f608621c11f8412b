//! Every producer dialect is accepted and normalised; every rejection names its field.

use chrono::{TimeZone, Utc};
use serde_json::json;
use shipment::error::Rejection;
use shipment::idempotency::{content_digest, identity, validate_idempotency_key, Dedupe};
use shipment::samples::seed_003_envelope;
use shipment::{parse_body, parse_value, ShipmentStatus, Status, MAX_EVENT_BYTES};

fn received() -> Option<chrono::DateTime<Utc>> {
    Some(Utc.with_ymd_and_hms(2025, 10, 17, 9, 30, 0).unwrap())
}

fn fields(rejection: Rejection) -> Vec<String> {
    rejection
        .field_errors()
        .into_iter()
        .map(|e| e.field)
        .collect()
}

fn reject(body: serde_json::Value) -> Rejection {
    parse_value(&body, received()).expect_err("should be rejected")
}

#[test]
fn accepts_seed_000_camel_case_without_timestamp() {
    let body = r#"{"shipmentId":"SHIP-1","status":"DELIVERED","location":"Porch","customerId":"C-9","customerEmail":"a@example.com"}"#;
    let event = parse_body(body, received()).unwrap();
    assert_eq!(event.shipment_id, "SHIP-1");
    assert_eq!(event.status, Status::Delivered);
    assert_eq!(event.event_time_string(), "2025-10-17T09:30:00.000Z");
    assert_eq!(event.customer_id.as_deref(), Some("C-9"));
    assert_eq!(event.customer_email.as_deref(), Some("a@example.com"));
    assert!(event.details.is_empty());
}

#[test]
fn accepts_seed_001_tracking_id_and_details() {
    let body = r#"{"tracking_id":"TRK-77","status":"in_transit","location":"Leeds","carrier":"DPD","details":{"weightKg":12.75,"pieces":3},"timestamp":"2025-10-17T08:00:00+01:00"}"#;
    let event = parse_body(body, received()).unwrap();
    assert_eq!(event.shipment_id, "TRK-77");
    assert_eq!(event.status, Status::InTransit);
    assert_eq!(event.event_time_string(), "2025-10-17T07:00:00.000Z");
    assert_eq!(event.carrier.as_deref(), Some("DPD"));
    assert_eq!(event.details["weightKg"], json!(12.75));
    assert_eq!(event.details["pieces"], json!(3));
}

#[test]
fn accepts_seed_002_snake_case_with_event_type_as_status() {
    let body = r#"{"shipment_id":"S-2","event_timestamp":"2025-10-17T10:15:30.123456Z","event_type":"shipment.picked_up","event_data":{"lat":51.5072,"lon":-0.1276}}"#;
    let event = parse_body(body, None).unwrap();
    assert_eq!(event.shipment_id, "S-2");
    assert_eq!(event.status, Status::PickedUp);
    assert_eq!(event.event_time_string(), "2025-10-17T10:15:30.123Z");
    assert_eq!(event.details["lat"], json!(51.5072));
}

#[test]
fn accepts_seed_002_envelope_with_fields_under_detail() {
    let body = json!({
        "version": "0", "id": "abc", "source": "shipment.service",
        "detail-type": "shipment.delayed", "time": "2025-10-17T11:00:00Z",
        "detail": {"shipment_id": "S-3", "event_timestamp": "2025-10-17T10:59:00Z", "event_type": "delayed"}
    });
    let event = parse_value(&body, None).unwrap();
    assert_eq!(event.shipment_id, "S-3");
    assert_eq!(event.status, Status::Delayed);
    assert_eq!(event.event_time_string(), "2025-10-17T10:59:00.000Z");
    assert_eq!(event.provenance.source.as_deref(), Some("shipment.service"));
    assert_eq!(event.provenance.event_id.as_deref(), Some("abc"));
}

#[test]
fn accepts_seed_003_docstring_event() {
    let event = parse_value(&seed_003_envelope(), None).unwrap();
    assert_eq!(event.shipment_id, "SHIP-12345");
    assert_eq!(event.status, Status::InTransit);
    assert_eq!(event.tracking_number.as_deref(), Some("1234567890"));
    assert_eq!(event.location.as_deref(), Some("Dallas, TX"));
    assert_eq!(
        event.provenance.detail_type.as_deref(),
        Some("Shipment Update")
    );
}

#[test]
fn seed_004_put_events_without_timestamp_takes_the_envelope_time() {
    let body = json!({
        "version": "0", "id": "e-1", "detail-type": "Shipment Update", "source": "logistics.shipments",
        "account": "123456789012", "time": "2025-10-17T12:34:56Z", "region": "us-east-1", "resources": [],
        "detail": {"shipmentId": "SHIP-12345", "status": "IN_TRANSIT", "location": "Memphis, TN", "carrier": "FedEx"}
    });
    let event = parse_value(&body, received()).unwrap();
    assert_eq!(event.event_time_string(), "2025-10-17T12:34:56.000Z");
}

#[test]
fn envelope_detail_type_supplies_a_missing_status() {
    let body = json!({"source": "logistics.shipments", "detail-type": "Shipment Delayed", "time": "2025-10-17T12:00:00Z",
        "detail": {"shipmentId": "SHIP-1"}});
    assert_eq!(parse_value(&body, None).unwrap().status, Status::Delayed);
}

#[test]
fn python_naive_isoformat_and_epoch_numbers_are_utc() {
    let naive = parse_value(
        &json!({"shipmentId":"A","status":"CREATED","timestamp":"2025-10-17T12:00:00.500000"}),
        None,
    )
    .unwrap();
    assert_eq!(naive.event_time_string(), "2025-10-17T12:00:00.500Z");
    let secs = parse_value(
        &json!({"shipmentId":"A","status":"CREATED","timestamp":1760702400}),
        None,
    )
    .unwrap();
    assert_eq!(secs.event_time_string(), "2025-10-17T12:00:00.000Z");
    let millis = parse_value(
        &json!({"shipmentId":"A","status":"CREATED","timestamp":1760702400250i64}),
        None,
    )
    .unwrap();
    assert_eq!(millis.event_time_string(), "2025-10-17T12:00:00.250Z");
}

#[test]
fn unknown_fields_are_kept_in_details() {
    let event = parse_value(&json!({"shipmentId":"A","status":"CREATED","timestamp":"2025-10-17T12:00:00Z","priority":"HIGH"}), None).unwrap();
    assert_eq!(event.details["priority"], json!("HIGH"));
}

#[test]
fn rejects_missing_shipment_id_and_status() {
    assert_eq!(
        fields(reject(json!({"timestamp":"2025-10-17T12:00:00Z"}))),
        ["shipmentId", "status"]
    );
}

#[test]
fn an_unrecognised_status_is_stored_as_sent_in_its_normalised_spelling() {
    let event = parse_value(
        &json!({"shipment_id":"A","event_type":"shipment.customs-hold","event_timestamp":"2025-10-17T09:30:00Z"}),
        received(),
    )
    .unwrap();
    assert_eq!(
        event.status,
        ShipmentStatus::Unrecognised("CUSTOMS_HOLD".into())
    );
    assert!(!event.status.is_critical());
}

#[test]
fn a_detail_type_that_is_no_status_does_not_stand_in_for_a_missing_one() {
    let body = json!({"source":"logistics.shipments","detail-type":"Shipment Update","time":"2025-10-17T12:00:00Z",
        "detail":{"shipmentId":"A"}});
    assert_eq!(fields(reject(body)), ["detail.status"]);
}

#[test]
fn rejects_a_malformed_status_naming_the_field() {
    let rejection = reject(json!({"shipment_id":"A","event_type":"TELE<PORTED>"}));
    let errors = rejection.field_errors();
    assert_eq!(errors[0].field, "event_type");
    assert!(
        errors[0].message.contains("TELE<PORTED>"),
        "{}",
        errors[0].message
    );
}

#[test]
fn rejects_empty_over_long_and_malformed_ids() {
    assert_eq!(
        fields(reject(json!({"shipmentId":"","status":"CREATED"}))),
        ["shipmentId"]
    );
    assert_eq!(
        fields(reject(
            json!({"tracking_id":"x".repeat(129),"status":"CREATED"})
        )),
        ["tracking_id"]
    );
    assert_eq!(
        fields(reject(
            json!({"shipmentId":"SUMMARY#2025-10-17","status":"CREATED"})
        )),
        ["shipmentId"]
    );
    assert_eq!(
        fields(reject(json!({"shipmentId":42,"status":"CREATED"}))),
        ["shipmentId"]
    );
    assert!(parse_value(
        &json!({"shipmentId":"x".repeat(128),"status":"CREATED"}),
        received()
    )
    .is_ok());
}

#[test]
fn rejects_malformed_timestamps() {
    for bad in [
        json!("yesterday"),
        json!("2025-13-45T00:00:00Z"),
        json!(true),
        json!(1.5),
    ] {
        let rejection = reject(json!({"shipmentId":"A","status":"CREATED","timestamp":bad}));
        assert_eq!(fields(rejection), ["timestamp"]);
    }
    let rejection =
        reject(json!({"shipment_id":"A","event_type":"CREATED","event_timestamp":"12/10/2025"}));
    assert_eq!(fields(rejection), ["event_timestamp"]);
}

#[test]
fn rejects_a_missing_time_when_no_fallback_exists() {
    let rejection = parse_value(&json!({"shipmentId":"A","status":"CREATED"}), None).unwrap_err();
    assert_eq!(fields(rejection), ["timestamp"]);
}

#[test]
fn envelope_errors_are_prefixed_with_detail() {
    let body = json!({"source":"logistics.shipments","detail-type":"Shipment Update","time":"2025-10-17T12:00:00Z",
        "detail":{"shipmentId":"A","status":""}});
    assert_eq!(fields(reject(body)), ["detail.status"]);
    let body =
        json!({"source":"logistics.shipments","detail-type":"Shipment Update","detail":"text"});
    assert_eq!(fields(reject(body)), ["detail"]);
    let body = json!({"source":"x","detail-type":"Shipment Update","time":"noon","detail":{"shipmentId":"A","status":"CREATED"}});
    assert_eq!(fields(reject(body)), ["time"]);
}

#[test]
fn rejects_bodies_over_the_limit_as_too_large() {
    let body = format!(
        r#"{{"shipmentId":"A","status":"CREATED","details":{{"pad":"{}"}}}}"#,
        "x".repeat(MAX_EVENT_BYTES)
    );
    assert!(matches!(
        parse_body(&body, received()),
        Err(Rejection::TooLarge { .. })
    ));
}

#[test]
fn rejects_non_json_and_non_object_bodies() {
    assert_eq!(
        fields(parse_body("{not json", received()).unwrap_err()),
        ["body"]
    );
    assert_eq!(
        fields(parse_body("[1,2]", received()).unwrap_err()),
        ["body"]
    );
}

#[test]
fn rejects_wrongly_typed_and_over_long_text_fields() {
    let rejection = reject(
        json!({"shipmentId":"A","status":"CREATED","location":{"lat":1},"carrier":"c".repeat(300),"details":[1]}),
    );
    assert_eq!(fields(rejection), ["location", "carrier", "details"]);
}

#[test]
fn rejects_numbers_dynamodb_cannot_store_and_too_deep_details() {
    let rejection = reject(json!({"shipmentId":"A","status":"CREATED","details":{"huge":1e200}}));
    assert_eq!(fields(rejection), ["details.huge"]);
    let mut deep = json!(1);
    for _ in 0..20 {
        deep = json!({ "d": deep });
    }
    let rejection = reject(json!({"shipmentId":"A","status":"CREATED","details":{"deep":deep}}));
    assert_eq!(rejection.field_errors().len(), 1);
}

/// The sort key of the event's item.
fn event_key(event: &shipment::ShipmentEvent, dedupe: Dedupe<'_>) -> String {
    identity(event, dedupe).event_key
}

#[test]
fn redelivery_has_the_same_key_and_distinct_events_at_one_time_do_not() {
    let a = parse_value(&seed_003_envelope(), None).unwrap();
    let mut redelivered = seed_003_envelope();
    redelivered["id"] = json!("another-envelope-id");
    let b = parse_value(&redelivered, None).unwrap();
    assert_eq!(
        event_key(&a, Dedupe::Content),
        event_key(&b, Dedupe::Content)
    );

    let mut other = seed_003_envelope();
    other["detail"]["location"] = json!("Memphis, TN");
    let c = parse_value(&other, None).unwrap();
    assert_eq!(a.event_time, c.event_time);
    assert_ne!(
        event_key(&a, Dedupe::Content),
        event_key(&c, Dedupe::Content)
    );
}

#[test]
fn dialects_of_one_event_share_its_identity() {
    let camel = parse_value(&json!({"shipmentId":"A","status":"IN_TRANSIT","timestamp":"2025-10-17T12:00:00Z","details":{"w":1}}), None).unwrap();
    let snake = parse_value(&json!({"shipment_id":"A","event_type":"in-transit","event_timestamp":"2025-10-17T13:00:00+01:00","event_data":{"w":1}}), None).unwrap();
    assert_eq!(content_digest(&camel), content_digest(&snake));
}

#[test]
fn idempotency_key_overrides_content_in_the_key() {
    let a = parse_value(
        &json!({"shipmentId":"A","status":"CREATED","timestamp":"2025-10-17T12:00:00Z"}),
        None,
    )
    .unwrap();
    let key = event_key(&a, Dedupe::IdempotencyKey("req-1"));
    assert!(key.starts_with("2025-10-17T12:00:00.000Z#"));
    assert_ne!(key, event_key(&a, Dedupe::Content));
    assert_ne!(key, event_key(&a, Dedupe::IdempotencyKey("req-2")));
    assert!(validate_idempotency_key("req-1").is_ok());
    assert!(validate_idempotency_key("").is_err());
    assert!(validate_idempotency_key("has space").is_err());
    assert!(validate_idempotency_key(&"k".repeat(256)).is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn valid_ids_round_trip_and_key_order_is_time_order(
            id in "[A-Za-z0-9._:/-]{1,128}",
            a in 0i64..4_102_444_800_000,
            b in 0i64..4_102_444_800_000,
        ) {
            let ea = parse_value(&json!({"shipmentId": id, "status": "CREATED", "timestamp": Utc.timestamp_millis_opt(a).unwrap().to_rfc3339()}), None).unwrap();
            let eb = parse_value(&json!({"shipmentId": id, "status": "CREATED", "timestamp": Utc.timestamp_millis_opt(b).unwrap().to_rfc3339()}), None).unwrap();
            prop_assert_eq!(&ea.shipment_id, &id);
            prop_assert_eq!(a.cmp(&b), ea.event_time_string().cmp(&eb.event_time_string()));
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in ".{0,200}") {
            let _ = parse_body(&body, None);
        }

        #[test]
        fn digest_ignores_detail_key_order(x in any::<i32>(), y in "[a-z]{0,8}") {
            let one = parse_body(&format!(r#"{{"shipmentId":"A","status":"CREATED","timestamp":"2025-10-17T12:00:00Z","details":{{"x":{x},"y":"{y}"}}}}"#), None).unwrap();
            let two = parse_body(&format!(r#"{{"shipmentId":"A","status":"CREATED","timestamp":"2025-10-17T12:00:00Z","details":{{"y":"{y}","x":{x}}}}}"#), None).unwrap();
            prop_assert_eq!(content_digest(&one), content_digest(&two));
        }
    }
}

#[test]
fn the_raw_id_of_a_rejected_event_can_still_be_logged() {
    use shipment::event::raw_shipment_id;
    assert_eq!(
        raw_shipment_id(r#"{"tracking_id":"T-1","status":"NOPE"}"#).as_deref(),
        Some("T-1")
    );
    assert_eq!(
        raw_shipment_id(&seed_003_envelope().to_string()).as_deref(),
        Some("SHIP-12345")
    );
    assert_eq!(raw_shipment_id("not json"), None);
    assert_eq!(raw_shipment_id(r#"{"status":"CREATED"}"#), None);
}
