//! Monitoring: the alarms of all seeds, paging through the alerts topic, and one dashboard.

use aws::apigateway::RestApiRef;
use aws::cloudwatch::{Alarm, Comparison, DashboardRef, Metric};
use aws::dynamodb::{self, TableRef};
use aws::eventbridge::RuleRef;
use aws::lambda::FunctionRef;
use aws::sns::TopicRef;
use aws::sqs::QueueRef;
use aws::Stack;
use shipment::contract::{metrics, METRICS_NAMESPACE};
use tf::Tf;

use crate::config::EnvConfig;

mod dashboard;

/// What the alarms and the dashboard watch.
pub struct Watched<'a> {
    pub rest_api: &'a RestApiRef,
    pub functions: Vec<&'a FunctionRef>,
    pub events_queue: Option<&'a QueueRef>,
    pub dead_letters: &'a QueueRef,
    pub notifications_buffer: &'a QueueRef,
    pub notifications_dead_letters: &'a QueueRef,
    pub tables: Vec<&'a TableRef>,
    pub topics: Vec<&'a TopicRef>,
    pub rules: Vec<&'a RuleRef>,
    pub stream_consumer: &'a FunctionRef,
}

/// The alarms, wired to `alerts`, and the dashboard.
pub fn add(
    stack: &mut Stack,
    env: &EnvConfig,
    alerts: &TopicRef,
    watched: &Watched,
) -> DashboardRef {
    add_alarms(stack, env, alerts, watched);
    stack.add(dashboard::dashboard(env, watched))
}

/// A metric the processors emit (EMF), per environment.
fn shipstack_metric(env: &EnvConfig, name: &'static str) -> Metric {
    Metric::new(
        METRICS_NAMESPACE,
        name,
        vec![("Environment", Tf::from(env.name.as_str()))],
    )
}

/// The alarms of all seeds, wired to the alerts topic.
fn add_alarms(stack: &mut Stack, env: &EnvConfig, alerts: &TopicRef, watched: &Watched) {
    let thresholds = &env.alarms;
    let mut alarm = |name: String,
                     description: String,
                     metric: Metric,
                     comparison: Comparison,
                     threshold: u32,
                     periods: u32| {
        stack.add(Alarm {
            name,
            description,
            metric,
            comparison,
            threshold: i64::from(threshold),
            evaluation_periods: periods,
            datapoints_to_alarm: periods,
            notify: alerts.clone(),
        });
    };
    for function in &watched.functions {
        let name = function.logical_name();
        alarm(
            format!("{name}_errors"),
            format!(
                "{name}: {} or more errors in 5 minutes",
                thresholds.function_errors
            ),
            function.metric_errors(),
            Comparison::GreaterThanOrEqual,
            thresholds.function_errors,
            1,
        );
        alarm(
            format!("{name}_throttles"),
            format!("{name} is being throttled"),
            function.metric_throttles(),
            Comparison::GreaterThanOrEqual,
            1,
            1,
        );
        // 80% of the timeout: slow enough to investigate before invocations start timing out.
        let slow_ms = function.timeout_s() * 800;
        alarm(
            format!("{name}_duration"),
            format!("{name} runs close to its timeout"),
            function.metric_duration(),
            Comparison::GreaterThan,
            slow_ms,
            2,
        );
    }
    alarm(
        "api_server_errors".into(),
        format!(
            "POST /shipments answered {} or more 5xx in 5 minutes",
            thresholds.function_errors
        ),
        watched.rest_api.metric_server_errors(),
        Comparison::GreaterThanOrEqual,
        thresholds.function_errors,
        1,
    );
    if let Some(queue) = watched.events_queue {
        alarm(
            "events_queue_depth".into(),
            "Bus events are piling up in the events queue".into(),
            queue.metric_visible_messages(),
            Comparison::GreaterThan,
            thresholds.queue_depth,
            2,
        );
        alarm(
            "events_queue_age".into(),
            "The oldest bus event has waited too long".into(),
            queue.metric_oldest_message_age(),
            Comparison::GreaterThan,
            thresholds.oldest_message_age_s,
            2,
        );
    }
    alarm(
        "events_dlq_not_empty".into(),
        "An event could not be processed: read its reason in the dead-letter queue".into(),
        watched.dead_letters.metric_visible_messages().period(60),
        Comparison::GreaterThanOrEqual,
        1,
        1,
    );
    // A buffer for downstream consumers: its depth follows traffic, its oldest message's age
    // says the consumer is down.
    alarm(
        "notifications_queue_age".into(),
        "Shipment notifications are not being consumed: is the downstream consumer down?".into(),
        watched.notifications_buffer.metric_oldest_message_age(),
        Comparison::GreaterThan,
        thresholds.oldest_message_age_s,
        2,
    );
    alarm(
        "notifications_dlq_not_empty".into(),
        "A downstream consumer failed one notification 3 times: it is in the notifications dead-letter queue".into(),
        watched.notifications_dead_letters.metric_visible_messages().period(60),
        Comparison::GreaterThanOrEqual,
        1,
        1,
    );
    alarm(
        "unrecognised_status".into(),
        "A producer sent a status outside the known vocabulary (stored as sent; see the UnrecognisedStatus metric's Status dimension)".into(),
        shipstack_metric(env, metrics::UNRECOGNISED_STATUS),
        Comparison::GreaterThanOrEqual,
        1,
        1,
    );
    for topic in &watched.topics {
        let name = topic.resource().name();
        alarm(
            format!("{name}_failed_notifications"),
            format!("SNS could not deliver {name} messages"),
            topic.metric_failed_notifications(),
            Comparison::GreaterThanOrEqual,
            thresholds.notification_failures,
            1,
        );
    }
    for table in &watched.tables {
        let name = table.resource().name();
        for (metric, snake) in [
            (table.metric_read_throttles(), "read_throttles"),
            (table.metric_write_throttles(), "write_throttles"),
        ] {
            alarm(
                format!("{name}_{snake}"),
                format!("DynamoDB throttles {} on {name}", metric.name()),
                metric,
                Comparison::GreaterThanOrEqual,
                1,
                1,
            );
        }
    }
    // Seed fix: 003 alarmed on UserErrors per table, but DynamoDB publishes it per account and
    // region only (no TableName dimension), so that alarm could never fire.
    alarm(
        "dynamodb_user_errors".into(),
        "DynamoDB rejected requests as invalid (account and region wide)".into(),
        dynamodb::metric_account_user_errors(),
        Comparison::GreaterThanOrEqual,
        5,
        1,
    );
    alarm(
        "stream_fanout_lag".into(),
        "The stream consumer is falling behind".into(),
        watched.stream_consumer.metric_iterator_age(),
        Comparison::GreaterThan,
        thresholds.stream_iterator_age_ms,
        3,
    );
    for rule in &watched.rules {
        let name = rule.logical_name();
        alarm(
            format!("{name}_failed_deliveries"),
            format!("EventBridge could not deliver {name} events"),
            rule.metric_failed_invocations(),
            Comparison::GreaterThanOrEqual,
            1,
            1,
        );
    }
}
