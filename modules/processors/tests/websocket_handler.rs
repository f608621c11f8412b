//! websocket-handler, driven with real API Gateway WebSocket payloads.

mod support;

use std::sync::atomic::Ordering;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::ApiGatewayProxyResponse;
use processors::handlers::websocket_handler::handle;
use processors::metrics::Metrics;
use serde_json::Value;
use shipment::contract::connections_table as ct;
use shipment::AttrValue;
use support::fakes::FakeConnections;
use support::payloads::websocket_request;
use support::{metrics, now};

/// One frame from `connection` on `route`, handled at `now()`.
async fn send(
    table: &FakeConnections,
    metrics: &Metrics,
    route: &str,
    connection: &str,
    body: Option<&str>,
) -> ApiGatewayProxyResponse {
    handle(
        websocket_request(route, connection, body),
        table,
        now(),
        metrics,
    )
    .await
}

/// The `$default` message body that (un)subscribes from one shipment.
fn message(action: &str, shipment_id: &str) -> String {
    format!(r#"{{"action":"{action}","shipmentId":"{shipment_id}"}}"#)
}

fn reply(response: &ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

#[tokio::test]
async fn connect_stores_the_connection_for_24_hours() {
    let table = FakeConnections::default();
    let response = send(&table, &metrics("ws"), "$connect", "c-1", None).await;
    assert_eq!(response.status_code, 200);
    let row = table.row("c-1", "CONNECTION").unwrap();
    assert_eq!(
        row[ct::TTL_ATTRIBUTE],
        AttrValue::N((now().timestamp() + 86_400).to_string())
    );
}

#[tokio::test]
async fn subscribe_and_unsubscribe_manage_subscription_rows() {
    let table = FakeConnections::default();
    let m = metrics("ws");
    send(&table, &m, "$connect", "c-1", None).await;
    let response = send(
        &table,
        &m,
        "$default",
        "c-1",
        Some(&message("subscribe", "SHIP-1")),
    )
    .await;
    assert_eq!(response.status_code, 200);
    assert_eq!(
        reply(&response),
        serde_json::json!({"type":"subscribed","shipmentId":"SHIP-1"})
    );
    let row = table.row("c-1", "SUB#SHIP-1").unwrap();
    assert_eq!(
        row[ct::SUBSCRIBERS_INDEX_PARTITION_KEY],
        AttrValue::S("SHIP-1".into())
    );
    assert!(row.contains_key(ct::TTL_ATTRIBUTE));

    let response = send(
        &table,
        &m,
        "$default",
        "c-1",
        Some(&message("unsubscribe", "SHIP-1")),
    )
    .await;
    assert_eq!(reply(&response)["type"], "unsubscribed");
    assert_eq!(table.sort_keys("c-1"), ["CONNECTION"]);
}

#[tokio::test]
async fn disconnect_deletes_the_connection_and_its_subscriptions() {
    let table = FakeConnections::default();
    let m = metrics("ws");
    send(&table, &m, "$connect", "c-1", None).await;
    send(&table, &m, "$connect", "c-2", None).await;
    for id in ["A", "B"] {
        send(
            &table,
            &m,
            "$default",
            "c-1",
            Some(&message("subscribe", id)),
        )
        .await;
    }
    assert_eq!(table.sort_keys("c-1").len(), 3);
    let response = send(&table, &m, "$disconnect", "c-1", None).await;
    assert_eq!(response.status_code, 200);
    assert!(table.sort_keys("c-1").is_empty());
    assert_eq!(table.sort_keys("c-2"), ["CONNECTION"]);
}

#[tokio::test]
async fn anything_else_gets_a_clear_error_reply() {
    let table = FakeConnections::default();
    for (body, needle) in [
        (None, "empty message"),
        (Some("hello"), "not valid JSON"),
        (
            Some(r#"{"action":"dance","shipmentId":"A"}"#),
            "unknown action \"dance\"",
        ),
        (Some(r#"{"action":"subscribe"}"#), "shipmentId: is required"),
        (
            Some(r#"{"action":"subscribe","shipmentId":"SHIP 1#x"}"#),
            "shipmentId:",
        ),
    ] {
        let response = send(&table, &metrics("ws"), "$default", "c-1", body).await;
        assert_eq!(response.status_code, 400, "{body:?}");
        let reply = reply(&response);
        assert_eq!(reply["type"], "error");
        assert!(
            reply["message"].as_str().unwrap().contains(needle),
            "{reply}"
        );
    }
    assert!(table.rows.lock().unwrap().is_empty());
    let response = send(&table, &metrics("ws"), "$connect", "", None).await;
    assert_eq!(response.status_code, 400);
}

#[tokio::test]
async fn storage_failures_are_500_with_a_generic_reply() {
    let table = FakeConnections::default();
    table.fail.store(1, Ordering::SeqCst);
    let response = send(&table, &metrics("ws"), "$connect", "c-1", None).await;
    assert_eq!(response.status_code, 500);
    assert!(!reply(&response).to_string().contains("throttled"));
    table.fail.store(1, Ordering::SeqCst);
    let response = send(&table, &metrics("ws"), "$disconnect", "c-1", None).await;
    assert_eq!(response.status_code, 500);
}

#[tokio::test]
async fn a_connection_follows_at_most_50_shipments() {
    let table = FakeConnections::default();
    let m = metrics("ws");
    send(&table, &m, "$connect", "c-1", None).await;
    let (table_ref, m_ref) = (&table, &m);
    let subscribe = move |id: String| {
        let body = message("subscribe", &id);
        async move { send(table_ref, m_ref, "$default", "c-1", Some(&body)).await }
    };
    for i in 0..50 {
        assert_eq!(subscribe(format!("S-{i}")).await.status_code, 200);
    }
    let refused = subscribe("S-50".into()).await;
    assert_eq!(refused.status_code, 400);
    assert!(reply(&refused)["message"]
        .as_str()
        .unwrap()
        .contains("at most 50"));
    // Re-subscribing to a followed shipment is fine (it refreshes the row).
    assert_eq!(subscribe("S-7".into()).await.status_code, 200);
    assert_eq!(table.sort_keys("c-1").len(), 51);
}
