//! `generated/<env>/README.md`: what the environment holds, its outputs, and an architecture
//! diagram derived from the rendered wiring, written with a handlebars template.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use anyhow::{Context, Result};
use aws::eventbridge::HARNESS_SCHEDULE_PREFIX;
use aws::lambda::HARNESS_MAPPING_PREFIX;
use handlebars::Handlebars;
use serde::Serialize;
use serde_json::{json, Value};
use tf::{Address, Document, Referrer, Resource, Tf};

use crate::config::{Delivery, EnvConfig};

const TEMPLATE: &str = include_str!("templates/env-readme.md.hbs");

/// Resource types drawn as nodes, with the label suffix naming their service.
const NODE_TYPES: [(&str, &str); 10] = [
    ("aws_lambda_function", "Lambda"),
    ("aws_dynamodb_table", "DynamoDB"),
    ("aws_sqs_queue", "SQS"),
    ("aws_sns_topic", "SNS"),
    ("aws_cloudwatch_event_bus", "EventBridge bus"),
    ("aws_cloudwatch_event_rule", "rule"),
    ("aws_api_gateway_rest_api", "REST API"),
    ("aws_apigatewayv2_api", "WebSocket API"),
    ("aws_s3_bucket", "S3"),
    ("aws_sns_topic_subscription", "email"),
];

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    label: &'static str,
}

/// What one resource's body refers to, by the attribute keys leading to each reference.
type Refs = Vec<(Vec<String>, Resource)>;

/// The resources each resource refers to (data sources, variables and the like are no nodes),
/// and what each mapping or schedule target the emulator's harness plays (an output, see
/// [`aws::lambda::HARNESS_MAPPING_PREFIX`], [`HARNESS_SCHEDULE_PREFIX`]) refers to, by output:
/// drawn like what it stands for.
fn references_by_resource(doc: &Document) -> (BTreeMap<Resource, Refs>, BTreeMap<String, Refs>) {
    let mut by_resource: BTreeMap<Resource, Refs> = BTreeMap::new();
    let mut played: BTreeMap<String, Refs> = BTreeMap::new();
    for tf::Edge { from, at, to } in doc.references() {
        let Address::Resource { ty, name } = &to.address else {
            continue;
        };
        let to = Resource::new(ty, name);
        match from {
            Referrer::Resource(from) => by_resource.entry(from).or_default().push((at, to)),
            Referrer::Output(output)
                if output.starts_with(HARNESS_MAPPING_PREFIX)
                    || output.starts_with(HARNESS_SCHEDULE_PREFIX) =>
            {
                let at = at.into_iter().skip(1).collect(); // inside `value`
                played.entry(output).or_default().push((at, to));
            }
            _ => {}
        }
    }
    (by_resource, played)
}

/// The first resource the attribute at `path` refers to.
fn referenced(refs: &Refs, path: &[&str]) -> Option<Resource> {
    refs.iter()
        .find(|(at, _)| at.iter().map(String::as_str).eq(path.iter().copied()))
        .map(|(_, r)| r.clone())
}

fn node_id(r: &Resource) -> String {
    format!(
        "{}_{}",
        r.resource_type().trim_start_matches("aws_"),
        r.name()
    )
}

