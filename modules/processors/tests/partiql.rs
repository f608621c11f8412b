//! The PartiQL INSERT batch of the shipments table's conditional writes: the statement, the
//! answers, the grouping of a batch's items by key.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{
    AttributeValue, BatchStatementError, BatchStatementErrorCodeEnum as Code,
    BatchStatementResponse,
};
use chrono::{TimeZone, Utc};
use pretty_assertions::assert_eq;
use processors::partiql::{self, Answer, Distinct};
use processors::ports::{EventStore, PutOutcome, Transient};
use serde_json::{json, Value};
use shipment::contract::shipments_table as st;
use shipment::item::{event_item, Arrival, StoreMeta};
use shipment::{parse_body, AttrValue, Dedupe, Item};

fn item(pairs: &[(&str, &str)]) -> Item {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), AttrValue::S(value.to_string())))
        .collect()
}

#[test]
fn values_are_parameters_and_names_are_quoted() {
    let (statement, parameters) = partiql::insert_statement(
        r#"ship"ments"#,
        &item(&[("it's", "'; DELETE FROM x --"), ("shipmentId", "S-1")]),
    );
    assert_eq!(
        statement,
        r#"INSERT INTO "ship""ments" VALUE {'it''s': ?, 'shipmentId': ?}"#
    );
    assert_eq!(
        parameters,
        [
            AttributeValue::S("'; DELETE FROM x --".into()),
            AttributeValue::S("S-1".into())
        ]
    );
}

/// A statement's text holds the table and the item's names only: with every attribute an event
/// item can have, it stays well inside DynamoDB's limit, whatever the values' size.
#[test]
fn the_fullest_event_item_fits_the_statement_limit() {
    let body = r#"{"shipmentId":"S-1","status":"IN_TRANSIT","timestamp":"2025-10-17T10:00:00Z",
        "location":"Leeds","carrier":"DPD","trackingNumber":"T-1","customerId":"C-1",
        "customerEmail":"a@example.com","details":{"note":"x"}}"#;
    let event = parse_body(body, None).unwrap();
    let full = event_item(
        &event,
        Dedupe::IdempotencyKey("key-1"),
        StoreMeta {
            ingested_at: Utc.with_ymd_and_hms(2025, 10, 17, 10, 0, 0).unwrap(),
            ttl_days: 90,
            arrival: Arrival::Sqs {
                message_id: "m-1",
                receive_count: Some(1),
            },
        },
    );
    let table = "x".repeat(255); // DynamoDB's longest table name
    let (statement, parameters) = partiql::insert_statement(&table, &full);
    assert_eq!(parameters.len(), full.len());
    assert!(full.len() >= 15, "{full:?}");
    assert!(
        statement.len() * 4 < partiql::MAX_STATEMENT_CHARS,
        "{} characters: {statement}",
        statement.len()
    );
}

fn response(code: Option<Code>) -> BatchStatementResponse {
    let error = code.map(|code| {
        BatchStatementError::builder()
            .code(code)
            .message("m")
            .build()
    });
    BatchStatementResponse::builder().set_error(error).build()
}

#[test]
fn answers_tell_written_existing_retryable_and_failed_statements_apart() {
    let answer = |code| partiql::answer(Some(&response(code)));
    assert_eq!(answer(None), Answer::Done(PutOutcome::Created));
    assert_eq!(
        answer(Some(Code::DuplicateItem)),
        Answer::Done(PutOutcome::AlreadyExists)
    );
    assert_eq!(
        answer(Some(Code::ConditionalCheckFailed)),
        Answer::Done(PutOutcome::AlreadyExists)
    );
    for code in [
        Code::ThrottlingError,
        Code::ProvisionedThroughputExceeded,
        Code::RequestLimitExceeded,
        Code::InternalServerError,
        Code::TransactionConflict,
    ] {
        let reason = format!("{}: m", code.as_str());
        assert_eq!(answer(Some(code)), Answer::Retry(reason));
    }
    for code in [
        Code::ValidationError,
        Code::AccessDenied,
        Code::ResourceNotFound,
    ] {
        let reason = format!("{}: m", code.as_str());
        assert_eq!(answer(Some(code)), Answer::Failed(reason));
    }
    assert!(matches!(partiql::answer(None), Answer::Failed(_)));
}

