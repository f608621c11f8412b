//! Load benchmark: seed 002's daily volume (30,000 events) through the bus, the events
//! queue and the real queue-processor into the table, on moto. Prints events/s and the
//! per-event latency percentiles (PutEvents accepted -> item ingested), and fails if an
//! event is lost or duplicated.
//!
//!   cargo bench -p shipstack-local --bench load            # 30,000 events
//!   LOAD_EVENTS=5000 LOAD_IN_FLIGHT=100 cargo bench -p shipstack-local --bench load

mod support;

use std::time::Duration;

use local::drive;
use support::{benchmarking, setting, Platform};

fn main() -> anyhow::Result<()> {
    if !benchmarking("load") {
        return Ok(());
    }
    let events = setting("LOAD_EVENTS", 30_000);
    let in_flight = setting("LOAD_IN_FLIGHT", 40);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let platform = Platform::start().await?;
        let report = drive::load(
            &platform.harness.clients,
            &platform.outputs.get("event_bus_name")?,
            &platform.outputs.get("shipments_table_name")?,
            &drive::LoadRun {
                prefix: "BENCH-",
                day: "2025-02-02",
                events,
                in_flight,
                timeout: Duration::from_secs(3600),
            },
        )
        .await?;
        println!("load: {report}");
        anyhow::ensure!(report.lost == 0 && report.duplicated == 0, "{report}");
        Ok(())
    })
}
