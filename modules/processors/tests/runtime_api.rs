//! The real binaries, run as Lambda runs them: through the local harness's Runtime API,
//! against moto. Proves the `main`s wire the right clients, read the
//! contract's environment variables, log JSON and emit EMF.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use local::lambda::Outcome;
use serde_json::{json, Value};
use shipment::contract::{env_vars, functions};
use support::cloud::Cloud;
use support::lambda::Lambda;
use support::payloads::{api_request, seed_003_event, sqs_event, sqs_record, websocket_request};

fn binary(name: &str) -> &'static Path {
    Path::new(match name {
        "ingest-api" => env!("CARGO_BIN_EXE_ingest-api"),
        "queue-processor" => env!("CARGO_BIN_EXE_queue-processor"),
        "event-processor" => env!("CARGO_BIN_EXE_event-processor"),
        "stream-fanout" => env!("CARGO_BIN_EXE_stream-fanout"),
        "websocket-handler" => env!("CARGO_BIN_EXE_websocket-handler"),
        "daily-summary" => env!("CARGO_BIN_EXE_daily-summary"),
        other => panic!("no binary {other}"),
    })
}

fn lambda_env(cloud: &Cloud) -> BTreeMap<String, String> {
    [
        ("AWS_ENDPOINT_URL", cloud.moto.endpoint()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        (env_vars::SHIPMENTS_TABLE, cloud.shipments_table.clone()),
        (env_vars::CONNECTIONS_TABLE, cloud.connections_table.clone()),
        (
            env_vars::DEAD_LETTER_QUEUE_URL,
            cloud.dead_letter_queue_url.clone(),
        ),
        (
            env_vars::NOTIFICATIONS_TOPIC_ARN,
            cloud.notifications_topic_arn.clone(),
        ),
        (
            env_vars::SHIPMENT_ALERTS_TOPIC_ARN,
            cloud.shipment_alerts_topic_arn.clone(),
        ),
        (
            env_vars::WEBSOCKET_ENDPOINT,
            format!("{}/dev", cloud.moto.endpoint()),
        ),
        (env_vars::EVENT_TTL_DAYS, "30".into()),
        (env_vars::ENVIRONMENT, "local".into()),
        // support::lambda runs every function with a 30 s timeout.
        (env_vars::FUNCTION_TIMEOUT_S, "30".into()),
        (env_vars::FANOUT_IN_FLIGHT, "4".into()),
        (env_vars::FANOUT_BATCH_ENTRIES, "10".into()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

fn lambda(cloud: &Cloud, name: &str) -> Lambda {
    Lambda::new(binary(name), name, lambda_env(cloud), false)
}

fn response(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Response(value) => value,
        other => panic!("the function failed: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_api_binary_answers_through_the_runtime_api_and_logs_json_and_emf() {
    let cloud = Cloud::start().await;
    let lambda = lambda(&cloud, functions::INGEST_API);
    let request = serde_json::to_value(api_request(
        Some(r#"{"shipmentId":"SHIP-77","status":"PICKED_UP","timestamp":"2025-10-17T09:00:00Z"}"#),
        &[],
    ))
    .unwrap();

    let first = lambda.function.invoke(request.clone()).await;
    assert!(first.init.is_some(), "a new instance answered first");
    let cold_start = first.duration;
    let first = response(first.outcome);
    assert_eq!(first["statusCode"], 200, "{first}");
    let record: Value = serde_json::from_str(first["body"].as_str().unwrap()).unwrap();
    assert_eq!(record["shipmentId"], "SHIP-77");

    let second = lambda.function.invoke(request).await;
    assert_eq!(second.init, None, "the instance is reused");
    eprintln!(
        "ingest-api: process start to first reply {cold_start:?}; warm invocation {:?}",
        second.duration
    );
    assert_eq!(response(second.outcome)["statusCode"], 200);
    assert_eq!(cloud.scan(&cloud.shipments_table).await.len(), 1);

    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = lambda.json_lines();
    assert!(
        lines
            .iter()
            .any(|l| l["shipment_id"] == "SHIP-77" && l["outcome"] == "stored"),
        "{lines:?}"
    );
    assert!(lines.iter().any(
        |l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shipstack"
            && l["EventsProcessed"] == 1
            && l["Environment"] == "local"
    ));
    assert!(lines.iter().any(|l| l["DuplicatesSkipped"] == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_binary_starts_and_handles_its_event_through_the_runtime_api() {
    let cloud = Cloud::start().await;
    type Check = Box<dyn Fn(&Value)>;
    let cases: Vec<(&str, Value, Check)> = vec![
        (
            functions::QUEUE_PROCESSOR,
            serde_json::to_value(sqs_event(vec![sqs_record(
                "m-1",
                r#"{"tracking_id":"T-1","status":"CREATED","timestamp":"2025-10-16T10:00:00Z"}"#,
            )]))
            .unwrap(),
            Box::new(|r| assert_eq!(r["batchItemFailures"], json!([]))),
        ),
        (
            functions::EVENT_PROCESSOR,
            seed_003_event(),
            Box::new(|r| assert_eq!(r["outcome"], "stored")),
        ),
        (
            functions::WEBSOCKET_HANDLER,
            serde_json::to_value(websocket_request("$connect", "conn-1", None)).unwrap(),
            Box::new(|r| assert_eq!(r["statusCode"], 200)),
        ),
        (
            functions::STREAM_FANOUT,
            json!({"Records": []}),
            Box::new(|r| assert_eq!(r["batchItemFailures"], json!([]))),
        ),
        (
            functions::DAILY_SUMMARY,
            json!({"date": "2025-10-16"}),
            Box::new(|r| assert_eq!(r["total"], 1)),
        ),
    ];
    for (name, event, check) in cases {
        let lambda = lambda(&cloud, name);
        let invocation = lambda.function.invoke(event).await;
        eprintln!(
            "{name}: process start to first reply {:?}",
            invocation.duration
        );
        match invocation.outcome {
            Outcome::Response(answer) => check(&answer),
            other => panic!("{name}: {other:?}; log {:?}", lambda.log_lines()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_are_reported_to_the_runtime_api() {
    let cloud = Cloud::start().await;
    let lambda = lambda(&cloud, functions::DAILY_SUMMARY);
    let outcome = lambda
        .function
        .invoke(json!({"date": "not-a-date"}))
        .await
        .outcome;
    let Outcome::Error(error) = outcome else {
        panic!("expected an error, got {outcome:?}")
    };
    assert!(
        error["errorMessage"].as_str().unwrap().contains("date:"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_setting_fails_the_init_loudly() {
    let lambda = Lambda::new(
        binary(functions::QUEUE_PROCESSOR),
        functions::QUEUE_PROCESSOR,
        BTreeMap::from([
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            (env_vars::FUNCTION_TIMEOUT_S.to_owned(), "30".to_owned()),
        ]),
        false,
    );
    let outcome = lambda.function.invoke(json!({"Records": []})).await.outcome;
    // The runtime exits before asking for work: Lambda's Runtime.ExitError, with the status.
    let Outcome::Error(error) = outcome else {
        panic!("expected the init to fail, got {outcome:?}")
    };
    assert_eq!(error["errorType"], "Runtime.ExitError", "{error}");
    assert_eq!(
        error["errorMessage"], "Runtime exited with error: exit status: 1",
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = lambda.log_lines().join("\n");
    assert!(log.contains(env_vars::SHIPMENTS_TABLE), "{log}");
}

/// `shipstack-local up --watch` swaps a rebuilt binary in: the next invocation starts a new
/// runtime process on it, and the same binary again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_code_runs_from_the_next_invocation_in_a_new_process() {
    let cloud = Cloud::start().await;
    let lambda = lambda(&cloud, functions::DAILY_SUMMARY);
    let before = lambda.function.invoke(json!({"Records": []})).await;
    assert!(
        matches!(&before.outcome, Outcome::Response(summary) if summary["type"] == "daily-summary"),
        "daily-summary summarises whatever triggers it: {:?}",
        before.outcome
    );
    let replaced = lambda
        .function
        .replace_code(binary(functions::QUEUE_PROCESSOR))
        .unwrap();
    assert!(replaced);
    let after = lambda.function.invoke(json!({"Records": []})).await;
    assert_eq!(
        after.outcome,
        Outcome::Response(json!({"batchItemFailures": []})),
        "the new code answers"
    );
    assert!(after.init.is_some(), "in a new runtime process");
    assert!(!lambda
        .function
        .replace_code(binary(functions::QUEUE_PROCESSOR))
        .unwrap());
    let again = lambda.function.invoke(json!({"Records": []})).await;
    assert_eq!(again.init, None, "an unchanged binary keeps the process");
}
