//! In-memory implementations of the ports, with failure injection.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use processors::ports::{
    Connections, DeadLetter, DeadLetters, EventStore, Notification, PostOutcome, Publisher, Push,
    PutOutcome, Transient,
};
use shipment::contract::{connections_table as ct, shipments_table as st};
use shipment::{AttrValue, Item};

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(AttrValue::as_s)
        .unwrap_or_default()
        .to_owned()
}

/// The shipments table. `fail_puts` makes the next N puts fail; `fail_shipment` fails every
/// put for one shipment id. A batch's items are put one by one, in order.
#[derive(Default)]
pub struct FakeStore {
    pub items: Mutex<BTreeMap<(String, String), Item>>,
    pub fail_puts: AtomicUsize,
    pub fail_shipment: Mutex<Option<String>>,
    pub fail_gets: AtomicUsize,
    pub fail_counts: AtomicUsize,
    /// Conditional puts, one per item.
    pub put_calls: AtomicUsize,
    /// Calls of `put_all_if_absent`.
    pub batch_calls: AtomicUsize,
}

impl FakeStore {
    pub fn len(&self) -> usize {
        self.items.lock().unwrap().len()
    }
    pub fn items(&self) -> Vec<Item> {
        self.items.lock().unwrap().values().cloned().collect()
    }
    pub fn insert(&self, item: Item) {
        let key = (text(&item, st::PARTITION_KEY), text(&item, st::SORT_KEY));
        self.items.lock().unwrap().insert(key, item);
    }
    fn should_fail(&self, counter: &AtomicUsize) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

impl FakeStore {
    fn put_if_absent(&self, item: &Item) -> Result<PutOutcome, Transient> {
        self.put_calls.fetch_add(1, Ordering::SeqCst);
        let id = text(item, st::PARTITION_KEY);
        if self.should_fail(&self.fail_puts)
            || self.fail_shipment.lock().unwrap().as_deref() == Some(id.as_str())
        {
            return Err(Transient("dynamodb:PartiQLInsert: throttled".into()));
        }
        let key = (id, text(item, st::SORT_KEY));
        let mut items = self.items.lock().unwrap();
        if items.contains_key(&key) {
            return Ok(PutOutcome::AlreadyExists);
        }
        items.insert(key, item.clone());
        Ok(PutOutcome::Created)
    }
}

impl EventStore for FakeStore {
    async fn put_all_if_absent(&self, items: &[Item]) -> Vec<Result<PutOutcome, Transient>> {
        self.batch_calls.fetch_add(1, Ordering::SeqCst);
        items.iter().map(|item| self.put_if_absent(item)).collect()
    }

    async fn get(&self, shipment_id: &str, event_key: &str) -> Result<Option<Item>, Transient> {
        if self.should_fail(&self.fail_gets) {
            return Err(Transient("dynamodb:GetItem: throttled".into()));
        }
        Ok(self
            .items
            .lock()
            .unwrap()
            .get(&(shipment_id.to_owned(), event_key.to_owned()))
            .cloned())
    }

    async fn put(&self, item: &Item) -> Result<(), Transient> {
        if self.should_fail(&self.fail_puts) {
            return Err(Transient("dynamodb:PutItem: throttled".into()));
        }
        self.insert(item.clone());
        Ok(())
    }

    async fn count_on_day(&self, partition_key: &str, day: &str) -> Result<u64, Transient> {
        if self.should_fail(&self.fail_counts) {
            return Err(Transient("dynamodb:Query: throttled".into()));
        }
        Ok(self
            .items
            .lock()
            .unwrap()
            .values()
            .filter(|item| text(item, st::STATUS_INDEX_PARTITION_KEY) == partition_key)
            .filter(|item| text(item, st::STATUS_INDEX_SORT_KEY).starts_with(day))
            .count() as u64)
    }
}

/// One dead letter as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub body: String,
    pub reason: String,
    pub function: String,
    pub original_id: Option<String>,
}

#[derive(Default)]
pub struct FakeDlq {
    pub letters: Mutex<Vec<Letter>>,
    pub fail: AtomicUsize,
}

impl FakeDlq {
    pub fn letters(&self) -> Vec<Letter> {
        self.letters.lock().unwrap().clone()
    }
}

impl DeadLetters for FakeDlq {
    async fn send(&self, letter: &DeadLetter<'_>) -> Result<(), Transient> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Transient("sqs:SendMessage: unavailable".into()));
        }
        self.letters.lock().unwrap().push(Letter {
            body: letter.body.to_owned(),
            reason: letter.reason.to_owned(),
            function: letter.function.to_owned(),
            original_id: letter.original_id.map(str::to_owned),
        });
        Ok(())
    }
}

/// SNS. `fail_topic` fails every publish to that topic.
#[derive(Default)]
pub struct FakePublisher {
    pub sent: Mutex<Vec<Notification>>,
    /// Every request to this topic fails.
    pub fail_topic: Mutex<Option<String>>,
    /// Batch entries for this shipment are refused (the request succeeds).
    pub refuse_shipment: Mutex<Option<String>>,
    /// The size of each PublishBatch request.
    pub batches: Mutex<Vec<usize>>,
}

impl FakePublisher {
    pub fn sent(&self) -> Vec<Notification> {
        self.sent.lock().unwrap().clone()
    }
    pub fn to(&self, topic: &str) -> Vec<Notification> {
        self.sent()
            .into_iter()
            .filter(|n| n.topic_arn == topic)
            .collect()
    }
}

