//! The rendered environments: snapshots of every committed file, and the guarantees the
//! platform makes, asserted on the rendered JSON.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pretty_assertions::assert_eq;
use serde_json::Value;
use shipstack::{config, render};

const ENVS: [&str; 4] = ["dev", "staging", "prod", "local"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rendered(env: &str) -> render::Rendered {
    render::render_env(&root().join("envs").join(env)).unwrap_or_else(|e| panic!("{env}: {e:#}"))
}

/// All resources of an environment: `type -> name -> body`.
fn resources(env: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut all: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (name, text) in rendered(env).files {
        if !name.ends_with(".tf.json") {
            continue;
        }
        let file: Value = serde_json::from_str(&text).expect("rendered JSON parses");
        if let Some(Value::Object(types)) = file.get("resource") {
            for (ty, by_name) in types {
                let by_name: BTreeMap<String, Value> =
                    serde_json::from_value(by_name.clone()).unwrap();
                all.entry(ty.clone()).or_default().extend(by_name);
            }
        }
    }
    all
}

fn of_type(env: &str, ty: &str) -> BTreeMap<String, Value> {
    resources(env).remove(ty).unwrap_or_default()
}

#[test]
fn committed_output_is_what_the_code_renders() {
    for env in ENVS {
        let fresh = rendered(env).files;
        let dir = root().join("generated").join(env);
        let mut committed = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".tf.json") || name == "README.md" {
                committed.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
        assert_eq!(
            committed.keys().collect::<Vec<_>>(),
            fresh.keys().collect::<Vec<_>>(),
            "generated/{env} is stale: run `cargo run -- render envs/{env}`"
        );
        for (name, text) in &fresh {
            assert_eq!(
                &committed[name], text,
                "generated/{env}/{name} is stale: run `cargo run -- render envs/{env}`"
            );
        }
    }
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    for env in ENVS {
        assert_eq!(rendered(env).files, rendered(env).files);
    }
}

#[test]
fn schema_file_is_current() {
    let committed = std::fs::read_to_string(root().join("envs/schema.json")).unwrap();
    assert_eq!(
        committed,
        config::schema_json(),
        "envs/schema.json is stale: run `cargo run -- schema`"
    );
}

#[test]
fn every_env_file_points_at_the_schema() {
    for env in ENVS {
        let text = std::fs::read_to_string(root().join("envs").join(env).join("env.json")).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["$schema"], "../schema.json", "{env}");
    }
}

#[test]
fn prod_tables_have_deletion_protection_and_point_in_time_recovery() {
    let tables = of_type("prod", "aws_dynamodb_table");
    let shipments = &tables["shipments"];
    assert_eq!(shipments["deletion_protection_enabled"], true);
    assert_eq!(shipments["lifecycle"]["prevent_destroy"], true);
    assert_eq!(shipments["point_in_time_recovery"][0]["enabled"], true);
}

#[test]
fn dev_data_can_be_torn_down() {
    let tables = of_type("dev", "aws_dynamodb_table");
    assert_eq!(tables["shipments"]["deletion_protection_enabled"], false);
    assert!(tables["shipments"].get("lifecycle").is_none());
    assert_eq!(
        of_type("dev", "aws_s3_bucket")["failed_records"]["force_destroy"],
        true
    );
    assert_eq!(
        of_type("prod", "aws_s3_bucket")["failed_records"]["force_destroy"],
        false
    );
}

#[test]
fn shipments_table_has_stream_ttl_status_index_and_customer_managed_key() {
    use shipment::contract::shipments_table as t;
    for env in ENVS {
        let table = &of_type(env, "aws_dynamodb_table")["shipments"];
        assert_eq!(table["hash_key"], t::PARTITION_KEY);
        assert_eq!(table["range_key"], t::SORT_KEY);
        assert_eq!(table["stream_view_type"], "NEW_AND_OLD_IMAGES");
        assert_eq!(table["ttl"][0]["attribute_name"], t::TTL_ATTRIBUTE);
        assert_eq!(table["global_secondary_index"][0]["name"], t::STATUS_INDEX);
        assert_eq!(
            table["server_side_encryption"][0]["kms_key_arn"],
            "${aws_kms_key.data.arn}"
        );
    }
}

