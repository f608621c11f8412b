//! The logistics platform, composed from typed components: start reading here.
//!
//! It is the union of the five seed designs (`shared/seeds/000`..`004`), with their mistakes
//! fixed where they are wired (each fix is marked `Seed fix:`):
//!
//! ```text
//! producers ── POST /shipments ──> ingest-api ──┐
//!           └─ put-events ──> bus ─┬─> events queue ──> queue-processor ─┤ (queued)
//!                                  └─> event-processor ─────────────────┤ (direct)
//!                                                                        v
//!        daily-summary (cron) ──> shipments table ── stream ──> stream-fanout
//!                                                                ├─> notifications topic ──> buffer queue
//!                                                                ├─> shipment alerts topic (critical statuses) ──> email
//!                                                                └─> WebSocket subscribers of that shipment
//! ```
//!
//! Each part adds its resources and returns the handles the later parts wire to.

mod apis;
mod data;
mod fanout;
mod functions;
mod ingestion;
mod messaging;
mod monitoring;
mod outputs;
mod settings;
mod summary;

use anyhow::Result;
use aws::Stack;
use tf::Document;

use crate::config::EnvConfig;

/// The rendered Terraform root module of one environment.
pub fn build(env: &EnvConfig) -> Result<Document> {
    let mut stack = Stack::new(&format!("shipstack-{}", env.name), &env.region);
    // First: under an emulator, the provider decides how event source mappings render.
    settings::add(&mut stack, env);
    let data = data::add(&mut stack, env);
    let messaging = messaging::add(&mut stack, env, &data);
    let functions = functions::Functions::new(env, &data);
    let ingestion = ingestion::add(&mut stack, env, &functions, &data, &messaging);
    let summary = summary::add(&mut stack, &functions, &data, &messaging);
    let apis = apis::add(&mut stack, env, &functions, &data);
    let fanout = fanout::add(&mut stack, &functions, &data, &messaging, &apis);
    let all_functions = [
        &apis.ingest,
        &ingestion.writer,
        &fanout.function,
        &apis.websocket_handler,
        &summary.function,
    ];
    let watched = monitoring::Watched {
        rest_api: &apis.rest,
        functions: all_functions.to_vec(),
        events_queue: ingestion.events_queue.as_ref(),
        dead_letters: &messaging.dead_letters,
        notifications_buffer: &messaging.notifications_buffer,
        notifications_dead_letters: &messaging.notifications_dead_letters,
        tables: vec![&data.shipments, &data.connections],
        topics: vec![
            &messaging.notifications,
            &messaging.alerts,
            &messaging.shipment_alerts,
        ],
        rules: ingestion
            .rules
            .iter()
            .chain([&summary.schedule, &fanout.failed_record_written])
            .collect(),
        stream_consumer: &fanout.function,
    };
    let dashboard = monitoring::add(&mut stack, env, &messaging.alerts, &watched);
    outputs::add(
        &mut stack,
        &outputs::Published {
            data: &data,
            messaging: &messaging,
            ingestion: &ingestion,
            apis: &apis,
            dashboard: &dashboard,
            functions: &all_functions,
        },
    );
    Ok(stack.finish())
}

/// Seconds in a day.
const DAY_S: u32 = 24 * 3600;
