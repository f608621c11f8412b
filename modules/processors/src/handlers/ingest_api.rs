//! `ingest-api`: API Gateway REST proxy `POST /shipments` (seed 000's status update).
//!
//! | status | when |
//! |--------|------|
//! | 200 | stored (`"outcome": "stored"`) or a replay (same `Idempotency-Key`, or same content; `"outcome": "replay"`, the record stored first) |
//! | 400 | invalid JSON or fields; body: `{"message", "errors": [{"field", "message"}]}` |
//! | 413 | the body is over [`shipment::MAX_EVENT_BYTES`] |
//! | 422 | the `Idempotency-Key` was already used for a different event |
//! | 500 | a storage failure; body: a generic message and the request id, nothing internal |
//!
//! A 200 body is seed 000's reply (`message`, `shipmentId`, `status`, `timestamp`: the seed
//! answered 200 and its clients expect it) plus the stored record and the outcome.
//!
//! Without a `timestamp`, the event time is API Gateway's request time. A client that
//! sends an `Idempotency-Key` must send the event's `timestamp` too: a retry is a new
//! request with a new request time, so only a client-supplied time makes the retry map to
//! the same item. The function only writes the table: notifications, alerts and WebSocket
//! pushes follow from the table's stream (stream-fanout), so there is no dual write.

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use shipment::contract::{metrics as metric, shipments_table};
use shipment::error::{FieldError, Rejection};
use shipment::idempotency::validate_idempotency_key;
use shipment::item::{attrs, item_to_json, Arrival};
use shipment::{parse_body, Dedupe, MAX_EVENT_BYTES};

use super::json_response;
use crate::ingest::{store_event, ToStore};
use crate::metrics::Metrics;
use crate::ports::{EventStore, PutOutcome};

/// The request header that names a client's retry-safe request.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// What the API needs.
pub struct Deps<S> {
    pub store: S,
    pub ttl_days: u32,
}

