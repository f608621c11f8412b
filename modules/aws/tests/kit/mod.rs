//! The component test kit: render components into a scratch [`Stack`] and assert on the JSON the
//! files would contain, the way CDK's `Template.hasResourceProperties` reads.
//!
//! Each test binary uses it with `mod kit;`. A fixture stack shared by a file's tests is rendered
//! once per binary (`static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| render(fixture()))`); a test
//! that needs its own stack builds one with [`stack`] and renders it with [`render`].
#![allow(dead_code)] // each test binary uses part of the kit

use std::collections::BTreeMap;
use std::sync::LazyLock;

use aws::cloudwatch::{Alarm, Comparison, LogGroup, Metric};
use aws::dynamodb::{KeyAttribute, Table, TableRef};
use aws::kms::{Key, KeyRef};
use aws::lambda::{Architecture, Function, FunctionRef, StreamSource};
use aws::s3::Bucket;
use aws::sns::{Topic, TopicRef};
use aws::sqs::Queue;
use aws::Stack;
use serde_json::{json, Value};

/// The prefix every scratch stack names its resources with.
pub const PREFIX: &str = "shipstack-test";
pub const REGION: &str = "eu-west-1";

/// A scratch stack (`shipstack-test` in `eu-west-1`).
pub fn stack() -> Stack {
    Stack::new(PREFIX, REGION)
}

/// The queue `events_dlq`, otherwise [`queue`].
pub fn dead_letter_queue(key: &KeyRef) -> Queue {
    Queue {
        name: "events_dlq".into(),
        ..queue(key)
    }
}

/// The log group `app` at `/app`, keeping a week, encrypted with `key`.
pub fn log_group(key: &KeyRef) -> LogGroup {
    LogGroup {
        name: "app".into(),
        path: "/app".into(),
        retention_days: 7,
        key: key.clone(),
    }
}

/// The customer-managed key `data`.
pub fn key(stack: &mut Stack) -> KeyRef {
    key_named(stack, "data")
}

/// A customer-managed key named `name`.
pub fn key_named(stack: &mut Stack, name: &str) -> KeyRef {
    stack.add(Key {
        name: name.into(),
        description: "test".into(),
        deletion_window_days: 7,
    })
}

/// The topic `alerts`, encrypted with `key`.
pub fn topic(stack: &mut Stack, key: &KeyRef) -> TopicRef {
    stack.add(Topic {
        name: "alerts".into(),
        display_name: "alerts".into(),
        key: key.clone(),
    })
}

/// An alarm named `name` on `metric` (at least 1 in one period), notifying `topic`.
pub fn alarm(name: &str, metric: Metric, topic: &TopicRef) -> Alarm {
    Alarm {
        name: name.into(),
        description: name.into(),
        metric,
        comparison: Comparison::GreaterThanOrEqual,
        threshold: 1,
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        notify: topic.clone(),
    }
}

/// The function `worker` (10 s timeout, 7 days of logs), with no failure destination.
pub fn function(key: &KeyRef, reserved_concurrency: Option<u32>) -> Function {
    Function {
        name: "worker",
        description: "test".into(),
        zip_path: "../dist/worker.zip".into(),
        architecture: Architecture::X86_64,
        memory_mb: 128,
        timeout_s: 10,
        environment: vec![],
        reserved_concurrency,
        log_retention_days: 7,
        key: key.clone(),
        async_failure: None,
    }
}

/// The queue `events` (600 s visibility, an hour's retention, long polling), with no DLQ.
pub fn queue(key: &KeyRef) -> Queue {
    Queue {
        name: "events".into(),
        key: key.clone(),
        visibility_timeout_s: 600,
        retention_s: 3600,
        receive_wait_s: 20,
        dead_letter: None,
    }
}

/// The table `shipments` (key `id`, with a stream), no index, TTL or protection.
pub fn streamed_table(key: &KeyRef) -> Table {
    Table {
        name: "shipments".into(),
        partition_key: KeyAttribute::S("id"),
        sort_key: None,
        indexes: vec![],
        stream: true,
        ttl_attribute: None,
        point_in_time_recovery: false,
        deletion_protection: false,
        key: key.clone(),
    }
}

/// `worker` consumes the stream of `table` in batches of 100, three retries within an hour,
/// what still fails into the bucket `failed`.
pub fn consume_stream(stack: &mut Stack, key: &KeyRef, worker: &FunctionRef, table: &TableRef) {
    consume_stream_with(stack, key, worker, table, 1);
}

/// [`consume_stream`], processing `parallelization` batches of a shard at once.
pub fn consume_stream_with(
    stack: &mut Stack,
    key: &KeyRef,
    worker: &FunctionRef,
    table: &TableRef,
    parallelization: u32,
) {
    let failed = stack.add(Bucket {
        name: "failed".into(),
        key: key.clone(),
        expire_after_days: 7,
        force_destroy: true,
        eventbridge_notifications: false,
    });
    let source = StreamSource {
        batch_size: 100,
        batching_window_s: 1,
        max_retries: 3,
        max_record_age_s: 3600,
        parallelization,
        on_failure: failed,
    };
    worker.consume_stream(stack, table, source);
}

