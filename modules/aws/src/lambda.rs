//! Lambda: Rust functions on `provided.al2023` (handler `bootstrap`) with their role, log group,
//! event source mappings and invoke permissions.

use tf::{Block, Check, Expr, Resource, Tf};

use crate::cloudwatch::{LogGroup, Metric, Statistic};
use crate::dynamodb::TableRef;
use crate::iam::{assume_role_policy, Grant, Grantee, Service, Statement};
use crate::kms::KeyRef;
use crate::s3::BucketRef;
use crate::sqs::QueueRef;
use crate::{Component, Stack};

/// The instruction set a function runs on: the env's choice (`functions.architecture`), the
/// packaging target (`package --arch`) and the rendered `architectures`, one type for all three.
/// `arm64` (Graviton, cheaper per GB-second) needs the processors packaged with `--arch arm64`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum Architecture {
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// The Lambda `architectures` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl std::str::FromStr for Architecture {
    type Err = String;

    fn from_str(s: &str) -> Result<Architecture, String> {
        [Architecture::X86_64, Architecture::Arm64]
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a Lambda architecture (x86_64, arm64)"))
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to an asynchronous invocation (EventBridge delivery) that keeps failing.
#[derive(Clone, Debug)]
pub struct AsyncFailure {
    pub max_retries: u32,
    pub max_event_age_s: u32,
    pub dead_letter: QueueRef,
}

/// A function built from a packaged `bootstrap` zip.
#[derive(Clone, Debug)]
pub struct Function {
    /// Function name as the processors know it (`queue-processor`); physical name is
    /// `<prefix>-<name>`, logical name its snake_case.
    pub name: &'static str,
    pub description: String,
    /// The zip, relative to the rendered environment's directory (`../dist/<name>.zip`).
    pub zip_path: String,
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub environment: Vec<(&'static str, Tf)>,
    pub reserved_concurrency: Option<u32>,
    pub log_retention_days: u32,
    /// Encrypts the environment variables and the log group.
    pub key: KeyRef,
    pub async_failure: Option<AsyncFailure>,
}

/// A rendered function: typed references, and the role grants are added to.
#[derive(Clone, Debug)]
pub struct FunctionRef {
    function: Resource,
    role: Resource,
    physical_name: String,
    timeout_s: u32,
    reserved_concurrency: Option<u32>,
}

impl Grantee for FunctionRef {
    fn grant(&self, stack: &mut Stack, statement: Statement) -> Grant {
        stack.grant_role(&self.role, statement)
    }
}

/// Feeding a function from an SQS queue.
#[derive(Clone, Debug)]
pub struct SqsSource {
    pub batch_size: u32,
    pub batching_window_s: u32,
    /// Upper bound on concurrent invocations this queue drives (2 to 1000); at most the
    /// function's reserved concurrency, if it has one.
    pub max_concurrency: Option<u32>,
}

/// Feeding a function from a DynamoDB stream.
#[derive(Clone, Debug)]
pub struct StreamSource {
    pub batch_size: u32,
    pub batching_window_s: u32,
    pub max_retries: u32,
    pub max_record_age_s: u32,
    /// Batches of one shard processed at once (1 to 10); records with the same partition key
    /// stay in order whatever the factor.
    pub parallelization: u32,
    /// Where records that exhaust their retries are written, with their metadata.
    pub on_failure: BucketRef,
}

/// The visibility timeout a queue needs for a consumer with this timeout and batching window:
/// at least six times the timeout plus the window, or a message still being processed becomes
/// visible again and is processed twice (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
pub fn queue_visibility_for(timeout_s: u32, batching_window_s: u32) -> u32 {
    6 * timeout_s + batching_window_s
}

/// Name prefix of the outputs that describe, under an emulator, the stream mappings the harness
/// plays: moto 5.2.5 ignores `enabled = false` on a stream mapping and consumes the records
/// itself (a canned success), so there the mapping is rendered as an output, not a resource.
pub const HARNESS_MAPPING_PREFIX: &str = "harness_mapping_";

impl FunctionRef {
    pub fn arn(&self) -> Expr {
        self.function.attr("arn")
    }

    pub fn invoke_arn(&self) -> Expr {
        self.function.attr("invoke_arn")
    }

    pub fn name(&self) -> Expr {
        self.function.attr("function_name")
    }

    pub fn logical_name(&self) -> &str {
        self.function.name()
    }

    pub fn timeout_s(&self) -> u32 {
        self.timeout_s
    }

    /// Invocations that ended in an error (function errors and timeouts).
    pub fn metric_errors(&self) -> Metric {
        self.metric("Errors")
    }

    /// Invocation requests refused for lack of concurrency.
    pub fn metric_throttles(&self) -> Metric {
        self.metric("Throttles")
    }

    pub fn metric_invocations(&self) -> Metric {
        self.metric("Invocations")
    }

    /// The longest invocation of a period, ms.
    pub fn metric_duration(&self) -> Metric {
        self.metric("Duration").statistic(Statistic::Maximum)
    }

    /// How far behind its stream the function reads (stream-fed functions only), ms.
    pub fn metric_iterator_age(&self) -> Metric {
        self.metric("IteratorAge").statistic(Statistic::Maximum)
    }

    /// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html: per
    /// function, by FunctionName.
    fn metric(&self, name: &'static str) -> Metric {
        Metric::new(
            "AWS/Lambda",
            name,
            vec![("FunctionName", Tf::from(self.physical_name.as_str()))],
        )
    }

    /// Consumes `queue` in batches, reporting partial batch failures so only the failed
    /// messages are retried.
    pub fn consume_queue(&self, stack: &mut Stack, queue: &QueueRef, source: SqsSource) {
        let needed = queue_visibility_for(self.timeout_s, source.batching_window_s);
        if queue.visibility_timeout_s() < needed {
            stack.doc().report(format!(
                "queue {} has a visibility timeout of {} s; {} consumes it with a {} s timeout and a {} s window, so it needs at least {} s (6x timeout + window)",
                queue.resource().name(),
                queue.visibility_timeout_s(),
                self.function.name(),
                self.timeout_s,
                source.batching_window_s,
                needed
            ));
        }
        // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html: "Don't set
        // maximum concurrency higher than the function's reserved concurrency" (Lambda throttles).
        if let (Some(max), Some(reserved)) = (source.max_concurrency, self.reserved_concurrency) {
            if max > reserved {
                stack.doc().report(format!(
                    "{} consumes queue {} with maximum concurrency {max}, above its reserved concurrency {reserved}: Lambda would throttle the queue's messages",
                    self.function.name(),
                    queue.resource().name(),
                ));
            }
        }
        if let Some(max) = source.max_concurrency.filter(|n| !(2..=1000).contains(n)) {
            stack.doc().report(format!(
                "{} consumes queue {} with maximum concurrency {max}: SQS mappings take 2 to 1000",
                self.function.name(),
                queue.resource().name(),
            ));
        }
        let grant = queue.grant_consume_messages(stack, self);
        let body = Block::new()
            .set("event_source_arn", queue.arn())
            .set("function_name", self.arn())
            .set("batch_size", source.batch_size)
            .set(
                "maximum_batching_window_in_seconds",
                source.batching_window_s,
            )
            .set(
                "function_response_types",
                Tf::list(["ReportBatchItemFailures"]),
            )
            // Under an emulator the harness polls the queue (moto honours `enabled = false`).
            .set("enabled", !stack.emulated)
            .set_opt(
                "scaling_config",
                source
                    .max_concurrency
                    .map(|n| Tf::list([Block::new().set("maximum_concurrency", n)])),
            )
            // Lambda checks the role may read the queue when the mapping is created.
            .depends_on([grant.policy()]);
        let name = format!("{}_from_{}", self.function.name(), queue.resource().name());
        stack
            .doc()
            .resource("aws_lambda_event_source_mapping", &name, body);
    }

    /// Consumes the table's stream, bisecting a failing batch to isolate the bad record,
    /// retrying a bounded number of times and writing what still fails to `on_failure`.
    pub fn consume_stream(&self, stack: &mut Stack, table: &TableRef, source: StreamSource) {
        // Without a stream the table's `stream_arn` is empty and creating the mapping fails.
        if !table.has_stream() {
            stack.doc().report(format!(
                "{} consumes the stream of table {}, which has none (set its `stream`)",
                self.function.name(),
                table.resource().name(),
            ));
        }
        // ParallelizationFactor takes 1 to 10 (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-parallelization.html).
        if !(1..=10).contains(&source.parallelization) {
            stack.doc().report(format!(
                "{} consumes the stream of table {} with parallelization {}: stream mappings take 1 to 10",
                self.function.name(),
                table.resource().name(),
                source.parallelization,
            ));
        }
        table.grant_stream_read(stack, self);
        let grant = source.on_failure.grant_put_objects(stack, self);
        let settings = Block::new()
            .set("event_source_arn", table.stream_arn())
            .set("function_name", self.arn())
            .set("starting_position", "LATEST")
            .set("batch_size", source.batch_size)
            .set(
                "maximum_batching_window_in_seconds",
                source.batching_window_s,
            )
            .set("parallelization_factor", source.parallelization)
            .set("bisect_batch_on_function_error", true)
            .set("maximum_retry_attempts", source.max_retries)
            .set("maximum_record_age_in_seconds", source.max_record_age_s)
            .set(
                "function_response_types",
                Tf::list(["ReportBatchItemFailures"]),
            )
            .block(
                "destination_config",
                Block::new().block(
                    "on_failure",
                    Block::new().set("destination_arn", source.on_failure.arn()),
                ),
            );
        let name = format!(
            "{}_from_{}_stream",
            self.function.name(),
            table.resource().name()
        );
        if stack.emulated {
            stack.doc().output(
                &format!("{HARNESS_MAPPING_PREFIX}{name}"),
                "Stream mapping the local harness plays (moto would consume the stream itself)",
                settings,
            );
            return;
        }
        let body = settings.set("enabled", true).depends_on([grant.policy()]);
        stack
            .doc()
            .resource("aws_lambda_event_source_mapping", &name, body);
    }

    /// Lets `service` invoke the function from `source_arn` only.
    pub fn allow_invoke(&self, stack: &mut Stack, caller: &str, service: Service, source_arn: Tf) {
        let body = Block::new()
            .set(
                "statement_id",
                format!("AllowInvokeFrom{}", pascal_case(caller)),
            )
            .set("action", "lambda:InvokeFunction")
            .set("function_name", self.name())
            .set("principal", service.principal())
            .set("source_arn", source_arn);
        stack.doc().resource(
            "aws_lambda_permission",
            &format!("{}_from_{caller}", self.function.name()),
            body,
        );
    }
}

fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or(String::new(), |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

impl Component for Function {
    type Handle = FunctionRef;

    fn add_to(self, stack: &mut Stack) -> FunctionRef {
        let logical = self.name.replace('-', "_");
        // https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html: a function name
        // of at most 64 characters; the role shares it, and IAM role names stop at 64 too.
        let physical = stack.physical_name_within(self.name, "Lambda function", 64);
        let log_group = stack.add(LogGroup {
            name: logical.clone(),
            path: format!("/aws/lambda/{physical}"),
            retention_days: self.log_retention_days,
            key: self.key.clone(),
        });
        let role = stack.doc().resource(
            "aws_iam_role",
            &logical,
            Block::new()
                .set("name", physical.clone())
                .set("description", format!("Execution role of {physical}"))
                .set("assume_role_policy", assume_role_policy(Service::Lambda)),
        );
        let zip = Tf::template([
            Expr::path_module().into(),
            Tf::from(format!("/{}", self.zip_path)),
        ]);
        // What `source_code_hash` deploys, and what the code check compares Lambda's with.
        let zip_hash = Expr::call("filebase64sha256", [zip.clone()]);
        let mut body = Block::new()
            .set("function_name", physical.clone())
            .set("description", self.description)
            .set("role", role.attr("arn"))
            .set("runtime", "provided.al2023")
            .set("handler", "bootstrap")
            .set("architectures", Tf::list([self.architecture.as_str()]))
            .set("filename", zip.clone())
            .set("source_code_hash", zip_hash.clone())
            .set("memory_size", self.memory_mb)
            .set("timeout", self.timeout_s)
            .set("kms_key_arn", self.key.arn())
            .set_opt("reserved_concurrent_executions", self.reserved_concurrency)
            .block(
                "environment",
                Block::new().set("variables", Tf::object(self.environment)),
            )
            .block("tracing_config", Block::new().set("mode", "Active"))
            .block(
                "logging_config",
                Block::new()
                    .set("log_format", "JSON")
                    .set("log_group", log_group.attr("name")),
            );
        if let Some(failure) = &self.async_failure {
            body = body.block(
                "dead_letter_config",
                Block::new().set("target_arn", failure.dead_letter.arn()),
            );
        }
        let policy = stack.role_policy(&role);
        let function = stack.doc().resource(
            "aws_lambda_function",
            &logical,
            body.depends_on([&log_group, &policy]),
        );
        // Since provider 5.51 a code change made outside Terraform leaves no diff
        // (https://github.com/hashicorp/terraform-provider-aws/issues/41092): compare what
        // Lambda runs with the zip on every plan instead.
        let deployed = Check::reading(
            "aws_lambda_function",
            &format!("{logical}_deployed"),
            Block::new().set("function_name", function.attr("function_name")),
        );
        let code = deployed.data().attr("code_sha256");
        let message = format!(
            "{physical} runs code that is not the packaged generated/{zip}: it was changed \
             outside Terraform, which does not undo that. Redeploy the package: aws lambda \
             update-function-code --function-name {physical} --zip-file fileb://generated/{zip}",
            zip = self.zip_path.trim_start_matches("../"),
        );
        stack.doc().check(
            &format!("{logical}_runs_the_packaged_code"),
            deployed.assert(code.equals(zip_hash), &message),
        );
        let handle = FunctionRef {
            function,
            role,
            physical_name: physical,
            timeout_s: self.timeout_s,
            reserved_concurrency: self.reserved_concurrency,
        };

        let log_streams = Tf::template([log_group.attr("arn").into(), Tf::from(":*")]);
        stack.grant_role(
            &handle.role,
            Statement::allow(
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                [log_streams],
            ),
        );
        // X-Ray accepts segments only on "*": it has no resource-level permissions.
        stack.grant_role(
            &handle.role,
            Statement::allow(
                &["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                [Tf::from("*")],
            ),
        );
        self.key.grant_decrypt(stack, &handle);
        if let Some(failure) = self.async_failure {
            failure.dead_letter.grant_send_messages(stack, &handle);
            let config = Block::new()
                .set("function_name", handle.name())
                .set("maximum_retry_attempts", failure.max_retries)
                .set("maximum_event_age_in_seconds", failure.max_event_age_s);
            stack
                .doc()
                .resource("aws_lambda_function_event_invoke_config", &logical, config);
        }
        handle
    }
}
