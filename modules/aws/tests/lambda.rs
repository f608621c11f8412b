//! The contract of `aws::lambda`: what a function renders, its role, mappings and permissions.

mod kit;

use std::sync::LazyLock;

use aws::iam::Service;
use aws::lambda::{AsyncFailure, Function, SqsSource};
use aws::sqs::Queue;
use kit::{
    allow, assert_has_statements, assert_render_error, assert_statements, function, key, queue,
    render, Rendered,
};
use serde_json::json;

fn sqs_source(batching_window_s: u32) -> SqsSource {
    SqsSource {
        batch_size: 10,
        batching_window_s,
        max_concurrency: None,
    }
}

/// `worker`, failing asynchronously into `events_dlq`, consuming `events` and the stream of
/// `shipments` (failures into the bucket `failed`), invocable by the rule `nightly`.
static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let dlq = stack.add(kit::dead_letter_queue(&key));
    let worker = stack.add(Function {
        environment: vec![("MODE", "test".into())],
        async_failure: Some(AsyncFailure {
            max_retries: 2,
            max_event_age_s: 3600,
            dead_letter: dlq,
        }),
        ..function(&key, None)
    });
    let events = stack.add(queue(&key));
    worker.consume_queue(&mut stack, &events, sqs_source(5));
    let table = stack.add(kit::streamed_table(&key));
    kit::consume_stream(&mut stack, &key, &worker, &table);
    let rule = stack
        .doc()
        .resource("aws_cloudwatch_event_rule", "nightly", tf::Block::new());
    worker.allow_invoke(
        &mut stack,
        "nightly_run",
        Service::EventBridge,
        rule.attr("arn").into(),
    );
    render(stack)
});

#[test]
fn a_function_runs_the_bootstrap_on_al2023_traced_with_its_key_and_environment() {
    FIXTURE.has_properties(
        "aws_lambda_function",
        "worker",
        json!({
            "function_name": "shipstack-test-worker",
            "role": "${aws_iam_role.worker.arn}",
            "runtime": "provided.al2023",
            "handler": "bootstrap",
            "architectures": ["x86_64"],
            "filename": "${path.module}/../dist/worker.zip",
            "source_code_hash": "${filebase64sha256(\"${path.module}/../dist/worker.zip\")}",
            "memory_size": 128,
            "timeout": 10,
            "kms_key_arn": "${aws_kms_key.data.arn}",
            "environment": [{"variables": {"MODE": "test"}}],
            "tracing_config": [{"mode": "Active"}],
        }),
    );
}

#[test]
fn every_plan_checks_that_lambda_runs_the_packaged_zip() {
    pretty_assertions::assert_eq!(
        FIXTURE.check("worker_runs_the_packaged_code"),
        &json!({
            "data": {"aws_lambda_function": {"worker_deployed": {
                "function_name": "${aws_lambda_function.worker.function_name}"}}},
            "assert": [{
                "condition": "${data.aws_lambda_function.worker_deployed.code_sha256 == filebase64sha256(\"${path.module}/../dist/worker.zip\")}",
                "error_message": "shipstack-test-worker runs code that is not the packaged generated/dist/worker.zip: it was changed outside Terraform, which does not undo that. Redeploy the package: aws lambda update-function-code --function-name shipstack-test-worker --zip-file fileb://generated/dist/worker.zip",
            }],
        })
    );
}

#[test]
fn a_function_logs_json_into_its_own_encrypted_log_group_created_first() {
    FIXTURE.has_properties(
        "aws_cloudwatch_log_group",
        "worker",
        json!({
            "name": "/aws/lambda/shipstack-test-worker",
            "retention_in_days": 7,
            "kms_key_id": "${aws_kms_key.data.arn}",
        }),
    );
    FIXTURE.has_properties(
        "aws_lambda_function",
        "worker",
        json!({
            "logging_config": [{"log_format": "JSON", "log_group": "${aws_cloudwatch_log_group.worker.name}"}],
            "depends_on": ["aws_cloudwatch_log_group.worker", "aws_iam_role_policy.worker"],
        }),
    );
}

#[test]
fn the_role_shares_the_functions_name_and_is_assumed_by_lambda_only() {
    FIXTURE.assert_role("worker", "shipstack-test-worker", "lambda.amazonaws.com");
}

