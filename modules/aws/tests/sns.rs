//! The contract of `aws::sns`: what a topic renders, its policy, subscriptions and grant.

mod kit;

use std::sync::LazyLock;

use aws::sns::Topic;
use kit::{
    alarm, allow, assert_has_statements, assert_statements, granted, key, key_named, queue, render,
    statement_for, topic, Rendered, ACCOUNT, PARTITION,
};
use serde_json::json;

static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let topic = topic(&mut stack, &key);
    let events = stack.add(queue(&key));
    topic.subscribe_queue(&mut stack, &events);
    let emails = stack.doc().variable(
        "emails",
        tf::Variable {
            r#type: "list(string)",
            description: "who is mailed",
            ..Default::default()
        },
    );
    topic.subscribe_emails(&mut stack, emails);
    stack.add(alarm(
        "failures",
        topic.metric_failed_notifications(),
        &topic,
    ));
    render(stack)
});

#[test]
fn a_topic_is_named_with_the_prefix_and_encrypted_with_the_customer_key() {
    FIXTURE.has_properties(
        "aws_sns_topic",
        "alerts",
        json!({
            "name": "shipstack-test-alerts",
            "display_name": "alerts",
            "kms_master_key_id": "${aws_kms_key.data.arn}",
        }),
    );
}

#[test]
fn the_topic_policy_lets_the_account_manage_it_and_refuses_publishing_without_tls() {
    let statements = FIXTURE.policy_statements("aws_sns_topic_policy", "alerts");
    let owner = json!({
        "Action": ["sns:GetTopicAttributes", "sns:Publish", "sns:SetTopicAttributes", "sns:Subscribe"],
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:{PARTITION}:iam::{ACCOUNT}:root")},
        "Resource": ["${aws_sns_topic.alerts.arn}"],
    });
    let tls = kit::deny_insecure_transport(&["sns:Publish"], &["${aws_sns_topic.alerts.arn}"]);
    assert_has_statements(&statements, &[owner, tls]);
    FIXTURE.has_properties(
        "aws_sns_topic_policy",
        "alerts",
        json!({"arn": "${aws_sns_topic.alerts.arn}"}),
    );
}

#[test]
fn a_queue_subscription_delivers_the_envelope_and_the_queue_accepts_only_this_topic() {
    FIXTURE.has_properties(
        "aws_sns_topic_subscription",
        "alerts_to_events",
        json!({
            "topic_arn": "${aws_sns_topic.alerts.arn}",
            "protocol": "sqs",
            "endpoint": "${aws_sqs_queue.events.arn}",
        }),
    );
    // Raw delivery drops the subject seed 000's queue consumers read.
    assert_eq!(
        FIXTURE
            .resource("aws_sns_topic_subscription", "alerts_to_events")
            .get("raw_message_delivery"),
        None
    );
    let queue_policy = FIXTURE.policy_statements("aws_sqs_queue_policy", "events");
    assert_eq!(
        statement_for(&queue_policy, "sns.amazonaws.com"),
        &json!({
            "Action": ["sqs:SendMessage"],
            "Condition": {"ArnEquals": {"aws:SourceArn": ["${aws_sns_topic.alerts.arn}"]}},
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Resource": ["${aws_sqs_queue.events.arn}"],
        })
    );
    let key_policy = FIXTURE.policy_statements("aws_kms_key", "data");
    assert_eq!(
        statement_for(&key_policy, "sns.amazonaws.com")["Action"],
        json!(["kms:Decrypt", "kms:GenerateDataKey"])
    );
}

#[test]
fn email_subscriptions_are_one_per_address_of_the_list() {
    FIXTURE.has_properties(
        "aws_sns_topic_subscription",
        "alerts_email",
        json!({
            "for_each": "${toset(var.emails)}",
            "topic_arn": "${aws_sns_topic.alerts.arn}",
            "protocol": "email",
            "endpoint": "${each.value}",
        }),
    );
}

#[test]
fn failed_notifications_are_measured_by_topic_name() {
    FIXTURE.has_properties(
        "aws_cloudwatch_metric_alarm",
        "failures",
        json!({
            "namespace": "AWS/SNS",
            "metric_name": "NumberOfNotificationsFailed",
            "dimensions": {"TopicName": "${aws_sns_topic.alerts.name}"},
        }),
    );
}

#[test]
fn grant_publish_allows_only_sns_publish_on_that_topic_and_the_key() {
    let added = granted(|stack, worker| {
        let key = key_named(stack, "topic");
        let topic = stack.add(Topic {
            name: "notifications".into(),
            display_name: "n".into(),
            key,
        });
        topic.grant_publish(stack, worker);
    });
    assert_statements(
        added,
        vec![
            allow(&["sns:Publish"], &["${aws_sns_topic.notifications.arn}"]),
            allow(
                &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                &["${aws_kms_key.topic.arn}"],
            ),
        ],
    );
}
