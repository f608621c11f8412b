//! The shipment domain, shared by every processor, and the contract (names) shared with the
//! renderer. Pure and SDK-free.

pub mod contract;
