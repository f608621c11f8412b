//! `shipstack review`: what a change to `generated/` does to each environment, read from the
//! committed output alone (no credentials, no plan), so a reviewer sees the risky part of a
//! diff before anyone runs `terraform plan`.
//!
//! It lists the resources added, removed and changed per environment; fails when a stateful
//! resource would be destroyed (removed, or its address changed, without a `moved` or
//! `removed` block) or replaced (an argument the provider cannot update in place changed);
//! and summarises IAM broadening: every allow (action, resource, principal, condition) that a
//! role or resource policy gains.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Compare `generated/` at a git revision with the working tree.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The revision to compare with (CI passes the merge base of the change).
    #[arg(long, default_value = "HEAD")]
    pub base: String,
    /// The rendered output, relative to the repository root.
    #[arg(long, default_value = "generated")]
    pub generated: PathBuf,
}

/// Resource types that hold data, with the arguments whose change makes Terraform replace the
/// resource (the provider documents each as "Forces new resource":
/// https://registry.terraform.io/providers/hashicorp/aws/latest/docs). Removing one, or
/// changing one of those arguments, destroys what it holds.
const STATEFUL: [(&str, &[&str]); 6] = [
    // A table's key schema cannot change: DynamoDB has no UpdateTable for it.
    ("aws_dynamodb_table", &["name", "hash_key", "range_key"]),
    ("aws_s3_bucket", &["bucket", "bucket_prefix"]),
    ("aws_kms_key", &["customer_master_key_spec", "key_usage"]),
    ("aws_sqs_queue", &["name", "fifo_queue"]),
    ("aws_sns_topic", &["name", "fifo_topic"]),
    ("aws_cloudwatch_log_group", &["name"]),
];

/// Where each policy-bearing type keeps its policy document (a JSON string).
const POLICIES: [(&str, &str); 7] = [
    ("aws_iam_role_policy", "policy"),
    ("aws_iam_policy", "policy"),
    ("aws_iam_role", "assume_role_policy"),
    ("aws_sqs_queue_policy", "policy"),
    ("aws_sns_topic_policy", "policy"),
    ("aws_s3_bucket_policy", "policy"),
    ("aws_kms_key", "policy"),
];

/// One environment's rendered configuration, as far as a review needs it.
#[derive(Debug, Default, Clone)]
pub struct Config {
    /// Resource bodies by address (`aws_sqs_queue.events`).
    pub resources: BTreeMap<String, Value>,
    /// Addresses that `moved` blocks move away from.
    pub moved_from: BTreeSet<String>,
    /// Addresses that `removed` blocks forget.
    pub forgotten: BTreeSet<String>,
}

impl Config {
    /// Reads the `*.tf.json` files of one environment (file name, text).
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Config> {
        let mut config = Config::default();
        for (name, text) in files {
            let doc: Value =
                serde_json::from_str(text).with_context(|| format!("{name} is not JSON"))?;
            if let Some(types) = doc.get("resource").and_then(Value::as_object) {
                for (ty, resources) in types {
                    for (resource, body) in resources.as_object().into_iter().flatten() {
                        config
                            .resources
                            .insert(format!("{ty}.{resource}"), body.clone());
                    }
                }
            }
            let blocks = |key: &str| -> Vec<String> {
                doc.get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|block| block.get("from")?.as_str().map(str::to_owned))
                    .collect()
            };
            config.moved_from.extend(blocks("moved"));
            config.forgotten.extend(blocks("removed"));
        }
        Ok(config)
    }
}

/// What a change does to one environment.
#[derive(Debug, Default, PartialEq)]
pub struct Review {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// Each names the resource and why the change would destroy its data.
    pub failures: Vec<String>,
    /// `<policy address>: allows <action> on <resource> ...`, one per new grant.
    pub broadening: Vec<String>,
}

fn resource_type(address: &str) -> &str {
    address.split('.').next().unwrap_or_default()
}

/// Whether resources of this type hold data (a table, bucket, key, queue, topic, log group).
pub fn is_stateful(resource_type: &str) -> bool {
    STATEFUL.iter().any(|(ty, _)| *ty == resource_type)
}

fn replacing_arguments(address: &str) -> Option<&'static [&'static str]> {
    STATEFUL
        .iter()
        .find(|(ty, _)| *ty == resource_type(address))
        .map(|(_, arguments)| *arguments)
}

/// Compares an environment at the base with the same environment now.
pub fn review(base: &Config, head: &Config) -> Review {
    let mut review = Review::default();
    for (address, before) in &base.resources {
        match head.resources.get(address) {
            None => {
                review.removed.push(address.clone());
                let accounted =
                    head.moved_from.contains(address) || head.forgotten.contains(address);
                if replacing_arguments(address).is_some() && !accounted {
                    review.failures.push(format!(
                        "{address} is removed (or its address changed) without a `moved` or `removed` block: Terraform would destroy it and its data"
                    ));
                }
            }
            Some(after) if after != before => {
                review.changed.push(address.clone());
                for argument in replacing_arguments(address).unwrap_or_default() {
                    if before.get(argument) != after.get(argument) {
                        review.failures.push(format!(
                            "{address}: changing `{argument}` ({} -> {}) forces Terraform to replace it, destroying its data",
                            before.get(argument).unwrap_or(&Value::Null),
                            after.get(argument).unwrap_or(&Value::Null)
                        ));
                    }
                }
            }
            Some(_) => {}
        }
    }
    review.added = head
        .resources
        .keys()
        .filter(|address| !base.resources.contains_key(*address))
        .cloned()
        .collect();
    for (address, after) in &head.resources {
        let before = grants(address, base.resources.get(address));
        for grant in grants(address, Some(after)).difference(&before) {
            review.broadening.push(format!("{address}: allows {grant}"));
        }
    }
    review
}

