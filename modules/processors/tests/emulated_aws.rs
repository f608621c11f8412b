//! The handlers over the real SDK clients against moto (started here, on a free port):
//! duplicates written once, conditional failures handled, dead letters with reasons,
//! subscriber-only fanout, 410 cleanup, summary overwrite.
//!
//! Needs moto in `.venv`: run `scripts/setup-python` once (CI does).

mod support;

use std::sync::{Arc, Mutex};

use aws_lambda_events::encodings::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use processors::handlers::{
    daily_summary, event_processor, ingest_api, queue_processor, stream_fanout, websocket_handler,
};
use processors::sdk::WebSocketPush;
use serde_json::{json, Value};
use shipment::contract::{dead_letter, functions, shipments_table as st};
use shipment::{AttrValue, Item};
use support::cloud::Cloud;
use support::payloads::{
    api_request, seed_003_event, sqs_event, sqs_record, stream_event, stream_record,
    websocket_request,
};
use support::{metrics, now};

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(AttrValue::as_s)
        .unwrap_or_default()
        .to_owned()
}

/// queue-processor's clients through a pass-through proxy to moto, which counts connections
/// and requests (moto closes every connection; the proxy keeps them, as AWS does).
async fn queue_processor_behind_a_proxy(
    cloud: &Cloud,
) -> (
    local::faults::FaultProxy,
    aws_config::SdkConfig,
    queue_processor::Deps<processors::sdk::DynamoShipments, processors::sdk::SqsDeadLetters>,
) {
    let proxy = local::faults::FaultProxy::start(&cloud.moto.endpoint(), 1)
        .await
        .unwrap();
    let config = local::sdk_clients::sdk_config(&proxy.endpoint).await;
    let deps = queue_processor::Deps {
        store: processors::sdk::DynamoShipments::new(&config, &cloud.shipments_table),
        dead_letters: processors::sdk::SqsDeadLetters::new(&config, &cloud.dead_letter_queue_url),
        ttl_days: 90,
    };
    (proxy, config, deps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_processor_writes_redeliveries_once_and_dead_letters_invalid_events() {
    let cloud = Cloud::start().await;
    let deps = queue_processor::Deps {
        store: cloud.shipments(),
        dead_letters: cloud.dead_letters(),
        ttl_days: 90,
    };
    let m = metrics(functions::QUEUE_PROCESSOR);
    let seed_001 = r#"{"tracking_id":"TRK-1","status":"IN_TRANSIT","carrier":"DPD","details":{"weightKg":12.75,"lat":53.8008,"lon":-1.5491,"pieces":3},"timestamp":"2025-10-17T08:00:00Z"}"#;
    let scan_a = r#"{"shipment_id":"S-2","event_timestamp":"2025-10-17T10:00:00Z","event_type":"IN_TRANSIT","event_data":{"scan":"A"}}"#;
    let scan_b = r#"{"shipment_id":"S-2","event_timestamp":"2025-10-17T10:00:00Z","event_type":"IN_TRANSIT","event_data":{"scan":"B"}}"#;
    let invalid = r#"{"tracking_id":"TRK-1","status":"VAN/ISHED"}"#;

    for delivery in 0..5 {
        let response = queue_processor::handle(
            sqs_event(vec![
                sqs_record(&format!("m-{delivery}"), seed_001),
                sqs_record(&format!("a-{delivery}"), scan_a),
            ]),
            &deps,
            now(),
            &m,
        )
        .await;
        assert!(response.batch_item_failures.is_empty());
    }
    let response = queue_processor::handle(
        sqs_event(vec![sqs_record("b", scan_b), sqs_record("bad", invalid)]),
        &deps,
        now(),
        &m,
    )
    .await;
    assert!(response.batch_item_failures.is_empty());

    let items = cloud.scan(&cloud.shipments_table).await;
    assert_eq!(
        items.len(),
        3,
        "5 deliveries of one event are one item; distinct same-time events are two"
    );
    let trk = items
        .iter()
        .find(|i| text(i, st::PARTITION_KEY) == "TRK-1")
        .unwrap();
    let AttrValue::M(details) = &trk["details"] else {
        panic!("details map")
    };
    assert_eq!(details["weightKg"], AttrValue::N("12.75".into()));
    assert_eq!(details["lon"], AttrValue::N("-1.5491".into()));
    assert!(matches!(&trk[st::TTL_ATTRIBUTE], AttrValue::N(_)));

    let letters = cloud.drain(&cloud.dead_letter_queue_url).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].0, invalid, "body unchanged");
    assert!(letters[0].1[dead_letter::REASON_ATTRIBUTE].contains("VAN/ISHED"));
    assert_eq!(
        letters[0].1[dead_letter::FUNCTION_ATTRIBUTE],
        functions::QUEUE_PROCESSOR
    );
    assert_eq!(letters[0].1[dead_letter::ORIGINAL_ID_ATTRIBUTE], "bad");
    assert_eq!(
        m.get(shipment::contract::metrics::DUPLICATES_SKIPPED, None),
        8
    );
}

