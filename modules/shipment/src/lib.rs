//! The shipment domain, shared by every processor, and the contract (names) shared with the
//! renderer. Pure and SDK-free: parsing and validation of every producer dialect
//! ([`event`]), the status vocabulary ([`status`]) and its sharded index keys
//! ([`status_index`]), event identity ([`idempotency`]), the
//! DynamoDB item mapping ([`item`]), the daily summary ([`summary`]) and the WebSocket
//! connections model ([`connections`]).

pub mod connections;
pub mod contract;
pub mod error;
pub mod event;
pub mod idempotency;
pub mod item;
pub mod samples;
pub mod status;
pub mod status_index;
pub mod summary;

pub use error::{FieldError, Rejection};
pub use event::{parse_body, parse_value, ShipmentEvent, MAX_EVENT_BYTES};
pub use idempotency::Dedupe;
pub use item::{AttrValue, Item, StoredEvent};
pub use status::{ShipmentStatus, Status};
