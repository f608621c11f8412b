//! stream-fanout: every downstream effect of a stored event comes from the shipments stream
//! (notifications, critical alerts, WebSocket pushes); records that fail for good page someone.

use aws::eventbridge::{Rule, RuleRef, Trigger};
use aws::lambda::{FunctionRef, StreamSource};
use aws::Stack;
use shipment::contract::{env_vars, functions};
use tf::Tf;

use super::apis::Apis;
use super::data::Data;
use super::functions::Functions;
use super::messaging::Messaging;

/// Seconds (seed 000: 60): a batch of up to 100 records, a Query and the posts to its
/// subscribers per record (`fanout_in_flight` shipments at once), then PublishBatch requests
/// (of `fanout_batch_entries`); the stream has no visibility timeout to keep under.
const FANOUT_TIMEOUT_S: u32 = 60;

pub struct Fanout {
    pub function: FunctionRef,
    /// Fires when a record lands in the failed-records bucket.
    pub failed_record_written: RuleRef,
}

pub fn add(
    stack: &mut Stack,
    functions: &Functions,
    data: &Data,
    messaging: &Messaging,
    apis: &Apis,
) -> Fanout {
    // Seed fix: 000's status-update wrote the table and published to SNS itself (a dual write
    // that loses one side on failure); every downstream effect now comes from the stream.
    let function = stack.add(functions.function(
        functions::STREAM_FANOUT,
        "Shipments stream: notifications, critical alerts, WebSocket pushes to subscribers",
        FANOUT_TIMEOUT_S,
        vec![
            (env_vars::CONNECTIONS_TABLE, data.connections.name().into()),
            (
                env_vars::NOTIFICATIONS_TOPIC_ARN,
                messaging.notifications.arn().into(),
            ),
            (
                env_vars::SHIPMENT_ALERTS_TOPIC_ARN,
                messaging.shipment_alerts.arn().into(),
            ),
            // Seed fix: 000 patched the endpoint in after creating the function; it comes
            // from the stage here, and posts are granted on that stage's connections only.
            (
                env_vars::WEBSOCKET_ENDPOINT,
                apis.websocket.management_endpoint(),
            ),
            (
                env_vars::FANOUT_IN_FLIGHT,
                Tf::from(functions.fanout_in_flight().to_string()),
            ),
            (
                env_vars::FANOUT_BATCH_ENTRIES,
                Tf::from(functions.fanout_batch_entries().to_string()),
            ),
        ],
        functions.reservation(|r| r.fanout),
    ));
    function.consume_stream(
        stack,
        &data.shipments,
        StreamSource {
            batch_size: 100,
            batching_window_s: 1,
            max_retries: 3,
            max_record_age_s: 3600,
            parallelization: functions.fanout_parallelization(),
            on_failure: data.failed_records.clone(),
        },
    );
    messaging.notifications.grant_publish(stack, &function);
    messaging.shipment_alerts.grant_publish(stack, &function);
    data.connections.grant_read_data(stack, &function);
    data.connections.grant_write_data(stack, &function);
    apis.websocket.grant_manage_connections(stack, &function);

    // A stream record that exhausted its retries lands in the bucket: someone must look.
    let failed_record_written = stack.add(Rule {
        name: "failed_record_written".into(),
        description: "A shipments stream record failed for good: alert".into(),
        trigger: Trigger::Pattern {
            bus: None,
            pattern: Tf::object([
                ("source", Tf::list(["aws.s3"])),
                ("detail-type", Tf::list(["Object Created"])),
                (
                    "detail",
                    Tf::object([(
                        "bucket",
                        Tf::object([("name", Tf::list([data.failed_records.name()]))]),
                    )]),
                ),
            ]),
        },
    });
    failed_record_written.target_topic(
        stack,
        &messaging.alerts,
        messaging.retry_then_dead_letter(),
    );
    Fanout {
        function,
        failed_record_written,
    }
}
