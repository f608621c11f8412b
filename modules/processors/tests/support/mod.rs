#![allow(dead_code)]
pub mod fakes;
pub mod payloads;

use chrono::{DateTime, TimeZone, Utc};
use processors::metrics::Metrics;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 17, 12, 30, 0).unwrap()
}

pub fn metrics(function: &str) -> Metrics {
    Metrics::new("Shipstack", "test", function)
}
pub mod cloud;
pub mod lambda;
