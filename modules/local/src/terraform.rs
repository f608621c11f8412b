//! Terraform against the emulator, in a byte-for-byte copy of `generated/local` (what was
//! rendered and reviewed is what is applied) so no state file ever lands in the repository.
//!
//! The copy is `<work>/local/*.tf.json` and the committed provider lock, with `<work>/dist`
//! -> `generated/dist` next to it (the functions read `${path.module}/../dist/<function>.zip`).
//! `terraform init` goes through `scripts/terraform-init`, which uses the local provider mirror
//! when there is one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use aws::lambda::HARNESS_MAPPING_PREFIX;
use serde_json::Value;

use crate::paths;

/// The provider lock committed beside the rendered files; `scripts/terraform-init` verifies
/// the provider against it and never rewrites it.
const LOCK_FILE: &str = ".terraform.lock.hcl";

/// Whether a file of `generated/local` is what Terraform applies: the rendered
/// `*.tf.json` and the provider lock (not the env README).
pub fn is_applied(file_name: &str) -> bool {
    file_name.ends_with(".tf.json") || file_name == LOCK_FILE
}

/// One deployment of the local environment against one emulator endpoint.
pub struct Deployment {
    work: PathBuf,
    _temp: Option<tempfile::TempDir>,
    endpoint: String,
}

/// One resource the plan would change, with the top-level attributes that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    pub address: String,
    pub actions: Vec<String>,
    pub attributes: BTreeSet<String>,
    pub before: Value,
    pub after: Value,
}

impl Deployment {
    /// A deployment in a fresh temporary directory (removed on drop).
    pub fn temporary(endpoint: &str) -> Result<Deployment> {
        let temp = tempfile::Builder::new()
            .prefix("shipstack-local-")
            .tempdir()?;
        let mut deployment = Deployment::in_dir(temp.path(), endpoint)?;
        deployment._temp = Some(temp);
        Ok(deployment)
    }

    /// A deployment in `work` (kept: `shipstack-local up` keeps its state there).
    pub fn in_dir(work: &Path, endpoint: &str) -> Result<Deployment> {
        let dist = paths::dist();
        paths::check_dist(&dist)?;
        let env_dir = work.join("local");
        std::fs::create_dir_all(&env_dir)?;
        for entry in std::fs::read_dir(paths::rendered_local())? {
            let path = entry?.path();
            if is_applied(&path.file_name().unwrap_or_default().to_string_lossy()) {
                std::fs::copy(&path, env_dir.join(path.file_name().unwrap_or_default()))
                    .with_context(|| format!("copy {}", path.display()))?;
            }
        }
        let link = work.join("dist");
        if !link.exists() {
            std::os::unix::fs::symlink(&dist, &link)?;
        }
        Ok(Deployment {
            work: work.to_owned(),
            _temp: None,
            endpoint: endpoint.to_owned(),
        })
    }

    /// The stream mappings the renderer left to the harness (outputs named
    /// [`HARNESS_MAPPING_PREFIX`]`<mapping>`: moto would consume the stream itself), with the
    /// ARNs Terraform resolved.
    pub fn harness_mappings(outputs: &Outputs) -> Vec<crate::deployed::Mapping> {
        use std::time::Duration;
        outputs
            .0
            .iter()
            .filter_map(|(name, m)| Some((name.strip_prefix(HARNESS_MAPPING_PREFIX)?, m)))
            .map(|(name, m)| crate::deployed::Mapping {
                uuid: format!("local-{name}"),
                source_arn: m["event_source_arn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                function_name: crate::sdk_clients::function_name_of(
                    m["function_name"].as_str().unwrap_or_default(),
                ),
                enabled: false,
                batch_size: m["batch_size"].as_i64().unwrap_or(100) as i32,
                batching_window: Duration::from_secs(
                    m["maximum_batching_window_in_seconds"]
                        .as_u64()
                        .unwrap_or(0),
                ),
                report_batch_item_failures: m["function_response_types"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")),
                starting_position: m["starting_position"].as_str().map(str::to_owned),
                bisect_on_error: m["bisect_batch_on_function_error"]
                    .as_bool()
                    .unwrap_or(false),
                max_retry_attempts: m["maximum_retry_attempts"]
                    .as_i64()
                    .filter(|n| *n >= 0)
                    .map(|n| n as i32),
                max_record_age: m["maximum_record_age_in_seconds"]
                    .as_u64()
                    .filter(|n| *n > 0)
                    .map(Duration::from_secs),
                on_failure: m["destination_config"][0]["on_failure"][0]["destination_arn"]
                    .as_str()
                    .map(str::to_owned),
                max_concurrency: None,
            })
            .collect()
    }

    /// The Terraform working directory (the copy of `generated/local`).
    pub fn dir(&self) -> PathBuf {
        self.work.join("local")
    }

    /// The emulator this deployment applies to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn work(&self) -> &Path {
        &self.work
    }