#[test]
fn a_key_is_sent_once_per_batch_and_its_repeats_follow_its_outcome() {
    let key =
        |shipment: &str, event: &str| item(&[(st::PARTITION_KEY, shipment), (st::SORT_KEY, event)]);
    let batch = [
        key("S-1", "a"),
        key("S-2", "a"),
        key("S-1", "a"),
        key("S-1", "b"),
        key("S-2", "a"),
        key("S-1", "a"),
    ];
    let distinct = Distinct::of(&batch);
    assert_eq!(
        distinct.items,
        [&batch[0], &batch[1], &batch[3]],
        "each key once, in the order first seen"
    );
    let throttled = Transient("dynamodb:PartiQLInsert: ThrottlingError: m".into());
    let outcomes = distinct.outcomes(vec![
        Ok(PutOutcome::Created),
        Err(throttled.clone()),
        Ok(PutOutcome::AlreadyExists),
    ]);
    assert_eq!(
        outcomes,
        [
            Ok(PutOutcome::Created),
            Err(throttled.clone()),
            Ok(PutOutcome::AlreadyExists),
            Ok(PutOutcome::AlreadyExists),
            Err(throttled),
            Ok(PutOutcome::AlreadyExists),
        ],
        "the first of a key has its own outcome; a repeat of a written item is a duplicate, \
         of a failed one failed too (so it is redelivered with it)"
    );
}

/// A DynamoDB stand-in for BatchExecuteStatement: `S-slow` is throttled once, `S-stuck` on
/// every attempt. Records the shipment ids of each request's statements.
async fn throttling_dynamodb() -> (String, Arc<Mutex<Vec<Vec<String>>>>) {
    let requests: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let recorded = requests.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| async move {
            let body: Value = serde_json::from_slice(&body).unwrap();
            let ids: Vec<String> = body["Statements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|statement| statement["Parameters"][0]["S"].as_str().unwrap().to_owned())
                .collect();
            let first_try = recorded.lock().unwrap().is_empty();
            recorded.lock().unwrap().push(ids.clone());
            let responses: Vec<Value> = ids
                .iter()
                .map(|id| match id.as_str() {
                    "S-stuck" => json!({"Error": {"Code": "ThrottlingError", "Message": "slow down"}}),
                    "S-slow" if first_try => {
                        json!({"Error": {"Code": "ProvisionedThroughputExceeded", "Message": "later"}})
                    }
                    _ => json!({"TableName": "t"}),
                })
                .collect();
            (
                [("content-type", "application/x-amz-json-1.0")],
                json!({ "Responses": responses }).to_string(),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (endpoint, requests)
}

#[tokio::test]
async fn statements_refused_for_throughput_are_sent_again_then_reported() {
    let (endpoint, requests) = throttling_dynamodb().await;
    let config = local::sdk_clients::sdk_config(&endpoint).await;
    let store = processors::sdk::DynamoShipments::new(&config, "t");
    let batch = ["S-ok", "S-slow", "S-stuck"].map(|id| item(&[(st::PARTITION_KEY, id)]));

    let outcomes = store.put_all_if_absent(&batch).await;

    assert_eq!(outcomes[0], Ok(PutOutcome::Created));
    assert_eq!(
        outcomes[1],
        Ok(PutOutcome::Created),
        "written on its second attempt"
    );
    let Err(Transient(reason)) = &outcomes[2] else {
        panic!("{:?}", outcomes[2])
    };
    assert_eq!(
        reason, "dynamodb:PartiQLInsert: ThrottlingError: slow down",
        "reported, so the message is redelivered"
    );
    assert_eq!(
        *requests.lock().unwrap(),
        [
            vec!["S-ok", "S-slow", "S-stuck"],
            vec!["S-slow", "S-stuck"],
            vec!["S-stuck"]
        ],
        "only the refused statements are sent again, three attempts in all"
    );
}
