//! The shipment event: parsing every producer dialect, validation with field-level errors.
//!
//! Accepted dialects (all may arrive bare or wrapped in an EventBridge envelope, whose
//! fields then sit under `detail`):
//!
//! | field            | accepted names (first present wins)                                     |
//! |------------------|-------------------------------------------------------------------------|
//! | shipment id      | `shipmentId` (seeds 000, 003, 004), `shipment_id` (002), `tracking_id` (001), `trackingId` |
//! | status           | `status`, else `event_type` / `eventType` (002), else the envelope's `detail-type` |
//! | event time       | `timestamp`, `event_timestamp` (002), `eventTimestamp`, `eventTime`, `event_time`, else the envelope's `time`, else the receive time the caller supplies |
//! | free-form data   | `details` (001), `event_data` (002), `eventData`: must be objects, merged |
//! | the rest         | `location`, `carrier`, `trackingNumber`/`tracking_number`, `customerId`/`customer_id`, `customerEmail`/`customer_email` |
//!
//! Any other top-level field is kept in `details` under its own name, so nothing a producer
//! sent is dropped and two events differing only there are not merged.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::error::{FieldError, Rejection};
use crate::status::{ShipmentStatus, Status};

/// Largest accepted event body (the raw JSON, envelope included), in bytes. Far below
/// DynamoDB's 400 KB item limit and SQS's 256 KiB message limit, so an accepted event always
/// fits both.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Longest accepted shipment id, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest accepted short text field (`carrier`, `trackingNumber`, `customerId`, ...).
pub const MAX_TEXT_LEN: usize = 256;
/// Longest accepted `location`.
pub const MAX_LOCATION_LEN: usize = 512;
/// Deepest accepted nesting inside `details` (DynamoDB allows 32 levels per item).
pub const MAX_DETAILS_DEPTH: usize = 16;

const ID_NAMES: [&str; 4] = ["shipmentId", "shipment_id", "tracking_id", "trackingId"];
const STATUS_NAMES: [&str; 3] = ["status", "event_type", "eventType"];
const TIME_NAMES: [&str; 5] = [
    "timestamp",
    "event_timestamp",
    "eventTimestamp",
    "eventTime",
    "event_time",
];
const DETAILS_NAMES: [&str; 3] = ["details", "event_data", "eventData"];
const TRACKING_NAMES: [&str; 2] = ["trackingNumber", "tracking_number"];
const CUSTOMER_ID_NAMES: [&str; 2] = ["customerId", "customer_id"];
const CUSTOMER_EMAIL_NAMES: [&str; 2] = ["customerEmail", "customer_email"];

/// Where an event came from, when it arrived in an EventBridge envelope. Kept for the log
/// and the item; not part of the event's identity (a producer retrying `PutEvents` gets a
/// new envelope id for the same event).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provenance {
    pub source: Option<String>,
    pub detail_type: Option<String>,
    pub event_id: Option<String>,
}

/// A validated, normalised shipment event.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipmentEvent {
    pub shipment_id: String,
    pub status: ShipmentStatus,
    /// When the event happened (UTC, millisecond precision).
    pub event_time: DateTime<Utc>,
    pub location: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    /// Free-form payload (`details`, `event_data`, unknown fields), numbers untouched.
    pub details: Map<String, Value>,
    pub provenance: Provenance,
}

impl ShipmentEvent {
    /// The event time as stored: RFC 3339, UTC, fixed millisecond precision, so that string
    /// order is time order (the sort keys and the status index rely on it).
    pub fn event_time_string(&self) -> String {
        format_time(self.event_time)
    }
}

