//! One environment's configuration (`envs/<name>/env.json`): typed, documented, and validated
//! against its JSON Schema (`envs/schema.json`, generated from these types) before it is read,
//! so a mistake is reported with the file and the JSON path of the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use aws::lambda::Architecture;
use schemars::JsonSchema;
use serde::Deserialize;
use shipment::contract::functions;

/// The file name of an environment's configuration inside its directory.
pub const ENV_FILE: &str = "env.json";

/// An environment of the logistics platform.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "shipstack environment")]
pub struct EnvConfig {
    /// Editor support: `../schema.json`.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// Environment name; must equal the directory name. Prefixes every physical name.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{0,15}$"))]
    pub name: String,
    /// AWS region code, e.g. `us-east-1`.
    #[schemars(regex(pattern = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"))]
    pub region: String,
    /// How bus events reach the processors.
    #[serde(default)]
    pub delivery: Delivery,
    /// Guards on stored data.
    #[serde(default)]
    pub protection: Protection,
    /// How long things are kept.
    #[serde(default)]
    pub retention: Retention,
    /// Sizing of the Lambda functions.
    #[serde(default)]
    pub functions: Functions,
    /// The REST and WebSocket APIs.
    #[serde(default)]
    pub api: Api,
    /// Alarm thresholds.
    #[serde(default)]
    pub alarms: Alarms,
    /// Tags on every resource (added to `Project` and `Environment`).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Whether this environment manages its account's per-region singletons (API Gateway's
    /// CloudWatch logging role). Exactly one environment per account and region does, and is
    /// applied first; the others' API stages need those settings in place.
    #[serde(default)]
    pub manages_account_settings: bool,
    /// Where Terraform keeps this environment's state; without it, a local `terraform.tfstate`.
    pub backend: Option<Backend>,
    /// Deploy to an emulated AWS (moto) instead of an account: for the `local` environment.
    pub emulator: Option<Emulator>,
}

/// An emulated AWS: every service endpoint at one URL, and event source mappings left disabled
/// (the emulator would consume queues and streams itself without running the functions; the
/// local harness plays Lambda's part instead).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Emulator {
    /// Default of the `emulator_endpoint` Terraform variable.
    #[schemars(regex(pattern = r"^https?://[^\s/]+(:[0-9]+)?/?$"))]
    pub endpoint: String,
    /// Default of the `alert_emails` Terraform variable (real environments have no default:
    /// their recipients are given at plan time).
    #[schemars(length(min = 1))]
    pub alert_emails: Vec<Email>,
}

/// What an email address looks like (an ASCII or punycode top-level domain of 2 or more).
pub const EMAIL_PATTERN: &str = r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$";

/// An email address.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Email(#[schemars(regex(pattern = EMAIL_PATTERN))] pub String);

/// `queued`: bus -> SQS queue -> queue-processor (buffered, batched, partial failures; seeds 001,
/// 002). `direct`: bus -> event-processor (seeds 003, 004), with Lambda's async retries and a
/// dead-letter queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    #[default]
    Queued,
    Direct,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Protection {
    /// DynamoDB deletion protection plus Terraform `prevent_destroy` on the tables.
    pub deletion_protection: bool,
    /// Continuous backups of the tables.
    pub point_in_time_recovery: bool,
    /// Lets `terraform destroy` empty the failed-records bucket.
    pub force_destroy_buckets: bool,
}

