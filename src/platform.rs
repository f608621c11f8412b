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
//!                                                                ├─> alerts topic (critical statuses) ──> email
//!                                                                └─> WebSocket subscribers of that shipment
//! ```

use anyhow::Result;
use aws::apigateway::{AccountLogging, RestApi, RestApiRef, Route, Throttling};
use aws::cloudwatch::{Alarm, Comparison, Dashboard, Graph, Metric};
use aws::dynamodb::{self, GlobalIndex, KeyAttribute, Projection, Table, TableRef};
use aws::eventbridge::{Archive, Bus, Delivery, Rule, RuleRef, Trigger};
use aws::kms::Key;
use aws::lambda::{Architecture, AsyncFailure, Function, FunctionRef, SqsSource, StreamSource};
use aws::s3::Bucket;
use aws::sns::{Topic, TopicRef};
use aws::sqs::{Queue, QueueRef};
use aws::websocket::WebSocketApi;
use aws::Stack;
use serde_json::json;
use shipment::contract::{
    connections_table, env_vars, events, functions, metrics, shipments_table, METRICS_NAMESPACE,
};
use tf::{Block, Document, Expr, Tf, Validation};

use crate::config::{self, Backend, Delivery as DeliveryMode, EnvConfig};

/// Pinned tool versions: `use_lockfile` needs Terraform 1.10.
const TERRAFORM_VERSION: &str = ">= 1.10, < 2.0";
const AWS_PROVIDER_VERSION: &str = "~> 5.100";

/// Function timeouts, seconds.
const INGEST_TIMEOUT_S: u32 = 10;
const WRITER_TIMEOUT_S: u32 = 30;
const FANOUT_TIMEOUT_S: u32 = 60;
const WEBSOCKET_TIMEOUT_S: u32 = 10;
const SUMMARY_TIMEOUT_S: u32 = 300;

/// Batching of the events queue (seed 002: 10 messages, 10 s window).
const QUEUE_BATCH: u32 = 10;
const QUEUE_WINDOW_S: u32 = 10;
/// Receives before a message moves to the dead-letter queue (seeds 001, 002).
const MAX_RECEIVES: u32 = 3;

