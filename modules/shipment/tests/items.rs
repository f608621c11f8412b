//! The DynamoDB item mapping, the summary arithmetic and the connections model.

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;
use shipment::connections::{
    connection_row, parse_client_message, subscription_row, ClientMessage,
};
use shipment::contract::{connections_table, shipments_table};
use shipment::item::{event_item, item_to_json, Arrival, StoreMeta};
use shipment::summary::{is_summary_item, summary_day, DailySummary};
use shipment::{parse_value, status_index, AttrValue, Dedupe, Status, StoredEvent};

fn meta() -> StoreMeta<'static> {
    StoreMeta {
        ingested_at: Utc.with_ymd_and_hms(2025, 10, 17, 12, 0, 5).unwrap(),
        ttl_days: 90,
        arrival: Arrival::Sqs {
            message_id: "m-1",
            receive_count: Some(2),
        },
    }
}

#[test]
fn payload_numbers_are_stored_as_exact_decimal_text() {
    let event = parse_value(&json!({"shipmentId":"A","status":"CREATED","timestamp":"2025-10-17T12:00:00Z",
        "details":{"weightKg":12.75,"lon":-122.4194155,"pieces":3,"big":18446744073709551615u64,"tags":["x",1.5],"fragile":true,"note":null}}), None).unwrap();
    let item = event_item(&event, Dedupe::Content, meta());
    let AttrValue::M(details) = &item["details"] else {
        panic!("details is a map")
    };
    assert_eq!(details["weightKg"], AttrValue::N("12.75".into()));
    assert_eq!(details["lon"], AttrValue::N("-122.4194155".into()));
    assert_eq!(details["pieces"], AttrValue::N("3".into()));
    assert_eq!(details["big"], AttrValue::N("18446744073709551615".into()));
    assert_eq!(
        details["tags"],
        AttrValue::L(vec![AttrValue::S("x".into()), AttrValue::N("1.5".into())])
    );
    assert_eq!(details["fragile"], AttrValue::Bool(true));
    assert_eq!(details["note"], AttrValue::Null);
    assert_eq!(item_to_json(&item)["details"]["lon"], json!(-122.4194155));
}

#[test]
fn event_item_has_keys_index_attributes_and_ttl() {
    let event = parse_value(&json!({"shipmentId":"A","status":"lost","timestamp":"2025-10-17T12:00:00Z","carrier":"UPS"}), None).unwrap();
    let item = event_item(&event, Dedupe::IdempotencyKey("req-9"), meta());
    assert_eq!(
        item[shipments_table::PARTITION_KEY],
        AttrValue::S("A".into())
    );
    assert!(item[shipments_table::SORT_KEY]
        .as_s()
        .unwrap()
        .starts_with("2025-10-17T12:00:00.000Z#"));
    assert_eq!(item[shipments_table::STATUS], AttrValue::S("LOST".into()));
    let sort_key = item[shipments_table::SORT_KEY].as_s().unwrap();
    assert_eq!(
        item[shipments_table::STATUS_INDEX_PARTITION_KEY],
        AttrValue::S(status_index::partition_key("LOST", sort_key))
    );
    assert_eq!(
        item[shipments_table::STATUS_INDEX_SORT_KEY],
        AttrValue::S("2025-10-17T12:00:00.000Z".into())
    );
    let expected_ttl = meta().ingested_at.timestamp() + 90 * 86_400;
    assert_eq!(
        item[shipments_table::TTL_ATTRIBUTE],
        AttrValue::N(expected_ttl.to_string())
    );
    assert_eq!(item["idempotencyKey"], AttrValue::S("req-9".into()));
    assert!(!item.contains_key("details"));
    assert!(!item.contains_key("location"));

    let stored = StoredEvent::from_item(&item).unwrap();
    assert_eq!(stored.status, Status::Lost);
    assert_eq!(
        stored.public_view(),
        json!({"shipmentId":"A","status":"LOST","eventTime":"2025-10-17T12:00:00.000Z",
            "timestamp":"2025-10-17T12:00:00.000Z","carrier":"UPS"})
    );
}

#[test]
fn every_item_records_how_its_event_arrived() {
    let envelope = json!({"id": "eb-1", "source": "logistics.shipments", "detail-type": "Shipment Update",
        "time": "2025-10-17T12:00:00Z", "detail": {"shipmentId": "A", "status": "CREATED"}});
    let event = parse_value(&envelope, None).unwrap();
    let delivery = |arrival| {
        let meta = StoreMeta { arrival, ..meta() };
        item_to_json(&event_item(&event, Dedupe::Content, meta))["delivery"].clone()
    };
    assert_eq!(
        delivery(Arrival::Sqs {
            message_id: "m-7",
            receive_count: Some(2)
        }),
        json!({"via": "SQS", "messageId": "m-7", "receiveCount": 2, "eventId": "eb-1"})
    );
    assert_eq!(
        delivery(Arrival::EventBridge),
        json!({"via": "EventBridge", "eventId": "eb-1"})
    );
    let bare = parse_value(
        &json!({"shipmentId": "A", "status": "CREATED", "timestamp": "2025-10-17T12:00:00Z"}),
        None,
    )
    .unwrap();
    let meta = StoreMeta {
        arrival: Arrival::Rest {
            request_id: "req-1",
        },
        ..meta()
    };
    assert_eq!(
        item_to_json(&event_item(&bare, Dedupe::Content, meta))["delivery"],
        json!({"via": "REST", "requestId": "req-1"})
    );
}

