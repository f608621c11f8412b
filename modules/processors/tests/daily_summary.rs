//! daily-summary, driven with the scheduled EventBridge event.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use chrono::{NaiveDate, TimeZone, Utc};
use processors::handlers::daily_summary::{handle, target_day, Deps};
use serde_json::{json, Value};
use shipment::contract::{metrics as metric, shipments_table as st};
use shipment::item::{event_item, Arrival, StoreMeta};
use shipment::{parse_value, AttrValue, Dedupe};
use support::fakes::{FakePublisher, FakeStore};
use support::{metrics, now};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:notifications";

fn scheduled_event() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2025-10-17T01:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/shipstack-dev-daily-summary"], "detail": {}
    })
}

fn deps_with_events() -> Deps<FakeStore, FakePublisher> {
    let store = FakeStore::default();
    for (i, (status, time)) in [
        ("DELIVERED", "2025-10-16T00:00:00Z"),
        ("DELIVERED", "2025-10-16T23:59:59.999Z"),
        ("LOST", "2025-10-16T12:00:00Z"),
        ("DELAYED", "2025-10-16T13:00:00+02:00"),
        ("DELIVERED", "2025-10-15T23:59:59Z"),
        ("DELIVERED", "2025-10-17T00:00:00Z"),
    ]
    .into_iter()
    .enumerate()
    {
        let event = parse_value(
            &json!({"shipmentId": format!("S-{i}"), "status": status, "timestamp": time}),
            None,
        )
        .unwrap();
        store.insert(event_item(
            &event,
            Dedupe::Content,
            StoreMeta {
                ingested_at: now(),
                ttl_days: 90,
                arrival: Arrival::EventBridge,
            },
        ));
    }
    Deps {
        store,
        publisher: FakePublisher::default(),
        notifications_topic_arn: TOPIC.into(),
    }
}

#[tokio::test]
async fn counts_yesterdays_events_per_status_writes_and_publishes_the_summary() {
    let deps = deps_with_events();
    let m = metrics("daily-summary");
    let summary = handle(scheduled_event(), &deps, now(), &m).await.unwrap();
    assert_eq!(summary["date"], "2025-10-16");
    assert_eq!(summary["counts"]["DELIVERED"], 2);
    assert_eq!(summary["counts"]["LOST"], 1);
    assert_eq!(summary["counts"]["DELAYED"], 1);
    assert_eq!(summary["counts"]["CREATED"], 0);
    assert_eq!(summary["total"], 4);
    assert_eq!(summary["critical"], 2);

    let stored: Vec<_> = deps
        .store
        .items()
        .into_iter()
        .filter(|i| i[st::PARTITION_KEY] == AttrValue::S("SUMMARY#2025-10-16".into()))
        .collect();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains_key(st::STATUS));
    assert!(!stored[0].contains_key(st::STATUS_INDEX_PARTITION_KEY));
    let sent = deps.publisher.to(TOPIC);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].subject,
        "Shipment summary 2025-10-16: 4 events, 2 critical"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&sent[0].message).unwrap(),
        summary
    );
    assert_eq!(m.get(metric::SUMMARIES_WRITTEN, None), 1);
}

#[tokio::test]
async fn a_busy_status_is_counted_across_every_shard_of_the_index() {
    let deps = deps_with_events();
    let meta = StoreMeta {
        ingested_at: now(),
        ttl_days: 90,
        arrival: Arrival::EventBridge,
    };
    for i in 0..500 {
        let event = parse_value(
            &json!({"shipmentId": format!("B-{i}"), "status": "DELAYED", "timestamp": "2025-10-16T18:00:00Z"}),
            None,
        )
        .unwrap();
        deps.store.insert(event_item(&event, Dedupe::Content, meta));
    }
    let shards: BTreeSet<String> = deps
        .store
        .items()
        .iter()
        .filter_map(|item| {
            item[st::STATUS_INDEX_PARTITION_KEY]
                .as_s()
                .map(str::to_owned)
        })
        .filter(|key| key.starts_with("DELAYED#"))
        .collect();
    assert_eq!(
        shards.len(),
        st::STATUS_SHARDS as usize,
        "500 events fill every shard"
    );

    let summary = handle(scheduled_event(), &deps, now(), &metrics("d"))
        .await
        .unwrap();
    assert_eq!(summary["counts"]["DELAYED"], 501);
    assert_eq!(summary["total"], 504);
}

#[tokio::test]
async fn rerunning_the_same_day_overwrites_the_summary() {
    let deps = deps_with_events();
    let before = deps.store.len();
    handle(scheduled_event(), &deps, now(), &metrics("d"))
        .await
        .unwrap();
    handle(
        scheduled_event(),
        &deps,
        now() + chrono::Duration::hours(1),
        &metrics("d"),
    )
    .await
    .unwrap();
    assert_eq!(deps.store.len(), before + 1);
}

#[tokio::test]
async fn a_date_in_the_event_backfills_that_day() {
    let deps = deps_with_events();
    let summary = handle(json!({"date": "2025-10-15"}), &deps, now(), &metrics("d"))
        .await
        .unwrap();
    assert_eq!(summary["date"], "2025-10-15");
    assert_eq!(summary["total"], 1);
}

#[test]
fn the_day_comes_from_the_date_the_schedule_time_or_the_clock() {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(target_day(&scheduled_event(), now()), Ok(day(2025, 10, 16)));
    assert_eq!(
        target_day(
            &json!({}),
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 5, 0).unwrap()
        ),
        Ok(day(2024, 12, 31))
    );
    assert!(target_day(&json!({"date": "16/10/2025"}), now())
        .unwrap_err()
        .starts_with("date:"));
    assert!(target_day(&json!({"date": 20251016}), now())
        .unwrap_err()
        .starts_with("date:"));
    assert!(target_day(&json!({"time": "later"}), now())
        .unwrap_err()
        .starts_with("time:"));
}

#[tokio::test]
async fn failures_return_an_error_so_the_invocation_is_retried() {
    let deps = deps_with_events();
    let m = metrics("d");
    deps.store.fail_counts.store(1, Ordering::SeqCst);
    assert!(handle(scheduled_event(), &deps, now(), &m).await.is_err());
    assert!(
        deps.publisher.sent().is_empty(),
        "nothing is published from partial counts"
    );

    deps.store.fail_puts.store(1, Ordering::SeqCst);
    assert!(handle(scheduled_event(), &deps, now(), &m).await.is_err());
    assert!(deps.publisher.sent().is_empty());

    *deps.publisher.fail_topic.lock().unwrap() = Some(TOPIC.into());
    assert!(handle(scheduled_event(), &deps, now(), &m).await.is_err());
    assert_eq!(m.get(metric::PROCESSING_ERRORS, None), 3);
    assert!(handle(json!({"date": "nope"}), &deps, now(), &m)
        .await
        .is_err());
}