#[test]
fn data_at_rest_is_encrypted_with_the_customer_managed_key() {
    for env in ENVS {
        let all = resources(env);
        for (name, queue) in &all["aws_sqs_queue"] {
            assert_eq!(
                queue["kms_master_key_id"], "${aws_kms_key.data.arn}",
                "{env} queue {name}"
            );
        }
        for (name, topic) in &all["aws_sns_topic"] {
            assert_eq!(
                topic["kms_master_key_id"], "${aws_kms_key.data.arn}",
                "{env} topic {name}"
            );
        }
        for (name, group) in &all["aws_cloudwatch_log_group"] {
            assert_eq!(
                group["kms_key_id"], "${aws_kms_key.data.arn}",
                "{env} log group {name}"
            );
            assert!(
                group["retention_in_days"].as_u64().unwrap() > 0,
                "{env} log group {name}"
            );
        }
        assert_eq!(all["aws_kms_key"]["data"]["enable_key_rotation"], true);
        let sse = &all["aws_s3_bucket_server_side_encryption_configuration"]["failed_records"];
        assert_eq!(
            sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"],
            "aws:kms"
        );
    }
}

#[test]
fn buckets_block_public_access() {
    for env in ENVS {
        let block = &of_type(env, "aws_s3_bucket_public_access_block")["failed_records"];
        for setting in [
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ] {
            assert_eq!(block[setting], true, "{env} {setting}");
        }
    }
}

#[test]
fn functions_run_bootstrap_on_al2023_from_their_packaged_zip() {
    for env in ENVS {
        for (name, function) in of_type(env, "aws_lambda_function") {
            let zip = format!("${{path.module}}/../dist/{}.zip", name.replace('_', "-"));
            assert_eq!(function["runtime"], "provided.al2023", "{env} {name}");
            assert_eq!(function["handler"], "bootstrap", "{env} {name}");
            assert_eq!(function["filename"], zip, "{env} {name}");
            assert_eq!(
                function["source_code_hash"],
                format!("${{filebase64sha256(\"{zip}\")}}"),
                "{env} {name}"
            );
            assert_eq!(
                function["tracing_config"][0]["mode"], "Active",
                "{env} {name}"
            );
            assert_eq!(function["architectures"][0], "x86_64", "{env} {name}");
        }
    }
}

#[test]
fn delivery_mode_decides_how_bus_events_reach_a_processor() {
    let queued = of_type("prod", "aws_lambda_function");
    assert!(queued.contains_key("queue_processor") && !queued.contains_key("event_processor"));
    let targets = of_type("prod", "aws_cloudwatch_event_target");
    assert_eq!(
        targets["shipment_service_to_events"]["arn"],
        "${aws_sqs_queue.events.arn}"
    );

    let direct = of_type("staging", "aws_lambda_function");
    assert!(direct.contains_key("event_processor") && !direct.contains_key("queue_processor"));
    assert_eq!(
        direct["event_processor"]["dead_letter_config"][0]["target_arn"],
        "${aws_sqs_queue.events_dlq.arn}"
    );
    let targets = of_type("staging", "aws_cloudwatch_event_target");
    assert_eq!(
        targets["logistics_shipments_to_event_processor"]["arn"],
        "${aws_lambda_function.event_processor.arn}"
    );
}

#[test]
fn queue_visibility_timeout_is_at_least_six_times_the_consumer_timeout() {
    let queue = &of_type("prod", "aws_sqs_queue")["events"];
    let consumer = &of_type("prod", "aws_lambda_function")["queue_processor"];
    let mapping =
        &of_type("prod", "aws_lambda_event_source_mapping")["queue_processor_from_events"];
    let needed = 6 * consumer["timeout"].as_u64().unwrap()
        + mapping["maximum_batching_window_in_seconds"]
            .as_u64()
            .unwrap();
    assert!(queue["visibility_timeout_seconds"].as_u64().unwrap() >= needed);
    let redrive: Value = serde_json::from_str(queue["redrive_policy"].as_str().unwrap()).unwrap();
    assert_eq!(
        redrive,
        serde_json::json!({"deadLetterTargetArn": "${aws_sqs_queue.events_dlq.arn}", "maxReceiveCount": 3})
    );
    assert_eq!(
        mapping["function_response_types"][0],
        "ReportBatchItemFailures"
    );
}