/// Formats a time the way the table stores it (see [`ShipmentEvent::event_time_string`]).
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a raw body (bare event or EventBridge envelope). `received_at` is the event time
/// used when neither the event nor its envelope carries one: pass a time that is stable
/// across redeliveries (SQS `SentTimestamp`, API Gateway's request time).
pub fn parse_body(
    body: &str,
    received_at: Option<DateTime<Utc>>,
) -> Result<ShipmentEvent, Rejection> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(Rejection::TooLarge {
            size: body.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    let value: Value = serde_json::from_str(body).map_err(|e| {
        Rejection::invalid(FieldError::new("body", format!("is not valid JSON: {e}")))
    })?;
    parse_value(&value, received_at)
}

/// Parses an already-decoded JSON value (bare event or EventBridge envelope).
pub fn parse_value(
    value: &Value,
    received_at: Option<DateTime<Utc>>,
) -> Result<ShipmentEvent, Rejection> {
    let Some(object) = value.as_object() else {
        return Err(Rejection::invalid(FieldError::new(
            "body",
            "must be a JSON object",
        )));
    };
    match envelope(object) {
        Some(env) => {
            let Some(detail) = env.detail.as_object() else {
                return Err(Rejection::invalid(FieldError::new(
                    "detail",
                    "must be a JSON object",
                )));
            };
            let mut errors = Vec::new();
            let envelope_time = match env.time {
                Some(raw) => match parse_time(raw) {
                    Ok(t) => Some(t),
                    Err(msg) => {
                        errors.push(FieldError::new("time", msg));
                        None
                    }
                },
                None => None,
            };
            let fallback = Fallbacks {
                status: env.detail_type,
                time: envelope_time.or(received_at),
            };
            let provenance = Provenance {
                source: env.source.map(str::to_owned),
                detail_type: env.detail_type.map(str::to_owned),
                event_id: env.id.map(str::to_owned),
            };
            parse_fields(detail, "detail.", fallback, provenance, errors)
        }
        None => parse_fields(
            object,
            "",
            Fallbacks {
                status: None,
                time: received_at,
            },
            Provenance::default(),
            Vec::new(),
        ),
    }
}

struct Envelope<'a> {
    detail: &'a Value,
    detail_type: Option<&'a str>,
    source: Option<&'a str>,
    id: Option<&'a str>,
    time: Option<&'a str>,
}

/// An EventBridge envelope has a `detail` and at least one of `detail-type` / `source`.
fn envelope(object: &Map<String, Value>) -> Option<Envelope<'_>> {
    let detail = object.get("detail")?;
    let detail_type = object.get("detail-type").and_then(Value::as_str);
    let source = object.get("source").and_then(Value::as_str);
    if detail_type.is_none() && source.is_none() {
        return None;
    }
    Some(Envelope {
        detail,
        detail_type,
        source,
        id: object.get("id").and_then(Value::as_str),
        time: object.get("time").and_then(Value::as_str),
    })
}

struct Fallbacks<'a> {
    status: Option<&'a str>,
    time: Option<DateTime<Utc>>,
}

fn first<'a>(
    object: &'a Map<String, Value>,
    names: &[&'static str],
) -> Option<(&'static str, &'a Value)> {
    names.iter().find_map(|name| {
        object
            .get(*name)
            .filter(|v| !v.is_null())
            .map(|v| (*name, v))
    })
}