impl Publisher for FakePublisher {
    async fn publish(&self, notification: &Notification) -> Result<(), Transient> {
        if self.fail_topic.lock().unwrap().as_deref() == Some(notification.topic_arn.as_str()) {
            return Err(Transient("sns:Publish: throttled".into()));
        }
        self.sent.lock().unwrap().push(notification.clone());
        Ok(())
    }

    async fn publish_batch(
        &self,
        topic_arn: &str,
        batch: &[&Notification],
    ) -> Result<Vec<(usize, Transient)>, Transient> {
        assert!(batch.len() <= processors::ports::PUBLISH_BATCH_ENTRIES);
        assert!(batch.iter().all(|n| n.topic_arn == topic_arn));
        if self.fail_topic.lock().unwrap().as_deref() == Some(topic_arn) {
            return Err(Transient("sns:Publish: throttled".into()));
        }
        self.batches.lock().unwrap().push(batch.len());
        let refused = self.refuse_shipment.lock().unwrap().clone();
        let mut failed = Vec::new();
        for (i, notification) in batch.iter().enumerate() {
            let shipment = notification
                .attributes
                .iter()
                .find(|(k, _)| k == "shipmentId");
            if shipment.is_some_and(|(_, id)| refused.as_deref() == Some(id.as_str())) {
                failed.push((i, Transient("sns:Publish: InternalError".into())));
            } else {
                self.sent.lock().unwrap().push((*notification).clone());
            }
        }
        Ok(failed)
    }
}

/// The connections table.
#[derive(Default)]
pub struct FakeConnections {
    pub rows: Mutex<BTreeMap<(String, String), Item>>,
    pub fail: AtomicUsize,
    /// Subscriber lookups for this shipment fail.
    pub fail_shipment: Mutex<Option<String>>,
    /// Subscriber lookups under way, and the most at once.
    pub lookups: AtomicUsize,
    pub most_lookups: AtomicUsize,
}

impl FakeConnections {
    pub fn sort_keys(&self, connection_id: &str) -> Vec<String> {
        self.rows
            .lock()
            .unwrap()
            .keys()
            .filter(|(c, _)| c == connection_id)
            .map(|(_, s)| s.clone())
            .collect()
    }
    pub fn row(&self, connection_id: &str, sort_key: &str) -> Option<Item> {
        self.rows
            .lock()
            .unwrap()
            .get(&(connection_id.to_owned(), sort_key.to_owned()))
            .cloned()
    }
    fn failing(&self) -> bool {
        self.fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

impl Connections for FakeConnections {
    async fn put_row(&self, item: &Item) -> Result<(), Transient> {
        if self.failing() {
            return Err(Transient("dynamodb:PutItem: throttled".into()));
        }
        let key = (text(item, ct::PARTITION_KEY), text(item, ct::SORT_KEY));
        self.rows.lock().unwrap().insert(key, item.clone());
        Ok(())
    }
    async fn delete_row(&self, connection_id: &str, sort_key: &str) -> Result<(), Transient> {
        if self.failing() {
            return Err(Transient("dynamodb:DeleteItem: throttled".into()));
        }
        self.rows
            .lock()
            .unwrap()
            .remove(&(connection_id.to_owned(), sort_key.to_owned()));
        Ok(())
    }
    async fn rows_of(&self, connection_id: &str) -> Result<Vec<String>, Transient> {
        if self.failing() {
            return Err(Transient("dynamodb:Query: throttled".into()));
        }
        Ok(self.sort_keys(connection_id))
    }
    async fn subscribers(&self, shipment_id: &str) -> Result<Vec<String>, Transient> {
        let now = self.lookups.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_lookups.fetch_max(now, Ordering::SeqCst);
        // A round trip: other lookups may start meanwhile.
        tokio::task::yield_now().await;
        self.lookups.fetch_sub(1, Ordering::SeqCst);
        let failing_shipment = self.fail_shipment.lock().unwrap().as_deref() == Some(shipment_id);
        if self.failing() || failing_shipment {
            return Err(Transient("dynamodb:Query: throttled".into()));
        }
        Ok(self
            .rows
            .lock()
            .unwrap()
            .values()
            .filter(|row| text(row, ct::SUBSCRIBERS_INDEX_PARTITION_KEY) == shipment_id)
            .map(|row| text(row, ct::PARTITION_KEY))
            .collect())
    }
}

/// The WebSocket management API: `gone` connections answer 410, `broken` ones fail.
#[derive(Default)]
pub struct FakePush {
    pub posted: Mutex<Vec<(String, String)>>,
    pub gone: Mutex<BTreeSet<String>>,
    pub broken: Mutex<BTreeSet<String>>,
}

impl FakePush {
    pub fn posted(&self) -> Vec<(String, String)> {
        self.posted.lock().unwrap().clone()
    }
}

impl Push for FakePush {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<PostOutcome, Transient> {
        if self.gone.lock().unwrap().contains(connection_id) {
            return Ok(PostOutcome::Gone);
        }
        if self.broken.lock().unwrap().contains(connection_id) {
            return Err(Transient("execute-api: 500".into()));
        }
        self.posted.lock().unwrap().push((
            connection_id.to_owned(),
            String::from_utf8_lossy(data).into_owned(),
        ));
        Ok(PostOutcome::Delivered)
    }
}
