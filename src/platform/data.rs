//! Data at rest: one customer-managed key for tables, queues, topics, logs and the bucket; the
//! shipments and connections tables; the bucket of stream records that failed for good.

use aws::dynamodb::{GlobalIndex, KeyAttribute, Projection, Table, TableRef};
use aws::kms::{Key, KeyRef};
use aws::s3::{Bucket, BucketRef};
use aws::Stack;
use shipment::contract::{connections_table, shipments_table};

use crate::config::EnvConfig;

pub struct Data {
    pub key: KeyRef,
    pub shipments: TableRef,
    pub connections: TableRef,
    pub failed_records: BucketRef,
}

pub fn add(stack: &mut Stack, env: &EnvConfig) -> Data {
    let protection = &env.protection;
    let key = stack.add(Key {
        name: "data".into(),
        description: format!("shipstack {}: tables, queues, topics, logs", env.name),
        deletion_window_days: if protection.deletion_protection {
            30
        } else {
            7
        },
    });
    let failed_records = stack.add(Bucket {
        name: "failed_records".into(),
        key: key.clone(),
        expire_after_days: env.retention.failed_record_days,
        force_destroy: protection.force_destroy_buckets,
        eventbridge_notifications: true,
    });

    // Seed fix: 000 and 003 keyed events by (shipment, timestamp) and 002 by (shipment, event
    // timestamp), merging distinct events; the sort key carries an idempotency digest instead.
    let shipments = stack.add(Table {
        name: "shipments".into(),
        partition_key: KeyAttribute::S(shipments_table::PARTITION_KEY),
        sort_key: Some(KeyAttribute::S(shipments_table::SORT_KEY)),
        indexes: vec![GlobalIndex {
            name: shipments_table::STATUS_INDEX,
            partition_key: KeyAttribute::S(shipments_table::STATUS_INDEX_PARTITION_KEY),
            sort_key: Some(KeyAttribute::S(shipments_table::STATUS_INDEX_SORT_KEY)),
            // The daily summary only counts: keys alone keep every index write at one unit.
            projection: Projection::KeysOnly,
        }],
        stream: true,
        ttl_attribute: Some(shipments_table::TTL_ATTRIBUTE),
        point_in_time_recovery: protection.point_in_time_recovery,
        deletion_protection: protection.deletion_protection,
        key: key.clone(),
    });
    // Seed fix: 000 sent every update to every connection (found with a keyless Query); a
    // sparse subscribers index lets the fanout Query exactly one shipment's subscribers.
    let connections = stack.add(Table {
        name: "connections".into(),
        partition_key: KeyAttribute::S(connections_table::PARTITION_KEY),
        sort_key: Some(KeyAttribute::S(connections_table::SORT_KEY)),
        indexes: vec![GlobalIndex {
            name: connections_table::SUBSCRIBERS_INDEX,
            partition_key: KeyAttribute::S(connections_table::SUBSCRIBERS_INDEX_PARTITION_KEY),
            sort_key: Some(KeyAttribute::S(
                connections_table::SUBSCRIBERS_INDEX_SORT_KEY,
            )),
            projection: Projection::KeysOnly,
        }],
        stream: false,
        ttl_attribute: Some(connections_table::TTL_ATTRIBUTE),
        point_in_time_recovery: protection.point_in_time_recovery,
        deletion_protection: false,
        key: key.clone(),
    });
    Data {
        key,
        shipments,
        connections,
        failed_records,
    }
}
