//! The outputs: where producers publish and what operators look at.

use aws::cloudwatch::DashboardRef;
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
}

pub fn add(stack: &mut Stack, p: &Published) {
    let events_queue = p.ingestion.events_queue.as_ref().map(|queue| {
        let description = "Bus events waiting for the queue processor";
        ("events_queue_url", description, queue.url().into())
    });
    let outputs: [(&str, &str, Tf); 11] = [
        (
            "rest_api_url",
            "POST shipment events here",
            Tf::template([p.apis.rest.url().into(), Tf::from("/shipments")]),
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
            "Buffered shipment notifications",
            p.messaging.notifications_buffer.url().into(),
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
            "Operational and critical-status alerts",
            p.messaging.alerts.arn().into(),
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