/// Edges of the data flow: event sources, targets, subscriptions, API integrations, and what
/// each function is configured to use (its environment).
fn edges(doc: &Document) -> BTreeSet<Edge> {
    let mut edges = BTreeSet::new();
    let mut add = |from: Option<Resource>, to: Option<Resource>, label: &'static str| {
        if let (Some(from), Some(to)) = (from, to) {
            edges.insert(Edge {
                from: node_id(&from),
                to: node_id(&to),
                label,
            });
        }
    };
    let (references, played) = references_by_resource(doc);
    let mut mappings = Vec::new();
    for (output, refs) in &played {
        if output.starts_with(HARNESS_SCHEDULE_PREFIX) {
            add(
                referenced(refs, &["rule"]),
                referenced(refs, &["function_name"]),
                "",
            );
        } else {
            mappings.push(refs);
        }
    }
    let none = Refs::new();
    for (resource, _) in doc.resources() {
        let refs = references.get(&resource).unwrap_or(&none);
        match resource.resource_type() {
            "aws_lambda_event_source_mapping" => mappings.push(refs),
            "aws_cloudwatch_event_rule" => add(
                referenced(refs, &["event_bus_name"]),
                Some(resource.clone()),
                "",
            ),
            "aws_cloudwatch_event_target" => {
                add(referenced(refs, &["rule"]), referenced(refs, &["arn"]), "")
            }
            "aws_sns_topic_subscription" => {
                let endpoint = referenced(refs, &["endpoint"]).or(Some(resource.clone()));
                add(referenced(refs, &["topic_arn"]), endpoint, "");
            }
            "aws_api_gateway_integration" => add(
                referenced(refs, &["rest_api_id"]),
                referenced(refs, &["uri"]),
                "POST",
            ),
            "aws_apigatewayv2_integration" => add(
                referenced(refs, &["api_id"]),
                referenced(refs, &["integration_uri"]),
                "routes",
            ),
            "aws_lambda_function" => {
                // The first resource each environment variable refers to.
                let mut seen = BTreeSet::new();
                for (at, to) in refs {
                    if let [environment, variables, key] = at.as_slice() {
                        if environment == "environment"
                            && variables == "variables"
                            && seen.insert(key)
                        {
                            add(Some(resource.clone()), Some(to.clone()), "");
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for refs in mappings {
        let function = referenced(refs, &["function_name"]);
        add(
            referenced(refs, &["event_source_arn"]),
            function.clone(),
            "batches",
        );
        let on_failure = referenced(
            refs,
            &["destination_config", "on_failure", "destination_arn"],
        );
        add(function, on_failure, "failed records");
    }
    edges
}

/// The README of one rendered environment.
pub fn readme(env: &EnvConfig, doc: &Document) -> Result<String> {
    let outputs = doc.output_descriptions();
    let edges = edges(doc);
    let used: BTreeSet<&str> = edges
        .iter()
        .flat_map(|e| [e.from.as_str(), e.to.as_str()])
        .collect();
    let nodes: Vec<Value> = doc
        .resources()
        .filter_map(|(r, _)| {
            let (_, service) = NODE_TYPES.iter().find(|(ty, _)| *ty == r.resource_type())?;
            let id = node_id(&r);
            used.contains(id.as_str())
                .then(|| json!({"id": id, "label": format!("{} ({service})", r.name())}))
        })
        .collect();

    let mut counts: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
    for (r, _) in doc.resources() {
        *counts
            .entry((
                aws::file_of(r.resource_type()),
                r.resource_type().to_owned(),
            ))
            .or_default() += 1;
    }
    let components: Vec<Value> = counts
        .iter()
        .map(|((file, ty), count)| json!({"file": format!("{file}.tf.json"), "resource_type": ty, "count": count}))
        .collect();

    let data = json!({
        "name": env.name,
        "region": env.region,
        "delivery": match env.delivery { Delivery::Queued => "queued", Delivery::Direct => "direct" },
        "delivery_note": match env.delivery {
            Delivery::Queued => "bus -> events queue -> queue-processor, partial batch failures, DLQ after 3 receives",
            Delivery::Direct => "bus -> event-processor, Lambda async retries, DLQ",
        },
        "deletion_protection": env.protection.deletion_protection,
        "pitr": env.protection.point_in_time_recovery,
        "log_days": env.retention.log_days,
        "event_ttl_days": env.retention.event_ttl_days,
        "reserved_concurrency": reserved_concurrency(doc),
        "manages_account_settings": env.manages_account_settings,
        "emulator": env.emulator.is_some(),
        "nodes": nodes,
        "edges": edges,
        "components": components,
        "total": doc.resources().count(),
        "outputs": outputs.iter().map(|(name, description)| json!({"name": name, "description": description})).collect::<Vec<_>>(),
    });
    let handlebars = REGISTRY
        .as_ref()
        .map_err(|e| anyhow::anyhow!("the environment README template: {e}"))?;
    handlebars
        .render(TEMPLATE_NAME, &data)
        .context("cannot render the environment README")
}

const TEMPLATE_NAME: &str = "env-readme";

/// The template, parsed once per process (`render envs/` writes one README per env).
static REGISTRY: LazyLock<Result<Handlebars<'static>, handlebars::TemplateError>> =
    LazyLock::new(|| {
        let mut handlebars = Handlebars::new();
        handlebars.set_strict_mode(true);
        // Markdown, not HTML: nothing to escape.
        handlebars.register_escape_fn(handlebars::no_escape);
        handlebars.register_template_string(TEMPLATE_NAME, TEMPLATE)?;
        Ok(handlebars)
    });

/// The concurrency the rendered functions reserve, in all.
fn reserved_concurrency(doc: &Document) -> i64 {
    doc.resources()
        .filter(|(r, _)| r.resource_type() == "aws_lambda_function")
        .filter_map(|(_, body)| match body {
            Tf::Map(fields) => match fields.get("reserved_concurrent_executions") {
                Some(Tf::Int(n)) => Some(*n),
                _ => None,
            },
            _ => None,
        })
        .sum()
}
