//! The contract of `aws::sqs`: what a queue renders, its redrive, policy and grants.

mod kit;

use std::sync::LazyLock;

use aws::sqs::Queue;
use kit::{
    alarm, allow, assert_render_error, assert_statements, granted, key, key_named, queue, render,
    topic, Rendered,
};
use serde_json::json;

static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let dlq = stack.add(kit::dead_letter_queue(&key));
    let events = stack.add(Queue {
        dead_letter: Some((dlq, 3)),
        ..queue(&key)
    });
    let alerts = topic(&mut stack, &key);
    stack.add(alarm("depth", events.metric_visible_messages(), &alerts));
    stack.add(alarm("age", events.metric_oldest_message_age(), &alerts));
    render(stack)
});

#[test]
fn a_queue_is_encrypted_with_the_customer_key_and_long_polls() {
    FIXTURE.has_properties(
        "aws_sqs_queue",
        "events",
        json!({
            "name": "shipstack-test-events",
            "kms_master_key_id": "${aws_kms_key.data.arn}",
            "kms_data_key_reuse_period_seconds": 300,
            "visibility_timeout_seconds": 600,
            "message_retention_seconds": 3600,
            "receive_wait_time_seconds": 20,
        }),
    );
}

#[test]
fn a_queue_with_a_dead_letter_queue_redrives_after_max_receive_count() {
    assert_eq!(
        kit::json_text(&FIXTURE.resource("aws_sqs_queue", "events")["redrive_policy"]),
        json!({"deadLetterTargetArn": "${aws_sqs_queue.events_dlq.arn}", "maxReceiveCount": 3})
    );
    assert!(FIXTURE.resource("aws_sqs_queue", "events_dlq")["redrive_policy"].is_null());
}

#[test]
fn the_queue_policy_refuses_sending_and_receiving_without_tls() {
    assert_statements(
        FIXTURE.policy_statements("aws_sqs_queue_policy", "events"),
        vec![kit::deny_insecure_transport(
            &["sqs:ReceiveMessage", "sqs:SendMessage"],
            &["${aws_sqs_queue.events.arn}"],
        )],
    );
    FIXTURE.has_properties(
        "aws_sqs_queue_policy",
        "events",
        json!({"queue_url": "${aws_sqs_queue.events.url}"}),
    );
}

#[test]
fn queue_gauges_are_alarmed_on_their_maximum_by_queue_name() {
    for (alarm, metric) in [
        ("depth", "ApproximateNumberOfMessagesVisible"),
        ("age", "ApproximateAgeOfOldestMessage"),
    ] {
        FIXTURE.has_properties(
            "aws_cloudwatch_metric_alarm",
            alarm,
            json!({
                "namespace": "AWS/SQS",
                "metric_name": metric,
                "statistic": "Maximum",
                "dimensions": {"QueueName": "${aws_sqs_queue.events.name}"},
            }),
        );
    }
}

#[test]
fn a_queue_name_longer_than_80_characters_is_a_render_error() {
    let mut stack = kit::long_stack();
    let key = key(&mut stack);
    stack.add(Queue {
        name: "a_queue_name_that_takes_the_physical_name_past_eighty".into(),
        ..queue(&key)
    });
    assert_render_error(stack, &["SQS queue name", "AWS allows 80"]);
}

#[test]
fn grants_allow_exactly_the_actions_of_sending_or_consuming_that_queue() {
    let send = &[
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
    ];
    let consume = kit::QUEUE_CONSUME;
    let encrypt_decrypt = &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"];
    for (consumes, actions, key_actions) in [
        (false, &send[..], &encrypt_decrypt[..]),
        (true, consume, &["kms:Decrypt"][..]),
    ] {
        let added = granted(|stack, worker| {
            let key = key_named(stack, "queue");
            let queue = stack.add(queue(&key));
            if consumes {
                queue.grant_consume_messages(stack, worker);
            } else {
                queue.grant_send_messages(stack, worker);
            }
        });
        assert_statements(
            added,
            vec![
                allow(actions, &["${aws_sqs_queue.events.arn}"]),
                allow(key_actions, &["${aws_kms_key.queue.arn}"]),
            ],
        );
    }
}

#[test]
fn a_managed_consumer_policy_holds_what_a_downstream_role_needs_to_consume() {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let buffer = stack.add(queue(&key));
    let consumer = stack.add(aws::iam::ManagedPolicy {
        name: "buffer_consumer".into(),
        description: "Attach to a role that consumes the buffer".into(),
    });
    buffer.grant_consume_messages(&mut stack, &consumer);
    let rendered = render(stack);
    rendered.has_properties(
        "aws_iam_policy",
        "buffer_consumer",
        json!({"name": "shipstack-test-buffer-consumer", "description": "Attach to a role that consumes the buffer"}),
    );
    assert_statements(
        rendered.policy_statements("aws_iam_policy", "buffer_consumer"),
        vec![
            allow(&["kms:Decrypt"], &["${aws_kms_key.data.arn}"]),
            allow(kit::QUEUE_CONSUME, &["${aws_sqs_queue.events.arn}"]),
        ],
    );
}

#[test]
fn a_dead_letter_queue_keeping_messages_shorter_than_its_source_is_a_render_error() {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let dlq = stack.add(Queue {
        retention_s: 60,
        ..kit::dead_letter_queue(&key)
    });
    stack.add(Queue {
        dead_letter: Some((dlq, 3)),
        ..queue(&key)
    });
    assert_render_error(
        stack,
        &["queue events keeps messages 3600 s", "events_dlq only 60 s"],
    );
}

#[test]
fn a_managed_policy_granted_nothing_or_named_too_long_is_a_render_error() {
    let mut stack = kit::stack();
    stack.add(aws::iam::ManagedPolicy {
        name: "unused".into(),
        description: "Nothing is granted to it".into(),
    });
    assert_render_error(
        stack,
        &["aws_iam_policy.unused has a policy with no statement"],
    );

    let mut stack = kit::stack();
    let key = key(&mut stack);
    let events = stack.add(queue(&key));
    let consumer = stack.add(aws::iam::ManagedPolicy {
        name: "c".repeat(120),
        description: "Too long with the prefix".into(),
    });
    events.grant_consume_messages(&mut stack, &consumer);
    assert_render_error(stack, &["IAM policy", "128"]);
}
