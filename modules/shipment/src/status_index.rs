//! The status index's partition keys.
//!
//! One partition, of a table or of a GSI, takes at most 1,000 write units per second
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html>),
//! and splitting a key's items by sort key does not help when, as here, every write lands
//! at the newest event time;
//! a GSI that cannot keep up throttles writes to the table itself
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/gsi-throttling.html>).
//! Keyed by status alone, one busy status (a storm's `DELAYED`) would cap the whole platform
//! near 1,000 events/s. So each status is spread over [`STATUS_SHARDS`] keys
//! `<status>#<nn>`, the shard taken from a hash of the event's sort key: a redelivery lands
//! on the same key as the original, and distinct events spread evenly.

use sha2::{Digest, Sha256};

use crate::contract::shipments_table::STATUS_SHARDS;
use crate::status::Status;

/// The index partition key of the event stored under `event_key` with `status`.
pub fn partition_key(status: &str, event_key: &str) -> String {
    let digest = Sha256::digest(event_key.as_bytes());
    let head = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    shard_key(status, head % STATUS_SHARDS)
}

/// Every index partition key of `status`: what the daily summary reads to count it.
pub fn partition_keys(status: Status) -> impl Iterator<Item = String> {
    (0..STATUS_SHARDS).map(move |shard| shard_key(status.as_str(), shard))
}

fn shard_key(status: &str, shard: u32) -> String {
    format!("{status}#{shard:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_key_always_maps_to_one_of_its_status_keys() {
        let key = partition_key("DELIVERED", "2025-10-17T12:00:00.000Z#ab12");
        assert_eq!(
            key,
            partition_key("DELIVERED", "2025-10-17T12:00:00.000Z#ab12")
        );
        assert!(partition_keys(Status::Delivered).any(|k| k == key), "{key}");
        assert_eq!(
            partition_keys(Status::Delivered).count(),
            STATUS_SHARDS as usize
        );
    }
}