#[test]
fn public_view_leaves_out_customer_data_and_details() {
    let event = parse_value(
        &json!({"shipmentId":"A","status":"CREATED","timestamp":"2025-10-17T12:00:00Z",
        "customerEmail":"a@example.com","details":{"secret":1}}),
        None,
    )
    .unwrap();
    let stored = StoredEvent::from_item(&event_item(&event, Dedupe::Content, meta())).unwrap();
    let view = stored.public_view().to_string();
    assert!(
        !view.contains("example.com") && !view.contains("secret"),
        "{view}"
    );
    assert_eq!(stored.record["customerEmail"], json!("a@example.com"));
}

#[test]
fn summary_counts_every_status_and_stays_out_of_the_status_index() {
    let date = NaiveDate::from_ymd_opt(2025, 10, 16).unwrap();
    let summary = DailySummary::new(
        date,
        [
            (Status::Delivered, 5),
            (Status::Lost, 2),
            (Status::Delayed, 1),
            (Status::Delivered, 1),
        ],
        Utc.with_ymd_and_hms(2025, 10, 17, 1, 0, 0).unwrap(),
    );
    assert_eq!(summary.total(), 9);
    assert_eq!(summary.critical(), 3);
    assert_eq!(summary.counts[&Status::Cancelled], 0);
    assert_eq!(summary.counts.len(), Status::ALL.len());
    let item = summary.to_item();
    assert_eq!(
        item[shipments_table::PARTITION_KEY],
        AttrValue::S("SUMMARY#2025-10-16".into())
    );
    assert!(!item.contains_key(shipments_table::STATUS));
    assert!(!item.contains_key(shipments_table::STATUS_INDEX_PARTITION_KEY));
    assert!(is_summary_item(&item));
    assert_eq!(StoredEvent::from_item(&item), None);
    assert_eq!(summary.to_json()["counts"]["DELIVERED"], json!(6));
    assert!(summary.subject().len() <= 100);
}

#[test]
fn summary_day_is_the_utc_day_before_the_trigger() {
    assert_eq!(
        summary_day(Utc.with_ymd_and_hms(2025, 3, 1, 0, 30, 0).unwrap()),
        NaiveDate::from_ymd_opt(2025, 2, 28).unwrap()
    );
    assert_eq!(
        summary_day(Utc.with_ymd_and_hms(2025, 1, 1, 23, 59, 0).unwrap()),
        NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()
    );
}

#[test]
fn connection_and_subscription_rows_expire_after_24_hours() {
    let now = Utc.with_ymd_and_hms(2025, 10, 17, 12, 0, 0).unwrap();
    let row = connection_row("c-1", now);
    assert_eq!(
        row[connections_table::SORT_KEY],
        AttrValue::S("CONNECTION".into())
    );
    assert_eq!(
        row[connections_table::TTL_ATTRIBUTE],
        AttrValue::N((now.timestamp() + 86_400).to_string())
    );
    assert!(!row.contains_key(connections_table::SUBSCRIBERS_INDEX_PARTITION_KEY));
    let sub = subscription_row("c-1", "SHIP-1", now);
    assert_eq!(
        sub[connections_table::SORT_KEY],
        AttrValue::S("SUB#SHIP-1".into())
    );
    assert_eq!(
        sub[connections_table::SUBSCRIBERS_INDEX_PARTITION_KEY],
        AttrValue::S("SHIP-1".into())
    );
    assert!(sub.contains_key(connections_table::TTL_ATTRIBUTE));
}

#[test]
fn client_messages_parse_or_explain() {
    assert_eq!(
        parse_client_message(Some(r#"{"action":"subscribe","shipmentId":"S-1"}"#)),
        Ok(ClientMessage::Subscribe {
            shipment_id: "S-1".into()
        })
    );
    assert_eq!(
        parse_client_message(Some(r#"{"action":"unsubscribe","shipmentId":"S-1"}"#)),
        Ok(ClientMessage::Unsubscribe {
            shipment_id: "S-1".into()
        })
    );
    for (body, needle) in [
        (None, "empty"),
        (Some("nope"), "not valid JSON"),
        (Some("[]"), "JSON object"),
        (Some(r#"{"shipmentId":"S-1"}"#), "action: is required"),
        (
            Some(r#"{"action":"dance","shipmentId":"S-1"}"#),
            "unknown action",
        ),
        (Some(r#"{"action":"subscribe"}"#), "shipmentId: is required"),
        (
            Some(r#"{"action":"subscribe","shipmentId":"a b"}"#),
            "shipmentId:",
        ),
    ] {
        let err = parse_client_message(body).unwrap_err();
        assert!(err.contains(needle), "{err}");
    }
}

mod properties {
    use proptest::prelude::*;
    use serde_json::{json, Value};
    use shipment::AttrValue;

    proptest! {
        #[test]
        fn floats_are_stored_as_text_that_reads_back_to_the_same_number(x in proptest::num::f64::NORMAL) {
            let AttrValue::N(text) = AttrValue::from_json(&json!(x)) else { panic!("number") };
            prop_assert_eq!(text.parse::<f64>().unwrap(), x);
            prop_assert_eq!(AttrValue::N(text).to_json(), json!(x));
        }

        #[test]
        fn integers_are_stored_exactly(n in any::<i64>(), u in any::<u64>()) {
            prop_assert_eq!(AttrValue::from_json(&json!(n)), AttrValue::N(n.to_string()));
            prop_assert_eq!(AttrValue::from_json(&json!(u)), AttrValue::N(u.to_string()));
            prop_assert_eq!(AttrValue::N(u.to_string()).to_json(), Value::from(u));
        }
    }
}