#[test]
fn stream_consumer_bisects_retries_and_keeps_what_fails() {
    let mapping =
        &of_type("prod", "aws_lambda_event_source_mapping")["stream_fanout_from_shipments_stream"];
    assert_eq!(mapping["bisect_batch_on_function_error"], true);
    assert_eq!(
        mapping["function_response_types"][0],
        "ReportBatchItemFailures"
    );
    assert_eq!(
        mapping["destination_config"][0]["on_failure"][0]["destination_arn"],
        "${aws_s3_bucket.failed_records.arn}"
    );
    assert!(mapping["maximum_retry_attempts"].as_u64().unwrap() > 0);
}

/// Every statement of every function policy (the policy is JSON text with `${...}` references).
fn function_policy_statements(env: &str) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let functions = of_type(env, "aws_lambda_function");
    for (function, policy) in of_type(env, "aws_iam_role_policy")
        .into_iter()
        .filter(|(name, _)| functions.contains_key(name))
    {
        let document: Value =
            serde_json::from_str(policy["policy"].as_str().unwrap()).expect("policies are JSON");
        for statement in document["Statement"].as_array().unwrap() {
            found.push((function.clone(), statement.clone()));
        }
    }
    found
}

/// Every action of every function policy, with its function.
fn function_policy_actions(env: &str) -> Vec<(String, String)> {
    function_policy_statements(env)
        .into_iter()
        .flat_map(|(function, statement)| {
            let actions: Vec<String> = statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            actions.into_iter().map(move |a| (function.clone(), a))
        })
        .collect()
}

#[test]
fn no_function_policy_grants_a_wildcard_action() {
    for env in ENVS {
        let actions = function_policy_actions(env);
        assert!(actions.len() > 30, "{env}: found only {actions:?}");
        for (function, action) in actions {
            assert!(!action.contains('*'), "{env} {function}: {action}");
        }
    }
}

#[test]
fn grants_follow_the_wiring() {
    let actions = function_policy_actions("prod");
    let has =
        |function: &str, action: &str| actions.iter().any(|(f, a)| f == function && a == action);
    for writer in ["ingest_api", "queue_processor"] {
        assert!(has(writer, "dynamodb:PartiQLInsert"), "{writer}");
        assert!(
            !has(writer, "dynamodb:PutItem"),
            "{writer}: its only write is the conditional INSERT"
        );
    }
    assert!(
        !has("ingest_api", "sns:Publish"),
        "ingest does not dual-write"
    );
    assert!(has("queue_processor", "sqs:ReceiveMessage"));
    assert!(
        has("queue_processor", "sqs:SendMessage"),
        "invalid events go to the DLQ"
    );
    assert!(has("stream_fanout", "execute-api:ManageConnections"));
    assert!(has("stream_fanout", "dynamodb:GetRecords"));
    assert!(!has("websocket_handler", "sns:Publish"));
    assert!(
        actions.iter().all(|(_, a)| a != "dynamodb:Scan"),
        "no access path needs a Scan"
    );
}

#[test]
fn functions_are_configured_with_the_names_the_processors_read() {
    use shipment::contract::env_vars;
    let functions = of_type("prod", "aws_lambda_function");
    let vars = |f: &str| {
        functions[f]["environment"][0]["variables"]
            .as_object()
            .unwrap()
            .clone()
    };
    assert_eq!(
        vars("ingest_api")[env_vars::SHIPMENTS_TABLE],
        "${aws_dynamodb_table.shipments.name}"
    );
    assert_eq!(
        vars("queue_processor")[env_vars::DEAD_LETTER_QUEUE_URL],
        "${aws_sqs_queue.events_dlq.url}"
    );
    assert_eq!(
        vars("stream_fanout")[env_vars::SHIPMENT_ALERTS_TOPIC_ARN],
        "${aws_sns_topic.shipment_alerts.arn}"
    );
    assert!(vars("stream_fanout")[env_vars::WEBSOCKET_ENDPOINT]
        .as_str()
        .unwrap()
        .starts_with("https://${aws_apigatewayv2_api.live.id}"));
}

#[test]
fn every_alarm_notifies_the_alerts_topic() {
    for env in ENVS {
        let alarms = of_type(env, "aws_cloudwatch_metric_alarm");
        assert!(alarms.contains_key("events_dlq_not_empty"), "{env}");
        for (name, alarm) in alarms {
            assert_eq!(
                alarm["alarm_actions"][0], "${aws_sns_topic.alerts.arn}",
                "{env} {name}"
            );
        }
    }
}