/// The rendered Terraform root module of one environment.
pub fn build(env: &EnvConfig) -> Result<Document> {
    let mut stack = Stack::new(&format!("shipstack-{}", env.name), &env.region);
    configure_terraform(&mut stack, env);
    let zip = |function: &str| format!("../dist/{function}.zip");
    let protection = &env.protection;
    let retention = &env.retention;
    let reservations = env.functions.reserved_concurrency.as_ref();
    // Under an emulator the local harness plays Lambda's event source mappings (see Emulator).
    let mappings_enabled = env.emulator.is_none();

    // ── Data at rest: one customer-managed key for tables, queues, topics, logs and bucket ──
    let key = stack.add(Key {
        name: "data".into(),
        description: format!("shipstack {}: tables, queues, topics, logs", env.name),
        deletion_window_days: if protection.deletion_protection {
            30
        } else {
            7
        },
    });
    let failed_records = stack.add(Bucket {
        name: "failed_records".into(),
        key: key.clone(),
        expire_after_days: retention.failed_record_days,
        force_destroy: protection.force_destroy_buckets,
        eventbridge_notifications: true,
    });

    // Seed fix: 000 and 003 keyed events by (shipment, timestamp) and 002 by (shipment, event
    // timestamp), merging distinct events; the sort key carries an idempotency digest instead.
    let shipments = stack.add(Table {
        name: "shipments".into(),
        partition_key: KeyAttribute::S(shipments_table::PARTITION_KEY),
        sort_key: Some(KeyAttribute::S(shipments_table::SORT_KEY)),
        indexes: vec![GlobalIndex {
            name: shipments_table::STATUS_INDEX,
            partition_key: KeyAttribute::S(shipments_table::STATUS_INDEX_PARTITION_KEY),
            sort_key: Some(KeyAttribute::S(shipments_table::STATUS_INDEX_SORT_KEY)),
            projection: Projection::All,
        }],
        stream: true,
        ttl_attribute: Some(shipments_table::TTL_ATTRIBUTE),
        point_in_time_recovery: protection.point_in_time_recovery,
        deletion_protection: protection.deletion_protection,
        key: key.clone(),
    });
    // Seed fix: 000 sent every update to every connection (found with a keyless Query); a
    // sparse subscribers index lets the fanout Query exactly one shipment's subscribers.
    let connections = stack.add(Table {
        name: "connections".into(),
        partition_key: KeyAttribute::S(connections_table::PARTITION_KEY),
        sort_key: Some(KeyAttribute::S(connections_table::SORT_KEY)),
        indexes: vec![GlobalIndex {
            name: connections_table::SUBSCRIBERS_INDEX,
            partition_key: KeyAttribute::S(connections_table::SUBSCRIBERS_INDEX_PARTITION_KEY),
            sort_key: Some(KeyAttribute::S(
                connections_table::SUBSCRIBERS_INDEX_SORT_KEY,
            )),
            projection: Projection::KeysOnly,
        }],
        stream: false,
        ttl_attribute: Some(connections_table::TTL_ATTRIBUTE),
        point_in_time_recovery: protection.point_in_time_recovery,
        deletion_protection: false,
        key: key.clone(),
    });

    // ── Messaging ──
    let dead_letters = stack.add(Queue {
        name: "events_dlq".into(),
        key: key.clone(),
        visibility_timeout_s: 300,
        retention_s: 14 * DAY_S,
        receive_wait_s: 20,
        dead_letter: None,
    });
    let notifications = stack.add(Topic {
        name: "notifications".into(),
        display_name: "Shipment status notifications".into(),
        key: key.clone(),
    });
    let notifications_buffer = stack.add(Queue {
        name: "notifications".into(),
        key: key.clone(),
        visibility_timeout_s: 300,
        retention_s: 7 * DAY_S,
        receive_wait_s: 20,
        dead_letter: None,
    });
    notifications.subscribe_queue(&mut stack, &notifications_buffer);
    let alerts = stack.add(Topic {
        name: "alerts".into(),
        display_name: "Shipment alerts".into(),
        key: key.clone(),
    });
    let alert_emails = alert_emails(stack.doc(), env);
    alerts.subscribe_emails(&mut stack, alert_emails);

    // ── Functions ──
    let function = |name: &'static str,
                    description: &str,
                    timeout_s: u32,
                    environment: Vec<(&'static str, Tf)>,
                    reserved_concurrency: Option<u32>| Function {
        name,
        description: description.into(),
        zip_path: zip(name),
        architecture: match env.functions.architecture {
            config::Architecture::X86_64 => Architecture::X86_64,
        },
        memory_mb: env.functions.memory_mb,
        timeout_s,
        // The function's own timeout, so its AWS calls end before Lambda ends the invocation.
        environment: [
            common_environment(env),
            vec![(
                env_vars::FUNCTION_TIMEOUT_S,
                Tf::from(timeout_s.to_string()),
            )],
            environment,
        ]
        .concat(),
        reserved_concurrency: reserved_concurrency.filter(|_| reservations.is_some()),
        log_retention_days: retention.log_days,
        key: key.clone(),
        async_failure: None,
    };
    let table_environment = vec![
        (env_vars::SHIPMENTS_TABLE, shipments.name().into()),
        (
            env_vars::EVENT_TTL_DAYS,
            Tf::from(retention.event_ttl_days.to_string()),
        ),
    ];
    let writer_environment = [
        table_environment.clone(),
        vec![(env_vars::DEAD_LETTER_QUEUE_URL, dead_letters.url().into())],
    ]
    .concat();

    let ingest = stack.add(function(
        functions::INGEST_API,
        "POST /shipments: validates and stores shipment events, idempotently",
        INGEST_TIMEOUT_S,
        table_environment,
        reservations.map(|r| r.writers),
    ));
    shipments.grant_read_data(&mut stack, &ingest);
    shipments.grant_write_data(&mut stack, &ingest);

    let websocket_handler = stack.add(function(
        functions::WEBSOCKET_HANDLER,
        "WebSocket $connect/$disconnect/$default: connections and shipment subscriptions",
        WEBSOCKET_TIMEOUT_S,
        vec![(env_vars::CONNECTIONS_TABLE, connections.name().into())],
        reservations.map(|r| r.websocket),
    ));
    connections.grant_read_data(&mut stack, &websocket_handler);
    connections.grant_write_data(&mut stack, &websocket_handler);

    // Seed fix: 001's "cleanup" wrote an empty marker item; this one counts yesterday's events
    // per status through the status/time index and overwrites one summary item per day.
    // One run a day (never two at once where concurrency is reserved); a run that keeps failing
    // ends in the dead-letter queue.
    let summary = stack.add(Function {
        async_failure: Some(AsyncFailure {
            max_retries: 2,
            max_event_age_s: 6 * 3600,
            dead_letter: dead_letters.clone(),
        }),
        ..function(
            functions::DAILY_SUMMARY,
            "Daily: per-status counts of yesterday's events, stored and published",
            SUMMARY_TIMEOUT_S,
            vec![
                (env_vars::SHIPMENTS_TABLE, shipments.name().into()),
                (
                    env_vars::NOTIFICATIONS_TOPIC_ARN,
                    notifications.arn().into(),
                ),
            ],
            Some(1),
        )
    });
    shipments.grant_read_data(&mut stack, &summary);
    shipments.grant_write_data(&mut stack, &summary);
    notifications.grant_publish(&mut stack, &summary);
    let daily = stack.add(Rule {
        name: "daily_summary".into(),
        description: "01:00 UTC: summarise yesterday's shipment events".into(),
        trigger: Trigger::Schedule("cron(0 1 * * ? *)".into()),
    });
    let retry_then_dead_letter = Delivery {
        max_retries: 2,
        max_event_age_s: 2 * 3600,
        dead_letter: dead_letters.clone(),
    };
    daily.target_function(&mut stack, &summary, retry_then_dead_letter.clone());

    // ── Event bus: one rule per producer dialect ──
    let bus = stack.add(Bus {
        name: "shipments".into(),
    });
    let rules: Vec<RuleRef> = [
        ("shipment_service", "Seed 002 producers: shipment.* events", json!({"source": ["shipment.service"], "detail-type": [{"prefix": "shipment."}]})),
        ("logistics_shipments", "Seeds 003/004 producers: Shipment Update/Created/Delayed", json!({"source": ["logistics.shipments"], "detail-type": ["Shipment Update", "Shipment Created", "Shipment Delayed"]})),
    ]
    .into_iter()
    .map(|(name, description, pattern)| {
        let trigger = Trigger::Pattern { bus: Some(bus.clone()), pattern: pattern.into() };
        stack.add(Rule { name: name.into(), description: description.into(), trigger })
    })
    .collect();
    stack.add(Archive {
        name: "shipments".into(),
        bus: bus.clone(),
        pattern: json!({"source": events::SOURCES}),
        retention_days: retention.archive_days,
    });

    let (writer, events_queue) = match env.delivery {
        DeliveryMode::Queued => {
            // Seed fix: 001 set the visibility timeout to 2.5x the function timeout; AWS asks
            // for at least 6x (plus the batching window) or in-flight messages are redelivered.
            let events_queue = stack.add(Queue {
                name: "events".into(),
                key: key.clone(),
                visibility_timeout_s: 6 * WRITER_TIMEOUT_S + QUEUE_WINDOW_S,
                retention_s: retention.queue_days * DAY_S,
                receive_wait_s: 20,
                dead_letter: Some((dead_letters.clone(), MAX_RECEIVES)),
            });
            for rule in &rules {
                rule.target_queue(&mut stack, &events_queue, retry_then_dead_letter.clone());
            }
            let processor = stack.add(function(
                functions::QUEUE_PROCESSOR,
                "Events queue: idempotent writes, partial batch failures, invalid events to the DLQ",
                WRITER_TIMEOUT_S,
                writer_environment.clone(),
                reservations.map(|r| r.writers),
            ));
            processor.consume_queue(
                &mut stack,
                &events_queue,
                SqsSource {
                    batch_size: QUEUE_BATCH,
                    batching_window_s: QUEUE_WINDOW_S,
                    max_concurrency: reservations.map(|r| r.writers),
                    enabled: mappings_enabled,
                },
            );
            (processor, Some(events_queue))
        }
        DeliveryMode::Direct => {
            let processor = stack.add(Function {
                async_failure: Some(AsyncFailure { max_retries: 2, max_event_age_s: 2 * 3600, dead_letter: dead_letters.clone() }),
                ..function(
                    functions::EVENT_PROCESSOR,
                    "Bus events: idempotent writes; transient failures retried, invalid events to the DLQ",
                    WRITER_TIMEOUT_S,
                    writer_environment.clone(),
                    reservations.map(|r| r.writers),
                )
            });
            for rule in &rules {
                rule.target_function(&mut stack, &processor, retry_then_dead_letter.clone());
            }
            (processor, None)
        }
    };
    shipments.grant_write_data(&mut stack, &writer);
    dead_letters.grant_send_messages(&mut stack, &writer);

    // ── APIs ──
    // One API Gateway logging role per account and region: only the environment that manages
    // the account's settings renders it (EnvConfig::manages_account_settings).
    let account_logging = env.manages_account_settings.then(|| {
        stack.add(AccountLogging {
            name: "apigateway_logging".into(),
        })
    });
    let throttling = Throttling {
        rate_per_s: env.api.rate_per_s,
        burst: env.api.burst,
    };
    let rest = stack.add(RestApi {
        name: "api".into(),
        description: "Shipment status updates".into(),
        stage: env.name.clone(),
        authorization: env.api.authorization.as_str(),
        routes: vec![Route {
            path: "shipments",
            method: "POST",
            function: ingest.clone(),
            // The edge only checks the shape (a non-empty JSON object); ingest-api validates
            // every field of every producer dialect and answers with field errors.
            body_model: (
                "ShipmentEvent",
                json!({
                    "$schema": "http://json-schema.org/draft-04/schema#",
                    "title": "ShipmentEvent",
                    "type": "object",
                    "minProperties": 1
                }),
            ),
        }],
        throttling,
        log_retention_days: retention.log_days,
        key: key.clone(),
        account_logging: account_logging.clone(),
    });
    let websocket = stack.add(WebSocketApi {
        name: "live".into(),
        description: "Live shipment updates for subscribed clients".into(),
        stage: env.name.clone(),
        authorization: env.api.authorization.as_str(),
        handler: websocket_handler.clone(),
        throttling,
        log_retention_days: retention.log_days,
        key: key.clone(),
        account_logging,
    });
    // Seed fix: 000's status-update wrote the table and published to SNS itself (a dual write
    // that loses one side on failure); every downstream effect now comes from the stream.
    let fanout = stack.add(function(
        functions::STREAM_FANOUT,
        "Shipments stream: notifications, critical alerts, WebSocket pushes to subscribers",
        FANOUT_TIMEOUT_S,
        vec![
            (env_vars::CONNECTIONS_TABLE, connections.name().into()),
            (
                env_vars::NOTIFICATIONS_TOPIC_ARN,
                notifications.arn().into(),
            ),
            (env_vars::ALERTS_TOPIC_ARN, alerts.arn().into()),
            // Seed fix: 000 patched the endpoint in after creating the function; it comes
            // from the stage here, and posts are granted on that stage's connections only.
            (
                env_vars::WEBSOCKET_ENDPOINT,
                websocket.management_endpoint(),
            ),
        ],
        reservations.map(|r| r.fanout),
    ));
    fanout.consume_stream(
        &mut stack,
        &shipments,
        StreamSource {
            batch_size: 100,
            batching_window_s: 1,
            max_retries: 3,
            max_record_age_s: 3600,
            on_failure: failed_records.clone(),
            enabled: mappings_enabled,
        },
    );
    notifications.grant_publish(&mut stack, &fanout);
    alerts.grant_publish(&mut stack, &fanout);
    connections.grant_read_data(&mut stack, &fanout);
    connections.grant_write_data(&mut stack, &fanout);

    websocket.grant_manage_connections(&mut stack, &fanout);
    // A stream record that exhausted its retries lands in the bucket: someone must look.
    let failed_record_written = stack.add(Rule {
        name: "failed_record_written".into(),
        description: "A shipments stream record failed for good: alert".into(),
        trigger: Trigger::Pattern {
            bus: None,
            pattern: Tf::object([
                ("source", Tf::list(["aws.s3"])),
                ("detail-type", Tf::list(["Object Created"])),
                (
                    "detail",
                    Tf::object([(
                        "bucket",
                        Tf::object([("name", Tf::list([failed_records.name()]))]),
                    )]),
                ),
            ]),
        },
    });
    failed_record_written.target_topic(&mut stack, &alerts, retry_then_dead_letter.clone());

    // ── Monitoring ──
    let mut watched_rules: Vec<&RuleRef> = rules.iter().collect();
    watched_rules.extend([&daily, &failed_record_written]);
    let watched = Watched {
        rest_api: &rest,
        functions: vec![&ingest, &writer, &fanout, &websocket_handler, &summary],
        events_queue: events_queue.as_ref(),
        dead_letters: &dead_letters,
        notifications_buffer: &notifications_buffer,
        tables: vec![&shipments, &connections],
        topics: vec![&notifications, &alerts],
        rules: watched_rules,
        stream_consumer: &fanout,
    };
    add_alarms(&mut stack, env, &alerts, &watched);
    let dashboard = stack.add(dashboard(env, &watched));

    // ── Outputs ──
    let doc = stack.doc();
    doc.output(
        "rest_api_url",
        "POST shipment events here",
        Tf::template([rest.url().into(), Tf::from("/shipments")]),
    );
    doc.output(
        "websocket_url",
        "Clients connect here and send {\"action\":\"subscribe\",\"shipmentId\":...}",
        websocket.url(),
    );
    doc.output(
        "shipments_table_name",
        "Shipment events table",
        shipments.name(),
    );
    doc.output(
        "connections_table_name",
        "WebSocket connections table",
        connections.name(),
    );
    if let Some(queue) = &events_queue {
        doc.output(
            "events_queue_url",
            "Bus events waiting for the queue processor",
            queue.url(),
        );
    }
    doc.output(
        "dead_letter_queue_url",
        "Events that could not be processed, with their reason",
        dead_letters.url(),
    );
    doc.output(
        "notifications_queue_url",
        "Buffered shipment notifications",
        notifications_buffer.url(),
    );
    doc.output("event_bus_name", "Publish shipment events here", bus.name());
    doc.output(
        "notifications_topic_arn",
        "Shipment notifications",
        notifications.arn(),
    );
    doc.output(
        "alerts_topic_arn",
        "Operational and critical-status alerts",
        alerts.arn(),
    );
    doc.output(
        "failed_records_bucket",
        "Stream records that exhausted their retries",
        failed_records.name(),
    );
    doc.output("dashboard_url", "CloudWatch dashboard", dashboard.url());
    Ok(stack.finish())
}

const DAY_S: u32 = 24 * 3600;

/// Domains that never receive mail (RFC 2606, RFC 6761): a subscription to one never confirms.
const RESERVED_EMAIL_DOMAINS: &str =
    r"(?i)@(.+\.)?(example\.(com|net|org)|example|test|invalid|localhost)$";

/// The `alert_emails` variable: who is paged. Account-specific, so it is given at plan time
/// (`terraform.tfvars`); only an emulator environment has a default.
fn alert_emails(doc: &mut Document, env: &EnvConfig) -> Expr {
    let default = env
        .emulator
        .as_ref()
        .map(|emulator| Tf::list(emulator.alert_emails.iter().map(|e| e.0.as_str())));
    doc.variable(
        "alert_emails",
        tf::Variable {
            r#type: "list(string)",
            description: "Email addresses paged by alarms and critical shipment statuses (each confirms a subscription by mail)",
            default,
            validations: vec![
                Validation {
                    condition: Expr::not_empty,
                    error_message: "alert_emails needs at least one address: otherwise nobody is paged.",
                },
                Validation {
                    condition: |emails| Expr::all_match(emails, config::EMAIL_PATTERN),
                    error_message: "Every alert_emails entry must be an email address.",
                },
                Validation {
                    condition: |emails| Expr::none_match(emails, RESERVED_EMAIL_DOMAINS),
                    error_message: "alert_emails must not use reserved example domains (example.com, .test, ...): their subscriptions never confirm and nobody is paged.",
                },
            ],
            ..Default::default()
        },
    )
}

/// Variables every function reads.
fn common_environment(env: &EnvConfig) -> Vec<(&'static str, Tf)> {
    vec![
        (env_vars::ENVIRONMENT, Tf::from(env.name.as_str())),
        (env_vars::METRICS_NAMESPACE, Tf::from(METRICS_NAMESPACE)),
    ]
}

fn configure_terraform(stack: &mut Stack, env: &EnvConfig) {
    let doc = stack.doc();
    doc.terraform("required_version", TERRAFORM_VERSION);
    doc.terraform(
        "required_providers",
        Tf::object([(
            "aws",
            Tf::object([
                ("source", "hashicorp/aws"),
                ("version", AWS_PROVIDER_VERSION),
            ]),
        )]),
    );
    match &env.backend {
        Some(Backend::S3 {
            bucket,
            key,
            region,
        }) => doc.terraform(
            "backend",
            Tf::object([(
                "s3",
                Block::new()
                    .set("bucket", bucket.as_str())
                    .set("key", key.as_str())
                    .set("region", region.as_str())
                    .set("encrypt", true)
                    .set("use_lockfile", true),
            )]),
        ),
        Some(Backend::Local { path }) => doc.terraform(
            "backend",
            Tf::object([("local", Block::new().set("path", path.as_str()))]),
        ),
        None => {}
    }
    let mut tags = env.tags.clone();
    tags.insert("Project".into(), "shipstack".into());
    tags.insert("Environment".into(), env.name.clone());
    tags.insert("ManagedBy".into(), "terraform".into());
    let mut provider = Block::new()
        .set("region", env.region.as_str())
        .block("default_tags", Block::new().set("tags", Tf::object(tags)));
    if let Some(emulator) = &env.emulator {
        provider = emulated_provider(doc, provider, emulator);
    }
    doc.provider("aws", provider);
}

/// Services the platform uses, as the provider's `endpoints` block names them.
const EMULATED_SERVICES: [&str; 13] = [
    "apigateway",
    "apigatewayv2",
    "cloudwatch",
    "cloudwatchevents",
    "cloudwatchlogs",
    "dynamodb",
    "iam",
    "kms",
    "lambda",
    "s3",
    "sns",
    "sqs",
    "sts",
];

/// Points every service at the emulator (a variable, so a harness can pick a free port) with
/// no account lookups. No credentials: Terraform takes them from its environment (the local
/// harness runs it as the emulator's admin user, since moto enforces IAM there).
fn emulated_provider(doc: &mut Document, provider: Block, emulator: &config::Emulator) -> Block {
    let endpoint = doc.variable(
        "emulator_endpoint",
        tf::Variable {
            r#type: "string",
            description: "URL of the emulated AWS (moto server)",
            default: Some(emulator.endpoint.as_str().into()),
            ..Default::default()
        },
    );
    provider
        .set("skip_credentials_validation", true)
        .set("skip_metadata_api_check", "true")
        .set("skip_requesting_account_id", true)
        .set("s3_use_path_style", true)
        .block(
            "endpoints",
            Block::new().set_all(EMULATED_SERVICES.map(|s| (s, endpoint.clone()))),
        )
}

/// What the alarms and the dashboard watch.
struct Watched<'a> {
    rest_api: &'a RestApiRef,
    functions: Vec<&'a FunctionRef>,
    events_queue: Option<&'a QueueRef>,
    dead_letters: &'a QueueRef,
    notifications_buffer: &'a QueueRef,
    tables: Vec<&'a TableRef>,
    topics: Vec<&'a TopicRef>,
    rules: Vec<&'a RuleRef>,
    stream_consumer: &'a FunctionRef,
}