/// A stack whose prefix is 45 characters long, for names past AWS's limits.
pub fn long_stack() -> Stack {
    Stack::new("shipstack-a-very-long-environment-name-indeed", REGION)
}

/// The ARN `arn:<partition>:<service>:eu-west-1:<account>:<resource>` as rendered.
pub fn arn(service: &str, resource: &str) -> String {
    format!("arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource}")
}

/// The rendered account id and partition references.
pub const ACCOUNT: &str = "${data.aws_caller_identity.current.account_id}";
pub const PARTITION: &str = "${data.aws_partition.current.partition}";

/// Asserts that rendering `stack` fails with exactly one error, containing each of `parts`.
#[track_caller]
pub fn assert_render_error(stack: Stack, parts: &[&str]) {
    let errors = render_errors(stack);
    assert!(
        errors.len() == 1 && parts.iter().all(|part| errors[0].contains(part)),
        "expected one error with {parts:?}: {errors:#?}"
    );
}

/// What `grant` adds to the role of the function `worker` (see [`function`]): the statements of
/// its inline policy less what a worker granted nothing has (the policy merges statements of
/// the same actions, so what is left of one is its resources the worker did not have).
pub fn granted(grant: impl FnOnce(&mut Stack, &FunctionRef)) -> Vec<Value> {
    static UNGRANTED: LazyLock<Vec<Value>> = LazyLock::new(|| worker_statements(|_, _| ()));
    let without_resources = |s: &Value| {
        let mut s = s.clone();
        s.as_object_mut().expect("a statement").remove("Resource");
        s
    };
    worker_statements(grant)
        .into_iter()
        .filter_map(|mut statement| {
            let base = without_resources(&statement);
            if let Some(had) = UNGRANTED.iter().find(|s| without_resources(s) == base) {
                let resources = statement["Resource"].as_array_mut().expect("Resource list");
                resources.retain(|r| !had["Resource"].as_array().unwrap().contains(r));
                if resources.is_empty() {
                    return None;
                }
            }
            Some(statement)
        })
        .collect()
}

/// The statements of the worker function's inline policy once `grant` has run.
pub fn worker_statements(grant: impl FnOnce(&mut Stack, &FunctionRef)) -> Vec<Value> {
    let mut stack = stack();
    let key = key(&mut stack);
    let worker = stack.add(function(&key, None));
    grant(&mut stack, &worker);
    render(stack).role_statements("worker")
}

/// An `Allow` statement of `actions` on `resources`, as a role policy renders it.
/// What consuming a queue takes (`QueueRef::grant_consume_messages`).
pub const QUEUE_CONSUME: &[&str] = &[
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
];

pub fn allow(actions: &[&str], resources: &[&str]) -> Value {
    json!({"Action": actions, "Effect": "Allow", "Resource": resources})
}

/// Asserts that `actual` holds exactly the `expected` statements, in any order.
#[track_caller]
pub fn assert_statements(actual: Vec<Value>, expected: Vec<Value>) {
    let sorted = |mut statements: Vec<Value>| {
        statements.sort_by_key(Value::to_string);
        Value::Array(statements)
    };
    pretty_assertions::assert_eq!(sorted(actual), sorted(expected));
}

/// Asserts that `actual` holds each of the `expected` statements (and maybe others).
#[track_caller]
pub fn assert_has_statements(actual: &[Value], expected: &[Value]) {
    for statement in expected {
        assert!(
            actual.contains(statement),
            "no {} in {}",
            pretty(statement),
            pretty(&actual.into())
        );
    }
}