#[test]
fn user_strings_never_become_expressions() {
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path().join("envs").join("escape");
    std::fs::create_dir_all(&env_dir).unwrap();
    let config = r#"{"name": "escape", "region": "eu-west-1",
        "tags": {"Note": "${var.secret} %{ if true }x%{ endif }"}}"#;
    std::fs::write(env_dir.join("env.json"), config).unwrap();
    let main = &render::render_env(&env_dir).unwrap().files["main.tf.json"];
    let main: Value = serde_json::from_str(main).unwrap();
    assert_eq!(
        main["provider"]["aws"][0]["default_tags"][0]["tags"]["Note"],
        "$${var.secret} %%{ if true }x%%{ endif }"
    );
}

#[test]
fn every_seed_output_has_ours() {
    // The README's output table: seed, its output, ours.
    let seed_outputs = [
        ("000", "RestApiUrl", "rest_api_root_url"),
        ("000", "WebSocketApiUrl", "websocket_url"),
        ("000", "ShipmentsTableName", "shipments_table_name"),
        ("000", "NotificationTopicArn", "notifications_topic_arn"),
        ("000", "NotificationQueueUrl", "notifications_queue_url"),
        ("001", "TrackingQueueURL", "events_queue_url"),
        ("001", "DeadLetterQueueURL", "dead_letter_queue_url"),
        ("001", "ProcessorLambdaName", "function_names"),
        ("001", "AuditTableName", "shipments_table_name"),
        ("001", "AlertTopicARN", "alerts_topic_arn"),
        ("002", "SQSQueueURL", "events_queue_url"),
        ("002", "SQSQueueARN", "events_queue_arn"),
        ("002", "ProcessorLambdaARN", "function_arns"),
        ("002", "EventsTableName", "shipments_table_name"),
        ("002", "EventBusName", "event_bus_name"),
        ("002", "DashboardURL", "dashboard_url"),
        ("003", "DynamoDBTableName", "shipments_table_name"),
        ("003", "LambdaFunctionName", "function_names"),
        ("003", "EventBusName", "event_bus_name"),
        ("003", "SNSTopicArn", "alerts_topic_arn"),
        ("003", "DashboardURL", "dashboard_url"),
    ];
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for env in ["prod", "dev"] {
        let outputs: Value = serde_json::from_str(&rendered(env).files["outputs.tf.json"]).unwrap();
        for (seed, theirs, ours) in seed_outputs {
            assert!(
                outputs["output"].get(ours).is_some(),
                "{env}: seed {seed}'s {theirs} has no {ours}"
            );
            assert!(
                readme.contains(&format!("| {seed} | `{theirs}` | `{ours}` |")),
                "README maps seed {seed}'s {theirs} to {ours}"
            );
        }
        let names = &outputs["output"]["function_names"]["value"];
        assert_eq!(
            names["ingest_api"], "${aws_lambda_function.ingest_api.function_name}",
            "{env}"
        );
    }
}

#[test]
fn logical_ids_are_human_snake_case() {
    for env in ENVS {
        for (ty, by_name) in resources(env) {
            for name in by_name.keys() {
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{env}: {ty}.{name}"
                );
            }
        }
    }
}

#[test]
fn env_readme_diagram_follows_the_wiring() {
    let prod = &rendered("prod").files["README.md"];
    assert!(
        prod.contains("sqs_queue_events -->|batches| lambda_function_queue_processor"),
        "{prod}"
    );
    assert!(
        prod.contains("dynamodb_table_shipments -->|batches| lambda_function_stream_fanout"),
        "{prod}"
    );
    assert!(
        !prod.contains("event_processor"),
        "queued delivery has no event processor: {prod}"
    );
    let staging = &rendered("staging").files["README.md"];
    assert!(
        staging.contains(
            "cloudwatch_event_rule_logistics_shipments --> lambda_function_event_processor"
        ),
        "{staging}"
    );
    assert!(staging.contains("| | **total** | **126** |"), "{staging}");
}

/// Actions AWS accepts only on `"*"` (no resource-level permissions).
const RESOURCE_WILDCARD_ONLY: [&str; 2] = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"];

