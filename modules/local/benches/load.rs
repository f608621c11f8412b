//! Load benchmark: seed 002's daily volume (30,000 events) through the bus, the events
//! queue and the real queue-processor into the table, on moto. Prints events/s and the
//! per-event latency percentiles (PutEvents accepted -> item ingested), and fails if an
//! event is lost or duplicated.
//!
//!   cargo bench -p shipstack-local --bench load            # 30,000 events
//!   LOAD_EVENTS=5000 LOAD_IN_FLIGHT=100 cargo bench -p shipstack-local --bench load

use std::time::Duration;

use local::{drive, Deployment, Harness, HarnessOptions, Moto};

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run only when
    // benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        println!("load benchmark: run with `cargo bench -p shipstack-local --bench load`");
        return Ok(());
    }
    let events: usize = std::env::var("LOAD_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let in_flight: usize = std::env::var("LOAD_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let moto = Moto::start()?;
        let deployment = Deployment::temporary(&moto.endpoint())?;
        let (harness, outputs, applied) =
            Harness::deploy(&deployment, HarnessOptions::default()).await?;
        println!("init + apply: {:.1} s", applied.as_secs_f64());
        let report = drive::load(
            &harness.clients,
            &outputs.get("event_bus_name")?,
            &outputs.get("shipments_table_name")?,
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
        drop(harness);
        anyhow::ensure!(report.lost == 0 && report.duplicated == 0, "{report}");
        Ok(())
    })
}
