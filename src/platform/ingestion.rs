//! The event bus and what it delivers to: one rule per producer dialect, an archive, and the
//! writer the env's delivery mode chooses (the events queue and queue-processor, or
//! event-processor invoked by the bus).

use aws::eventbridge::{Archive, Bus, BusRef, Rule, RuleRef, Trigger};
use aws::lambda::{queue_visibility_for, AsyncFailure, Function, FunctionRef, SqsSource};
use aws::sqs::{Queue, QueueRef};
use aws::Stack;
use serde_json::json;
use shipment::contract::{env_vars, events, functions};

use super::data::Data;
use super::functions::Functions;
use super::messaging::{Messaging, MAX_RECEIVES};
use super::DAY_S;
use crate::config::{Delivery as DeliveryMode, EnvConfig};

/// The writers' timeout, seconds (seeds 001/002: 60; 003/004: 30). A batch is ten conditional
/// writes made concurrently, each bounded at 12 s with SDK retries, so 30 s is ample. The 6x
/// rule makes the events queue's visibility 6 x timeout + window: 190 s at 30 s, against 370 s
/// at 60 s, so a message whose invocation crashed is redelivered three minutes sooner.
const WRITER_TIMEOUT_S: u32 = 30;
/// Batching of the events queue (seed 002: 10 messages, 10 s window).
const QUEUE_BATCH: u32 = 10;
const QUEUE_WINDOW_S: u32 = 10;

pub struct Ingestion {
    pub bus: BusRef,
    /// One per producer dialect and bus (ours and the account's default bus).
    pub rules: Vec<RuleRef>,
    /// queue-processor or event-processor.
    pub writer: FunctionRef,
    /// Only in the queued delivery mode.
    pub events_queue: Option<QueueRef>,
}

pub fn add(
    stack: &mut Stack,
    env: &EnvConfig,
    functions: &Functions,
    data: &Data,
    messaging: &Messaging,
) -> Ingestion {
    let bus = stack.add(Bus {
        name: "shipments".into(),
    });
    let dialects = [
        (
            "shipment_service",
            "Seed 002 producers: shipment.* events",
            json!({"source": ["shipment.service"], "detail-type": [{"prefix": "shipment."}]}),
        ),
        (
            "logistics_shipments",
            "Seeds 003/004 producers: Shipment Update/Created/Delayed",
            json!({"source": ["logistics.shipments"], "detail-type": ["Shipment Update", "Shipment Created", "Shipment Delayed"]}),
        ),
    ];
    // Seed fix (compatibility): seed 004 publishes to the account's default bus (its put-events
    // has no EventBusName). Routing only our bus would drop its events without a trace, so each
    // dialect is matched on both buses, into the same delivery path.
    let buses = [
        (None, "_default_bus", " (default bus)"),
        (Some(bus.clone()), "", ""),
    ];
    let rules: Vec<RuleRef> = dialects
        .iter()
        .flat_map(|dialect| buses.iter().map(move |bus| (dialect, bus)))
        .map(|((name, description, pattern), (bus, suffix, on))| {
            let trigger = Trigger::Pattern {
                bus: bus.clone(),
                pattern: pattern.clone().into(),
            };
            stack.add(Rule {
                name: format!("{name}{suffix}"),
                description: format!("{description}{on}"),
                trigger,
            })
        })
        .collect();
    stack.add(Archive {
        name: "shipments".into(),
        bus: bus.clone(),
        pattern: json!({"source": events::SOURCES}),
        retention_days: env.retention.archive_days,
    });

    let environment = [
        functions.table_environment(&data.shipments),
        vec![(
            env_vars::DEAD_LETTER_QUEUE_URL,
            messaging.dead_letters.url().into(),
        )],
    ]
    .concat();
    let reserved = functions.reservation(|r| r.writers);
    let (writer, events_queue) = match env.delivery {
        DeliveryMode::Queued => {
            // Seed fix: 001 set the visibility timeout to 2.5x the function timeout; AWS asks
            // for at least 6x (plus the batching window) or in-flight messages are redelivered.
            let events_queue = stack.add(Queue {
                name: "events".into(),
                key: data.key.clone(),
                visibility_timeout_s: queue_visibility_for(WRITER_TIMEOUT_S, QUEUE_WINDOW_S),
                retention_s: env.retention.queue_days * DAY_S,
                receive_wait_s: 20,
                dead_letter: Some((messaging.dead_letters.clone(), MAX_RECEIVES)),
            });
            for rule in &rules {
                rule.target_queue(stack, &events_queue, messaging.retry_then_dead_letter());
            }
            let processor = stack.add(functions.function(
                functions::QUEUE_PROCESSOR,
                "Events queue: idempotent writes, partial batch failures, invalid events to the DLQ",
                WRITER_TIMEOUT_S,
                environment,
                reserved,
            ));
            processor.consume_queue(
                stack,
                &events_queue,
                SqsSource {
                    batch_size: QUEUE_BATCH,
                    batching_window_s: QUEUE_WINDOW_S,
                    max_concurrency: reserved,
                },
            );
            (processor, Some(events_queue))
        }
        DeliveryMode::Direct => {
            let processor = stack.add(Function {
                async_failure: Some(AsyncFailure {
                    max_retries: 2,
                    max_event_age_s: 2 * 3600,
                    dead_letter: messaging.dead_letters.clone(),
                }),
                ..functions.function(
                    functions::EVENT_PROCESSOR,
                    "Bus events: idempotent writes; transient failures retried, invalid events to the DLQ",
                    WRITER_TIMEOUT_S,
                    environment,
                    reserved,
                )
            });
            for rule in &rules {
                rule.target_function(stack, &processor, messaging.retry_then_dead_letter());
            }
            (processor, None)
        }
    };
    // Its only write is the conditional one, a PartiQL INSERT (processors' `partiql`).
    data.shipments.grant_partiql_insert(stack, &writer);
    messaging.dead_letters.grant_send_messages(stack, &writer);
    Ingestion {
        bus,
        rules,
        writer,
        events_queue,
    }
}
