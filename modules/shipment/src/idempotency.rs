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
    hex::encode(Sha256::digest(canonical_content(event).as_bytes()))
}

/// What identifies an event's item: its [`content_digest`] and its sort key.
pub struct Identity {
    pub content_digest: String,
    pub event_key: String,
}

/// The event's [`Identity`]. With [`Dedupe::Content`] the key ends in the content digest,
/// which is computed once for both (hashing the content twice was a tenth of
/// queue-processor's instructions per event, callgrind).
pub fn identity(event: &ShipmentEvent, dedupe: Dedupe<'_>) -> Identity {
    let content_digest = content_digest(event);
    let key_digest = match dedupe {
        Dedupe::Content => content_digest.clone(),
        Dedupe::IdempotencyKey(key) => {
            hex::encode(Sha256::digest(format!("idempotency-key:{key}").as_bytes()))
        }
    };
    Identity {
        event_key: format!("{}#{}", event.event_time_string(), key_digest),
        content_digest,
    }
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
