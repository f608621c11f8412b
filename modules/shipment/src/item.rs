//! The DynamoDB item mapping, SDK-free: [`AttrValue`] mirrors DynamoDB's attribute value so
//! the processors convert it one-to-one to the SDK's type.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Number, Value};

use crate::contract::shipments_table as table;
use crate::event::{format_time, ShipmentEvent};
use crate::idempotency::{identity, Dedupe, Identity};
use crate::status::ShipmentStatus;
use crate::status_index;

/// A DynamoDB attribute value. Numbers are kept as their decimal text, as DynamoDB does, so
/// a weight of `12.75` or a coordinate of `-122.4194155` is stored exactly as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    S(String),
    N(String),
    Bool(bool),
    Null,
    L(Vec<AttrValue>),
    M(BTreeMap<String, AttrValue>),
    /// String/number sets: never written by us, but stream images may carry them.
    Ss(Vec<String>),
    Ns(Vec<String>),
}

/// One item: attribute name to value.
pub type Item = BTreeMap<String, AttrValue>;

/// Attribute names of the shipments table beyond the keys in [`crate::contract`].
pub mod attrs {
    pub const LOCATION: &str = "location";
    pub const CARRIER: &str = "carrier";
    pub const TRACKING_NUMBER: &str = "trackingNumber";
    pub const CUSTOMER_ID: &str = "customerId";
    pub const CUSTOMER_EMAIL: &str = "customerEmail";
    pub const DETAILS: &str = "details";
    /// Digest of the event's content: tells a replay from an Idempotency-Key reused for a
    /// different event.
    pub const CONTENT_DIGEST: &str = "contentDigest";
    pub const IDEMPOTENCY_KEY: &str = "idempotencyKey";
    pub const INGESTED_AT: &str = "ingestedAt";
    pub const SOURCE: &str = "source";
    pub const DETAIL_TYPE: &str = "detailType";
    pub const EVENT_ID: &str = "eventId";
    /// How the event reached the platform (see [`super::Arrival`]): a map of `via` and the
    /// ids of that channel.
    pub const DELIVERY: &str = "delivery";
    /// `SHIPMENT_EVENT` or `DAILY_SUMMARY`.
    pub const RECORD_TYPE: &str = "recordType";
}

/// [`attrs::RECORD_TYPE`] of an event item.
pub const RECORD_TYPE_EVENT: &str = "SHIPMENT_EVENT";

/// Bookkeeping stored with an event.
#[derive(Debug, Clone, Copy)]
pub struct StoreMeta<'a> {
    pub ingested_at: DateTime<Utc>,
    /// Days until DynamoDB's TTL removes the item.
    pub ttl_days: u32,
    pub arrival: Arrival<'a>,
}

/// How an event reached the platform, kept on its item for tracing it back (seeds 001 and 002
/// stored the SQS message id and receive count, seed 003 the EventBridge event id). The first
/// write wins, so a redelivery never changes it.
#[derive(Debug, Clone, Copy)]
pub enum Arrival<'a> {
    /// `POST /shipments`, with API Gateway's request id.
    Rest { request_id: &'a str },
    /// An SQS message: a direct send (seeds 001, 002) or a bus event queued for the writer.
    Sqs {
        message_id: &'a str,
        /// `ApproximateReceiveCount` of the delivery that stored it.
        receive_count: Option<u32>,
    },
    /// An EventBridge rule invoked the writer.
    EventBridge,
}

impl Arrival<'_> {
    /// The `delivery` map; `event_id` is the EventBridge envelope's id, whatever the channel.
    fn to_attr(self, event_id: Option<&str>) -> AttrValue {
        let s = |v: &str| AttrValue::S(v.to_owned());
        let mut map = BTreeMap::new();
        let via = match self {
            Arrival::Rest { request_id } => {
                map.insert("requestId".to_owned(), s(request_id));
                "REST"
            }
            Arrival::Sqs {
                message_id,
                receive_count,
            } => {
                map.insert("messageId".to_owned(), s(message_id));
                if let Some(count) = receive_count {
                    map.insert("receiveCount".to_owned(), AttrValue::N(count.to_string()));
                }
                "SQS"
            }
            Arrival::EventBridge => "EventBridge",
        };
        map.insert("via".to_owned(), s(via));
        if let Some(id) = event_id {
            map.insert("eventId".to_owned(), s(id));
        }
        AttrValue::M(map)
    }
}

