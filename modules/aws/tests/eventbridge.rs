//! The contract of `aws::eventbridge`: buses, rules, targets and archives.

mod kit;

use std::sync::LazyLock;

use aws::eventbridge::{Archive, Bus, Delivery, Rule, Trigger};
use kit::{assert_render_error, function, key, queue, render, statement_for, topic, Rendered};
use serde_json::{json, Value};

static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let bus = stack.add(Bus {
        name: "shipments".into(),
    });
    let dlq = stack.add(kit::dead_letter_queue(&key));
    let delivery = Delivery {
        max_retries: 4,
        max_event_age_s: 900,
        dead_letter: dlq,
    };
    let on_bus = stack.add(Rule {
        name: "on_bus".into(),
        description: "events of the bus".into(),
        trigger: Trigger::Pattern {
            bus: Some(bus.clone()),
            pattern: tf::Tf::from(json!({"source": ["shipstack"]})),
        },
    });
    let events = stack.add(queue(&key));
    on_bus.target_queue(&mut stack, &events, delivery.clone());
    let nightly = stack.add(Rule {
        name: "nightly".into(),
        description: "every night".into(),
        trigger: Trigger::Schedule("cron(0 2 * * ? *)".into()),
    });
    let worker = stack.add(function(&key, None));
    nightly.target_function(&mut stack, &worker, delivery.clone());
    let alerts = topic(&mut stack, &key);
    nightly.target_topic(&mut stack, &alerts, delivery);
    stack.add(Archive {
        name: "shipments".into(),
        bus,
        pattern: json!({"source": ["shipstack"]}),
        retention_days: 14,
    });
    render(stack)
});

#[test]
fn a_bus_is_named_with_the_prefix() {
    FIXTURE.has_properties(
        "aws_cloudwatch_event_bus",
        "shipments",
        json!({"name": "shipstack-test-shipments"}),
    );
}

#[test]
fn a_pattern_rule_matches_on_its_bus_and_a_schedule_rule_on_the_default_bus() {
    let on_bus = FIXTURE.resource("aws_cloudwatch_event_rule", "on_bus");
    kit::assert_subset(
        on_bus,
        json!({"name": "shipstack-test-on-bus", "event_bus_name": "${aws_cloudwatch_event_bus.shipments.name}"}),
    );
    assert_eq!(
        kit::json_text(&on_bus["event_pattern"]),
        json!({"source": ["shipstack"]})
    );
    let nightly = FIXTURE.resource("aws_cloudwatch_event_rule", "nightly");
    kit::assert_subset(
        nightly,
        json!({"name": "shipstack-test-nightly", "schedule_expression": "cron(0 2 * * ? *)"}),
    );
    for absent in ["event_bus_name", "event_pattern"] {
        assert!(nightly.get(absent).is_none(), "{absent}: {nightly}");
    }
}

#[test]
fn every_target_retries_boundedly_and_dead_letters_what_it_cannot_deliver() {
    for (target, rule, arn, bus) in [
        (
            "on_bus_to_events",
            "on_bus",
            "${aws_sqs_queue.events.arn}",
            Some("${aws_cloudwatch_event_bus.shipments.name}"),
        ),
        (
            "nightly_to_worker",
            "nightly",
            "${aws_lambda_function.worker.arn}",
            None,
        ),
        (
            "nightly_to_alerts",
            "nightly",
            "${aws_sns_topic.alerts.arn}",
            None,
        ),
    ] {
        let body = FIXTURE.resource("aws_cloudwatch_event_target", target);
        kit::assert_subset(
            body,
            json!({
                "rule": format!("${{aws_cloudwatch_event_rule.{rule}.name}}"),
                "arn": arn,
                "retry_policy": [{"maximum_retry_attempts": 4, "maximum_event_age_in_seconds": 900}],
                "dead_letter_config": [{"arn": "${aws_sqs_queue.events_dlq.arn}"}],
            }),
        );
        assert_eq!(
            body.get("event_bus_name").and_then(Value::as_str),
            bus,
            "{target}"
        );
    }
}

#[test]
fn the_queues_accept_events_only_from_the_rules_that_send_them() {
    let from = |queue: &str| {
        statement_for(
            &FIXTURE.policy_statements("aws_sqs_queue_policy", queue),
            "events.amazonaws.com",
        )["Condition"]
            .clone()
    };
    assert_eq!(
        from("events"),
        json!({"ArnEquals": {"aws:SourceArn": ["${aws_cloudwatch_event_rule.on_bus.arn}"]}})
    );
    assert_eq!(
        from("events_dlq"),
        json!({"ArnEquals": {"aws:SourceArn": [
            "${aws_cloudwatch_event_rule.nightly.arn}",
            "${aws_cloudwatch_event_rule.on_bus.arn}",
        ]}})
    );
}

#[test]
fn a_function_target_may_be_invoked_by_eventbridge_from_its_rule_only() {
    FIXTURE.has_properties(
        "aws_lambda_permission",
        "worker_from_nightly",
        json!({
            "principal": "events.amazonaws.com",
            "source_arn": "${aws_cloudwatch_event_rule.nightly.arn}",
            "statement_id": "AllowInvokeFromNightly",
        }),
    );
}

#[test]
fn a_topic_target_may_publish_from_its_rule_only() {
    let policy = FIXTURE.policy_statements("aws_sns_topic_policy", "alerts");
    assert_eq!(
        statement_for(&policy, "events.amazonaws.com")["Condition"],
        json!({"ArnLike": {"aws:SourceArn": ["${aws_cloudwatch_event_rule.nightly.arn}"]}})
    );
}

#[test]
fn an_archive_keeps_the_buses_matching_events_for_its_retention() {
    let archive = FIXTURE.resource("aws_cloudwatch_event_archive", "shipments");
    kit::assert_subset(
        archive,
        json!({
            "name": "shipstack-test-shipments",
            "event_source_arn": "${aws_cloudwatch_event_bus.shipments.arn}",
            "retention_days": 14,
        }),
    );
    assert_eq!(
        kit::json_text(&archive["event_pattern"]),
        json!({"source": ["shipstack"]})
    );
}

#[test]
fn rule_and_archive_names_past_aws_limits_are_render_errors() {
    let mut stack = kit::long_stack();
    stack.add(Rule {
        name: "a_rule_whose_name_is_long".into(),
        description: "x".into(),
        trigger: Trigger::Schedule("rate(1 hour)".into()),
    });
    assert_render_error(stack, &["EventBridge rule name", "AWS allows 64"]);
    let mut stack = kit::long_stack();
    let bus = stack.add(Bus { name: "b".into() });
    stack.add(Archive {
        name: "archive".into(),
        bus,
        pattern: json!({}),
        retention_days: 1,
    });
    assert_render_error(stack, &["EventBridge archive name", "AWS allows 48"]);
}
