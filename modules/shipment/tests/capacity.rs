//! A one-second simulation of the platform's peak (30,000 events/s) over the real key
//! functions: every event is parsed and mapped to its item as the writers do, and its write
//! units are charged to the table's and the status index's partition keys. No key may take
//! more than a partition's 1,000 write units per second
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html>).
//! `cargo test -p shipstack-shipment --test capacity -- --nocapture` prints the figures the
//! README's capacity model quotes.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use serde_json::json;
use shipment::contract::shipments_table as table;
use shipment::item::{event_item, Arrival, StoreMeta};
use shipment::{parse_value, AttrValue, Dedupe, Item};

const PEAK_EVENTS_PER_S: usize = 30_000;
/// One partition's write limit.
const PARTITION_WRITE_UNITS: u64 = 1_000;
/// What a key may take at peak: the rest is left for bursts above the modelled rate.
const ALLOWED_WRITE_UNITS: u64 = PARTITION_WRITE_UNITS * 7 / 10;

/// An item's size as DynamoDB counts it
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>).
fn item_bytes(item: &Item) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_bytes(value))
        .sum()
}

fn value_bytes(value: &AttrValue) -> u64 {
    let digits = |n: &str| n.chars().filter(char::is_ascii_digit).count() as u64;
    match value {
        AttrValue::S(s) => s.len() as u64,
        AttrValue::N(n) => digits(n).div_ceil(2) + 1,
        AttrValue::Bool(_) | AttrValue::Null => 1,
        AttrValue::L(items) => 3 + items.iter().map(|v| value_bytes(v) + 1).sum::<u64>(),
        AttrValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() as u64 + value_bytes(v) + 1)
                .sum::<u64>()
        }
        AttrValue::Ss(items) => items.iter().map(|s| s.len() as u64).sum(),
        AttrValue::Ns(items) => items.iter().map(|n| digits(n).div_ceil(2) + 1).sum(),
    }
}

/// Write units of one item: one per started KB.
fn write_units(bytes: u64) -> u64 {
    bytes.div_ceil(1024).max(1)
}

/// What the status index stores of an item: its projection is keys only.
fn index_entry(item: &Item) -> Item {
    [
        table::PARTITION_KEY,
        table::SORT_KEY,
        table::STATUS_INDEX_PARTITION_KEY,
        table::STATUS_INDEX_SORT_KEY,
    ]
    .iter()
    .map(|name| (name.to_string(), item[*name].clone()))
    .collect()
}

/// One second of events, as a carrier's scanners send them: distinct shipments, a
/// location, carrier, customer and a few details each; `status_of(i)` picks the status.
fn one_second(status_of: impl Fn(usize) -> &'static str) -> Vec<Item> {
    let meta = StoreMeta {
        ingested_at: Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 1).unwrap(),
        ttl_days: 365,
        arrival: Arrival::Sqs {
            message_id: "059f36b4-87a3-44ab-83d2-661975830a7d",
            receive_count: Some(1),
        },
    };
    (0..PEAK_EVENTS_PER_S)
        .map(|i| {
            let shipment = (i as u64 * 2_654_435_761) % 5_000_000;
            let body = json!({
                "shipmentId": format!("SHIP-{shipment:09}"),
                "status": status_of(i),
                "timestamp": format!("2026-11-30T12:00:00.{:03}Z", i * 1000 / PEAK_EVENTS_PER_S),
                "location": "Memphis Hub, TN",
                "carrier": "UPS",
                "trackingNumber": format!("1Z999AA1{shipment:010}"),
                "customerId": format!("CUST-{:06}", shipment % 400_000),
                "customerEmail": "ops@example.com",
                "details": {"scan": "ARRIVAL", "facility": "MEM-3", "weightKg": 12.75}
            });
            let event = parse_value(&body, None).expect("a valid event");
            event_item(&event, Dedupe::Content, meta)
        })
        .collect()
}