#[test]
fn function_policies_scope_every_resource_except_where_aws_allows_only_star() {
    for env in ENVS {
        let statements = function_policy_statements(env);
        assert!(statements.len() > 20, "{env}");
        for (function, statement) in statements {
            for resource in statement["Resource"].as_array().unwrap() {
                let resource = resource.as_str().unwrap();
                if resource == "*" {
                    assert_eq!(
                        statement["Action"],
                        serde_json::json!(RESOURCE_WILDCARD_ONLY),
                        "{env} {function}"
                    );
                } else {
                    assert!(
                        resource.starts_with("${aws_"),
                        "{env} {function}: {resource} is not a wired resource"
                    );
                }
            }
        }
    }
}

#[test]
fn the_api_gateway_logging_role_only_writes_this_accounts_logs() {
    let policy = &of_type("prod", "aws_iam_role_policy")["apigateway_logging"];
    let document: Value = serde_json::from_str(policy["policy"].as_str().unwrap()).unwrap();
    let statements = document["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert!(statements[0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a.as_str().unwrap().starts_with("logs:")));
    assert_eq!(
        statements[0]["Resource"][0],
        "arn:${data.aws_partition.current.partition}:logs:us-east-1:${data.aws_caller_identity.current.account_id}:log-group:*"
    );
}

#[test]
fn only_the_local_env_talks_to_an_emulator() {
    for env in ENVS {
        let main: Value = serde_json::from_str(&rendered(env).files["main.tf.json"]).unwrap();
        let provider = &main["provider"]["aws"][0];
        let mappings = of_type(env, "aws_lambda_event_source_mapping");
        assert!(!mappings.is_empty(), "{env}");
        if env == "local" {
            assert_eq!(
                provider["endpoints"][0]["dynamodb"],
                "${var.emulator_endpoint}"
            );
            assert_eq!(provider["skip_credentials_validation"], true);
            // Terraform takes the harness's admin credentials from its environment.
            assert!(
                provider.get("access_key").is_none() && provider.get("secret_key").is_none(),
                "{provider}"
            );
            // The harness plays the event source mappings: the emulator must not consume.
            assert!(mappings.values().all(|m| m["enabled"] == false), "{env}");
        } else {
            assert!(
                provider.get("endpoints").is_none() && provider.get("access_key").is_none(),
                "{env}: {provider}"
            );
            let variables: Vec<&String> = main["variable"].as_object().unwrap().keys().collect();
            assert_eq!(
                variables,
                ["alert_emails", "shipment_alert_emails"],
                "{env}"
            );
            assert!(mappings.values().all(|m| m["enabled"] == true), "{env}");
        }
    }
}

#[test]
fn websocket_default_route_relays_the_handlers_replies() {
    let routes = of_type("prod", "aws_apigatewayv2_route");
    assert_eq!(
        routes["live_default"]["route_response_selection_expression"],
        "$default"
    );
    assert_eq!(routes["live_connect"]["authorization_type"], "AWS_IAM");
    let responses = of_type("prod", "aws_apigatewayv2_route_response");
    assert_eq!(
        responses["live_default"]["route_id"],
        "${aws_apigatewayv2_route.live_default.id}"
    );
}

#[test]
fn reserved_concurrency_is_off_outside_prod() {
    // A fresh account's quota is often 10 and AWS keeps 10 unreserved: any reservation fails.
    // (local reserves, on the emulator, so the end-to-end run plays prod's reserved path.)
    for env in ["dev", "staging"] {
        let functions = of_type(env, "aws_lambda_function");
        assert!(
            functions
                .values()
                .all(|f| f.get("reserved_concurrent_executions").is_none()),
            "{env}"
        );
    }
    let prod = of_type("prod", "aws_lambda_function");
    let reserved: i64 = prod
        .values()
        .filter_map(|f| f["reserved_concurrent_executions"].as_i64())
        .sum();
    assert_eq!(
        reserved, 131,
        "the README's quota prerequisite names this total"
    );
    assert!(rendered("prod").files["README.md"].contains("at least 131 + 100"));
}

#[test]
fn only_the_account_owner_renders_api_gateway_account_settings() {
    for env in ENVS {
        let owner = matches!(env, "prod" | "local");
        assert_eq!(
            of_type(env, "aws_api_gateway_account").len(),
            usize::from(owner),
            "{env}"
        );
        let stages = of_type(env, "aws_api_gateway_stage");
        assert_eq!(stages["api"].get("depends_on").is_some(), owner, "{env}");
    }
}

#[test]
fn real_environments_page_no_example_domain_and_ask_for_recipients() {
    for env in ["dev", "staging", "prod"] {
        for (name, text) in rendered(env).files {
            assert!(!text.contains("@example."), "{env}/{name}");
        }
        let main: Value = serde_json::from_str(&rendered(env).files["main.tf.json"]).unwrap();
        for recipients in ["alert_emails", "shipment_alert_emails"] {
            let variable = &main["variable"][recipients];
            assert!(
                variable.get("default").is_none(),
                "{env} {recipients}: required, no default"
            );
            assert_eq!(variable["validation"].as_array().unwrap().len(), 3, "{env}");
        }
    }
    let subscriptions = of_type("prod", "aws_sns_topic_subscription");
    assert_eq!(
        subscriptions["alerts_email"]["for_each"],
        "${toset(var.alert_emails)}"
    );
    assert_eq!(
        subscriptions["shipment_alerts_email"]["for_each"],
        "${toset(var.shipment_alert_emails)}"
    );
}

#[test]
fn critical_shipments_and_alarms_page_different_people() {
    for env in ENVS {
        let actions = function_policy_statements(env);
        let publishes_to = |function: &str, topic: &str| {
            actions.iter().any(|(f, statement)| {
                f == function
                    && statement["Action"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|a| a == "sns:Publish")
                    && statement["Resource"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r == &Value::from(format!("${{aws_sns_topic.{topic}.arn}}")))
            })
        };
        assert!(publishes_to("stream_fanout", "shipment_alerts"), "{env}");
        assert!(
            !publishes_to("stream_fanout", "alerts"),
            "{env}: alarms only"
        );
    }
}

#[test]
fn every_bus_rule_is_matched_on_the_default_bus_too_into_the_same_path() {
    // Seed 004 publishes without an EventBusName.
    for env in ENVS {
        let rules = of_type(env, "aws_cloudwatch_event_rule");
        let targets = of_type(env, "aws_cloudwatch_event_target");
        for dialect in ["shipment_service", "logistics_shipments"] {
            let ours = &rules[dialect];
            let default = &rules[&format!("{dialect}_default_bus")];
            assert_eq!(
                ours["event_bus_name"],
                "${aws_cloudwatch_event_bus.shipments.name}"
            );
            assert!(default.get("event_bus_name").is_none(), "{env} {dialect}");
            assert_eq!(
                ours["event_pattern"], default["event_pattern"],
                "{env} {dialect}"
            );
            let target_of = |rule: &str| {
                targets
                    .iter()
                    .find(|(name, _)| name.starts_with(&format!("{rule}_to_")))
                    .map(|(_, t)| t["arn"].clone())
            };
            assert_eq!(
                target_of(dialect),
                target_of(&format!("{dialect}_default_bus")),
                "{env} {dialect}"
            );
            assert!(target_of(dialect).is_some(), "{env} {dialect}");
        }
    }
}

#[test]
fn the_notifications_buffer_is_an_integration_point() {
    for env in ENVS {
        let queues = of_type(env, "aws_sqs_queue");
        let redrive = queues["notifications"]["redrive_policy"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            redrive.contains("aws_sqs_queue.notifications_dlq.arn"),
            "{env}: {redrive}"
        );
        let alarms = of_type(env, "aws_cloudwatch_metric_alarm");
        assert_eq!(
            alarms["notifications_queue_age"]["metric_name"], "ApproximateAgeOfOldestMessage",
            "{env}: a buffer's depth follows traffic; its age says the consumer is down"
        );
        assert!(!alarms.contains_key("notifications_queue_depth"), "{env}");
        assert!(alarms.contains_key("notifications_dlq_not_empty"), "{env}");
        assert!(alarms.contains_key("unrecognised_status"), "{env}");
        let policies = of_type(env, "aws_iam_policy");
        assert!(policies.contains_key("notifications_consumer"), "{env}");
    }
}

#[test]
fn every_function_knows_its_own_timeout() {
    for env in ENVS {
        for (name, function) in of_type(env, "aws_lambda_function") {
            let variables = &function["environment"][0]["variables"];
            assert_eq!(
                variables["FUNCTION_TIMEOUT_S"],
                function["timeout"].as_i64().unwrap().to_string(),
                "{env}/{name}"
            );
        }
    }
}