    fn terraform(&self, args: &[&str]) -> Command {
        let mut command = Command::new("terraform");
        // The rendered provider names no credentials: Terraform acts as whoever the
        // emulator's credentials are (its admin user when moto enforces IAM).
        let credentials = crate::sdk_clients::credentials_for(&self.endpoint);
        command
            .arg(format!("-chdir={}", self.dir().display()))
            .args(args)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("AWS_ACCESS_KEY_ID", credentials.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key())
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE");
        if std::env::var_os("TF_CLI_CONFIG_FILE").is_some_and(|f| !Path::new(&f).exists()) {
            command.env_remove("TF_CLI_CONFIG_FILE");
        }
        command
    }

    fn var(&self) -> String {
        format!("emulator_endpoint={}", self.endpoint)
    }

    /// `scripts/terraform-init <copy> -backend=true`.
    pub fn init(&self) -> Result<Duration> {
        let started = Instant::now();
        let output = Command::new(paths::repo_root().join("scripts/terraform-init"))
            .arg(self.dir())
            .arg("-backend=true")
            .output()
            .context("run scripts/terraform-init (is terraform on PATH?)")?;
        check("terraform init", &output)?;
        Ok(started.elapsed())
    }

    /// `terraform apply -auto-approve`.
    pub fn apply(&self) -> Result<Duration> {
        let started = Instant::now();
        let output = self
            .terraform(&["apply", "-auto-approve", "-no-color", "-var", &self.var()])
            .output()?;
        check("terraform apply", &output)?;
        Ok(started.elapsed())
    }

    /// `terraform plan -detailed-exitcode`, then the plan's resource changes as JSON.
    pub fn plan(&self) -> Result<(Duration, Vec<PlannedChange>)> {
        let started = Instant::now();
        let output = self
            .terraform(&[
                "plan",
                "-detailed-exitcode",
                "-no-color",
                "-out=e2e.tfplan",
                "-var",
                &self.var(),
            ])
            .output()?;
        let elapsed = started.elapsed();
        match output.status.code() {
            Some(0) => return Ok((elapsed, Vec::new())),
            Some(2) => {}
            _ => check("terraform plan", &output)?,
        }
        let shown = self.terraform(&["show", "-json", "e2e.tfplan"]).output()?;
        check("terraform show", &shown)?;
        let plan: Value = serde_json::from_slice(&shown.stdout)?;
        Ok((elapsed, planned_changes(&plan)))
    }

    /// `terraform destroy -auto-approve`.
    pub fn destroy(&self) -> Result<Duration> {
        let started = Instant::now();
        let output = self
            .terraform(&["destroy", "-auto-approve", "-no-color", "-var", &self.var()])
            .output()?;
        check("terraform destroy", &output)?;
        Ok(started.elapsed())
    }

    /// `terraform state list`.
    pub fn state_list(&self) -> Result<Vec<String>> {
        let output = self.terraform(&["state", "list"]).output()?;
        // No state at all is an empty list, not an error.
        if !output.status.success()
            && String::from_utf8_lossy(&output.stderr).contains("No state file")
        {
            return Ok(Vec::new());
        }
        check("terraform state list", &output)?;
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// `terraform output -json` as `{name: value}`.
    pub fn outputs(&self) -> Result<Outputs> {
        let output = self.terraform(&["output", "-json"]).output()?;
        check("terraform output", &output)?;
        let raw: Value = serde_json::from_slice(&output.stdout)?;
        let mut outputs = serde_json::Map::new();
        if let Some(map) = raw.as_object() {
            for (name, entry) in map {
                outputs.insert(
                    name.clone(),
                    entry.get("value").cloned().unwrap_or(Value::Null),
                );
            }
        }
        Ok(Outputs(outputs))
    }
}

/// `terraform output` values.
#[derive(Debug, Clone)]
pub struct Outputs(pub serde_json::Map<String, Value>);

impl Outputs {
    pub fn get(&self, name: &str) -> Result<String> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("terraform output {name:?} is missing"))
    }
}

