//! Event identity: which deliveries are "the same event".
//!
//! The sort key is `<event time>#<digest>`. The digest is of the `Idempotency-Key` header
//! when a client sends one, else of the event's normalised content (id, status, time,
//! location, carrier, tracking number, customer fields, details). So a redelivered or
//! retried event maps to the same key and the conditional put stores it once, while two
//! distinct events with the same timestamp get different keys and are both kept.
//! Provenance (EventBridge envelope id, SQS message id) is deliberately not part of it: a
//! producer that retries `PutEvents` mints a new envelope id for the same event.

use sha2::{Digest, Sha256};

use crate::event::{canonical_content, ShipmentEvent};

/// How an event is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedupe<'a> {
    /// By its content (queues, EventBridge, API calls without the header).
    Content,
    /// By the client's `Idempotency-Key` header.
    IdempotencyKey(&'a str),
}

/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Hex SHA-256 of the event's canonical content.
pub fn content_digest(event: &ShipmentEvent) -> String {
    hex(&Sha256::digest(canonical_content(event).as_bytes()))
}

/// The sort key of the event's item.
pub fn event_key(event: &ShipmentEvent, dedupe: Dedupe<'_>) -> String {
    let digest = match dedupe {
        Dedupe::Content => content_digest(event),
        Dedupe::IdempotencyKey(key) => {
            hex(&Sha256::digest(format!("idempotency-key:{key}").as_bytes()))
        }
    };
    format!("{}#{}", event.event_time_string(), digest)
}

/// Checks a client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn validate_idempotency_key(key: &str) -> Result<&str, String> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters"));
    }
    if !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err("must be visible ASCII characters".into());
    }
    Ok(key)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