/// The alarms of all seeds, wired to the alerts topic.
fn add_alarms(stack: &mut Stack, env: &EnvConfig, alerts: &TopicRef, watched: &Watched) {
    let thresholds = &env.alarms;
    let mut alarm = |name: String,
                     description: String,
                     metric: Metric,
                     comparison: Comparison,
                     threshold: u32,
                     periods: u32| {
        stack.add(Alarm {
            name,
            description,
            metric,
            comparison,
            threshold: i64::from(threshold),
            evaluation_periods: periods,
            datapoints_to_alarm: periods,
            notify: alerts.clone(),
        });
    };
    for function in &watched.functions {
        let name = function.logical_name();
        alarm(
            format!("{name}_errors"),
            format!(
                "{name}: {} or more errors in 5 minutes",
                thresholds.function_errors
            ),
            function.metric_errors(),
            Comparison::GreaterThanOrEqual,
            thresholds.function_errors,
            1,
        );
        alarm(
            format!("{name}_throttles"),
            format!("{name} is being throttled"),
            function.metric_throttles(),
            Comparison::GreaterThanOrEqual,
            1,
            1,
        );
        // 80% of the timeout: slow enough to investigate before invocations start timing out.
        let slow_ms = function.timeout_s() * 800;
        alarm(
            format!("{name}_duration"),
            format!("{name} runs close to its timeout"),
            function.metric_duration(),
            Comparison::GreaterThan,
            slow_ms,
            2,
        );
    }
    alarm(
        "api_server_errors".into(),
        format!(
            "POST /shipments answered {} or more 5xx in 5 minutes",
            thresholds.function_errors
        ),
        watched.rest_api.metric_server_errors(),
        Comparison::GreaterThanOrEqual,
        thresholds.function_errors,
        1,
    );
    if let Some(queue) = watched.events_queue {
        alarm(
            "events_queue_depth".into(),
            "Bus events are piling up in the events queue".into(),
            queue.metric_visible_messages(),
            Comparison::GreaterThan,
            thresholds.queue_depth,
            2,
        );
        alarm(
            "events_queue_age".into(),
            "The oldest bus event has waited too long".into(),
            queue.metric_oldest_message_age(),
            Comparison::GreaterThan,
            thresholds.oldest_message_age_s,
            2,
        );
    }
    alarm(
        "events_dlq_not_empty".into(),
        "An event could not be processed: read its reason in the dead-letter queue".into(),
        watched.dead_letters.metric_visible_messages().period(60),
        Comparison::GreaterThanOrEqual,
        1,
        1,
    );
    alarm(
        "notifications_queue_depth".into(),
        "Shipment notifications are not being consumed".into(),
        watched.notifications_buffer.metric_visible_messages(),
        Comparison::GreaterThan,
        thresholds.queue_depth,
        2,
    );
    for topic in &watched.topics {
        let name = topic.resource().name();
        alarm(
            format!("{name}_failed_notifications"),
            format!("SNS could not deliver {name} messages"),
            topic.metric_failed_notifications(),
            Comparison::GreaterThanOrEqual,
            thresholds.notification_failures,
            1,
        );
    }
    for table in &watched.tables {
        let name = table.resource().name();
        for (metric, snake) in [
            (table.metric_read_throttles(), "read_throttles"),
            (table.metric_write_throttles(), "write_throttles"),
        ] {
            alarm(
                format!("{name}_{snake}"),
                format!("DynamoDB throttles {} on {name}", metric.name()),
                metric,
                Comparison::GreaterThanOrEqual,
                1,
                1,
            );
        }
    }
    // Seed fix: 003 alarmed on UserErrors per table, but DynamoDB publishes it per account and
    // region only (no TableName dimension), so that alarm could never fire.
    alarm(
        "dynamodb_user_errors".into(),
        "DynamoDB rejected requests as invalid (account and region wide)".into(),
        dynamodb::metric_account_user_errors(),
        Comparison::GreaterThanOrEqual,
        5,
        1,
    );
    alarm(
        "stream_fanout_lag".into(),
        "The stream consumer is falling behind".into(),
        watched.stream_consumer.metric_iterator_age(),
        Comparison::GreaterThan,
        thresholds.stream_iterator_age_ms,
        3,
    );
    for rule in &watched.rules {
        let name = rule.logical_name();
        alarm(
            format!("{name}_failed_deliveries"),
            format!("EventBridge could not deliver {name} events"),
            rule.metric_failed_invocations(),
            Comparison::GreaterThanOrEqual,
            1,
            1,
        );
    }
}

