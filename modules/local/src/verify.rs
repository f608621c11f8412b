//! `shipstack-local verify`: the local proof in one command. Applies `generated/local` to a
//! fresh moto (IAM enforced), sends one event per seed dialect through every entry point as
//! that seed's producer sends it, waits until each is stored, requires a second plan with
//! nothing but known emulator quirks, and destroys. Every check is printed; any failure makes
//! the command fail.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::json;

use crate::drive::{self, eventually, items_of, post, BusEvent};
use crate::terraform::only_emulator_quirks;
use crate::{Deployment, Harness, HarnessOptions, Moto};

/// One event per producer dialect: (what, shipment id).
const SHIPMENTS: [(&str, &str); 6] = [
    ("seed 000: REST POST /shipments", "VERIFY-000"),
    ("seed 001: SQS send to the events queue", "VERIFY-001"),
    ("seed 002: put-events on our bus", "VERIFY-002-BUS"),
    ("seed 002: SQS send to the events queue", "VERIFY-002-SQS"),
    ("seed 003: put-events on our bus", "VERIFY-003"),
    ("seed 004: put-events on the default bus", "VERIFY-004"),
];

/// Runs every check; returns the failures (empty: verified).
pub async fn run() -> Result<Vec<String>> {
    let mut moto = Moto::start_iam().await?;
    let deployment = Deployment::temporary(&moto.endpoint())?;
    let mut failures = Vec::new();
    let started = Instant::now();
    println!("==> apply generated/local to moto {}", moto.endpoint());
    let result = async {
        let (harness, outputs, applied) =
            Harness::deploy(&deployment, HarnessOptions::default()).await?;
        println!("    applied in {:.0} s", applied.as_secs_f64());
        let table = outputs.get("shipments_table_name")?;
        let bus = outputs.get("event_bus_name")?;
        let queue = outputs.get("events_queue_url")?;
        let rest = harness.rest_url("/shipments").context("no POST /shipments")?;
        let clients = &harness.clients;

        println!("==> one event per seed dialect");
        let reply = post(
            &rest,
            &json!({"shipmentId": "VERIFY-000", "status": "IN_TRANSIT", "location": "Memphis, TN",
                "customerId": "C-1", "customerEmail": "customer@yourcompany.com"})
            .to_string(),
            &[],
            true,
        )
        .await?;
        ensure!(
            reply.status == 200 && reply.json()["message"] == "Shipment status updated successfully",
            "seed 000's REST reply: {} {}",
            reply.status,
            reply.body
        );
        for body in [
            json!({"tracking_id": "VERIFY-001", "status": "IN_TRANSIT", "carrier": "DPD",
                "details": {"weightKg": 2.5}, "timestamp": "2025-10-17T08:00:00Z"}),
            json!({"shipment_id": "VERIFY-002-SQS", "event_timestamp": "2025-10-17T09:00:00Z",
                "event_type": "DELIVERED", "event_data": {"signedBy": "J. Doe"}}),
        ] {
            clients
                .sqs
                .send_message()
                .queue_url(&queue)
                .message_body(body.to_string())
                .send()
                .await
                .context("sqs:SendMessage")?;
        }
        drive::put_events(
            clients,
            Some(&bus),
            &[
                BusEvent::new("shipment.service", "shipment.picked_up", json!({"shipment_id": "VERIFY-002-BUS",
                    "event_timestamp": "2025-10-17T10:00:00Z", "event_type": "shipment.picked_up", "event_data": {}})),
                BusEvent::new("logistics.shipments", "Shipment Update", json!({"shipmentId": "VERIFY-003",
                    "status": "IN_TRANSIT", "location": "Dallas, TX", "carrier": "FedEx", "trackingNumber": "1234567890",
                    "timestamp": "2025-10-17T12:00:00Z"})),
            ],
        )
        .await?;
        drive::put_events(
            clients,
            None,
            &[BusEvent::new("logistics.shipments", "Shipment Update", json!({"shipmentId": "VERIFY-004",
                "status": "IN_TRANSIT", "location": "Memphis, TN", "carrier": "FedEx"}))],
        )
        .await?;
        for (what, shipment) in SHIPMENTS {
            let stored = eventually(shipment, Duration::from_secs(60), || async {
                Ok((!items_of(clients, &table, shipment).await?.is_empty()).then_some(()))
            })
            .await;
            match stored {
                Ok(()) => println!("    ok   {what}: {shipment} stored"),
                Err(error) => {
                    println!("    FAIL {what}: {error:#}");
                    failures.push(format!("{what}: {error:#}"));
                }
            }
        }
        drop(harness);

        println!("==> a second plan changes nothing but known emulator quirks");
        let (_, changes) = deployment.plan()?;
        match only_emulator_quirks(&changes) {
            Ok(()) => println!("    ok   {} emulator quirk(s) only", changes.len()),
            Err(error) => {
                println!("    FAIL {error:#}");
                failures.push(format!("second plan: {error:#}"));
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(error) = result {
        failures.push(format!("{error:#}"));
    }
    println!("==> destroy");
    if let Err(error) = deployment.destroy() {
        failures.push(format!("destroy: {error:#}"));
    }
    moto.stop();
    println!(
        "verify: {} in {:.0} s",
        if failures.is_empty() {
            "every seed's producers reach the table; plan and destroy are clean".to_owned()
        } else {
            format!("{} failure(s)", failures.len())
        },
        started.elapsed().as_secs_f64()
    );
    Ok(failures)
}
