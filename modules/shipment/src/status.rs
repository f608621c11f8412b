//! The status vocabulary and its normalisation. The vocabulary is open: carriers add
//! statuses all the time, and the seeds stored whatever a producer sent. The known statuses
//! ([`Status`]) drive alerts and the daily summary; any other well-formed status is stored as
//! sent, in its normalised spelling ([`ShipmentStatus::Unrecognised`]), and counted by the
//! writers' `UnrecognisedStatus` metric.

use std::fmt;

/// Where a shipment is in its life. Producers spell these many ways (`IN_TRANSIT`,
/// `in-transit`, `In Transit`, `shipment.in_transit`); [`Status::parse`] folds them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Created,
    PickedUp,
    InTransit,
    OutForDelivery,
    Delivered,
    Delayed,
    Exception,
    Lost,
    Damaged,
    Returned,
    Cancelled,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 11] = [
        Status::Created,
        Status::PickedUp,
        Status::InTransit,
        Status::OutForDelivery,
        Status::Delivered,
        Status::Delayed,
        Status::Exception,
        Status::Lost,
        Status::Damaged,
        Status::Returned,
        Status::Cancelled,
    ];

    /// The canonical spelling, stored in the table and used as the metric dimension.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Created => "CREATED",
            Status::PickedUp => "PICKED_UP",
            Status::InTransit => "IN_TRANSIT",
            Status::OutForDelivery => "OUT_FOR_DELIVERY",
            Status::Delivered => "DELIVERED",
            Status::Delayed => "DELAYED",
            Status::Exception => "EXCEPTION",
            Status::Lost => "LOST",
            Status::Damaged => "DAMAGED",
            Status::Returned => "RETURNED",
            Status::Cancelled => "CANCELLED",
        }
    }

    /// Statuses that raise an operational alert.
    pub const fn is_critical(self) -> bool {
        matches!(
            self,
            Status::Delayed | Status::Lost | Status::Damaged | Status::Exception
        )
    }

    /// Parses any producer spelling: case, `-`, `.` and spaces are folded to the canonical
    /// form, and a leading `shipment` (as in seed 002's `shipment.delayed` event types or an
    /// EventBridge `Shipment Delayed` detail type) is ignored. `CANCELED` is accepted too.
    pub fn parse(raw: &str) -> Option<Status> {
        Status::from_folded(&fold(raw))
    }

    fn from_folded(folded: &str) -> Option<Status> {
        match folded {
            "CANCELED" => Some(Status::Cancelled),
            s => Status::ALL.into_iter().find(|status| status.as_str() == s),
        }
    }
}

/// The normalised spelling of any status: trimmed, upper case, `-`, `.` and spaces as `_`,
/// without a leading `SHIPMENT_`.
fn fold(raw: &str) -> String {
    let folded: String = raw
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    match folded.strip_prefix("SHIPMENT_") {
        Some(rest) => rest.to_owned(),
        None => folded,
    }
}

/// Longest accepted status, normalised: it is a GSI partition key and a metric dimension.
pub const MAX_STATUS_LEN: usize = 64;

/// The status an event carries: a known one, or any other a producer sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShipmentStatus {
    Known(Status),
    /// Normalised spelling, 1-[`MAX_STATUS_LEN`] of `A-Z`, `0-9`, `_`: never critical.
    Unrecognised(String),
}

impl ShipmentStatus {
    /// Parses a producer's status field. A known spelling becomes [`ShipmentStatus::Known`];
    /// any other letters and digits (with spaces, `-`, `.`, `_`) are kept, normalised. The
    /// error says why the value is no status (empty, too long, other characters).
    pub fn parse(raw: &str) -> Result<ShipmentStatus, String> {
        let folded = fold(raw);
        if let Some(status) = Status::from_folded(&folded) {
            return Ok(ShipmentStatus::Known(status));
        }
        if folded.is_empty() {
            return Err("must not be empty".into());
        }
        if folded.len() > MAX_STATUS_LEN {
            return Err(format!("is longer than {MAX_STATUS_LEN} characters"));
        }
        if !folded
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "{raw:?} is no status: use letters, digits, spaces, '-', '.' or '_'"
            ));
        }
        Ok(ShipmentStatus::Unrecognised(folded))
    }

    /// The status as stored (the writers stored it normalised, so no folding is needed).
    pub fn from_stored(stored: &str) -> ShipmentStatus {
        match Status::ALL
            .into_iter()
            .find(|status| status.as_str() == stored)
        {
            Some(status) => ShipmentStatus::Known(status),
            None => ShipmentStatus::Unrecognised(stored.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ShipmentStatus::Known(status) => status.as_str(),
            ShipmentStatus::Unrecognised(status) => status,
        }
    }

    /// Only known statuses alert: an unrecognised one is counted, never paged on.
    pub fn is_critical(&self) -> bool {
        matches!(self, ShipmentStatus::Known(status) if status.is_critical())
    }

    pub fn is_unrecognised(&self) -> bool {
        matches!(self, ShipmentStatus::Unrecognised(_))
    }
}