/// Handles one `POST /shipments`.
pub async fn handle<S: EventStore>(
    request: ApiGatewayProxyRequest,
    deps: &Deps<S>,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> ApiGatewayProxyResponse {
    let request_id = request
        .request_context
        .request_id
        .clone()
        .unwrap_or_default();
    let body = match decode_body(&request) {
        Ok(body) => body,
        Err(Rejection::TooLarge { size, limit }) => return too_large(size, limit),
        Err(rejection) => return invalid(&rejection),
    };
    if body.len() > MAX_EVENT_BYTES {
        return too_large(body.len(), MAX_EVENT_BYTES);
    }
    let key = match request.headers.get(IDEMPOTENCY_KEY_HEADER) {
        None => None,
        Some(value) => match value
            .to_str()
            .map_err(|_| "must be visible ASCII characters".to_owned())
            .and_then(validate_idempotency_key)
        {
            Ok(key) => Some(key.to_owned()),
            Err(message) => {
                return invalid(&Rejection::invalid(FieldError::new(
                    IDEMPOTENCY_KEY_HEADER,
                    message,
                )))
            }
        },
    };
    // With an Idempotency-Key, the time must come from the client (see the module docs).
    let received_at = match key {
        Some(_) => None,
        None => Some(
            Utc.timestamp_millis_opt(request.request_context.request_time_epoch)
                .single()
                .filter(|t| t.timestamp() > 0)
                .unwrap_or(now),
        ),
    };
    let event = match parse_body(&body, received_at) {
        Ok(event) => event,
        Err(Rejection::TooLarge { size, limit }) => return too_large(size, limit),
        Err(Rejection::Invalid(mut errors)) => {
            if key.is_some() {
                for error in errors
                    .iter_mut()
                    .filter(|e| e.field == "timestamp" && e.message == "is required")
                {
                    error.message = format!("is required with an {IDEMPOTENCY_KEY_HEADER} header, so that a retry maps to the same event");
                }
            }
            return invalid(&Rejection::Invalid(errors));
        }
    };
    let dedupe = match &key {
        Some(key) => Dedupe::IdempotencyKey(key),
        None => Dedupe::Content,
    };
    let to_store = ToStore {
        event: &event,
        dedupe,
        arrival: Arrival::Rest {
            request_id: &request_id,
        },
    };
    let (item, outcome) =
        match store_event(&deps.store, to_store, now, deps.ttl_days, metrics).await {
            Ok(stored) => stored,
            Err(_) => return internal_error(&request_id),
        };
    match outcome {
        PutOutcome::Created => stored_reply(&item, "stored"),
        PutOutcome::AlreadyExists => {
            let event_key = item
                .get(shipments_table::SORT_KEY)
                .and_then(|v| v.as_s())
                .unwrap_or_default();
            let stored = match deps.store.get(&event.shipment_id, event_key).await {
                Ok(stored) => stored,
                Err(error) => {
                    tracing::error!(shipment_id = %event.shipment_id, error = %error, "reading the stored event for a replay failed");
                    return internal_error(&request_id);
                }
            };
            // Gone between the put and the get (TTL): what we tried to store is the answer.
            let stored = stored.unwrap_or(item.clone());
            if stored.get(attrs::CONTENT_DIGEST) != item.get(attrs::CONTENT_DIGEST) {
                return json_response(
                    422,
                    &json!({
                        "message": format!("this {IDEMPOTENCY_KEY_HEADER} was already used for a different event"),
                        "errors": [{"field": IDEMPOTENCY_KEY_HEADER, "message": "was already used for a different event"}],
                    }),
                );
            }
            stored_reply(&stored, "replay")
        }
    }
}

/// The 200 answer: seed 000's keys over the stored record.
fn stored_reply(item: &shipment::Item, outcome: &str) -> ApiGatewayProxyResponse {
    let mut reply = item_to_json(item);
    if let Some(reply) = reply.as_object_mut() {
        let time = reply.get(shipments_table::STATUS_INDEX_SORT_KEY).cloned();
        reply.insert(
            "message".into(),
            "Shipment status updated successfully".into(),
        );
        reply.insert("timestamp".into(), time.unwrap_or_default());
        reply.insert("outcome".into(), outcome.into());
    }
    json_response(200, &reply)
}

/// The raw body, base64-decoded when API Gateway encoded it.
fn decode_body(request: &ApiGatewayProxyRequest) -> Result<String, Rejection> {
    let Some(body) = request.body.as_deref() else {
        return Err(Rejection::invalid(FieldError::new("body", "is required")));
    };
    if !request.is_base64_encoded {
        return Ok(body.to_owned());
    }
    // Base64 is 4/3 of the payload: refuse before decoding something huge.
    let decoded_size = body.len() / 4 * 3;
    if decoded_size > MAX_EVENT_BYTES + 3 {
        return Err(Rejection::TooLarge {
            size: decoded_size,
            limit: MAX_EVENT_BYTES,
        });
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            Rejection::invalid(FieldError::new(
                "body",
                "is not valid base64-encoded UTF-8 text",
            ))
        })
}

fn too_large(size: usize, limit: usize) -> ApiGatewayProxyResponse {
    json_response(
        413,
        &json!({
            "message": "request body too large",
            "errors": [{"field": "body", "message": format!("is {size} bytes; the limit is {limit}")}],
        }),
    )
}

fn invalid(rejection: &Rejection) -> ApiGatewayProxyResponse {
    let errors: Vec<Value> = rejection
        .field_errors()
        .iter()
        .map(|e| json!({"field": e.field, "message": e.message}))
        .collect();
    json_response(
        400,
        &json!({"message": "invalid shipment event", "errors": errors}),
    )
}

/// The answer when the invocation's deadline comes before storage answered: the designed 500
/// (the client retries, idempotently), not the 502 a Lambda timeout would give.
pub fn out_of_time(request_id: &str, metrics: &Metrics) -> ApiGatewayProxyResponse {
    metrics.incr(metric::PROCESSING_ERRORS);
    tracing::error!(request_id, "storage did not answer before the deadline");
    internal_error(request_id)
}

fn internal_error(request_id: &str) -> ApiGatewayProxyResponse {
    json_response(
        500,
        &json!({"message": "internal error; retry with the same request", "requestId": request_id}),
    )
}
