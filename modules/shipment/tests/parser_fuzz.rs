//! Property tests of the event parser on hostile input: every input either parses or is
//! refused with at least one named field; nothing panics, and what parses maps to an item.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use shipment::idempotency::Dedupe;
use shipment::item::{event_item, Arrival, StoreMeta};
use shipment::parse_body;

/// JSON values biased towards the fields the parser looks at, in every dialect.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("SHIP-1"),
            Just("IN_TRANSIT"),
            Just("DELAYED"),
            Just("2025-10-17T12:00:00Z"),
            Just("2025-13-45T99:00:00Z"),
            Just("1e400"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let key = prop_oneof![
        Just("shipmentId"),
        Just("shipment_id"),
        Just("tracking_id"),
        Just("status"),
        Just("event_type"),
        Just("timestamp"),
        Just("event_timestamp"),
        Just("details"),
        Just("event_data"),
        Just("detail"),
        Just("detail-type"),
        Just("source"),
        Just("id"),
        Just("location"),
        Just("carrier"),
    ]
    .prop_map(str::to_owned);
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn check(body: &str) -> Result<(), TestCaseError> {
    let received = Utc.with_ymd_and_hms(2025, 10, 17, 9, 30, 0).unwrap();
    match parse_body(body, Some(received)) {
        Ok(event) => {
            let meta = StoreMeta {
                ingested_at: received,
                ttl_days: 90,
                arrival: Arrival::EventBridge,
            };
            let _item = event_item(&event, Dedupe::Content, meta);
        }
        Err(rejection) => {
            let shown = rejection.to_string();
            prop_assert!(!shown.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_is_parsed_or_refused(body in "\\PC{0,200}") {
        check(&body)?;
    }

    #[test]
    fn arbitrary_json_in_every_dialect_is_parsed_or_refused(value in any_json()) {
        check(&value.to_string())?;
    }

    #[test]
    fn arbitrary_details_under_a_valid_envelope_are_parsed_or_refused(details in any_json()) {
        let body = json!({
            "version": "0", "id": "e-1", "detail-type": "Shipment Update", "source": "logistics.shipments",
            "time": "2025-10-17T12:00:00Z",
            "detail": {"shipmentId": "SHIP-1", "status": "IN_TRANSIT", "details": details},
        });
        check(&body.to_string())?;
    }
}