fn parse_fields(
    object: &Map<String, Value>,
    prefix: &str,
    fallback: Fallbacks<'_>,
    provenance: Provenance,
    mut errors: Vec<FieldError>,
) -> Result<ShipmentEvent, Rejection> {
    let field = |name: &str| format!("{prefix}{name}");

    let shipment_id = match first(object, &ID_NAMES) {
        None => {
            errors.push(FieldError::new(field("shipmentId"), "is required"));
            None
        }
        Some((name, value)) => match validate_id(value) {
            Ok(id) => Some(id),
            Err(msg) => {
                errors.push(FieldError::new(field(name), msg));
                None
            }
        },
    };

    let status = match first(object, &STATUS_NAMES) {
        Some((name, Value::String(raw))) => match ShipmentStatus::parse(raw) {
            Ok(status) => Some(status),
            Err(msg) => {
                errors.push(FieldError::new(field(name), msg));
                None
            }
        },
        Some((name, _)) => {
            errors.push(FieldError::new(field(name), "must be a string"));
            None
        }
        // The envelope's detail type names a status only when it is a known one: "Shipment
        // Update" is no status.
        None => match fallback.status.and_then(Status::parse) {
            Some(status) => Some(status.into()),
            None => {
                errors.push(FieldError::new(field("status"), "is required"));
                None
            }
        },
    };

    let event_time = match first(object, &TIME_NAMES) {
        Some((name, value)) => match time_value(value) {
            Ok(t) => Some(t),
            Err(msg) => {
                errors.push(FieldError::new(field(name), msg));
                None
            }
        },
        None => match fallback.time {
            Some(t) => Some(truncate_to_millis(t)),
            None => {
                errors.push(FieldError::new(field("timestamp"), "is required"));
                None
            }
        },
    };

    let mut text = |names: &[&'static str], limit: usize| -> Option<String> {
        match first(object, names) {
            None => None,
            Some((_, Value::String(s))) if s.len() <= limit => Some(s.clone()),
            Some((name, Value::String(_))) => {
                errors.push(FieldError::new(
                    field(name),
                    format!("is longer than {limit} bytes"),
                ));
                None
            }
            Some((name, _)) => {
                errors.push(FieldError::new(field(name), "must be a string"));
                None
            }
        }
    };
    let location = text(&["location"], MAX_LOCATION_LEN);
    let carrier = text(&["carrier"], MAX_TEXT_LEN);
    let tracking_number = text(&TRACKING_NAMES, MAX_TEXT_LEN);
    let customer_id = text(&CUSTOMER_ID_NAMES, MAX_TEXT_LEN);
    let customer_email = text(&CUSTOMER_EMAIL_NAMES, MAX_TEXT_LEN);

    let mut details = Map::new();
    for name in DETAILS_NAMES {
        match object.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    details.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            Some(_) => errors.push(FieldError::new(field(name), "must be a JSON object")),
        }
    }
    let known: Vec<&str> = ID_NAMES
        .iter()
        .chain(&STATUS_NAMES)
        .chain(&TIME_NAMES)
        .chain(&DETAILS_NAMES)
        .chain(&TRACKING_NAMES)
        .chain(&CUSTOMER_ID_NAMES)
        .chain(&CUSTOMER_EMAIL_NAMES)
        .chain(&["location", "carrier"])
        .copied()
        .collect();
    for (k, v) in object {
        if !known.contains(&k.as_str()) && !v.is_null() {
            details.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    for (k, v) in &details {
        check_storable(v, &format!("{prefix}details.{k}"), 1, &mut errors);
        if k.is_empty() {
            errors.push(FieldError::new(field("details"), "has an empty key"));
        }
    }

    match (shipment_id, status, event_time) {
        (Some(shipment_id), Some(status), Some(event_time)) if errors.is_empty() => {
            Ok(ShipmentEvent {
                shipment_id,
                status,
                event_time,
                location,
                carrier,
                tracking_number,
                customer_id,
                customer_email,
                details,
                provenance,
            })
        }
        _ => Err(Rejection::Invalid(errors)),
    }
}

/// A shipment id: 1 to [`MAX_ID_LEN`] bytes of letters, digits and `-_.:/`. `#` is
/// excluded, so no id can collide with the table's own `SUMMARY#...` keys.
pub fn validate_id(value: &Value) -> Result<String, String> {
    let Value::String(id) = value else {
        return Err("must be a string".into());
    };
    if id.is_empty() {
        return Err("must not be empty".into());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!("is longer than {MAX_ID_LEN} bytes"));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/')))
    {
        return Err(format!(
            "contains {bad:?}; only letters, digits and - _ . : / are allowed"
        ));
    }
    Ok(id.clone())
}

fn time_value(value: &Value) -> Result<DateTime<Utc>, String> {
    match value {
        Value::String(raw) => parse_time(raw),
        Value::Number(n) => {
            let Some(n) = n.as_i64() else {
                return Err("must be an RFC 3339 time or whole epoch seconds/milliseconds".into());
            };
            // Ten-digit values are seconds (until 2286), thirteen-digit ones milliseconds.
            let millis = if n.abs() < 100_000_000_000 {
                n.checked_mul(1000)
            } else {
                Some(n)
            };
            millis
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                .ok_or_else(|| "is out of range".to_string())
        }
        _ => Err("must be an RFC 3339 time string".into()),
    }
}

/// Parses RFC 3339 (`2025-10-17T12:00:00Z`, `...+02:00`) and, as Python's
/// `datetime.utcnow().isoformat()` writes it, an ISO time without offset (read as UTC).
pub fn parse_time(raw: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(truncate_to_millis(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(truncate_to_millis(t.and_utc()));
        }
    }
    Err(format!(
        "{raw:?} is not an RFC 3339 time (e.g. 2025-10-17T12:00:00Z)"
    ))
}

fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(t.timestamp_millis())
        .single()
        .unwrap_or(t)
}