/// One screen: traffic, failures and lag.
fn dashboard(env: &EnvConfig, watched: &Watched) -> Dashboard {
    let per_function = |metric: fn(&FunctionRef) -> Metric| -> Vec<Metric> {
        watched.functions.iter().map(|f| metric(f)).collect()
    };
    let shipstack = |metric: &'static str| {
        Metric::new(
            METRICS_NAMESPACE,
            metric,
            vec![("Environment", Tf::from(env.name.as_str()))],
        )
    };
    let mut queues = vec![watched.dead_letters.metric_visible_messages()];
    if let Some(queue) = watched.events_queue {
        queues.push(queue.metric_visible_messages());
        queues.push(queue.metric_oldest_message_age());
    }
    Dashboard {
        name: "operations".into(),
        graphs: vec![
            Graph {
                title: "Shipment events".into(),
                metrics: [
                    metrics::EVENTS_PROCESSED,
                    metrics::DUPLICATES_SKIPPED,
                    metrics::EVENTS_REJECTED,
                    metrics::PROCESSING_ERRORS,
                ]
                .into_iter()
                .map(shipstack)
                .collect(),
            },
            Graph {
                title: "Queues".into(),
                metrics: queues,
            },
            Graph {
                title: "Invocations".into(),
                metrics: per_function(FunctionRef::metric_invocations),
            },
            Graph {
                title: "Errors".into(),
                metrics: per_function(FunctionRef::metric_errors),
            },
            Graph {
                title: "Duration (max, ms)".into(),
                metrics: per_function(FunctionRef::metric_duration),
            },
            Graph {
                title: "Throttles".into(),
                metrics: per_function(FunctionRef::metric_throttles),
            },
            Graph {
                title: "DynamoDB throttles".into(),
                metrics: watched
                    .tables
                    .iter()
                    .flat_map(|t| [t.metric_read_throttles(), t.metric_write_throttles()])
                    .collect(),
            },
            Graph {
                title: "Stream lag (ms)".into(),
                metrics: vec![watched.stream_consumer.metric_iterator_age()],
            },
        ],
    }
}
