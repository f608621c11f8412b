//! Rules real AWS enforces and moto does not, each checked on a scratch stack built to break
//! it (or to show the component cannot break it).

mod kit;

use aws::apigateway::AccountLogging;
use aws::eventbridge::{Bus, Rule, Trigger};
use aws::lambda::{Function, SqsSource};
use kit::{
    alarm, function, key, long_stack, queue, render, render_errors, stack, statement_for, topic,
};
use serde_json::json;

#[test]
fn the_key_policy_is_created_with_the_key_so_log_groups_never_race_it() {
    // terraform-provider-aws#29282: CreateLogGroup with a CMK fails ("The specified KMS key does
    // not exist or is not allowed to be used") when the logs statement is not yet in force.
    let mut stack = stack();
    let key = key(&mut stack);
    stack.add(kit::log_group(&key));
    let all = render(stack);
    assert!(all.of_type("aws_kms_key_policy").is_empty(), "{all:?}");
    let policy = all.policy_statements("aws_kms_key", "data");
    let logs = statement_for(&policy, "logs.eu-west-1.amazonaws.com");
    assert!(logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"].is_array());
    assert_eq!(
        all.resource("aws_cloudwatch_log_group", "app")["kms_key_id"],
        "${aws_kms_key.data.arn}",
        "the log group references the key, whose creation includes its policy"
    );
    let admin = policy
        .iter()
        .find(|s| s["Action"] == json!(["kms:*"]))
        .expect("the account administers its key (CreateKey's lockout safety check)");
    assert!(admin["Principal"]["AWS"]
        .as_str()
        .unwrap()
        .ends_with(":root"));
}

#[test]
fn eventbridge_uses_the_key_without_source_conditions_and_others_with_them() {
    // SNS developer guide: aws:SourceAccount/aws:SourceArn in a key policy "is not supported
    // for EventBridge-to-encrypted topics".
    let mut stack = stack();
    let key = key(&mut stack);
    let topic = topic(&mut stack, &key);
    let queue = stack.add(queue(&key));
    topic.subscribe_queue(&mut stack, &queue);
    let rule = stack.add(Rule {
        name: "r".into(),
        description: "r".into(),
        trigger: Trigger::Schedule("rate(1 hour)".into()),
    });
    rule.target_topic(
        &mut stack,
        &topic,
        aws::eventbridge::Delivery {
            max_retries: 1,
            max_event_age_s: 60,
            dead_letter: queue.clone(),
        },
    );
    stack.add(alarm("a", rule.metric_failed_invocations(), &topic));
    let all = render(stack);
    let policy = all.policy_statements("aws_kms_key", "data");
    assert!(statement_for(&policy, "events.amazonaws.com")
        .get("Condition")
        .is_none());
    for service in ["sns.amazonaws.com", "cloudwatch.amazonaws.com"] {
        let statement = statement_for(&policy, service);
        assert!(
            statement["Condition"]["StringEquals"]["aws:SourceAccount"].is_array(),
            "{service}: {statement}"
        );
    }
}

#[test]
fn an_alarm_lets_cloudwatch_publish_to_its_own_topic() {
    let mut stack = stack();
    let key = key(&mut stack);
    let topic = topic(&mut stack, &key);
    let queue = stack.add(queue(&key));
    stack.add(alarm("depth", queue.metric_visible_messages(), &topic));
    let all = render(stack);
    let policy = all.policy_statements("aws_sns_topic_policy", "alerts");
    let cloudwatch = statement_for(&policy, "cloudwatch.amazonaws.com");
    assert_eq!(cloudwatch["Action"], json!(["sns:Publish"]));
    let sources = &cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"];
    assert!(
        sources[0]
            .as_str()
            .unwrap()
            .ends_with(":alarm:shipstack-test-depth"),
        "{sources}"
    );
    assert_eq!(
        all.resource("aws_cloudwatch_metric_alarm", "depth")["statistic"],
        "Maximum"
    );
}

#[test]
fn failed_invocations_carry_the_dimensions_eventbridge_publishes() {
    // EventBridge user guide: "Metrics that specify both the EventBusName and RuleName
    // dimensions refer to a custom event bus"; RuleName alone is the default bus.
    // The alarm is built in the stack that declares its rule (and bus).
    let dimensions = |name: &str, on_bus: bool| {
        let mut stack = stack();
        let bus = on_bus.then(|| {
            stack.add(Bus {
                name: "shipments".into(),
            })
        });
        let rule = stack.add(Rule {
            name: name.into(),
            description: "x".into(),
            trigger: Trigger::Pattern {
                bus,
                pattern: tf::Tf::from(json!({"source": ["a"]})),
            },
        });
        let key = key(&mut stack);
        let topic = topic(&mut stack, &key);
        stack.add(alarm("a", rule.metric_failed_invocations(), &topic));
        render(stack).resource("aws_cloudwatch_metric_alarm", "a")["dimensions"].clone()
    };
    assert_eq!(
        dimensions("on_bus", true),
        json!({"EventBusName": "${aws_cloudwatch_event_bus.shipments.name}", "RuleName": "shipstack-test-on-bus"})
    );
    assert_eq!(
        dimensions("on_default", false),
        json!({"RuleName": "shipstack-test-on-default"})
    );
}

#[test]
fn a_queue_mapping_above_the_functions_reserved_concurrency_is_a_render_error() {
    // Lambda developer guide (SQS scaling): "Don't set maximum concurrency higher than the
    // function's reserved concurrency"; and the range is 2 to 1000.
    for (reserved, max, error) in [
        (Some(5), 10, Some("above its reserved concurrency 5")),
        (Some(10), 10, None),
        (None, 10, None),
        (None, 1, Some("SQS mappings take 2 to 1000")),
    ] {
        let mut stack = stack();
        let key = key(&mut stack);
        let queue = stack.add(queue(&key));
        let worker = stack.add(function(&key, reserved));
        worker.consume_queue(
            &mut stack,
            &queue,
            SqsSource {
                batch_size: 10,
                batching_window_s: 1,
                max_concurrency: Some(max),
            },
        );
        let errors = render_errors(stack);
        match error {
            Some(error) => assert!(
                errors.len() == 1 && errors[0].contains(error),
                "{reserved:?}/{max}: {errors:?}"
            ),
            None => assert!(errors.is_empty(), "{reserved:?}/{max}: {errors:?}"),
        }
    }
}

#[test]
fn without_a_reservation_the_function_renders_none() {
    // A fresh account keeps 10 of its 10 concurrent executions unreserved: any reservation fails.
    let mut stack = stack();
    let key = key(&mut stack);
    stack.add(function(&key, None));
    let all = render(stack);
    assert!(all
        .resource("aws_lambda_function", "worker")
        .get("reserved_concurrent_executions")
        .is_none());
}

#[test]
fn account_logging_settings_wait_for_their_roles_permissions() {
    // UpdateAccount checks that the CloudWatch role has its permissions.
    let mut stack = stack();
    stack.add(AccountLogging {
        name: "apigateway_logging".into(),
    });
    let all = render(stack);
    assert_eq!(
        all.resource("aws_api_gateway_account", "apigateway_logging")["depends_on"],
        json!(["aws_iam_role_policy.apigateway_logging"])
    );
    assert!(all.has("aws_iam_role_policy", "apigateway_logging"));
}

#[test]
fn names_longer_than_aws_allows_are_render_errors() {
    let mut stack = long_stack();
    let key = key(&mut stack);
    stack.add(Function {
        name: "websocket-handler-for-clients",
        ..function(&key, None)
    });
    let errors = render_errors(stack);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Lambda function name") && e.contains("AWS allows 64")),
        "{errors:?}"
    );
}
