//! What the handlers need from AWS, as narrow traits: the handlers are plain async
//! functions of (event, dependencies), so tests drive them with in-memory fakes and the
//! binaries with the SDK-backed [`crate::sdk`] implementations.

use std::fmt;
use std::future::Future;

use shipment::Item;

/// A failure that may pass if retried (throttling, a network error, an unavailable
/// service). Every SDK error except the expected conditional-check failure is reported as
/// one: retrying a permanent error is wasted work, losing an event is not recoverable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transient(pub String);

impl Transient {
    pub fn new(context: &str, error: impl fmt::Display) -> Self {
        Transient(format!("{context}: {error}"))
    }
}

impl fmt::Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Transient {}

/// The result of a conditional put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The item was new and is now stored.
    Created,
    /// An item with the same key exists: this is a redelivery.
    AlreadyExists,
}

/// The shipments table.
pub trait EventStore: Sync {
    /// Puts the item unless one with its key exists.
    fn put_if_absent(
        &self,
        item: &Item,
    ) -> impl Future<Output = Result<PutOutcome, Transient>> + Send;
    /// Reads one event (strongly consistent).
    fn get(
        &self,
        shipment_id: &str,
        event_key: &str,
    ) -> impl Future<Output = Result<Option<Item>, Transient>> + Send;
    /// Puts the item, replacing any with the same key (the daily summary).
    fn put(&self, item: &Item) -> impl Future<Output = Result<(), Transient>> + Send;
    /// Counts the events under one status-index partition key (one shard of a status, see
    /// [`shipment::status_index`]) whose event time starts with `day` (`YYYY-MM-DD`).
    fn count_on_day(
        &self,
        partition_key: &str,
        day: &str,
    ) -> impl Future<Output = Result<u64, Transient>> + Send;
}

/// Where an invalid event is sent, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter<'a> {
    /// The original body, unchanged.
    pub body: &'a str,
    /// Why it was refused (field errors).
    pub reason: &'a str,
    /// The function that refused it.
    pub function: &'a str,
    /// The SQS message id or EventBridge event id it arrived as.
    pub original_id: Option<&'a str>,
}

/// The dead-letter queue.
pub trait DeadLetters: Sync {
    fn send(&self, letter: &DeadLetter<'_>) -> impl Future<Output = Result<(), Transient>> + Send;
}

/// One SNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub topic_arn: String,
    /// At most 100 characters (SNS's limit for email subjects).
    pub subject: String,
    pub message: String,
    /// String message attributes (subscription filter policies can match on them).
    pub attributes: Vec<(String, String)>,
}

/// SNS.
pub trait Publisher: Sync {
    fn publish(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), Transient>> + Send;
}

/// The WebSocket connections table.
pub trait Connections: Sync {
    fn put_row(&self, item: &Item) -> impl Future<Output = Result<(), Transient>> + Send;
    fn delete_row(
        &self,
        connection_id: &str,
        sort_key: &str,
    ) -> impl Future<Output = Result<(), Transient>> + Send;
    /// The sort keys of every row of one connection (Query by partition key).
    fn rows_of(
        &self,
        connection_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, Transient>> + Send;
    /// The connections subscribed to one shipment (Query on the subscribers index).
    fn subscribers(
        &self,
        shipment_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, Transient>> + Send;
}

/// The result of posting to a WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOutcome {
    Delivered,
    /// 410 Gone: the client disconnected without `$disconnect` reaching us.
    Gone,
}

/// The API Gateway management API of the WebSocket stage.
pub trait Push: Sync {
    fn post(
        &self,
        connection_id: &str,
        data: &[u8],
    ) -> impl Future<Output = Result<PostOutcome, Transient>> + Send;
}

/// Deletes every row of a connection (connection row and subscriptions).
pub async fn forget_connection<C: Connections>(
    connections: &C,
    connection_id: &str,
) -> Result<usize, Transient> {
    let rows = connections.rows_of(connection_id).await?;
    for sort_key in &rows {
        connections.delete_row(connection_id, sort_key).await?;
    }
    Ok(rows.len())
}