/// More valid events than one PartiQL batch takes (25), one of them twice in the SQS batch:
/// each key written once, in two requests, the repeat a duplicate; the invalid one dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_processor_writes_a_batch_in_requests_of_25_statements() {
    let cloud = Cloud::start().await;
    let (proxy, _, deps) = queue_processor_behind_a_proxy(&cloud).await;
    let m = metrics(functions::QUEUE_PROCESSOR);
    let events: Vec<String> = (0..30)
        .map(|n| {
            format!(
                r#"{{"shipmentId":"S-{n}","status":"CREATED","timestamp":"2025-10-17T10:00:00Z"}}"#
            )
        })
        .collect();
    let mut records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(n, body)| sqs_record(&format!("m-{n}"), body))
        .collect();
    records.insert(4, sqs_record("again", &events[3]));
    records.insert(7, sqs_record("bad", r#"{"shipmentId":"S-X"}"#));

    let response = queue_processor::handle(sqs_event(records.clone()), &deps, now(), &m).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(cloud.scan(&cloud.shipments_table).await.len(), 30);
    assert_eq!(
        proxy.forwarded(),
        3,
        "30 distinct keys in two requests (25 statements, then 5), and the dead letter"
    );
    assert_eq!(
        m.get(shipment::contract::metrics::DUPLICATES_SKIPPED, None),
        1
    );
    assert_eq!(cloud.drain(&cloud.dead_letter_queue_url).await.len(), 1);

    // The whole batch redelivered: every event a duplicate, nothing overwritten.
    let response = queue_processor::handle(sqs_event(records), &deps, now(), &m).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        m.get(shipment::contract::metrics::DUPLICATES_SKIPPED, None),
        32
    );
}