/// The `Deny` of `actions` on `resources` without TLS that every resource policy starts with.
pub fn deny_insecure_transport(actions: &[&str], resources: &[&str]) -> Value {
    json!({
        "Action": actions,
        "Condition": {"Bool": {"aws:SecureTransport": ["false"]}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": resources,
    })
}

/// The render errors of the finished stack.
pub fn render_errors(stack: Stack) -> Vec<String> {
    match stack.finish().render(aws::file_of) {
        Ok(_) => vec![],
        Err(err) => err.0,
    }
}

/// Finishes and renders `stack`; panics on a render error.
pub fn render(stack: Stack) -> Rendered {
    let doc = stack.finish();
    let files = doc.render(aws::file_of).expect("renders");
    let checks = files
        .values()
        .map(|text| serde_json::from_str::<Value>(text).expect("rendered JSON"))
        .filter_map(|file| file["check"].as_object().cloned())
        .flatten()
        .collect();
    Rendered {
        resources: doc
            .resources()
            .map(|(r, body)| (r.address(), body.to_json()))
            .collect(),
        checks,
    }
}

/// The resources of a rendered stack, `type.name -> body` as the files hold them, and its
/// `check` blocks.
#[derive(Debug)]
pub struct Rendered {
    resources: BTreeMap<String, Value>,
    checks: BTreeMap<String, Value>,
}

impl Rendered {
    /// The `check` block named `name`; panics listing what there is.
    pub fn check(&self, name: &str) -> &Value {
        self.checks
            .get(name)
            .unwrap_or_else(|| panic!("no check {name}; the stack has {:?}", self.checks.keys()))
    }

    /// Every address (`type.name`), sorted.
    pub fn addresses(&self) -> Vec<&str> {
        self.resources.keys().map(String::as_str).collect()
    }

    pub fn has(&self, resource_type: &str, name: &str) -> bool {
        self.resources
            .contains_key(&format!("{resource_type}.{name}"))
    }

    /// The resource of type `resource_type` named `name`; panics listing what there is.
    pub fn resource(&self, resource_type: &str, name: &str) -> &Value {
        let address = format!("{resource_type}.{name}");
        self.resources
            .get(&address)
            .unwrap_or_else(|| panic!("no {address}; the stack has {:#?}", self.addresses()))
    }

    /// Every resource of type `resource_type`, `name -> body`.
    pub fn of_type(&self, resource_type: &str) -> BTreeMap<&str, &Value> {
        let prefix = format!("{resource_type}.");
        self.resources
            .iter()
            .filter_map(|(address, body)| Some((address.strip_prefix(&prefix)?, body)))
            .collect()
    }

    /// Asserts that the resource contains `expected` (a JSON subset: objects may hold more keys,
    /// arrays match element by element); the failure names the path that differs.
    #[track_caller]
    pub fn has_properties(&self, resource_type: &str, name: &str, expected: Value) {
        let actual = self.resource(resource_type, name);
        if let Err(mismatch) = subset(actual, &expected, "") {
            panic!(
                "{resource_type}.{name}: {mismatch}\nthe resource: {}",
                pretty(actual)
            );
        }
    }

    /// The statements of the JSON policy in `resource_type.name`'s `policy` attribute (a queue,
    /// topic or bucket policy, a key's policy).
    pub fn policy_statements(&self, resource_type: &str, name: &str) -> Vec<Value> {
        statements(&self.resource(resource_type, name)["policy"])
    }

    /// Asserts that `aws_iam_role.role` is named `name` and only `service` may assume it.
    #[track_caller]
    pub fn assert_role(&self, role: &str, name: &str, service: &str) {
        let body = self.resource("aws_iam_role", role);
        assert_eq!(body["name"], name, "{role}");
        assert_eq!(
            statements(&body["assume_role_policy"]),
            vec![
                json!({"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": service}})
            ],
            "{role}"
        );
    }

    /// The statements of role `role`'s inline policy (what its grants add).
    pub fn role_statements(&self, role: &str) -> Vec<Value> {
        self.policy_statements("aws_iam_role_policy", role)
    }
}

/// Where `actual` does not contain `expected`, with both values at that path.
pub fn subset(actual: &Value, expected: &Value, path: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => {
            expected.iter().try_for_each(|(key, want)| {
                let at = format!("{path}/{key}");
                match actual.get(key) {
                    Some(got) => subset(got, want, &at),
                    None => Err(format!("{at} is missing; expected {}", pretty(want))),
                }
            })
        }
        (Value::Array(got), Value::Array(want)) if got.len() == want.len() => got
            .iter()
            .zip(want)
            .enumerate()
            .try_for_each(|(i, (got, want))| subset(got, want, &format!("{path}/{i}"))),
        _ if actual == expected => Ok(()),
        _ => Err(format!(
            "{} differs (< actual, > expected)\n{}",
            if path.is_empty() { "/" } else { path },
            pretty_assertions::Comparison::new(&PrettyJson(actual), &PrettyJson(expected))
        )),
    }
}

/// Asserts that `actual` contains `expected` (see [`subset`]).
#[track_caller]
pub fn assert_subset(actual: &Value, expected: Value) {
    if let Err(mismatch) = subset(actual, &expected, "") {
        panic!("{mismatch}\nthe value: {}", pretty(actual));
    }
}

/// The statements of a JSON policy document rendered as a string attribute.
pub fn statements(policy: &Value) -> Vec<Value> {
    json_text(policy)["Statement"]
        .as_array()
        .expect("a Statement list")
        .clone()
}

/// An attribute rendered as JSON text (a policy, a pattern, a dashboard body), parsed.
pub fn json_text(attribute: &Value) -> Value {
    let text = attribute
        .as_str()
        .unwrap_or_else(|| panic!("not JSON text: {attribute}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The statement whose principal is the service `service`.
pub fn statement_for<'a>(statements: &'a [Value], service: &str) -> &'a Value {
    statements
        .iter()
        .find(|s| s["Principal"]["Service"] == service)
        .unwrap_or_else(|| panic!("no statement for {service}: {}", pretty(&statements.into())))
}

/// The statement whose actions are exactly `actions`.
pub fn statement_with<'a>(statements: &'a [Value], actions: &[&str]) -> &'a Value {
    statements
        .iter()
        .find(|s| s["Action"] == serde_json::json!(actions))
        .unwrap_or_else(|| {
            panic!(
                "no statement of {actions:?}: {}",
                pretty(&statements.into())
            )
        })
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON")
}

/// Prints as pretty JSON, so a diff is line by line.
struct PrettyJson<'a>(&'a Value);

impl std::fmt::Debug for PrettyJson<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&pretty(self.0))
    }
}
