//! One screen: traffic, failures and lag.

use aws::cloudwatch::{Dashboard, Graph, Metric};
use aws::lambda::FunctionRef;
use shipment::contract::metrics;

use super::{shipstack_metric, Watched};
use crate::config::EnvConfig;

/// One screen: traffic, failures and lag.
pub fn dashboard(env: &EnvConfig, watched: &Watched) -> Dashboard {
    let per_function = |metric: fn(&FunctionRef) -> Metric| -> Vec<Metric> {
        watched.functions.iter().map(|f| metric(f)).collect()
    };
    let mut queues = vec![
        watched.dead_letters.metric_visible_messages(),
        watched.notifications_buffer.metric_oldest_message_age(),
    ];
    if let Some(queue) = watched.events_queue {
        // Seed 002's queue graph: visible and sent.
        queues.push(queue.metric_visible_messages());
        queues.push(queue.metric_messages_sent());
        queues.push(queue.metric_oldest_message_age());
    }
    Dashboard {
        name: "operations".into(),
        graphs: vec![
            Graph {
                // Seed 004's "Shipments Processed", counted once (by the writers).
                title: "Shipments processed".into(),
                metrics: [
                    metrics::EVENTS_PROCESSED,
                    metrics::DUPLICATES_SKIPPED,
                    metrics::EVENTS_REJECTED,
                    metrics::PROCESSING_ERRORS,
                    metrics::UNRECOGNISED_STATUS,
                ]
                .into_iter()
                .map(|metric| shipstack_metric(env, metric))
                .collect(),
            },
            Graph {
                title: "Queues".into(),
                metrics: queues,
            },
            Graph {
                title: "Invocations".into(),
                metrics: per_function(FunctionRef::metric_invocations),
            },
            Graph {
                title: "Errors".into(),
                metrics: per_function(FunctionRef::metric_errors),
            },
            Graph {
                title: "Duration (max, ms)".into(),
                metrics: per_function(FunctionRef::metric_duration),
            },
            Graph {
                title: "Throttles".into(),
                metrics: per_function(FunctionRef::metric_throttles),
            },
            Graph {
                title: "DynamoDB throttles".into(),
                metrics: watched
                    .tables
                    .iter()
                    .flat_map(|t| [t.metric_read_throttles(), t.metric_write_throttles()])
                    .collect(),
            },
            Graph {
                title: "Stream lag (ms)".into(),
                metrics: vec![watched.stream_consumer.metric_iterator_age()],
            },
        ],
    }
}