impl AttrValue {
    /// Maps JSON to DynamoDB faithfully: numbers keep their text, objects become maps.
    pub fn from_json(value: &Value) -> AttrValue {
        match value {
            Value::Null => AttrValue::Null,
            Value::Bool(b) => AttrValue::Bool(*b),
            Value::Number(n) => AttrValue::N(n.to_string()),
            Value::String(s) => AttrValue::S(s.clone()),
            Value::Array(items) => AttrValue::L(items.iter().map(AttrValue::from_json).collect()),
            Value::Object(map) => AttrValue::M(
                map.iter()
                    .map(|(k, v)| (k.clone(), AttrValue::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Maps back to JSON. A number that JSON cannot hold exactly stays a string.
    pub fn to_json(&self) -> Value {
        match self {
            AttrValue::S(s) => Value::String(s.clone()),
            AttrValue::N(n) => number_json(n),
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::Null => Value::Null,
            AttrValue::L(items) => Value::Array(items.iter().map(AttrValue::to_json).collect()),
            AttrValue::M(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            AttrValue::Ss(items) => {
                Value::Array(items.iter().cloned().map(Value::String).collect())
            }
            AttrValue::Ns(items) => Value::Array(items.iter().map(|n| number_json(n)).collect()),
        }
    }

    pub fn as_s(&self) -> Option<&str> {
        match self {
            AttrValue::S(s) => Some(s),
            _ => None,
        }
    }
}

fn number_json(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = n.parse::<u64>() {
        return Value::Number(u.into());
    }
    match n.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(f) => Value::Number(f),
        None => Value::String(n.to_owned()),
    }
}

/// The item for one event. The sort key is `<event time>#<digest>` (see
/// [`crate::idempotency`]); `expiresAt` is `ingested_at + ttl_days`.
pub fn event_item(event: &ShipmentEvent, dedupe: Dedupe<'_>, meta: StoreMeta<'_>) -> Item {
    let mut item = Item::new();
    let s = |v: &str| AttrValue::S(v.to_owned());
    let Identity {
        content_digest,
        event_key: sort_key,
    } = identity(event, dedupe);
    item.insert(table::PARTITION_KEY.into(), s(&event.shipment_id));
    item.insert(table::STATUS.into(), s(event.status.as_str()));
    item.insert(
        table::STATUS_INDEX_PARTITION_KEY.into(),
        s(&status_index::partition_key(
            event.status.as_str(),
            &sort_key,
        )),
    );
    item.insert(table::SORT_KEY.into(), AttrValue::S(sort_key));
    item.insert(
        table::STATUS_INDEX_SORT_KEY.into(),
        s(&event.event_time_string()),
    );
    let optional = [
        (attrs::LOCATION, &event.location),
        (attrs::CARRIER, &event.carrier),
        (attrs::TRACKING_NUMBER, &event.tracking_number),
        (attrs::CUSTOMER_ID, &event.customer_id),
        (attrs::CUSTOMER_EMAIL, &event.customer_email),
        (attrs::SOURCE, &event.provenance.source),
        (attrs::DETAIL_TYPE, &event.provenance.detail_type),
        (attrs::EVENT_ID, &event.provenance.event_id),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.into(), s(value));
        }
    }
    if !event.details.is_empty() {
        item.insert(
            attrs::DETAILS.into(),
            AttrValue::from_json(&Value::Object(event.details.clone())),
        );
    }
    item.insert(attrs::CONTENT_DIGEST.into(), AttrValue::S(content_digest));
    if let Dedupe::IdempotencyKey(key) = dedupe {
        item.insert(attrs::IDEMPOTENCY_KEY.into(), s(key));
    }
    item.insert(attrs::INGESTED_AT.into(), s(&format_time(meta.ingested_at)));
    item.insert(
        attrs::DELIVERY.into(),
        meta.arrival.to_attr(event.provenance.event_id.as_deref()),
    );
    let expires_at = meta.ingested_at.timestamp() + i64::from(meta.ttl_days) * 86_400;
    item.insert(
        table::TTL_ATTRIBUTE.into(),
        AttrValue::N(expires_at.to_string()),
    );
    item.insert(attrs::RECORD_TYPE.into(), s(RECORD_TYPE_EVENT));
    item
}

/// An item as plain JSON (the API's "stored record", notification payloads).
pub fn item_to_json(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// A stored shipment event read back from an item (e.g. a stream image).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub shipment_id: String,
    pub event_key: String,
    pub status: ShipmentStatus,
    pub event_time: String,
    pub location: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// Every attribute, as JSON.
    pub record: Value,
}

impl StoredEvent {
    /// Reads an event item; `None` for anything else in the table (daily summaries, items
    /// without a status).
    pub fn from_item(item: &Item) -> Option<StoredEvent> {
        let text = |name: &str| item.get(name).and_then(AttrValue::as_s).map(str::to_owned);
        if let Some(kind) = text(attrs::RECORD_TYPE) {
            if kind != RECORD_TYPE_EVENT {
                return None;
            }
        }
        Some(StoredEvent {
            shipment_id: text(table::PARTITION_KEY)?,
            event_key: text(table::SORT_KEY)?,
            status: ShipmentStatus::from_stored(&text(table::STATUS)?),
            event_time: text(table::STATUS_INDEX_SORT_KEY)?,
            location: text(attrs::LOCATION),
            carrier: text(attrs::CARRIER),
            tracking_number: text(attrs::TRACKING_NUMBER),
            record: item_to_json(item),
        })
    }

    /// What a WebSocket subscriber may see: the tracking facts, without customer data,
    /// free-form details or bookkeeping (anyone who knows a shipment id can subscribe).
    pub fn public_view(&self) -> Value {
        let mut view = Map::new();
        view.insert("shipmentId".into(), Value::String(self.shipment_id.clone()));
        view.insert("status".into(), Value::String(self.status.as_str().into()));
        view.insert("eventTime".into(), Value::String(self.event_time.clone()));
        // Seed 000's clients read the update's time as `timestamp`.
        view.insert("timestamp".into(), Value::String(self.event_time.clone()));
        for (name, value) in [
            ("location", &self.location),
            ("carrier", &self.carrier),
            ("trackingNumber", &self.tracking_number),
        ] {
            if let Some(value) = value {
                view.insert(name.into(), Value::String(value.clone()));
            }
        }
        Value::Object(view)
    }
}
