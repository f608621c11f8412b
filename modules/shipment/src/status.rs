//! The status vocabulary and its normalisation.

use std::fmt;
use std::str::FromStr;

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
        let mut folded: String = raw
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' | '.' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        if let Some(rest) = folded.strip_prefix("SHIPMENT_") {
            folded = rest.to_owned();
        }
        match folded.as_str() {
            "CANCELED" => Some(Status::Cancelled),
            s => Status::ALL.into_iter().find(|status| status.as_str() == s),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Status::from_str`]: the input was no known status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown status {:?}; expected one of ", self.0)?;
        for (i, status) in Status::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(status.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::parse(s).ok_or_else(|| UnknownStatus(s.to_owned()))
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
        let err = "TELEPORTED".parse::<Status>().unwrap_err();
        assert!(err.to_string().contains("\"TELEPORTED\""));
        assert!(err.to_string().contains("IN_TRANSIT"));
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
