//! HTTP plumbing both front doors share: API Gateway's ids, times, header and query maps
//! and error answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Map, Value};

pub(super) fn now_epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

pub(super) fn request_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}

/// A connection id shaped like API Gateway's (`L0SM9cOFvHcCIhw=`: 16 base64 characters).
pub(super) fn new_id(counter: &AtomicU64) -> String {
    let n = counter.fetch_add(1, Ordering::Relaxed) as u32;
    let t = now_epoch_ms() as u64;
    let mut bytes = [0u8; 11];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    bytes[4..].copy_from_slice(&t.to_be_bytes()[1..]);
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .replace('/', "_")
        .replace('+', "-")
}

pub(super) fn header_maps(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    single_and_multi(headers.iter().map(|(name, value)| {
        (
            name.as_str().to_owned(),
            value.to_str().unwrap_or_default().to_owned(),
        )
    }))
}

/// API Gateway's pair of maps: the last value per name, and every value per name.
pub(super) fn single_and_multi(
    pairs: impl Iterator<Item = (String, String)>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        single.insert(name.clone(), json!(value));
        if let Some(values) = multi
            .entry(name)
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            values.push(json!(value));
        }
    }
    (single, multi)
}

pub(super) fn query_maps(query: &str) -> (Value, Value) {
    if query.is_empty() {
        return (Value::Null, Value::Null);
    }
    let (single, multi) =
        single_and_multi(query.split('&').filter(|p| !p.is_empty()).map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        }));
    (Value::Object(single), Value::Object(multi))
}

pub(super) fn api_error(status: StatusCode, message: &str, kind: &str) -> Response {
    error_reply(status, Some(message), kind)
}

/// An AWS-style error reply: `{"message": …}` (`null` where the service sends none) and
/// the `x-amzn-errortype` header naming the error.
pub(super) fn error_reply(status: StatusCode, message: Option<&str>, kind: &str) -> Response {
    let mut response = (status, axum::Json(json!({"message": message}))).into_response();
    if let Ok(kind) = kind.parse() {
        response.headers_mut().insert("x-amzn-errortype", kind);
    }
    response
}

pub(super) fn uuid_like(counter: &AtomicU64) -> String {
    let n = counter.fetch_add(1, Ordering::Relaxed);
    let t = now_epoch_ms() as u64;
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        (t >> 16) as u32,
        t as u16,
        (n >> 12) & 0xfff,
        n & 0xfff,
        n
    )
}