/// Every allow of a policy-bearing resource, one line per action, resource, principal and
/// condition value.
fn grants(address: &str, body: Option<&Value>) -> BTreeSet<String> {
    let Some((_, attribute)) = POLICIES
        .iter()
        .find(|(ty, _)| *ty == resource_type(address))
    else {
        return BTreeSet::new();
    };
    let Some(policy) = body
        .and_then(|body| body.get(*attribute))
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
    else {
        return BTreeSet::new();
    };
    let as_list = |value: Option<&Value>| -> Vec<String> {
        match value {
            Some(Value::Array(items)) => items.iter().map(text).collect(),
            Some(value) => vec![text(value)],
            None => vec![],
        }
    };
    let mut found = BTreeSet::new();
    for statement in as_list_of_objects(policy.get("Statement")) {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let resources = match as_list(statement.get("Resource")) {
            none if none.is_empty() => vec!["(any)".to_owned()],
            resources => resources,
        };
        let principal = statement
            .get("Principal")
            .map(|p| format!(" to {}", text(p)))
            .unwrap_or_default();
        // One line per condition value: a value added to a list (`aws:SourceArn` of one more
        // rule) is the broadening, not the whole statement again.
        let mut conditions = Vec::new();
        for (operator, keys) in statement
            .get("Condition")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for (key, values) in keys.as_object().into_iter().flatten() {
                for value in as_list(Some(values)) {
                    conditions.push(format!(" if {operator} {key} {value}"));
                }
            }
        }
        if conditions.is_empty() {
            conditions.push(String::new());
        }
        for action in as_list(statement.get("Action")) {
            for resource in &resources {
                for condition in &conditions {
                    found.insert(format!("{action} on {resource}{principal}{condition}"));
                }
            }
        }
    }
    found
}

fn as_list_of_objects(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(object) => vec![object],
        None => vec![],
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `*.tf.json` files of each environment directory under `generated` at `base`.
fn files_at(base: &str, generated: &Path) -> Result<BTreeMap<String, Vec<(String, String)>>> {
    let listing = git(&[
        "ls-tree",
        "-r",
        "--name-only",
        base,
        "--",
        &format!("{}/", generated.display()),
    ])?;
    let mut envs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for path in listing.lines().filter(|p| p.ends_with(".tf.json")) {
        let relative = Path::new(path)
            .strip_prefix(generated)
            .unwrap_or(Path::new(path));
        let mut parts = relative.iter();
        let (Some(env), Some(file), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        // `./`: the path as ls-tree printed it, relative to the current directory.
        let text = git(&["show", &format!("{base}:./{path}")])?;
        envs.entry(env.to_string_lossy().into_owned())
            .or_default()
            .push((file.to_string_lossy().into_owned(), text));
    }
    Ok(envs)
}

/// The `*.tf.json` files of each environment directory under `generated` in the working tree.
fn files_now(generated: &Path) -> Result<BTreeMap<String, Vec<(String, String)>>> {
    let mut envs = BTreeMap::new();
    let entries = std::fs::read_dir(generated)
        .with_context(|| format!("cannot read {}", generated.display()))?;
    for entry in entries {
        let dir = entry?.path();
        let Some(env) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if !dir.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        for file in std::fs::read_dir(&dir)? {
            let path = file?.path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".tf.json") {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                files.push((name, text));
            }
        }
        if !files.is_empty() {
            envs.insert(env, files);
        }
    }
    Ok(envs)
}

fn git(args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn config_of(files: Option<&Vec<(String, String)>>) -> Result<Config> {
    Config::from_files(
        files
            .into_iter()
            .flatten()
            .map(|(name, text)| (name.as_str(), text.as_str())),
    )
}

/// Prints the review of every environment; `Ok(false)` when a change would destroy data.
pub fn run(args: &Args) -> Result<bool> {
    let base = files_at(&args.base, &args.generated)?;
    let head = files_now(&args.generated)?;
    let envs: BTreeSet<&String> = base.keys().chain(head.keys()).collect();
    let mut failures = 0;
    println!(
        "review of {} against {}",
        args.generated.display(),
        args.base
    );
    for env in envs {
        let review = review(&config_of(base.get(env))?, &config_of(head.get(env))?);
        println!(
            "\n{env}: {} added, {} removed, {} changed",
            review.added.len(),
            review.removed.len(),
            review.changed.len()
        );
        for (sign, addresses) in [
            ("+", &review.added),
            ("-", &review.removed),
            ("~", &review.changed),
        ] {
            for address in addresses {
                println!("  {sign} {address}");
            }
        }
        if !review.broadening.is_empty() {
            println!("  IAM broadening ({}):", review.broadening.len());
            for grant in &review.broadening {
                println!("    {grant}");
            }
        }
        for failure in &review.failures {
            eprintln!("  REFUSED {env}: {failure}");
        }
        failures += review.failures.len();
    }
    if failures > 0 {
        eprintln!(
            "\nreview: {failures} change(s) would destroy data. Add a `moved` block (Document::moved) for a rename, a `removed` block (Document::forget) to let a resource go without destroying it, or keep the argument."
        );
    } else {
        println!("\nreview: no change destroys or replaces a stateful resource");
    }
    Ok(failures == 0)
}
