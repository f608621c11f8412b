//! Names the renderer wires and the processors read: one place, so they cannot drift apart.
//!
//! The renderer (`src/platform.rs`) names functions, environment variables, tables, keys and
//! indexes from these constants; the processors read the same constants at start-up.

/// The Lambda functions of the platform. Each is a binary of `shipstack-processors` with the
/// same name, packaged as `generated/dist/<name>.zip`.
pub mod functions {
    /// API Gateway REST `POST /shipments`.
    pub const INGEST_API: &str = "ingest-api";
    /// SQS batches from the events queue (`queued` delivery).
    pub const QUEUE_PROCESSOR: &str = "queue-processor";
    /// EventBridge events delivered straight to Lambda (`direct` delivery).
    pub const EVENT_PROCESSOR: &str = "event-processor";
    /// DynamoDB stream of the shipments table: notifications, alerts, WebSocket pushes.
    pub const STREAM_FANOUT: &str = "stream-fanout";
    /// API Gateway WebSocket `$connect`, `$disconnect`, `$default`.
    pub const WEBSOCKET_HANDLER: &str = "websocket-handler";
    /// Scheduled once a day: per-status counts of yesterday's events.
    pub const DAILY_SUMMARY: &str = "daily-summary";

    /// Every function, in a stable order.
    pub const ALL: [&str; 6] = [
        INGEST_API,
        QUEUE_PROCESSOR,
        EVENT_PROCESSOR,
        STREAM_FANOUT,
        WEBSOCKET_HANDLER,
        DAILY_SUMMARY,
    ];
}

/// Environment variables the renderer sets on the functions.
pub mod env_vars {
    /// Name of the shipments table (all event writers, daily-summary).
    pub const SHIPMENTS_TABLE: &str = "SHIPMENTS_TABLE";
    /// Name of the WebSocket connections table (websocket-handler, stream-fanout).
    pub const CONNECTIONS_TABLE: &str = "CONNECTIONS_TABLE";
    /// ARN of the customer-facing notifications topic (stream-fanout, daily-summary).
    pub const NOTIFICATIONS_TOPIC_ARN: &str = "NOTIFICATIONS_TOPIC_ARN";
    /// ARN of the business alerts topic: one message per critical shipment status, for the
    /// people who act on shipments (stream-fanout). CloudWatch alarms go to on-call instead.
    pub const SHIPMENT_ALERTS_TOPIC_ARN: &str = "SHIPMENT_ALERTS_TOPIC_ARN";
    /// URL of the dead-letter queue that invalid events are sent to, with their reason
    /// (queue-processor, event-processor).
    pub const DEAD_LETTER_QUEUE_URL: &str = "DEAD_LETTER_QUEUE_URL";
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`: the WebSocket
    /// management endpoint (stream-fanout).
    pub const WEBSOCKET_ENDPOINT: &str = "WEBSOCKET_ENDPOINT";
    /// Requests stream-fanout keeps in flight at once within one batch: different shipments'
    /// subscriber lookups (with their pushes), or PublishBatch requests.
    pub const FANOUT_IN_FLIGHT: &str = "FANOUT_IN_FLIGHT";
    /// Entries stream-fanout puts in one SNS PublishBatch request (1 to 10).
    pub const FANOUT_BATCH_ENTRIES: &str = "FANOUT_BATCH_ENTRIES";
    /// Days a shipment event is kept before DynamoDB's TTL removes it.
    pub const EVENT_TTL_DAYS: &str = "EVENT_TTL_DAYS";
    /// CloudWatch namespace of the Embedded Metric Format lines.
    pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
    /// Environment name (`dev`, `prod`, ...), a dimension of every metric.
    pub const ENVIRONMENT: &str = "ENVIRONMENT";
    /// The function's own timeout in seconds (Lambda does not expose it before the first
    /// invocation): the processors bound their AWS calls by it.
    pub const FUNCTION_TIMEOUT_S: &str = "FUNCTION_TIMEOUT_S";
}

/// The shipments table: one item per distinct shipment event, plus one summary item per day.
pub mod shipments_table {
    /// Partition key (S): the shipment id.
    pub const PARTITION_KEY: &str = "shipmentId";
    /// Sort key (S): `<event time>#<idempotency digest>`, so distinct events with the same
    /// timestamp are kept apart and true redeliveries collide.
    pub const SORT_KEY: &str = "eventKey";
    /// The event's status (S): normalised, or an unrecognised one as sent.
    pub const STATUS: &str = "status";
    /// Global secondary index by status shard and event time, keys only (daily-summary
    /// counts with it; see [`crate::status_index`]).
    pub const STATUS_INDEX: &str = "status-shard-time-index";
    /// Partition key (S) of [`STATUS_INDEX`]: `<status>#<shard>`.
    pub const STATUS_INDEX_PARTITION_KEY: &str = "statusShard";
    /// How many partition keys of [`STATUS_INDEX`] each status is spread over.
    pub const STATUS_SHARDS: u32 = 64;
    /// Sort key (S) of [`STATUS_INDEX`]: the event time, RFC 3339 UTC.
    pub const STATUS_INDEX_SORT_KEY: &str = "eventTime";
    /// TTL attribute (N, epoch seconds).
    pub const TTL_ATTRIBUTE: &str = "expiresAt";
}

