//! CloudWatch Embedded Metric Format: counts gathered during one invocation, printed as
//! EMF JSON lines on stdout when it ends (CloudWatch Logs turns them into metrics), instead
//! of one PutMetricData call per event.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};
use shipment::contract::{self, env_vars};
use shipment::ShipmentStatus;

/// Per-invocation counters.
#[derive(Debug)]
pub struct Metrics {
    namespace: String,
    environment: String,
    function: String,
    counts: Mutex<BTreeMap<(&'static str, Option<ShipmentStatus>), u64>>,
}

impl Metrics {
    pub fn new(
        namespace: impl Into<String>,
        environment: impl Into<String>,
        function: impl Into<String>,
    ) -> Self {
        Metrics {
            namespace: namespace.into(),
            environment: environment.into(),
            function: function.into(),
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    /// Namespace from `METRICS_NAMESPACE` (default [`contract::METRICS_NAMESPACE`]), the
    /// `Environment` dimension from `ENVIRONMENT` (default `unknown`).
    pub fn from_env(function: &str) -> Self {
        let namespace =
            crate::settings::or_default(env_vars::METRICS_NAMESPACE, contract::METRICS_NAMESPACE);
        Metrics::new(namespace, crate::settings::environment(), function)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<(&'static str, Option<ShipmentStatus>), u64>> {
        // A panic while holding the lock cannot leave the counters inconsistent.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds one to a metric.
    pub fn incr(&self, name: &'static str) {
        *self.lock().entry((name, None)).or_insert(0) += 1;
    }

    /// Adds one to a metric with a `Status` dimension (also counted in the total).
    pub fn incr_status(&self, name: &'static str, status: &ShipmentStatus) {
        *self.lock().entry((name, Some(status.clone()))).or_insert(0) += 1;
    }

    /// A count so far (`status: None` is the total over all statuses).
    pub fn get(&self, name: &str, status: Option<&str>) -> u64 {
        self.lock()
            .iter()
            .filter(|((n, s), _)| {
                *n == name && (status.is_none() || s.as_ref().map(ShipmentStatus::as_str) == status)
            })
            .map(|(_, v)| *v)
            .sum()
    }

    /// The EMF documents for the counts so far: one per status-dimensioned metric value
    /// (published both per `Environment, Status` and per `Environment`), and one for the
    /// plain metrics (per `Environment`).
    pub fn documents(&self, timestamp_ms: i64) -> Vec<Value> {
        let counts = self.lock();
        let mut documents = Vec::new();
        let mut plain = serde_json::Map::new();
        let mut plain_names = Vec::new();
        for ((name, status), value) in counts.iter() {
            match status {
                Some(status) => {
                    let mut doc = json!({
                    "_aws": {
                        "Timestamp": timestamp_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": [["Environment"], ["Environment", "Status"]],
                            "Metrics": [{"Name": name, "Unit": "Count"}],
                        }],
                    },
                    "Environment": self.environment,
                    "Status": status.as_str(),
                    "Function": self.function,
                    });
                    if let Some(object) = doc.as_object_mut() {
                        object.insert((*name).to_owned(), json!(value));
                    }
                    documents.push(doc);
                }
                None => {
                    plain_names.push(json!({"Name": name, "Unit": "Count"}));
                    plain.insert((*name).to_owned(), json!(value));
                }
            }
        }
        if !plain_names.is_empty() {
            let mut doc = json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": self.namespace,
                        "Dimensions": [["Environment"]],
                        "Metrics": plain_names,
                    }],
                },
                "Environment": self.environment,
                "Function": self.function,
            });
            if let Some(object) = doc.as_object_mut() {
                object.extend(plain);
            }
            documents.push(doc);
        }
        documents
    }

    /// Prints the EMF lines (on [`crate::stdout::STDOUT`], written when the invocation ends)
    /// and resets the counters.
    pub fn flush(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        for doc in self.documents(now) {
            crate::stdout::STDOUT.line(doc);
        }
        self.lock().clear();
    }
}