struct Load {
    table_units: u64,
    index_units: u64,
    hottest_table_key: u64,
    hottest_index_key: (String, u64),
    hottest_status_alone: u64,
}

fn charge(items: &[Item]) -> Load {
    let mut by_table_key: HashMap<&str, u64> = HashMap::new();
    let mut by_index_key: HashMap<&str, u64> = HashMap::new();
    let mut by_status: HashMap<&str, u64> = HashMap::new();
    let (mut table_units, mut index_units) = (0, 0);
    for item in items {
        let text = |name: &str| item[name].as_s().expect("a string key");
        let units = write_units(item_bytes(item));
        let entry = write_units(item_bytes(&index_entry(item)));
        table_units += units;
        index_units += entry;
        *by_table_key.entry(text(table::PARTITION_KEY)).or_default() += units;
        *by_index_key
            .entry(text(table::STATUS_INDEX_PARTITION_KEY))
            .or_default() += entry;
        *by_status.entry(text(table::STATUS)).or_default() += entry;
    }
    let hottest = |map: &HashMap<&str, u64>| {
        map.iter()
            .max_by_key(|(key, units)| (**units, *key))
            .map(|(key, units)| (key.to_string(), *units))
            .expect("some load")
    };
    Load {
        table_units,
        index_units,
        hottest_table_key: hottest(&by_table_key).1,
        hottest_index_key: hottest(&by_index_key),
        hottest_status_alone: hottest(&by_status).1,
    }
}

fn report(case: &str, load: &Load) {
    println!(
        "{case}: table {} WRU/s, status index {} WRU/s; hottest table key {} WRU/s, \
         hottest index key {} at {} WRU/s (keyed by status alone: {} WRU/s)",
        load.table_units,
        load.index_units,
        load.hottest_table_key,
        load.hottest_index_key.0,
        load.hottest_index_key.1,
        load.hottest_status_alone,
    );
}

#[test]
fn one_status_carrying_the_whole_peak_stays_under_every_partition_limit() {
    let load = charge(&one_second(|_| "Shipment Delayed"));
    report("30,000 events/s, all DELAYED", &load);
    assert!(
        load.hottest_status_alone > PARTITION_WRITE_UNITS,
        "the simulation must be one an unsharded index could not carry"
    );
    assert!(
        load.hottest_index_key.1 <= ALLOWED_WRITE_UNITS,
        "{} takes {} write units per second",
        load.hottest_index_key.0,
        load.hottest_index_key.1
    );
    assert!(load.hottest_table_key <= ALLOWED_WRITE_UNITS);
    assert_eq!(
        load.table_units, PEAK_EVENTS_PER_S as u64,
        "an event item fits one write unit"
    );
    assert_eq!(load.index_units, PEAK_EVENTS_PER_S as u64);
}

#[test]
fn a_carriers_status_mix_at_peak_stays_under_every_partition_limit() {
    // Shares per 100 events of a parcel network's day: most scans are in transit.
    const MIX: [(&str, usize); 8] = [
        ("IN_TRANSIT", 45),
        ("OUT_FOR_DELIVERY", 15),
        ("DELIVERED", 15),
        ("PICKED_UP", 10),
        ("CREATED", 8),
        ("DELAYED", 4),
        ("EXCEPTION", 2),
        ("RETURNED", 1),
    ];
    let status_of = |i: usize| {
        let mut slot = i % 100;
        MIX.iter()
            .find(|(_, share)| {
                let here = slot < *share;
                slot = slot.saturating_sub(*share);
                here
            })
            .map(|(status, _)| *status)
            .expect("the shares add up to 100")
    };
    let load = charge(&one_second(status_of));
    report("30,000 events/s, carrier mix", &load);
    assert!(load.hottest_index_key.1 <= ALLOWED_WRITE_UNITS);
    assert!(load.hottest_table_key <= ALLOWED_WRITE_UNITS);
}
