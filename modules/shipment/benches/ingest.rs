//! Domain throughput: parse + validate + item mapping per event, for each producer dialect.
//!
//!   cargo bench -p shipstack-shipment --bench ingest

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shipment::idempotency::Dedupe;
use shipment::item::{event_item, Arrival, StoreMeta};
use shipment::parse_body;

const DIALECTS: [(&str, &str); 4] = [
    (
        "camelCase envelope (seeds 003/004)",
        r#"{"version":"0","id":"e-1","detail-type":"Shipment Update","source":"logistics.shipments","time":"2025-10-17T12:00:00Z","detail":{"shipmentId":"SHIP-12345","status":"IN_TRANSIT","location":"Memphis, TN","carrier":"FedEx","trackingNumber":"1234567890","timestamp":"2025-10-17T12:00:00Z"}}"#,
    ),
    (
        "snake_case (seed 002)",
        r#"{"shipment_id":"SHIP-2","event_timestamp":"2025-10-17T12:00:00Z","event_type":"DELAYED","event_data":{"weight_kg":12.5,"lat":35.1495,"lon":-90.049}}"#,
    ),
    (
        "tracking_id (seed 001)",
        r#"{"tracking_id":"TRK-3","status":"DELIVERED","carrier":"UPS","timestamp":"2025-10-17T12:00:00Z","details":{"signed_by":"A. Smith"}}"#,
    ),
    (
        "bare camelCase (seed 000)",
        r#"{"shipmentId":"SHIP-4","status":"PICKED_UP","location":"Dallas, TX","customerId":"C-9"}"#,
    ),
];

fn ingest(c: &mut Criterion) {
    let received = Utc.with_ymd_and_hms(2025, 10, 17, 9, 30, 0).unwrap();
    let meta = StoreMeta {
        ingested_at: received,
        ttl_days: 90,
        arrival: Arrival::Sqs {
            message_id: "m-1",
            receive_count: Some(1),
        },
    };
    let mut group = c.benchmark_group("parse_validate_map");
    group.throughput(Throughput::Elements(1));
    for (name, body) in DIALECTS {
        group.bench_function(name, |b| {
            b.iter(|| {
                let event =
                    parse_body(std::hint::black_box(body), Some(received)).expect("valid sample");
                event_item(&event, Dedupe::Content, meta)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
