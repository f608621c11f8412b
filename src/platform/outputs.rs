//! The outputs: where producers publish and what operators look at.

use aws::cloudwatch::DashboardRef;
use aws::lambda::FunctionRef;
use aws::Stack;
use tf::Tf;

use super::apis::Apis;
use super::data::Data;
use super::ingestion::Ingestion;
use super::messaging::Messaging;

/// What the outputs publish.
pub struct Published<'a> {
    pub data: &'a Data,
    pub messaging: &'a Messaging,
    pub ingestion: &'a Ingestion,
    pub apis: &'a Apis,
    pub dashboard: &'a DashboardRef,
    pub functions: &'a [&'a FunctionRef],
}

pub fn add(stack: &mut Stack, p: &Published) {
    let events_queue = p.ingestion.events_queue.iter().flat_map(|queue| {
        let description = "Bus events waiting for the queue processor (seed 001 and 002 producers send here directly)";
        [
            ("events_queue_url", description, queue.url().into()),
            ("events_queue_arn", description, queue.arn().into()),
        ]
    });
    let by_function = |value: fn(&FunctionRef) -> tf::Expr| {
        Tf::object(p.functions.iter().map(|f| (f.logical_name(), value(f))))
    };
    let outputs: [(&str, &str, Tf); 17] = [
        (
            "rest_api_url",
            "POST shipment events here",
            Tf::template([p.apis.rest.url().into(), Tf::from("/shipments")]),
        ),
        (
            "rest_api_root_url",
            "The REST stage's root (seed 000's RestApiUrl)",
            p.apis.rest.url().into(),
        ),
        (
            "websocket_url",
            "Clients connect here and send {\"action\":\"subscribe\",\"shipmentId\":...}",
            p.apis.websocket.url().into(),
        ),
        (
            "shipments_table_name",
            "Shipment events table",
            p.data.shipments.name().into(),
        ),
        (
            "connections_table_name",
            "WebSocket connections table",
            p.data.connections.name().into(),
        ),
        (
            "dead_letter_queue_url",
            "Events that could not be processed, with their reason",
            p.messaging.dead_letters.url().into(),
        ),
        (
            "notifications_queue_url",
            "Shipment notifications for downstream consumers, in SNS envelopes (Subject, Message)",
            p.messaging.notifications_buffer.url().into(),
        ),
        (
            "notifications_queue_arn",
            "Shipment notifications for downstream consumers, in SNS envelopes (Subject, Message)",
            p.messaging.notifications_buffer.arn().into(),
        ),
        (
            "notifications_consumer_policy_arn",
            "Attach to a downstream consumer's role: receive, delete and decrypt notifications",
            p.messaging.notifications_consumer.arn().into(),
        ),
        (
            "event_bus_name",
            "Publish shipment events here",
            p.ingestion.bus.name().into(),
        ),
        (
            "notifications_topic_arn",
            "Shipment notifications",
            p.messaging.notifications.arn().into(),
        ),
        (
            "alerts_topic_arn",
            "CloudWatch alarms (on-call)",
            p.messaging.alerts.arn().into(),
        ),
        (
            "shipment_alerts_topic_arn",
            "One message per critical shipment status",
            p.messaging.shipment_alerts.arn().into(),
        ),
        (
            "function_names",
            "Lambda function names, by function",
            by_function(FunctionRef::name),
        ),
        (
            "function_arns",
            "Lambda function ARNs, by function",
            by_function(FunctionRef::arn),
        ),
        (
            "failed_records_bucket",
            "Stream records that exhausted their retries",
            p.data.failed_records.name().into(),
        ),
        ("dashboard_url", "CloudWatch dashboard", p.dashboard.url()),
    ];
    let doc = stack.doc();
    for (name, description, value) in outputs.into_iter().chain(events_queue) {
        doc.output(name, description, value);
    }
}
