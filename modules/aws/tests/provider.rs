//! The contract of `aws::provider`: the provider block, and the emulator profile (endpoints,
//! and the event source mappings the local harness plays instead of the emulator).

mod kit;

use aws::eventbridge::{Rule, Trigger, HARNESS_SCHEDULE_PREFIX};
use aws::lambda::{SqsSource, HARNESS_MAPPING_PREFIX};
use aws::provider::{Emulator, Provider};
use kit::{function, key, queue};
use serde_json::{json, Value};

fn queue_source() -> SqsSource {
    SqsSource {
        batch_size: 10,
        batching_window_s: 5,
        max_concurrency: None,
    }
}

/// A worker consuming a queue and a table's stream, under `emulator`: the rendered files.
fn files(emulator: Option<Emulator>) -> Value {
    let mut stack = kit::stack();
    stack.add(Provider {
        default_tags: [("Project".to_owned(), "shipstack".to_owned())].into(),
        emulator,
    });
    let key = key(&mut stack);
    let worker = stack.add(function(&key, None));
    let events = stack.add(queue(&key));
    worker.consume_queue(&mut stack, &events, queue_source());
    let table = stack.add(kit::streamed_table(&key));
    kit::consume_stream(&mut stack, &key, &worker, &table);
    let nightly = stack.add(Rule {
        name: "nightly".into(),
        description: "Every night".into(),
        trigger: Trigger::Schedule("cron(0 1 * * ? *)".into()),
    });
    let dlq = stack.add(kit::dead_letter_queue(&key));
    nightly.target_function(
        &mut stack,
        &worker,
        aws::eventbridge::Delivery {
            max_retries: 2,
            max_event_age_s: 3600,
            dead_letter: dlq,
        },
    );
    let files = stack.finish().render(aws::file_of).expect("renders");
    files
        .iter()
        .map(|(name, text)| (name.clone(), serde_json::from_str(text).unwrap()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn emulated() -> Value {
    files(Some(Emulator {
        endpoint: "http://localhost:5000".into(),
    }))
}

#[test]
fn an_account_provider_sets_region_and_tags_and_lambda_polls_every_source() {
    let files = files(None);
    let provider = &files["main.tf.json"]["provider"]["aws"][0];
    assert_eq!(
        *provider,
        json!({"region": kit::REGION, "default_tags": [{"tags": {"Project": "shipstack"}}]})
    );
    assert!(files["main.tf.json"].get("variable").is_none());
    let mappings = &files["lambda.tf.json"]["resource"]["aws_lambda_event_source_mapping"];
    assert_eq!(mappings["worker_from_events"]["enabled"], true);
    assert_eq!(mappings["worker_from_shipments_stream"]["enabled"], true);
    let targets = &files["eventbridge.tf.json"]["resource"]["aws_cloudwatch_event_target"];
    assert_eq!(
        targets["nightly_to_worker"]["arn"],
        "${aws_lambda_function.worker.arn}"
    );
    assert!(files.get("outputs.tf.json").is_none());
}

#[test]
fn an_emulator_points_every_service_at_its_endpoint_variable_without_account_lookups() {
    let files = emulated();
    let main = &files["main.tf.json"];
    assert_eq!(
        main["variable"]["emulator_endpoint"]["default"],
        "http://localhost:5000"
    );
    let provider = &main["provider"]["aws"][0];
    let endpoints = provider["endpoints"][0].as_object().unwrap();
    assert_eq!(endpoints.len(), 13, "{endpoints:?}");
    for (service, endpoint) in endpoints {
        assert_eq!(endpoint, "${var.emulator_endpoint}", "{service}");
    }
    for skip in ["skip_credentials_validation", "skip_requesting_account_id"] {
        assert_eq!(provider[skip], true, "{skip}");
    }
    assert!(provider.get("access_key").is_none() && provider.get("secret_key").is_none());
}

#[test]
fn under_an_emulator_the_harness_polls_queues_and_streams_become_outputs() {
    let files = emulated();
    let mappings = &files["lambda.tf.json"]["resource"]["aws_lambda_event_source_mapping"];
    // moto honours `enabled = false` on a queue mapping, so the harness can poll it.
    assert_eq!(mappings["worker_from_events"]["enabled"], false);
    // moto ignores it on a stream mapping, so that one is not applied at all.
    assert!(mappings.get("worker_from_shipments_stream").is_none());
    let output = &files["outputs.tf.json"]["output"]
        [format!("{HARNESS_MAPPING_PREFIX}worker_from_shipments_stream")];
    kit::assert_subset(
        &output["value"],
        json!({
            "event_source_arn": "${aws_dynamodb_table.shipments.stream_arn}",
            "function_name": "${aws_lambda_function.worker.arn}",
            "bisect_batch_on_function_error": true,
            "maximum_retry_attempts": 3,
            "destination_config": [{"on_failure": [{"destination_arn": "${aws_s3_bucket.failed.arn}"}]}],
        }),
    );
    assert!(output["value"].get("depends_on").is_none());
}

#[test]
fn under_an_emulator_a_schedule_keeps_its_rule_and_the_harness_plays_its_target() {
    let files = emulated();
    let eventbridge = &files["eventbridge.tf.json"]["resource"];
    assert!(eventbridge["aws_cloudwatch_event_rule"]
        .get("nightly")
        .is_some());
    assert!(
        eventbridge.get("aws_cloudwatch_event_target").is_none(),
        "moto fails every default-bus put-events on a schedule rule's Lambda target"
    );
    assert_eq!(
        files["outputs.tf.json"]["output"][format!("{HARNESS_SCHEDULE_PREFIX}nightly")]["value"],
        json!({
            "rule": "${aws_cloudwatch_event_rule.nightly.name}",
            "schedule_expression": "cron(0 1 * * ? *)",
            "function_name": "${aws_lambda_function.worker.function_name}",
        })
    );
}

#[test]
fn an_emulator_provider_added_after_a_mapping_is_a_render_error() {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let worker = stack.add(function(&key, None));
    let events = stack.add(queue(&key));
    worker.consume_queue(&mut stack, &events, queue_source());
    stack.add(Provider {
        default_tags: Default::default(),
        emulator: Some(Emulator {
            endpoint: "http://localhost:5000".into(),
        }),
    });
    kit::assert_render_error(stack, &["added after an event source mapping"]);
}