impl From<Status> for ShipmentStatus {
    fn from(status: Status) -> Self {
        ShipmentStatus::Known(status)
    }
}

impl PartialEq<Status> for ShipmentStatus {
    fn eq(&self, other: &Status) -> bool {
        *self == ShipmentStatus::Known(*other)
    }
}

impl fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_spellings_round_trip() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
        }
    }

    #[test]
    fn producer_spellings_are_folded() {
        assert_eq!(Status::parse("in_transit"), Some(Status::InTransit));
        assert_eq!(Status::parse("In Transit"), Some(Status::InTransit));
        assert_eq!(
            Status::parse("out-for-delivery"),
            Some(Status::OutForDelivery)
        );
        assert_eq!(Status::parse("shipment.delayed"), Some(Status::Delayed));
        assert_eq!(Status::parse("Shipment Created"), Some(Status::Created));
        assert_eq!(Status::parse(" picked_up "), Some(Status::PickedUp));
        assert_eq!(Status::parse("canceled"), Some(Status::Cancelled));
    }

    #[test]
    fn rejects_unknown_status() {
        assert_eq!(Status::parse("UNKNOWN"), None);
        assert_eq!(Status::parse("Shipment Update"), None);
        assert_eq!(Status::parse(""), None);
    }

    #[test]
    fn any_other_status_is_kept_normalised_and_never_critical() {
        let customs = ShipmentStatus::parse("Customs Hold").unwrap();
        assert_eq!(customs, ShipmentStatus::Unrecognised("CUSTOMS_HOLD".into()));
        assert!(!customs.is_critical());
        assert!(customs.is_unrecognised());
        assert_eq!(
            ShipmentStatus::parse("shipment.customs-cleared")
                .unwrap()
                .as_str(),
            "CUSTOMS_CLEARED"
        );
        assert_eq!(
            ShipmentStatus::parse("delayed").unwrap(),
            ShipmentStatus::Known(Status::Delayed)
        );
        assert!(ShipmentStatus::parse("lost").unwrap().is_critical());
    }

    #[test]
    fn an_empty_overlong_or_odd_status_is_refused_with_its_reason() {
        assert_eq!(
            ShipmentStatus::parse("  ").unwrap_err(),
            "must not be empty"
        );
        assert!(ShipmentStatus::parse(&"A".repeat(MAX_STATUS_LEN + 1))
            .unwrap_err()
            .contains("longer than 64"));
        assert!(ShipmentStatus::parse("held <script>")
            .unwrap_err()
            .contains("is no status"));
        assert!(ShipmentStatus::parse(&"A".repeat(MAX_STATUS_LEN)).is_ok());
    }

    #[test]
    fn a_stored_status_reads_back_as_it_was_written() {
        for status in Status::ALL {
            assert_eq!(ShipmentStatus::from_stored(status.as_str()), status);
        }
        assert_eq!(
            ShipmentStatus::from_stored("CUSTOMS_HOLD"),
            ShipmentStatus::Unrecognised("CUSTOMS_HOLD".into())
        );
    }

    #[test]
    fn critical_statuses_are_exactly_the_four() {
        let critical: Vec<_> = Status::ALL
            .into_iter()
            .filter(|s| s.is_critical())
            .collect();
        assert_eq!(
            critical,
            [
                Status::Delayed,
                Status::Exception,
                Status::Lost,
                Status::Damaged
            ]
        );
    }
}
