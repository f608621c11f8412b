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
    /// Puts each item unless one with its key exists: one outcome per item, in order. Of
    /// items sharing a key, the first is put and the others are its duplicates (or fail with
    /// it). Each item is one conditional write, however the store groups them into requests.
    fn put_all_if_absent(
        &self,
        items: &[Item],
    ) -> impl Future<Output = Vec<Result<PutOutcome, Transient>>> + Send;
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

impl Notification {
    /// What SNS counts against a batch's payload limit: the body and the attributes.
    fn size(&self) -> usize {
        let attributes: usize = self
            .attributes
            .iter()
            .map(|(name, value)| name.len() + "String".len() + value.len())
            .sum();
        self.message.len() + self.subject.len() + attributes
    }
}

/// At most 10 entries in one PublishBatch
/// (https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html), and the sum of their
/// sizes at most the topic's `MaximumMessageSize`, which our topics leave at its default of
/// 262,144 bytes (https://docs.aws.amazon.com/sns/latest/dg/sns-batch-api-actions.html).
pub const PUBLISH_BATCH_ENTRIES: usize = 10;
pub const PUBLISH_BATCH_BYTES: usize = 262_144;

/// Splits notifications, in order, into PublishBatch requests of at most `entries` (capped at
/// SNS's 10) within the byte limit. One notification over the byte limit goes alone (SNS
/// refuses it, as it would a Publish).
pub fn publish_batches<T>(
    notifications: &[T],
    entries: usize,
    of: impl Fn(&T) -> &Notification,
) -> Vec<&[T]> {
    let entries = entries.clamp(1, PUBLISH_BATCH_ENTRIES);
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in notifications.iter().enumerate() {
        let size = of(item).size();
        if i > start && (i - start == entries || bytes + size > PUBLISH_BATCH_BYTES) {
            batches.push(&notifications[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < notifications.len() {
        batches.push(&notifications[start..]);
    }
    batches
}

/// SNS.
pub trait Publisher: Sync {
    fn publish(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), Transient>> + Send;
    /// Publishes one of [`publish_batches`]' requests to `topic_arn` (every notification's
    /// topic) and answers the positions in `batch` that SNS did not accept, with why.
    fn publish_batch(
        &self,
        topic_arn: &str,
        batch: &[&Notification],
    ) -> impl Future<Output = Result<Vec<(usize, Transient)>, Transient>> + Send;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn note(message_bytes: usize) -> Notification {
        Notification {
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
            subject: "s".into(),
            message: "m".repeat(message_bytes),
            attributes: vec![("status".into(), "LOST".into())],
        }
    }

    fn sizes(notes: &[Notification]) -> Vec<usize> {
        sizes_of(notes, PUBLISH_BATCH_ENTRIES)
    }

    /// The lengths of `notes`' batches of at most `entries`.
    fn sizes_of(notes: &[Notification], entries: usize) -> Vec<usize> {
        publish_batches(notes, entries, |n| n)
            .iter()
            .map(|b| b.len())
            .collect()
    }

    #[test]
    fn batches_hold_at_most_ten_notifications_in_order() {
        let notes: Vec<_> = (0..25).map(|i| note(i + 1)).collect();
        let batches = publish_batches(&notes, PUBLISH_BATCH_ENTRIES, |n| n);
        assert_eq!(sizes(&notes), [10, 10, 5]);
        let flat: Vec<_> = batches.concat();
        assert_eq!(flat, notes, "every notification once, in order");
    }

    #[test]
    fn batches_stay_within_the_payload_limit_counting_subjects_and_attributes() {
        // 100 KiB bodies: two fit, a third would pass 256 KiB.
        let notes: Vec<_> = (0..5).map(|_| note(100 * 1024)).collect();
        assert_eq!(sizes(&notes), [2, 2, 1]);
        // Exactly at the limit with the subject and the attribute counted: one batch.
        let overhead = note(0).size();
        let exact = vec![note(PUBLISH_BATCH_BYTES / 2 - overhead); 2];
        assert_eq!(sizes(&exact), [2]);
        let over = vec![note(PUBLISH_BATCH_BYTES / 2 - overhead + 1); 2];
        assert_eq!(sizes(&over), [1, 1]);
    }

    #[test]
    fn a_smaller_entry_cap_is_kept_and_one_past_the_api_limit_is_not() {
        let notes: Vec<_> = (0..25).map(|i| note(i + 1)).collect();
        assert_eq!(sizes_of(&notes, 4), [4, 4, 4, 4, 4, 4, 1]);
        assert_eq!(sizes_of(&notes, 1), [1; 25]);
        assert_eq!(
            sizes_of(&notes, 0),
            [1; 25],
            "at least one entry per request"
        );
        assert_eq!(sizes_of(&notes, 11), [10, 10, 5], "never past SNS's 10");
    }

    #[test]
    fn an_oversized_notification_goes_alone() {
        let notes = vec![note(10), note(PUBLISH_BATCH_BYTES + 1), note(10)];
        assert_eq!(sizes(&notes), [1, 1, 1]);
        assert!(publish_batches::<Notification>(&[], PUBLISH_BATCH_ENTRIES, |n| n).is_empty());
    }
}