fn check(what: &str, output: &Output) -> Result<()> {
    if output.status.success() {
        return Ok(());
    }
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    bail!(
        "{what} failed ({}):\n{}\n{}",
        output.status,
        tail(&output.stdout),
        tail(&output.stderr)
    )
}

/// The resource changes of a `terraform show -json` plan (no-ops and reads left out).
pub fn planned_changes(plan: &Value) -> Vec<PlannedChange> {
    let mut changes = Vec::new();
    for change in plan["resource_changes"].as_array().into_iter().flatten() {
        let actions: Vec<String> = change["change"]["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        if actions.iter().all(|a| a == "no-op" || a == "read") {
            continue;
        }
        let before = change["change"]["before"].clone();
        let after = change["change"]["after"].clone();
        let unknown = &change["change"]["after_unknown"];
        let mut attributes = BTreeSet::new();
        let keys: BTreeSet<&String> = before
            .as_object()
            .into_iter()
            .flatten()
            .chain(after.as_object().into_iter().flatten())
            .map(|(k, _)| k)
            .collect();
        for key in keys {
            let unknown_now = unknown.get(key).is_some_and(|u| u == &Value::Bool(true));
            if before.get(key) != after.get(key) || unknown_now {
                attributes.insert(key.clone());
            }
        }
        changes.push(PlannedChange {
            address: change["address"].as_str().unwrap_or_default().to_owned(),
            actions,
            attributes,
            before,
            after,
        });
    }
    changes
}

/// What moto does not round-trip, one by one, with the reason: a second plan right after an
/// apply may change only these. Anything else is ours to fix.
fn allowed_quirks(address: &str) -> &'static [&'static str] {
    match address {
        // moto's Lambda stores no logging_config (log format and group): every function
        // plans to add it back.
        "aws_lambda_function.daily_summary" => &["logging_config", "dead_letter_config"],
        // ...and moto drops dead_letter_config from GetFunctionConfiguration (only
        // daily-summary has one).
        a if a.starts_with("aws_lambda_function.") => &["logging_config"],
        // moto reports EventBridge notifications of a bucket as off after they were
        // turned on.
        "aws_s3_bucket_notification.failed_records" => &["eventbridge"],
        // moto re-serialises the redrive policy JSON with other spacing (checked below to
        // be the same JSON).
        a if a.starts_with("aws_sqs_queue.") => &["redrive_policy"],
        _ => &[],
    }
}

pub fn only_emulator_quirks(changes: &[PlannedChange]) -> Result<()> {
    let mut unexpected = Vec::new();
    for change in changes {
        let allowed = allowed_quirks(&change.address);
        if change.actions != ["update"] {
            unexpected.push(format!("{} would be {:?}", change.address, change.actions));
            continue;
        }
        for attribute in &change.attributes {
            if !allowed.contains(&attribute.as_str()) {
                unexpected.push(format!(
                    "{}.{attribute}: {} -> {}",
                    change.address, change.before[attribute], change.after[attribute]
                ));
            }
        }
        if change.attributes.contains("redrive_policy") {
            let parse =
                |v: &Value| serde_json::from_str::<Value>(v.as_str().unwrap_or("null")).ok();
            if parse(&change.before["redrive_policy"]) != parse(&change.after["redrive_policy"]) {
                unexpected.push(format!(
                    "{}.redrive_policy differs in content, not only spacing",
                    change.address
                ));
            }
        }
    }
    ensure!(
        unexpected.is_empty(),
        "the second plan has changes that are not known emulator quirks:\n  {}",
        unexpected.join("\n  ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn planned_changes_name_the_attributes_that_differ() {
        let plan = json!({"resource_changes": [
            {"address": "a.x", "change": {"actions": ["no-op"], "before": {}, "after": {}}},
            {"address": "b.y", "change": {"actions": ["update"],
                "before": {"k": 1, "same": 2, "gone": [1]},
                "after": {"k": 3, "same": 2, "gone": []},
                "after_unknown": {}}},
        ]});
        let changes = planned_changes(&plan);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].address, "b.y");
        assert_eq!(
            changes[0].attributes,
            ["gone", "k"].iter().map(|s| s.to_string()).collect()
        );
    }
}
