//! The seeds' documented example events, as AWS delivers them: one copy for the tests of
//! every crate that handles them (the domain's parser tests, the processors' handler tests).

use serde_json::{json, Value};

/// Seed 003's docstring event, exactly as EventBridge delivers it to Lambda.
pub fn seed_003_envelope() -> Value {
    json!({
        "version": "0",
        "id": "event-id",
        "detail-type": "Shipment Update",
        "source": "logistics.shipments",
        "account": "123456789012",
        "time": "2025-10-17T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "shipmentId": "SHIP-12345",
            "status": "IN_TRANSIT",
            "location": "Dallas, TX",
            "carrier": "FedEx",
            "trackingNumber": "1234567890",
            "timestamp": "2025-10-17T12:00:00Z"
        }
    })
}