#[test]
fn a_function_granted_nothing_may_only_write_its_logs_and_traces_and_decrypt_with_its_key() {
    assert_statements(
        kit::worker_statements(|_, _| ()),
        vec![
            allow(
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                &["${aws_cloudwatch_log_group.worker.arn}:*"],
            ),
            allow(
                &["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                &["*"],
            ),
            allow(&["kms:Decrypt"], &["${aws_kms_key.data.arn}"]),
        ],
    );
}

#[test]
fn async_failures_go_to_the_dead_letter_queue_the_function_may_send_to() {
    FIXTURE.has_properties(
        "aws_lambda_function",
        "worker",
        json!({"dead_letter_config": [{"target_arn": "${aws_sqs_queue.events_dlq.arn}"}]}),
    );
    FIXTURE.has_properties(
        "aws_lambda_function_event_invoke_config",
        "worker",
        json!({
            "function_name": "${aws_lambda_function.worker.function_name}",
            "maximum_retry_attempts": 2,
            "maximum_event_age_in_seconds": 3600,
        }),
    );
    let sends = FIXTURE
        .role_statements("worker")
        .into_iter()
        .find(|s| {
            s["Action"]
                == json!([
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:SendMessage"
                ])
        })
        .expect("a send grant");
    assert_eq!(
        sends["Resource"],
        json!(["${aws_sqs_queue.events_dlq.arn}"])
    );
}

#[test]
fn a_queue_mapping_reports_partial_failures_and_waits_for_the_role_policy() {
    FIXTURE.has_properties(
        "aws_lambda_event_source_mapping",
        "worker_from_events",
        json!({
            "event_source_arn": "${aws_sqs_queue.events.arn}",
            "function_name": "${aws_lambda_function.worker.arn}",
            "batch_size": 10,
            "maximum_batching_window_in_seconds": 5,
            "function_response_types": ["ReportBatchItemFailures"],
            "enabled": true,
            "depends_on": ["aws_iam_role_policy.worker"],
        }),
    );
    let mapping = FIXTURE.resource("aws_lambda_event_source_mapping", "worker_from_events");
    assert!(mapping.get("scaling_config").is_none(), "{mapping}");
}

#[test]
fn a_stream_mapping_bisects_retries_boundedly_and_keeps_failures_in_the_bucket() {
    FIXTURE.has_properties(
        "aws_lambda_event_source_mapping",
        "worker_from_shipments_stream",
        json!({
            "event_source_arn": "${aws_dynamodb_table.shipments.stream_arn}",
            "starting_position": "LATEST",
            "batch_size": 100,
            "bisect_batch_on_function_error": true,
            "maximum_retry_attempts": 3,
            "maximum_record_age_in_seconds": 3600,
            "parallelization_factor": 1,
            "function_response_types": ["ReportBatchItemFailures"],
            "destination_config": [{"on_failure": [{"destination_arn": "${aws_s3_bucket.failed.arn}"}]}],
            "depends_on": ["aws_iam_role_policy.worker"],
        }),
    );
}

#[test]
fn the_mappings_grant_consuming_the_queue_reading_the_stream_and_writing_failures() {
    assert_has_statements(
        &FIXTURE.role_statements("worker"),
        &[
            allow(kit::QUEUE_CONSUME, &["${aws_sqs_queue.events.arn}"]),
            allow(
                &[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                &["${aws_dynamodb_table.shipments.arn}/stream/*"],
            ),
            allow(&["s3:PutObject"], &["${aws_s3_bucket.failed.arn}/*"]),
        ],
    );
}

#[test]
fn allow_invoke_lets_only_that_service_invoke_from_that_source() {
    FIXTURE.has_properties(
        "aws_lambda_permission",
        "worker_from_nightly_run",
        json!({
            "statement_id": "AllowInvokeFromNightlyRun",
            "action": "lambda:InvokeFunction",
            "function_name": "${aws_lambda_function.worker.function_name}",
            "principal": "events.amazonaws.com",
            "source_arn": "${aws_cloudwatch_event_rule.nightly.arn}",
        }),
    );
}

#[test]
fn a_queue_whose_visibility_is_below_six_timeouts_plus_the_window_is_a_render_error() {
    for (visibility, fails) in [(64, true), (65, false)] {
        let mut stack = kit::stack();
        let key = key(&mut stack);
        let worker = stack.add(function(&key, None));
        let events = stack.add(Queue {
            visibility_timeout_s: visibility,
            ..queue(&key)
        });
        worker.consume_queue(&mut stack, &events, sqs_source(5));
        if fails {
            assert_render_error(stack, &["visibility timeout of 64 s", "at least 65 s"]);
        } else {
            assert_eq!(kit::render_errors(stack), Vec::<String>::new());
        }
    }
}

#[test]
fn consuming_the_stream_of_a_table_without_one_is_a_render_error() {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let worker = stack.add(function(&key, None));
    let table = stack.add(aws::dynamodb::Table {
        stream: false,
        ..kit::streamed_table(&key)
    });
    kit::consume_stream(&mut stack, &key, &worker, &table);
    assert_render_error(
        stack,
        &["worker consumes the stream of table shipments, which has none"],
    );
}

#[test]
fn a_stream_mapping_takes_one_to_ten_batches_per_shard() {
    for (parallelization, error) in [(0, true), (1, false), (10, false), (11, true)] {
        let mut stack = kit::stack();
        let key = key(&mut stack);
        let worker = stack.add(function(&key, None));
        let table = stack.add(kit::streamed_table(&key));
        kit::consume_stream_with(&mut stack, &key, &worker, &table, parallelization);
        let message = format!(
            "worker consumes the stream of table shipments with parallelization {parallelization}: stream mappings take 1 to 10"
        );
        if error {
            assert_render_error(stack, &[&message]);
        } else {
            let mapping = kit::render(stack)
                .resource(
                    "aws_lambda_event_source_mapping",
                    "worker_from_shipments_stream",
                )
                .clone();
            assert_eq!(mapping["parallelization_factor"], parallelization);
        }
    }
}