/// The WebSocket connections table: a connection row and one row per subscription, so the
/// fanout finds a shipment's subscribers with a Query on
/// [`SUBSCRIBERS_INDEX`](connections_table::SUBSCRIBERS_INDEX), never a Scan.
pub mod connections_table {
    /// Partition key (S): the API Gateway connection id.
    pub const PARTITION_KEY: &str = "connectionId";
    /// Sort key (S): `CONNECTION` for the connection row, `SUB#<shipmentId>` per subscription.
    pub const SORT_KEY: &str = "sk";
    /// Sparse global secondary index over subscription rows only.
    pub const SUBSCRIBERS_INDEX: &str = "subscribers-index";
    /// Partition key (S) of [`SUBSCRIBERS_INDEX`]: the subscribed shipment id.
    pub const SUBSCRIBERS_INDEX_PARTITION_KEY: &str = "subscribedShipmentId";
    /// Sort key (S) of [`SUBSCRIBERS_INDEX`]: the connection id.
    pub const SUBSCRIBERS_INDEX_SORT_KEY: &str = "connectionId";
    /// TTL attribute (N, epoch seconds): 24 h after `$connect`.
    pub const TTL_ATTRIBUTE: &str = "expiresAt";
}

/// EventBridge vocabulary: the sources and detail types the bus rules match. Both
/// publishers (`shipment.service`, `shipment.*`; `logistics.shipments`, `Shipment Update`, ...)
/// are matched unchanged.
pub mod events {
    /// Event sources routed to the processors.
    pub const SOURCES: [&str; 2] = ["logistics.shipments", "shipment.service"];
}

/// Custom metrics namespace of the Embedded Metric Format lines.
pub const METRICS_NAMESPACE: &str = "Shipstack";

/// Metric names the processors emit (EMF) and the renderer alarms on / graphs.
pub mod metrics {
    /// Events stored, dimension `Status`: counted by the writers only, once per event.
    pub const EVENTS_PROCESSED: &str = "EventsProcessed";
    /// Events stored with a status outside the known vocabulary, dimension `Status` (the
    /// writers): alarmed on, so a carrier's new status is noticed and can be added.
    pub const UNRECOGNISED_STATUS: &str = "UnrecognisedStatus";
    /// Notifications published for stored events (stream-fanout), dimension `Status`.
    pub const NOTIFICATIONS_PUBLISHED: &str = "NotificationsPublished";
    /// Redeliveries recognised and skipped.
    pub const DUPLICATES_SKIPPED: &str = "DuplicatesSkipped";
    /// Events rejected as invalid (sent to the dead-letter queue with the reason).
    pub const EVENTS_REJECTED: &str = "EventsRejected";
    /// Transient failures (retried).
    pub const PROCESSING_ERRORS: &str = "ProcessingErrors";
    /// Alerts published for critical statuses (stream-fanout), dimension `Status`.
    pub const ALERTS_PUBLISHED: &str = "AlertsPublished";
    /// Updates posted to subscribed WebSocket connections (stream-fanout).
    pub const WEBSOCKET_MESSAGES_SENT: &str = "WebSocketMessagesSent";
    /// Connections that answered 410 Gone and were deleted (stream-fanout).
    pub const STALE_CONNECTIONS_REMOVED: &str = "StaleConnectionsRemoved";
    /// Daily summaries written (daily-summary): alarm when it stays at zero.
    pub const SUMMARIES_WRITTEN: &str = "SummariesWritten";
}

/// Message attributes of the invalid events queue-processor and event-processor send to
/// the dead-letter queue (the body is the original, unchanged).
pub mod dead_letter {
    /// Why the event was refused: the field errors, `; `-separated.
    pub const REASON_ATTRIBUTE: &str = "rejectionReason";
    /// The function that refused it.
    pub const FUNCTION_ATTRIBUTE: &str = "rejectedBy";
    /// The SQS message id or EventBridge event id it arrived as.
    pub const ORIGINAL_ID_ATTRIBUTE: &str = "originalMessageId";
}