/// DynamoDB numbers hold magnitudes from 1e-130 to 9.9e125, and items nest 32 levels.
fn check_storable(value: &Value, path: &str, depth: usize, errors: &mut Vec<FieldError>) {
    if depth > MAX_DETAILS_DEPTH {
        errors.push(FieldError::new(
            path,
            format!("is nested deeper than {MAX_DETAILS_DEPTH} levels"),
        ));
        return;
    }
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                let magnitude = f.abs();
                if magnitude != 0.0 && !(1e-130..=9.9e125).contains(&magnitude) {
                    errors.push(FieldError::new(
                        path,
                        "is a number outside DynamoDB's range (1e-130 to 9.9e125)",
                    ));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_storable(item, &format!("{path}[{i}]"), depth + 1, errors);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                if k.is_empty() {
                    errors.push(FieldError::new(path, "has an empty key"));
                }
                check_storable(v, &format!("{path}.{k}"), depth + 1, errors);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// The event's identifying content, canonical (sorted keys, normalised values): what the
/// content digest is computed over.
pub(crate) fn canonical_content(event: &ShipmentEvent) -> String {
    let mut content = BTreeMap::new();
    content.insert("carrier", event.carrier.clone().map(Value::String));
    content.insert(
        "customerEmail",
        event.customer_email.clone().map(Value::String),
    );
    content.insert("customerId", event.customer_id.clone().map(Value::String));
    content.insert("details", Some(Value::Object(event.details.clone())));
    content.insert("eventTime", Some(Value::String(event.event_time_string())));
    content.insert("location", event.location.clone().map(Value::String));
    content.insert("shipmentId", Some(Value::String(event.shipment_id.clone())));
    content.insert("status", Some(Value::String(event.status.as_str().into())));
    content.insert(
        "trackingNumber",
        event.tracking_number.clone().map(Value::String),
    );
    let object: Map<String, Value> = content
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.unwrap_or(Value::Null)))
        .collect();
    let mut out = String::new();
    write_canonical(&Value::Object(object), &mut out);
    out
}

/// JSON with object keys sorted at every level, independent of serde_json's map order.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The shipment id of a body that failed validation, if one can be read, for the log line
/// of a rejected event.
pub fn raw_shipment_id(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let object = value.as_object()?;
    let fields = match object.get("detail").and_then(Value::as_object) {
        Some(detail) if envelope(object).is_some() => detail,
        _ => object,
    };
    first(fields, &ID_NAMES)
        .and_then(|(_, v)| v.as_str())
        .map(|id| id.chars().take(MAX_ID_LEN).collect())
}
