//! The WebSocket connections table: one `CONNECTION` row per connection and one `SUB#<id>`
//! row per subscription. Subscription rows carry `subscribedShipmentId`, the partition key
//! of the sparse `subscribers-index`, so the fanout finds a shipment's subscribers with one
//! Query. Every row expires 24 h after it was written.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::contract::connections_table as table;
use crate::event::{format_time, validate_id};
use crate::item::{AttrValue, Item};

/// Sort key of the connection row.
pub const CONNECTION_SORT_KEY: &str = "CONNECTION";
/// Sort key prefix of subscription rows.
pub const SUBSCRIPTION_PREFIX: &str = "SUB#";
/// Lifetime of a connection's rows (API Gateway ends connections after 2 h anyway; the TTL
/// sweeps rows whose `$disconnect` never arrived).
pub const CONNECTION_TTL_SECS: i64 = 24 * 60 * 60;
/// Most shipments one connection may follow (bounds the rows a client can create).
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 50;
/// Longest accepted client message.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024;

pub fn subscription_sort_key(shipment_id: &str) -> String {
    format!("{SUBSCRIPTION_PREFIX}{shipment_id}")
}

fn base_row(connection_id: &str, sort_key: String, now: DateTime<Utc>) -> Item {
    let mut item = Item::new();
    item.insert(
        table::PARTITION_KEY.into(),
        AttrValue::S(connection_id.into()),
    );
    item.insert(table::SORT_KEY.into(), AttrValue::S(sort_key));
    item.insert(
        table::TTL_ATTRIBUTE.into(),
        AttrValue::N((now.timestamp() + CONNECTION_TTL_SECS).to_string()),
    );
    item
}

/// The row `$connect` writes.
pub fn connection_row(connection_id: &str, now: DateTime<Utc>) -> Item {
    let mut item = base_row(connection_id, CONNECTION_SORT_KEY.into(), now);
    item.insert("connectedAt".into(), AttrValue::S(format_time(now)));
    item
}

/// The row a `subscribe` message writes.
pub fn subscription_row(connection_id: &str, shipment_id: &str, now: DateTime<Utc>) -> Item {
    let mut item = base_row(connection_id, subscription_sort_key(shipment_id), now);
    item.insert(
        table::SUBSCRIBERS_INDEX_PARTITION_KEY.into(),
        AttrValue::S(shipment_id.into()),
    );
    item.insert("subscribedAt".into(), AttrValue::S(format_time(now)));
    item
}

/// What a client may send on `$default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    Subscribe { shipment_id: String },
    Unsubscribe { shipment_id: String },
}

/// Parses `{"action":"subscribe"|"unsubscribe","shipmentId":"..."}`; the error is the reply.
pub fn parse_client_message(body: Option<&str>) -> Result<ClientMessage, String> {
    let body = body.filter(|b| !b.trim().is_empty()).ok_or_else(|| {
        "empty message; send {\"action\":\"subscribe\",\"shipmentId\":\"...\"}".to_string()
    })?;
    if body.len() > MAX_CLIENT_MESSAGE_BYTES {
        return Err(format!(
            "message is {} bytes; the limit is {MAX_CLIENT_MESSAGE_BYTES}",
            body.len()
        ));
    }
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("message is not valid JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "message must be a JSON object".to_string())?;
    let action = match object.get("action") {
        Some(Value::String(a)) => a.as_str(),
        Some(_) => return Err("action: must be a string".into()),
        None => return Err("action: is required (subscribe or unsubscribe)".into()),
    };
    let shipment_id = match object.get("shipmentId") {
        Some(v) => validate_id(v).map_err(|e| format!("shipmentId: {e}"))?,
        None => return Err("shipmentId: is required".into()),
    };
    match action {
        "subscribe" => Ok(ClientMessage::Subscribe { shipment_id }),
        "unsubscribe" => Ok(ClientMessage::Unsubscribe { shipment_id }),
        other => Err(format!(
            "action: unknown action {other:?}; expected subscribe or unsubscribe"
        )),
    }
}