/// What `shell::serve` does at init: the first invocation's put finds the connection open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_opens_the_connection_the_first_invocation_writes_on() {
    let cloud = Cloud::start().await;
    let (proxy, config, deps) = queue_processor_behind_a_proxy(&cloud).await;
    processors::sdk::open_dynamodb_connection(&config).await;
    assert_eq!((proxy.connections(), proxy.forwarded()), (1, 1));

    let event = r#"{"shipmentId":"S-1","status":"CREATED","timestamp":"2025-10-17T10:00:00Z"}"#;
    let response = queue_processor::handle(
        sqs_event(vec![sqs_record("m-1", event)]),
        &deps,
        now(),
        &metrics(functions::QUEUE_PROCESSOR),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        (proxy.connections(), proxy.forwarded()),
        (1, 2),
        "the put went over the connection init opened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_api_conditional_put_answers_replays_from_the_table() {
    let cloud = Cloud::start().await;
    let deps = ingest_api::Deps {
        store: cloud.shipments(),
        ttl_days: 90,
    };
    let body = r#"{"shipmentId":"SHIP-1","status":"DELIVERED","timestamp":"2025-10-17T09:00:00Z","details":{"signedBy":"R. Roe"}}"#;
    let key = [("Idempotency-Key", "delivery-1")];
    let created =
        ingest_api::handle(api_request(Some(body), &key), &deps, now(), &metrics("i")).await;
    assert_eq!(created.status_code, 200);
    let replay = ingest_api::handle(
        api_request(Some(body), &key),
        &deps,
        now() + chrono::Duration::seconds(30),
        &metrics("i"),
    )
    .await;
    assert_eq!(replay.status_code, 200);
    let (Some(Body::Text(a)), Some(Body::Text(b))) = (&created.body, &replay.body) else {
        panic!("bodies")
    };
    let (created, replayed) = (
        serde_json::from_str::<Value>(a).unwrap(),
        serde_json::from_str::<Value>(b).unwrap(),
    );
    assert_eq!(
        (&created["outcome"], &replayed["outcome"]),
        (&"stored".into(), &"replay".into())
    );
    assert_eq!(created["eventKey"], replayed["eventKey"]);
    assert_eq!(
        created["ingestedAt"], replayed["ingestedAt"],
        "the record stored first"
    );
    let reused = ingest_api::handle(
        api_request(Some(&body.replace("R. Roe", "J. Doe")), &key),
        &deps,
        now(),
        &metrics("i"),
    )
    .await;
    assert_eq!(reused.status_code, 422);
    assert_eq!(cloud.scan(&cloud.shipments_table).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_processor_stores_the_seed_event_once_and_dead_letters_the_invalid() {
    let cloud = Cloud::start().await;
    let deps = event_processor::Deps {
        store: cloud.shipments(),
        dead_letters: cloud.dead_letters(),
        ttl_days: 90,
    };
    for _ in 0..3 {
        event_processor::handle(seed_003_event(), &deps, now(), &metrics("e"))
            .await
            .unwrap();
    }
    assert_eq!(cloud.scan(&cloud.shipments_table).await.len(), 1);
    let mut bad = seed_003_event();
    bad["detail"]["shipmentId"] = json!("");
    event_processor::handle(bad, &deps, now(), &metrics("e"))
        .await
        .unwrap();
    let letters = cloud.drain(&cloud.dead_letter_queue_url).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(
        letters[0].1[dead_letter::REASON_ATTRIBUTE],
        "detail.shipmentId: must not be empty"
    );
    assert_eq!(letters[0].1[dead_letter::ORIGINAL_ID_ATTRIBUTE], "event-id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reaches_only_subscribers_and_removes_gone_connections() {
    let cloud = Cloud::start().await;
    // A management API stand-in: records posts, answers 410 for connections named stale-*.
    let posts: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let recorded = posts.clone();
    let app = axum::Router::new().route(
        "/dev/@connections/{id}",
        axum::routing::post(
            move |Path(id): Path<String>, body: axum::body::Bytes| async move {
                if id.starts_with("stale-") {
                    return (
                        StatusCode::GONE,
                        [("x-amzn-ErrorType", "GoneException")],
                        r#"{"message":"Gone"}"#,
                    );
                }
                recorded
                    .lock()
                    .unwrap()
                    .push((id, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                (StatusCode::OK, [("content-type", "application/json")], "")
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Clients connect and subscribe through the websocket handler.
    let table = cloud.connections();
    let m = metrics("ws");
    for (connection, shipment) in [
        ("watcher-1", "SHIP-1"),
        ("watcher-2", "SHIP-1"),
        ("stale-1", "SHIP-1"),
        ("other", "SHIP-2"),
    ] {
        websocket_handler::handle(
            websocket_request("$connect", connection, None),
            &table,
            now(),
            &m,
        )
        .await;
        let body = format!(r#"{{"action":"subscribe","shipmentId":"{shipment}"}}"#);
        let reply = websocket_handler::handle(
            websocket_request("$default", connection, Some(&body)),
            &table,
            now(),
            &m,
        )
        .await;
        assert_eq!(reply.status_code, 200);
    }
    let body = r#"{"action":"subscribe","shipmentId":"SHIP-3"}"#;
    websocket_handler::handle(
        websocket_request("$default", "stale-1", Some(body)),
        &table,
        now(),
        &m,
    )
    .await;

    // An event is stored; its stream record is what Lambda would hand the fanout.
    let store = ingest_api::Deps {
        store: cloud.shipments(),
        ttl_days: 90,
    };
    let created = ingest_api::handle(api_request(Some(r#"{"shipmentId":"SHIP-1","status":"DAMAGED","timestamp":"2025-10-17T09:00:00Z","location":"Hub 7","customerEmail":"c@example.com"}"#), &[]), &store, now(), &metrics("i")).await;
    assert_eq!(created.status_code, 200);
    let item = cloud.scan(&cloud.shipments_table).await.remove(0);

    let deps = stream_fanout::Deps {
        publisher: cloud.publisher(),
        connections: cloud.connections(),
        push: WebSocketPush::new(&cloud.config, &format!("http://{addr}/dev")),
        notifications_topic_arn: cloud.notifications_topic_arn.clone(),
        shipment_alerts_topic_arn: cloud.shipment_alerts_topic_arn.clone(),
        environment: "test".into(),
        in_flight: 4,
        batch_entries: 10,
    };
    let fm = metrics("f");
    let response = stream_fanout::handle(
        stream_event(vec![stream_record("INSERT", "500", Some(&item), None)]),
        &deps,
        &fm,
    )
    .await;
    assert!(response.batch_item_failures.is_empty());

    let mut reached: Vec<String> = posts
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    reached.sort();
    assert_eq!(reached, ["watcher-1", "watcher-2"]);
    let pushed = posts.lock().unwrap()[0].1.clone();
    assert_eq!(pushed["shipment"]["status"], "DAMAGED");
    assert!(
        !pushed.to_string().contains("example.com"),
        "no customer data on the socket"
    );

    let remaining: Vec<String> = cloud
        .scan(&cloud.connections_table)
        .await
        .iter()
        .map(|r| text(r, "connectionId"))
        .collect();
    assert!(
        !remaining.iter().any(|c| c == "stale-1"),
        "410 removed the connection and all its subscriptions"
    );
    assert_eq!(remaining.len(), 6);

    let notes = cloud.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].attributes["status"], "DAMAGED");
    assert_eq!(
        serde_json::from_str::<Value>(&notes[0].message).unwrap()["shipment"]["location"],
        "Hub 7"
    );
    let alerts = cloud.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].subject.as_deref(),
        Some("[test] Shipment SHIP-1 is DAMAGED")
    );

    // $disconnect removes a connection's rows.
    websocket_handler::handle(
        websocket_request("$disconnect", "watcher-1", None),
        &table,
        now(),
        &m,
    )
    .await;
    assert!(!cloud
        .scan(&cloud.connections_table)
        .await
        .iter()
        .any(|r| text(r, "connectionId") == "watcher-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_summary_counts_with_the_status_index_and_overwrites_on_rerun() {
    let cloud = Cloud::start().await;
    let ingest = queue_processor::Deps {
        store: cloud.shipments(),
        dead_letters: cloud.dead_letters(),
        ttl_days: 90,
    };
    let events: Vec<_> = [
        ("A", "DELIVERED", "2025-10-16T08:00:00Z"),
        ("B", "DELIVERED", "2025-10-16T23:59:59.999Z"),
        ("C", "LOST", "2025-10-16T12:00:00Z"),
        ("D", "DELIVERED", "2025-10-15T12:00:00Z"),
        ("E", "CREATED", "2025-10-17T00:00:00Z"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (id, status, time))| {
        sqs_record(
            &format!("m-{i}"),
            &json!({"shipmentId": id, "status": status, "timestamp": time}).to_string(),
        )
    })
    .collect();
    queue_processor::handle(sqs_event(events), &ingest, now(), &metrics("q")).await;

    let deps = daily_summary::Deps {
        store: cloud.shipments(),
        publisher: cloud.publisher(),
        notifications_topic_arn: cloud.notifications_topic_arn.clone(),
    };
    let trigger = json!({"source": "aws.events", "detail-type": "Scheduled Event", "time": "2025-10-17T01:00:00Z", "detail": {}});
    let first = daily_summary::handle(trigger.clone(), &deps, now(), &metrics("d"))
        .await
        .unwrap();
    assert_eq!(first["counts"]["DELIVERED"], 2);
    assert_eq!(first["counts"]["LOST"], 1);
    assert_eq!(first["total"], 3);
    daily_summary::handle(
        trigger,
        &deps,
        now() + chrono::Duration::hours(2),
        &metrics("d"),
    )
    .await
    .unwrap();

    let summaries: Vec<Item> = cloud
        .scan(&cloud.shipments_table)
        .await
        .into_iter()
        .filter(|i| text(i, st::PARTITION_KEY).starts_with("SUMMARY#"))
        .collect();
    assert_eq!(summaries.len(), 1, "a re-run overwrites");
    assert_eq!(text(&summaries[0], st::PARTITION_KEY), "SUMMARY#2025-10-16");
    assert_eq!(
        text(&summaries[0], "generatedAt"),
        "2025-10-17T14:30:00.000Z"
    );
    let notes = cloud.notifications().await;
    assert_eq!(notes.len(), 2);
    assert_eq!(
        serde_json::from_str::<Value>(&notes[0].message).unwrap()["total"],
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_failures_other_than_a_conditional_check_are_retried_not_dropped() {
    let cloud = Cloud::start().await;
    let deps = queue_processor::Deps {
        store: processors::sdk::DynamoShipments::new(&cloud.config, "no-such-table"),
        dead_letters: processors::sdk::SqsDeadLetters::new(
            &cloud.config,
            format!("{}/123456789012/no-such-queue", cloud.moto.endpoint()),
        ),
        ttl_days: 90,
    };
    let response = queue_processor::handle(
        sqs_event(vec![
            sqs_record(
                "valid",
                r#"{"shipmentId":"S-1","status":"CREATED","timestamp":"2025-10-17T10:00:00Z"}"#,
            ),
            sqs_record("invalid", r#"{"shipmentId":"S-1"}"#),
        ]),
        &deps,
        now(),
        &metrics("q"),
    )
    .await;
    let mut failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    assert_eq!(failed, ["invalid", "valid"]);

    use processors::ports::EventStore;
    let error = deps.store.get("S-1", "k").await.unwrap_err();
    assert!(
        error
            .0
            .starts_with("dynamodb:GetItem: ResourceNotFoundException"),
        "{error}"
    );
}
