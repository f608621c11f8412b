//! The contract of `aws::cloudwatch`: log groups, alarms and dashboards.

mod kit;

use std::sync::LazyLock;

use aws::cloudwatch::{Alarm, Comparison, Dashboard, Graph, LogGroup, Metric, Statistic};
use kit::{alarm, arn, key, render, statement_for, topic, Rendered};
use serde_json::json;

fn metric(name: &'static str) -> Metric {
    Metric::new("Shipstack", name, vec![("Env", "test".into())])
}

static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    stack.add(LogGroup {
        retention_days: 30,
        ..kit::log_group(&key)
    });
    let alerts = topic(&mut stack, &key);
    stack.add(Alarm {
        comparison: Comparison::GreaterThan,
        threshold: 5,
        evaluation_periods: 3,
        datapoints_to_alarm: 2,
        ..alarm("backlog", metric("Backlog").period(60), &alerts)
    });
    stack.add(alarm("errors", metric("Errors"), &alerts));
    stack.add(Dashboard {
        name: "overview".into(),
        graphs: ["A", "B", "C"]
            .map(|title| Graph {
                title: title.into(),
                metrics: vec![metric("Backlog").statistic(Statistic::Maximum)],
            })
            .into(),
    });
    render(stack)
});

#[test]
fn a_log_group_keeps_its_retention_and_is_encrypted_with_the_customer_key() {
    FIXTURE.has_properties(
        "aws_cloudwatch_log_group",
        "app",
        json!({"name": "/app", "retention_in_days": 30, "kms_key_id": "${aws_kms_key.data.arn}"}),
    );
    let key_policy = FIXTURE.policy_statements("aws_kms_key", "data");
    let logs = statement_for(&key_policy, "logs.eu-west-1.amazonaws.com");
    assert_eq!(
        logs["Condition"],
        json!({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": [arn("logs", "*")]}})
    );
}

#[test]
fn an_alarm_renders_its_metric_threshold_and_comparison() {
    FIXTURE.has_properties(
        "aws_cloudwatch_metric_alarm",
        "backlog",
        json!({
            "alarm_name": "shipstack-test-backlog",
            "alarm_description": "backlog",
            "namespace": "Shipstack",
            "metric_name": "Backlog",
            "dimensions": {"Env": "test"},
            "statistic": "Sum",
            "period": 60,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 5,
            "evaluation_periods": 3,
            "datapoints_to_alarm": 2,
        }),
    );
    FIXTURE.has_properties(
        "aws_cloudwatch_metric_alarm",
        "errors",
        json!({"comparison_operator": "GreaterThanOrEqualToThreshold"}),
    );
}

#[test]
fn an_alarm_treats_missing_data_as_fine_and_notifies_its_topic_on_alarm_and_ok() {
    FIXTURE.has_properties(
        "aws_cloudwatch_metric_alarm",
        "errors",
        json!({
            "treat_missing_data": "notBreaching",
            "alarm_actions": ["${aws_sns_topic.alerts.arn}"],
            "ok_actions": ["${aws_sns_topic.alerts.arn}"],
        }),
    );
}

#[test]
fn the_topic_policy_lets_cloudwatch_publish_from_exactly_these_alarms() {
    let policy = FIXTURE.policy_statements("aws_sns_topic_policy", "alerts");
    assert_eq!(
        statement_for(&policy, "cloudwatch.amazonaws.com")["Condition"],
        json!({"ArnLike": {"aws:SourceArn": [
            arn("cloudwatch", "alarm:shipstack-test-backlog"),
            arn("cloudwatch", "alarm:shipstack-test-errors"),
        ]}})
    );
}

#[test]
fn a_dashboard_lays_its_graphs_out_two_per_row_in_the_stacks_region() {
    let dashboard = FIXTURE.resource("aws_cloudwatch_dashboard", "overview");
    assert_eq!(dashboard["dashboard_name"], "shipstack-test-overview");
    let body = kit::json_text(&dashboard["dashboard_body"]);
    let places: Vec<_> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["x"].clone(),
                w["y"].clone(),
                w["width"].clone(),
                w["height"].clone(),
            )
        })
        .collect();
    let place = |x: u32, y: u32| (json!(x), json!(y), json!(12), json!(6));
    assert_eq!(places, vec![place(0, 0), place(12, 0), place(0, 6)]);
    kit::assert_subset(
        &body["widgets"][2],
        json!({"type": "metric", "properties": {"title": "C", "region": "eu-west-1", "view": "timeSeries", "stacked": false}}),
    );
}
