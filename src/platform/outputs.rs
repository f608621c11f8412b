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
    let doc = stack.doc();
    doc.output(
        "rest_api_url",
        "POST shipment events here",
        Tf::template([p.apis.rest.url().into(), Tf::from("/shipments")]),
    );
    doc.output(
        "websocket_url",
        "Clients connect here and send {\"action\":\"subscribe\",\"shipmentId\":...}",
        p.apis.websocket.url(),
    );
    doc.output(
        "shipments_table_name",
        "Shipment events table",
        p.data.shipments.name(),
    );
    doc.output(
        "connections_table_name",
        "WebSocket connections table",
        p.data.connections.name(),
    );
    if let Some(queue) = &p.ingestion.events_queue {
        doc.output(
            "events_queue_url",
            "Bus events waiting for the queue processor",
            queue.url(),
        );
    }
    doc.output(
        "dead_letter_queue_url",
        "Events that could not be processed, with their reason",
        p.messaging.dead_letters.url(),
    );
    doc.output(
        "notifications_queue_url",
        "Buffered shipment notifications",
        p.messaging.notifications_buffer.url(),
    );
    doc.output(
        "event_bus_name",
        "Publish shipment events here",
        p.ingestion.bus.name(),
    );
    doc.output(
        "notifications_topic_arn",
        "Shipment notifications",
        p.messaging.notifications.arn(),
    );
    doc.output(
        "alerts_topic_arn",
        "Operational and critical-status alerts",
        p.messaging.alerts.arn(),
    );
    doc.output(
        "failed_records_bucket",
        "Stream records that exhausted their retries",
        p.data.failed_records.name(),
    );
    doc.output("dashboard_url", "CloudWatch dashboard", p.dashboard.url());
}
