//! The daily summary: per-status counts of one UTC day's events, stored as one item in the
//! shipments table.
//!
//! Its key is `SUMMARY#<YYYY-MM-DD>` / `DAILY`, so re-running a day overwrites the same item.
//! It has no `status` attribute (it stays out of the status index) and is marked
//! `recordType = DAILY_SUMMARY` so stream consumers skip it.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use crate::contract::shipments_table as table;
use crate::event::format_time;
use crate::item::{attrs, AttrValue, Item};
use crate::status::Status;

/// Partition key prefix of summary items.
pub const SUMMARY_PARTITION_PREFIX: &str = "SUMMARY#";
/// Sort key of summary items.
pub const SUMMARY_SORT_KEY: &str = "DAILY";
/// [`attrs::RECORD_TYPE`] of a summary item.
pub const RECORD_TYPE_SUMMARY: &str = "DAILY_SUMMARY";

/// Per-status counts of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailySummary {
    pub date: NaiveDate,
    /// Every status, zeros included, so an overwrite leaves no stale count behind.
    pub counts: BTreeMap<Status, u64>,
    pub generated_at: DateTime<Utc>,
}

/// The day a run triggered at `trigger_time` summarises: the UTC day before.
pub fn summary_day(trigger_time: DateTime<Utc>) -> NaiveDate {
    let today = trigger_time.date_naive();
    today.checked_sub_days(Days::new(1)).unwrap_or(today)
}

/// The `begins_with` prefix on the status index's sort key that selects one day's events.
pub fn day_prefix(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

impl DailySummary {
    /// A summary from per-status counts; statuses missing from `counts` count zero.
    pub fn new(
        date: NaiveDate,
        counts: impl IntoIterator<Item = (Status, u64)>,
        generated_at: DateTime<Utc>,
    ) -> Self {
        let mut all: BTreeMap<Status, u64> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        for (status, n) in counts {
            let slot = all.entry(status).or_insert(0);
            *slot = slot.saturating_add(n);
        }
        DailySummary {
            date,
            counts: all,
            generated_at,
        }
    }

    pub fn total(&self) -> u64 {
        self.counts
            .values()
            .fold(0u64, |acc, n| acc.saturating_add(*n))
    }

    /// Events with a critical status (delayed, lost, damaged, exception).
    pub fn critical(&self) -> u64 {
        self.counts
            .iter()
            .filter(|(s, _)| s.is_critical())
            .fold(0u64, |acc, (_, n)| acc.saturating_add(*n))
    }

    pub fn partition_key(&self) -> String {
        format!("{SUMMARY_PARTITION_PREFIX}{}", day_prefix(self.date))
    }

    /// The item (overwritten by a re-run of the same day).
    pub fn to_item(&self) -> Item {
        let mut item = Item::new();
        item.insert(
            table::PARTITION_KEY.into(),
            AttrValue::S(self.partition_key()),
        );
        item.insert(
            table::SORT_KEY.into(),
            AttrValue::S(SUMMARY_SORT_KEY.into()),
        );
        item.insert(
            attrs::RECORD_TYPE.into(),
            AttrValue::S(RECORD_TYPE_SUMMARY.into()),
        );
        item.insert("date".into(), AttrValue::S(day_prefix(self.date)));
        item.insert(
            "counts".into(),
            AttrValue::M(
                self.counts
                    .iter()
                    .map(|(s, n)| (s.as_str().to_owned(), AttrValue::N(n.to_string())))
                    .collect(),
            ),
        );
        item.insert("total".into(), AttrValue::N(self.total().to_string()));
        item.insert("critical".into(), AttrValue::N(self.critical().to_string()));
        item.insert(
            "generatedAt".into(),
            AttrValue::S(format_time(self.generated_at)),
        );
        item
    }

    /// The notification message body.
    pub fn to_json(&self) -> Value {
        let counts: Map<String, Value> = self
            .counts
            .iter()
            .map(|(s, n)| (s.as_str().to_owned(), json!(n)))
            .collect();
        json!({
            "type": "daily-summary",
            "date": day_prefix(self.date),
            "counts": counts,
            "total": self.total(),
            "critical": self.critical(),
            "generatedAt": format_time(self.generated_at),
        })
    }

    /// The notification subject (SNS subjects are at most 100 characters).
    pub fn subject(&self) -> String {
        format!(
            "Shipment summary {}: {} events, {} critical",
            day_prefix(self.date),
            self.total(),
            self.critical()
        )
    }
}

/// True for a summary item (stream consumers skip these).
pub fn is_summary_item(item: &Item) -> bool {
    item.get(attrs::RECORD_TYPE).and_then(AttrValue::as_s) == Some(RECORD_TYPE_SUMMARY)
}