impl Default for Protection {
    fn default() -> Protection {
        Protection {
            deletion_protection: true,
            point_in_time_recovery: true,
            force_destroy_buckets: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// CloudWatch Logs retention of functions and API access logs.
    #[schemars(extend("enum" = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]))]
    pub log_days: u32,
    /// Days a shipment event stays in the table (DynamoDB TTL).
    #[schemars(range(min = 1, max = 3650))]
    pub event_ttl_days: u32,
    /// Days the event archive keeps bus events for replay (0 = forever).
    #[schemars(range(max = 3650))]
    pub archive_days: u32,
    /// Days a failed stream record stays in the failure bucket.
    #[schemars(range(min = 1, max = 3650))]
    pub failed_record_days: u32,
    /// Days a message may wait in the events queue.
    #[schemars(range(min = 1, max = 14))]
    pub queue_days: u32,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            log_days: 30,
            event_ttl_days: 90,
            archive_days: 30,
            failed_record_days: 30,
            queue_days: 4,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Functions {
    /// Memory of every function without its own in `memory_mb_by_function`, MB (CPU scales
    /// with it).
    #[schemars(range(min = 128, max = 10240))]
    pub memory_mb: u32,
    /// Memory of single functions, MB, where their measured need differs (README: Cost per
    /// event).
    pub memory_mb_by_function: MemoryByFunction,
    /// Reserved concurrency per function: a flood on one path cannot starve the others or
    /// the account (and keeps DynamoDB and downstream load bounded). Off unless set: AWS keeps
    /// at least 100 of the account's concurrency unreserved (10 on new accounts, whose quota is
    /// often 10), so any reservation fails there; raise the Lambda "Concurrent executions"
    /// quota (Service Quotas L-B99A9384) above the total reserved plus 100 first.
    pub reserved_concurrency: Option<ReservedConcurrency>,
    /// Batches of one shipments-stream shard stream-fanout processes at once (Lambda's
    /// ParallelizationFactor); one shipment's records stay in order whatever it is. Raise it
    /// when the stream's iterator age grows: a shard's records otherwise wait for one
    /// invocation at a time.
    #[schemars(range(min = 1, max = 10))]
    pub fanout_parallelization: u32,
    /// Requests one stream-fanout invocation keeps in flight at once: different shipments'
    /// subscriber lookups (one shipment's records stay in order), or PublishBatch requests.
    /// It bounds the connections table's read rate and the connection pool per invocation;
    /// an emulator that answers one request at a time wants it low.
    #[schemars(range(min = 1, max = 64))]
    pub fanout_in_flight: u32,
    /// Entries per SNS PublishBatch request from stream-fanout. SNS takes up to 10, and
    /// batching cuts publish costs by up to 10x (SNS guide, "Amazon SNS message batching").
    /// Lower it only for an emulator that runs a batch's entries one by one within the request
    /// (moto), where under load a request of 10 outlasts the SDK's attempt timeout.
    #[schemars(range(min = 1, max = 10))]
    pub fanout_batch_entries: u32,
    /// Instruction set. `arm64` needs the processors packaged with `--arch arm64` (the
    /// aarch64 Rust target on the build machine).
    pub architecture: Architecture,
}

impl Default for Functions {
    fn default() -> Functions {
        Functions {
            memory_mb: 256,
            memory_mb_by_function: MemoryByFunction::default(),
            reserved_concurrency: None,
            fanout_parallelization: 1,
            fanout_in_flight: 16,
            fanout_batch_entries: 10,
            architecture: Architecture::X86_64,
        }
    }
}

/// Memory per function, MB (128 to 10240); an absent one has `functions.memory_mb`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryByFunction {
    #[schemars(range(min = 128, max = 10240))]
    pub ingest_api: Option<u32>,
    #[schemars(range(min = 128, max = 10240))]
    pub queue_processor: Option<u32>,
    #[schemars(range(min = 128, max = 10240))]
    pub event_processor: Option<u32>,
    #[schemars(range(min = 128, max = 10240))]
    pub stream_fanout: Option<u32>,
    #[schemars(range(min = 128, max = 10240))]
    pub websocket_handler: Option<u32>,
    #[schemars(range(min = 128, max = 10240))]
    pub daily_summary: Option<u32>,
}

impl MemoryByFunction {
    /// The memory set for `function` (a name of [`functions::ALL`]), if any.
    pub fn get(&self, function: &str) -> Option<u32> {
        match function {
            functions::INGEST_API => self.ingest_api,
            functions::QUEUE_PROCESSOR => self.queue_processor,
            functions::EVENT_PROCESSOR => self.event_processor,
            functions::STREAM_FANOUT => self.stream_fanout,
            functions::WEBSOCKET_HANDLER => self.websocket_handler,
            functions::DAILY_SUMMARY => self.daily_summary,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReservedConcurrency {
    /// ingest-api and the bus event writer (queue-processor also caps its queue mapping here).
    #[schemars(range(min = 2, max = 1000))]
    pub writers: u32,
    /// stream-fanout (one invocation per stream shard at a time).
    #[schemars(range(min = 1, max = 1000))]
    pub fanout: u32,
    /// websocket-handler.
    #[schemars(range(min = 1, max = 1000))]
    pub websocket: u32,
}

impl Default for ReservedConcurrency {
    fn default() -> ReservedConcurrency {
        ReservedConcurrency {
            writers: 10,
            fanout: 5,
            websocket: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    /// `AWS_IAM`: producers sign `POST /shipments` and clients sign the WebSocket `$connect`
    /// with SigV4 (e.g. with Cognito identity-pool credentials). `NONE`: open to anyone.
    pub authorization: Authorization,
    /// Steady-state requests per second per stage.
    #[schemars(range(min = 1, max = 10000))]
    pub rate_per_s: u32,
    /// Burst of requests per stage.
    #[schemars(range(min = 1, max = 5000))]
    pub burst: u32,
}

impl Default for Api {
    fn default() -> Api {
        Api {
            authorization: Authorization::AwsIam,
            rate_per_s: 50,
            burst: 100,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Authorization {
    #[default]
    #[serde(rename = "AWS_IAM")]
    AwsIam,
    #[serde(rename = "NONE")]
    None,
}

impl Authorization {
    pub fn as_str(self) -> &'static str {
        match self {
            Authorization::AwsIam => "AWS_IAM",
            Authorization::None => "NONE",
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Alarms {
    /// Messages waiting in the events queue.
    #[schemars(range(min = 1))]
    pub queue_depth: u32,
    /// Seconds the oldest waiting message may be.
    #[schemars(range(min = 60))]
    pub oldest_message_age_s: u32,
    /// Errors per function in 5 minutes.
    #[schemars(range(min = 1))]
    pub function_errors: u32,
    /// Failed SNS deliveries in 5 minutes.
    #[schemars(range(min = 1))]
    pub notification_failures: u32,
    /// Milliseconds the stream consumer may lag behind.
    #[schemars(range(min = 1000))]
    pub stream_iterator_age_ms: u32,
}

impl Default for Alarms {
    fn default() -> Alarms {
        Alarms {
            queue_depth: 1000,
            oldest_message_age_s: 300,
            function_errors: 5,
            notification_failures: 5,
            stream_iterator_age_ms: 60_000,
        }
    }
}

/// Terraform state storage.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Backend {
    /// An S3 bucket with S3-native locking (`use_lockfile`).
    S3 {
        /// State bucket (create it once, versioned and encrypted, outside this platform).
        #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"))]
        bucket: String,
        /// Object key of the state file, e.g. `shipstack/prod.tfstate`.
        #[schemars(length(min = 1))]
        key: String,
        /// Region of the state bucket.
        #[schemars(regex(pattern = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"))]
        region: String,
    },
    /// A local state file (throwaway environments only).
    Local {
        #[schemars(length(min = 1))]
        path: String,
    },
}

/// The JSON Schema of an environment file, as `envs/schema.json` holds it.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(EnvConfig);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    text.push('\n');
    text
}

/// The `description` of the schema node whose keyword failed (the node holding the keyword at
/// `schema_path`), following `$ref`s, so an error also says what the field is for.
fn field_description(schema: &serde_json::Value, schema_path: &str) -> Option<String> {
    let segments: Vec<&str> = schema_path.trim_start_matches('/').split('/').collect();
    let (_keyword, parents) = segments.split_last()?;
    let mut node = schema;
    for segment in parents {
        node = if *segment == "$ref" {
            let target = node.get("$ref")?.as_str()?.strip_prefix('#')?;
            schema.pointer(target)?
        } else {
            node.get(*segment)
                .or_else(|| segment.parse::<usize>().ok().and_then(|i| node.get(i)))?
        };
    }
    let description = node.get("description")?.as_str()?;
    Some(description.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Describes one schema error, or what is inside it. An optional section (`Option<T>`: an
/// `anyOf` of the section and `null`) that is present but wrong fails as a whole; what is wrong
/// inside it is in the errors of its non-null branch, so those are described instead, each at
/// its own field.
fn describe_innermost(
    error: &jsonschema::ValidationError,
    describe: &dyn Fn(&jsonschema::ValidationError) -> String,
    out: &mut Vec<String>,
) {
    if let jsonschema::error::ValidationErrorKind::AnyOf { context } = error.kind() {
        let inside: Vec<_> = context
            .iter()
            .flatten()
            .filter(|e| {
                e.instance_path() != error.instance_path()
                    || !matches!(
                        e.kind(),
                        jsonschema::error::ValidationErrorKind::Type { .. }
                    )
            })
            .collect();
        if !inside.is_empty() && !error.instance().is_null() {
            for e in inside {
                describe_innermost(e, describe, out);
            }
            return;
        }
    }
    out.push(describe(error));
}

/// The environment schema and its compiled validator, built once per process (rendering
/// every env validates each against it).
static SCHEMA: std::sync::LazyLock<(serde_json::Value, jsonschema::Validator)> =
    std::sync::LazyLock::new(|| {
        let schema = serde_json::to_value(schemars::schema_for!(EnvConfig))
            .expect("the environment schema is JSON");
        let validator =
            jsonschema::validator_for(&schema).expect("the environment schema compiles");
        (schema, validator)
    });

/// Reads and validates `<dir>/env.json`.
pub fn load(dir: &Path) -> Result<EnvConfig> {
    let file: PathBuf = dir.join(ENV_FILE);
    let shown = file.display();
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("{shown}: cannot read the environment file"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{shown}: not valid JSON: {e}"))?;

    let (schema, validator) = &*SCHEMA;
    let describe = |error: &jsonschema::ValidationError| {
        let path = error.instance_path().to_string();
        let at = if path.is_empty() {
            "(top level)".to_owned()
        } else {
            path
        };
        match field_description(schema, &error.schema_path().to_string()) {
            Some(description) => format!("  at {at}: {error}\n      ({description})"),
            None => format!("  at {at}: {error}"),
        }
    };
    let mut problems = Vec::new();
    for error in validator.iter_errors(&value) {
        describe_innermost(&error, &describe, &mut problems);
    }
    if !problems.is_empty() {
        bail!("{shown}: invalid environment:\n{}", problems.join("\n"));
    }
    let config: EnvConfig =
        serde_json::from_value(value).with_context(|| format!("{shown}: invalid environment"))?;

    let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if config.name != dir_name {
        bail!(
            "{shown}: at /name: \"{}\" must equal the directory name \"{dir_name}\"",
            config.name
        );
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_can_have_its_own_memory() {
        let all: serde_json::Map<String, serde_json::Value> = functions::ALL
            .iter()
            .enumerate()
            .map(|(i, name)| (name.replace('-', "_"), (128 + i as u32 * 64).into()))
            .collect();
        let memory: MemoryByFunction = serde_json::from_value(all.into())
            .expect("one field per function, named as its output key");
        for (i, name) in functions::ALL.iter().enumerate() {
            assert_eq!(memory.get(name), Some(128 + i as u32 * 64), "{name}");
        }
        assert_eq!(MemoryByFunction::default().get(functions::INGEST_API), None);
    }
}
