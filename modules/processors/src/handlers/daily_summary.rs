//! `daily-summary`: scheduled once a day (seed 001's cleanup job, made real).
//!
//! Counts the previous UTC day's events per status with one Query (`Select=COUNT`,
//! paginated) per shard of each status on the status index ([`status_index`]), at most
//! [`CONCURRENT_QUERIES`] at once, writes one summary item
//! (`SUMMARY#<day>`, overwritten by a re-run, never duplicated) and publishes it to the
//! notifications topic. The day is the one before the schedule's `time`; an invocation
//! with `{"date": "YYYY-MM-DD"}` summarises that day instead (backfills). A failure returns
//! an error, so the asynchronous invocation is retried; a retry overwrites the same item.

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::Value;
use shipment::contract::metrics as metric;
use shipment::event::parse_time;
use shipment::summary::{day_prefix, summary_day, DailySummary};
use shipment::{status_index, Status};

use crate::metrics::Metrics;
use crate::ports::{EventStore, Notification, Publisher, Transient};

/// Queries in flight at once: every shard of every status is counted in a few dozen round
/// trips, without opening hundreds of connections at once.
pub const CONCURRENT_QUERIES: usize = 16;

/// What the summary needs.
pub struct Deps<S, P> {
    pub store: S,
    pub publisher: P,
    pub notifications_topic_arn: String,
}

/// The day to summarise: `date` if given, else the day before the event's `time`, else
/// the day before `now`.
pub fn target_day(event: &Value, now: DateTime<Utc>) -> Result<NaiveDate, String> {
    if let Some(date) = event.get("date") {
        let text = date.as_str().ok_or("date: must be a YYYY-MM-DD string")?;
        return NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|e| format!("date: {text:?} is not YYYY-MM-DD: {e}"));
    }
    let trigger = match event.get("time").and_then(Value::as_str) {
        Some(time) => parse_time(time).map_err(|e| format!("time: {e}"))?,
        None => now,
    };
    Ok(summary_day(trigger))
}

/// Runs one summary; returns it as JSON.
pub async fn handle<S: EventStore, P: Publisher>(
    event: Value,
    deps: &Deps<S, P>,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> Result<Value, Transient> {
    let day = target_day(&event, now).map_err(Transient)?;
    let prefix = day_prefix(day);
    let shards = Status::ALL
        .iter()
        .flat_map(|status| status_index::partition_keys(*status).map(move |key| (*status, key)));
    let counts: Vec<(Status, u64)> = stream::iter(shards)
        .map(|(status, key)| {
            let prefix = prefix.as_str();
            async move { Ok::<_, Transient>((status, deps.store.count_on_day(&key, prefix).await?)) }
        })
        .buffer_unordered(CONCURRENT_QUERIES)
        .try_collect()
        .await
        .inspect_err(|error| {
        metrics.incr(metric::PROCESSING_ERRORS);
        tracing::error!(day = %prefix, error = %error, "counting the day's events failed");
    })?;
    let summary = DailySummary::new(day, counts, now);
    let write = async {
        deps.store.put(&summary.to_item()).await?;
        deps.publisher
            .publish(&Notification {
                topic_arn: deps.notifications_topic_arn.clone(),
                subject: summary.subject(),
                message: summary.to_json().to_string(),
                attributes: vec![("type".into(), "daily-summary".into())],
            })
            .await
    };
    write.await.inspect_err(|error| {
        metrics.incr(metric::PROCESSING_ERRORS);
        tracing::error!(day = %prefix, error = %error, "writing or publishing the summary failed");
    })?;
    metrics.incr(metric::SUMMARIES_WRITTEN);
    tracing::info!(day = %prefix, total = summary.total(), critical = summary.critical(), "daily summary written");
    Ok(summary.to_json())
}
