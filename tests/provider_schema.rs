//! Checks the rendered Terraform JSON (`generated/<env>/*.tf.json`) against the pinned AWS
//! provider's own schema, as derived by `scripts/provider-schema` into
//! `tests/fixtures/aws-provider-schema.json`:
//!
//! - every `resource.<type>.<name>` and `data.<type>.<name>` body validates against the JSON
//!   Schema of its type (no unknown or computed-only attribute, every required attribute and
//!   block, the right value and block shapes), and so does every `provider "aws"` configuration;
//!   negative tests mutate real rendered resources to prove each class of mistake is caught;
//! - every reference of every env's document (its graph, `tf::Document::references`, built
//!   from typed expressions, never parsed from text) names an attribute or block its type has,
//!   and rendering refuses an undeclared address; `depends_on` names declared resources,
//!   `lifecycle.ignore_changes` names attributes of the resource's own type.
//!
//! Deliberately stricter than Terraform in a few places, because the renderer is typed: a value
//! must have its attribute's JSON type (Terraform would coerce "30" to a number; here only a
//! `${...}` template string may stand for a non-string), repeated (list/set) blocks must be arrays
//! of objects, and `null`, `dynamic` blocks, provisioners and `//` comments are not accepted.
//!
//! When nothing is rendered yet, the negative tests run on a small hand-written sample document;
//! the test over the rendered output fails and says to render first.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde_json::{json, Map, Value};

const FIXTURE: &str = "tests/fixtures/aws-provider-schema.json";
const REGENERATE: &str = "run scripts/provider-schema";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// One Terraform JSON file of a rendered environment.
struct File {
    /// Path relative to the repository root, for messages.
    path: String,
    doc: Value,
}

/// One rendered environment: `generated/<name>/*.tf.json` (one Terraform module).
struct Env {
    name: String,
    files: Vec<File>,
}

fn rendered_envs() -> Vec<Env> {
    let generated = root().join("generated");
    let mut dirs: Vec<PathBuf> = match fs::read_dir(&generated) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "dist"))
            .collect(),
        Err(_) => Vec::new(),
    };
    dirs.sort();
    let mut envs = Vec::new();
    for dir in dirs {
        let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.to_string_lossy().ends_with(".tf.json"))
            .collect();
        if paths.is_empty() {
            continue;
        }
        paths.sort();
        let files = paths
            .iter()
            .map(|p| {
                let text = fs::read_to_string(p)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
                let doc = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", p.display()));
                File {
                    path: relative(p),
                    doc,
                }
            })
            .collect();
        envs.push(Env {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            files,
        });
    }
    envs
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

fn fixture() -> Value {
    let path = root().join(FIXTURE);
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{FIXTURE} is missing ({e}): {REGENERATE}"));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{FIXTURE} is not JSON ({e}): {REGENERATE}"))
}

/// `resource` or `data`.
type Kind = &'static str;

/// A declared resource or data source: kind, type, name, body.
struct Declared<'a> {
    kind: Kind,
    ty: String,
    name: String,
    body: &'a Value,
}

impl Declared<'_> {
    fn address(&self) -> String {
        address(self.kind, &self.ty, &self.name)
    }
}

fn address(kind: &str, ty: &str, name: &str) -> String {
    if kind == "data" {
        format!("data.{ty}.{name}")
    } else {
        format!("{ty}.{name}")
    }
}

/// Terraform JSON allows an array of objects wherever an object of labelled blocks goes.
fn objects(v: &Value) -> Vec<&Map<String, Value>> {
    match v {
        Value::Object(m) => vec![m],
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn declarations(doc: &Value) -> Vec<Declared<'_>> {
    let mut out = Vec::new();
    for kind in ["resource", "data"] {
        if let Some(section) = doc.get(kind) {
            declared_in(kind, section, &mut out);
        }
    }
    // A check block's scoped data source is checked like any other.
    for checks in doc.get("check").into_iter().flat_map(objects) {
        for check in checks.values() {
            if let Some(section) = check.get("data") {
                declared_in("data", section, &mut out);
            }
        }
    }
    out
}

fn declared_in<'a>(kind: &'static str, section: &'a Value, out: &mut Vec<Declared<'a>>) {
    for types in objects(section) {
        for (ty, named) in types {
            for names in objects(named) {
                for (name, body) in names {
                    let bodies: Vec<&Value> = match body {
                        Value::Array(items) => items.iter().collect(),
                        other => vec![other],
                    };
                    for body in bodies {
                        out.push(Declared {
                            kind,
                            ty: ty.clone(),
                            name: name.clone(),
                            body,
                        });
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schema validation
// ---------------------------------------------------------------------------------------------

/// The fixture, compiled into one validator per type.
struct Schemas {
    fixture: Value,
    validators: BTreeMap<String, Validator>,
}

impl Schemas {
    /// The fixture, compiled once per test process (compiling every type takes a while).
    fn load() -> &'static Self {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| Self::new(fixture()))
    }

    fn new(fixture: Value) -> Self {
        assert_eq!(
            fixture["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{FIXTURE} must be a draft 2020-12 JSON Schema: {REGENERATE}"
        );
        let defs = fixture["$defs"]
            .as_object()
            .unwrap_or_else(|| panic!("{FIXTURE} has no $defs: {REGENERATE}"));
        let mut validators = BTreeMap::new();
        for key in defs.keys().filter(|k| {
            k.starts_with("resource.") || k.starts_with("data.") || *k == "provider.aws"
        }) {
            let schema = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": format!("#/$defs/{key}"),
                "$defs": defs,
            });
            let validator = jsonschema::draft202012::new(&schema)
                .unwrap_or_else(|e| panic!("{FIXTURE}: $defs/{key} does not compile: {e}"));
            validators.insert(key.clone(), validator);
        }
        Schemas {
            fixture,
            validators,
        }
    }

    fn def(&self, kind: &str, ty: &str) -> Option<&Value> {
        self.fixture["$defs"].get(format!("{kind}.{ty}"))
    }

    /// Attribute (any role) or nested block names of a type, for reference checks.
    fn has_field(&self, kind: &str, ty: &str, field: &str) -> Option<bool> {
        let def = self.def(kind, ty)?;
        Some(def["x-attributes"].get(field).is_some() || def["x-blocks"].get(field).is_some())
    }

    /// Validation errors of one body as (JSON pointer inside the body, kind, message).
    fn errors(&self, kind: &str, ty: &str, body: &Value) -> Result<Vec<Violation>, String> {
        let validator = self
            .validators
            .get(&format!("{kind}.{ty}"))
            .ok_or_else(|| {
                format!("{kind} type {ty} is not in {FIXTURE}: {REGENERATE} (after rendering)")
            })?;
        Ok(validator
            .iter_errors(body)
            .map(|e| {
                let mut message = e.to_string();
                match e.kind() {
                    ValidationErrorKind::FalseSchema => {
                        message = format!(
                            "computed-only attribute (an output of the provider) is set: {message}"
                        );
                    }
                    ValidationErrorKind::AnyOf { context } => {
                        // Say what each alternative wanted, e.g. a number or a ${...} template.
                        let wanted: Vec<String> = context
                            .iter()
                            .filter_map(|alt| alt.first())
                            .map(|e| e.to_string())
                            .collect();
                        message = format!(
                            "{} is none of the accepted forms: {}",
                            e.instance(),
                            wanted.join("; ")
                        );
                    }
                    _ => {}
                }
                Violation {
                    path: e.instance_path().as_str().to_owned(),
                    keyword: e.kind().keyword().to_owned(),
                    detail: detail(e.kind()),
                    message: shorten(&message),
                }
            })
            .collect())
    }
}

#[derive(Debug, Clone)]
struct Violation {
    /// JSON pointer inside the resource body ("" for the body itself).
    path: String,
    /// The JSON Schema keyword that failed (additionalProperties, required, falseSchema, ...).
    keyword: String,
    /// The unexpected or missing property, when there is one.
    detail: Vec<String>,
    message: String,
}

fn detail(kind: &ValidationErrorKind) -> Vec<String> {
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected.clone(),
        ValidationErrorKind::Required { property } => {
            vec![property.as_str().unwrap_or_default().to_owned()]
        }
        _ => Vec::new(),
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 300;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// The `provider "aws"` configurations of a document, each with its address.
fn aws_providers(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for providers in doc.get("provider").map(objects).unwrap_or_default() {
        let Some(aws) = providers.get("aws") else {
            continue;
        };
        let configs: Vec<&Value> = match aws {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for config in configs {
            let address = match config.get("alias").and_then(Value::as_str) {
                Some(alias) => format!("provider.aws.{alias}"),
                None => "provider.aws".to_owned(),
            };
            out.push((address, config));
        }
    }
    out
}

/// Every schema violation in one environment, one line each, naming env, file, address, path.
fn schema_violations(schemas: &Schemas, env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for file in &env.files {
        for (address, config) in aws_providers(&file.doc) {
            for v in schemas
                .errors("provider", "aws", config)
                .unwrap_or_else(|e| panic!("{e}"))
            {
                let path = if v.path.is_empty() {
                    "/".to_owned()
                } else {
                    v.path
                };
                out.push(format!(
                    "env {}, {}, {address} at {path}: {}",
                    env.name, file.path, v.message
                ));
            }
        }
        for d in declarations(&file.doc) {
            match schemas.errors(d.kind, &d.ty, d.body) {
                Err(missing) => out.push(format!(
                    "env {}, {}, {}: {missing}",
                    env.name,
                    file.path,
                    d.address()
                )),
                Ok(errors) => {
                    for v in errors {
                        let path = if v.path.is_empty() {
                            "/".to_owned()
                        } else {
                            v.path
                        };
                        out.push(format!(
                            "env {}, {}, {} at {path}: {}",
                            env.name,
                            file.path,
                            d.address(),
                            v.message
                        ));
                    }
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------

/// A resource or data source named in `depends_on`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Reference {
    kind: Kind,
    ty: String,
    name: String,
    /// The attribute or block after the name (after any `[index]`), if any.
    attr: Option<String>,
}

/// Parses a bare address as written in `depends_on`.
fn bare_reference(s: &str) -> Option<Reference> {
    let parts: Vec<&str> = s
        .split('.')
        .map(|p| p.split('[').next().unwrap_or_default())
        .collect();
    let (kind, rest) = match *parts.first()? {
        "data" => ("data", &parts[1..]),
        "module" | "var" | "local" => return None,
        _ => ("resource", &parts[..]),
    };
    let [ty, name, attr @ ..] = rest else {
        return None;
    };
    Some(Reference {
        kind,
        ty: (*ty).to_owned(),
        name: (*name).to_owned(),
        attr: attr.first().map(|a| (*a).to_owned()),
    })
}

/// Every broken `depends_on` or `lifecycle.ignore_changes` entry in one environment, one line
/// each. References inside expressions are the document's graph, checked at render.
fn reference_violations(schemas: &Schemas, env: &Env) -> Vec<String> {
    reference_check(schemas, env).0
}

/// Broken meta-argument references, and how many were checked.
fn reference_check(schemas: &Schemas, env: &Env) -> (Vec<String>, usize) {
    let mut checked = 0;
    let mut declared: BTreeSet<(Kind, String, String)> = BTreeSet::new();
    for file in &env.files {
        for d in declarations(&file.doc) {
            declared.insert((d.kind, d.ty.clone(), d.name.clone()));
        }
    }
    let check = |r: &Reference| -> Option<String> {
        (!declared.contains(&(r.kind, r.ty.clone(), r.name.clone()))).then(|| {
            format!(
                "{} is not declared in this env",
                address(r.kind, &r.ty, &r.name)
            )
        })
    };
    let mut out = Vec::new();
    for file in &env.files {
        for d in declarations(&file.doc) {
            let at =
                |what: &str| format!("env {}, {}, {} {what}", env.name, file.path, d.address());
            for entry in d
                .body
                .get("depends_on")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(s) = entry.as_str() else { continue };
                checked += 1;
                match bare_reference(s) {
                    Some(r) if r.attr.is_none() => {
                        if let Some(problem) = check(&r) {
                            out.push(format!("{}: {problem}", at(&format!("depends_on {s:?}"))));
                        }
                    }
                    Some(_) => out.push(format!(
                        "{}: names an attribute, not a resource",
                        at(&format!("depends_on {s:?}"))
                    )),
                    None if s.starts_with("module.") => {}
                    None => out.push(format!(
                        "{}: not a resource address",
                        at(&format!("depends_on {s:?}"))
                    )),
                }
            }
            let lifecycle = d.body.get("lifecycle");
            for entry in lifecycle
                .and_then(|l| l.get("ignore_changes"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(s) = entry.as_str() else { continue };
                let field = s.split(['.', '[']).next().unwrap_or_default();
                if schemas.has_field(d.kind, &d.ty, field) == Some(false) {
                    out.push(format!(
                        "{}: {} has no attribute or block {field:?}",
                        at(&format!("lifecycle.ignore_changes {s:?}")),
                        d.ty
                    ));
                }
            }
        }
    }
    (out, checked)
}

// ---------------------------------------------------------------------------------------------
// Sample document (used before anything is rendered, and to test the checkers themselves)
// ---------------------------------------------------------------------------------------------

fn sample_env() -> Env {
    // Only types the renderer emits (so the trimmed fixture has them); the IAM role policy is
    // written in the array-of-one body form Terraform JSON also allows.
    let doc = json!({
        "data": {
            "aws_caller_identity": {"current": {}}
        },
        "resource": {
            "aws_sqs_queue": {
                "orders_dlq": {"name": "shipstack-dev-orders-dlq", "message_retention_seconds": 1_209_600},
                "orders": {
                    "name": "shipstack-dev-orders",
                    "visibility_timeout_seconds": 180,
                    "sqs_managed_sse_enabled": true,
                    "redrive_policy": "${jsonencode({deadLetterTargetArn = aws_sqs_queue.orders_dlq.arn, maxReceiveCount = 5})}",
                    "tags": {"service": "shipstack", "env": "dev"}
                }
            },
            "aws_sqs_queue_policy": {
                "orders": {
                    "queue_url": "${aws_sqs_queue.orders.id}",
                    "policy": "${jsonencode({Version = \"2012-10-17\", Statement = [{Effect = \"Allow\", Principal = {Service = \"sns.amazonaws.com\"}, Action = \"sqs:SendMessage\", Resource = aws_sqs_queue.orders.arn}]})}"
                }
            },
            "aws_iam_role": {
                "ingest": {
                    "name": "shipstack-dev-ingest",
                    "assume_role_policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
                }
            },
            "aws_iam_role_policy": {
                "ingest": [{
                    "name": "ingest",
                    "role": "${aws_iam_role.ingest.id}",
                    "policy": "${jsonencode({Version = \"2012-10-17\", Statement = [{Effect = \"Allow\", Action = [\"sqs:SendMessage\"], Resource = [\"${aws_sqs_queue.orders.arn}\"]}]})}"
                }]
            },
            "aws_lambda_function": {
                "ingest": {
                    "function_name": "shipstack-dev-ingest",
                    "role": "${aws_iam_role.ingest.arn}",
                    "runtime": "provided.al2023",
                    "handler": "bootstrap",
                    "architectures": ["arm64"],
                    "filename": "${path.module}/../dist/ingest.zip",
                    "source_code_hash": "${filebase64sha256(\"${path.module}/../dist/ingest.zip\")}",
                    "memory_size": 256,
                    "timeout": 30,
                    "environment": [{"variables": {
                        "QUEUE_URL": "${aws_sqs_queue.orders.url}",
                        "ACCOUNT": "${data.aws_caller_identity.current.account_id}"
                    }}],
                    "tracing_config": [{"mode": "Active"}],
                    "depends_on": ["aws_iam_role_policy.ingest", "aws_sqs_queue_policy.orders"],
                    "lifecycle": {"ignore_changes": ["tags"]}
                }
            }
        },
        "output": {
            "orders_queue_arn": {"value": "${aws_sqs_queue.orders.arn}"}
        }
    });
    Env {
        name: "sample".into(),
        files: vec![File {
            path: "<sample>".into(),
            doc,
        }],
    }
}

/// The rendered environments, or the sample when nothing is rendered yet.
fn corpus() -> Vec<Env> {
    let envs = rendered_envs();
    if envs.is_empty() {
        vec![sample_env()]
    } else {
        envs
    }
}

/// One body per declared type (the first in file/name order), for the mutation tests.
fn one_per_type(envs: &[Env]) -> Vec<(String, Kind, String, Value)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for env in envs {
        for file in &env.files {
            for d in declarations(&file.doc) {
                if seen.insert((d.kind, d.ty.clone())) {
                    out.push((
                        format!("env {}, {}, {}", env.name, file.path, d.address()),
                        d.kind,
                        d.ty.clone(),
                        d.body.clone(),
                    ));
                }
            }
        }
    }
    out
}

fn has_violation(
    violations: &[Violation],
    path: &str,
    keyword: &str,
    detail: Option<&str>,
) -> bool {
    violations.iter().any(|v| {
        v.path == path
            && v.keyword == keyword
            && detail.is_none_or(|d| v.detail.iter().any(|x| x == d))
    })
}

fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("\n  {} [{}] {}", v.path, v.keyword, v.message))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests: rendered output
// ---------------------------------------------------------------------------------------------

#[test]
fn every_rendered_resource_matches_the_provider_schema() {
    let envs = rendered_envs();
    assert!(
        !envs.is_empty(),
        "nothing is rendered: no generated/<env>/*.tf.json (render every env with `cargo run -- render envs/<env>`)"
    );
    let schemas = Schemas::load();
    let mut violations = Vec::new();
    let mut checked = 0;
    for env in &envs {
        checked += env
            .files
            .iter()
            .map(|f| declarations(&f.doc).len() + aws_providers(&f.doc).len())
            .sum::<usize>();
        violations.extend(schema_violations(schemas, env));
    }
    assert!(
        checked > 0,
        "the rendered environments declare no resource or data source"
    );
    assert!(
        violations.is_empty(),
        "{} provider-schema violation(s) in the rendered output ({checked} bodies checked):\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn every_reference_in_the_rendered_output_resolves() {
    let envs = rendered_envs();
    assert!(
        !envs.is_empty(),
        "nothing is rendered: no generated/<env>/*.tf.json"
    );
    let schemas = Schemas::load();
    let mut violations = Vec::new();
    let mut checked = 0;
    for env in &envs {
        let (broken, n) = reference_check(schemas, env);
        violations.extend(broken);
        checked += n;
    }
    assert!(
        checked > 0,
        "the rendered output holds no reference to an AWS resource: the scanner is broken"
    );
    assert!(
        violations.is_empty(),
        "{} broken reference(s) in the rendered output ({checked} references checked):\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn the_fixture_covers_exactly_the_rendered_types() {
    let envs = rendered_envs();
    if envs.is_empty() {
        return; // every_rendered_resource_matches_the_provider_schema says to render first
    }
    let schemas = Schemas::load();
    let mut rendered = BTreeSet::new();
    for env in &envs {
        for file in &env.files {
            for d in declarations(&file.doc) {
                rendered.insert(format!("{}.{}", d.kind, d.ty));
            }
        }
    }
    let in_fixture: BTreeSet<String> = schemas
        .validators
        .keys()
        .filter(|k| *k != "provider.aws")
        .cloned()
        .collect();
    let missing: Vec<_> = rendered.difference(&in_fixture).collect();
    assert!(
        missing.is_empty(),
        "rendered types missing from {FIXTURE}: {missing:?}: {REGENERATE}"
    );
    let unused: Vec<_> = in_fixture.difference(&rendered).collect();
    assert!(
        unused.is_empty(),
        "{FIXTURE} holds types nothing renders any more: {unused:?}: {REGENERATE}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests: the validator catches each class of mistake (on real rendered resources, mutated)
// ---------------------------------------------------------------------------------------------

#[test]
fn the_fixture_is_also_a_json_schema_for_whole_documents() {
    // The fixture's root validates a Terraform JSON file's resource/data sections; its verdict
    // must agree with the per-resource validation above.
    let schemas = Schemas::load();
    assert!(
        jsonschema::meta::is_valid(&schemas.fixture),
        "{FIXTURE} is not a valid JSON Schema: {REGENERATE}"
    );
    let document = jsonschema::draft202012::new(&schemas.fixture).expect("the fixture compiles");
    for env in corpus() {
        for file in &env.files {
            let mut known = file.doc.clone();
            // Only the types the fixture has; the per-resource test reports missing ones.
            for kind in ["resource", "data"] {
                if let Some(section) = known.get_mut(kind).and_then(Value::as_object_mut) {
                    section.retain(|ty, _| schemas.def(kind, ty).is_some());
                }
            }
            let per_resource_valid = declarations(&known).iter().all(|d| {
                schemas
                    .errors(d.kind, &d.ty, d.body)
                    .is_ok_and(|v| v.is_empty())
            }) && aws_providers(&known).iter().all(|(_, c)| {
                schemas
                    .errors("provider", "aws", c)
                    .is_ok_and(|v| v.is_empty())
            });
            assert_eq!(
                document.is_valid(&known),
                per_resource_valid,
                "{}: document and per-resource verdicts differ",
                file.path
            );

            let first = known
                .get_mut("resource")
                .and_then(Value::as_object_mut)
                .and_then(|s| s.values_mut().next());
            if let Some(body) = first
                .and_then(Value::as_object_mut)
                .and_then(|n| n.values_mut().next())
                .and_then(Value::as_object_mut)
            {
                body.insert("shipstack_no_such_attribute".into(), json!(true));
                assert!(
                    !document.is_valid(&known),
                    "{}: the document schema accepts an unknown attribute",
                    file.path
                );
            }
        }
    }
}

#[test]
fn the_sample_document_is_valid_and_its_references_resolve() {
    let schemas = Schemas::load();
    let env = sample_env();
    let violations = schema_violations(schemas, &env);
    assert!(
        violations.is_empty(),
        "the sample document (if a type is missing, the renderer stopped emitting it: adapt sample_env()):\n{}",
        violations.join("\n")
    );
    let broken = reference_violations(schemas, &env);
    assert!(
        broken.is_empty(),
        "the sample document:\n{}",
        broken.join("\n")
    );
}

#[test]
fn an_unknown_attribute_fails() {
    let schemas = Schemas::load();
    for (at, kind, ty, mut body) in one_per_type(&corpus()) {
        body["shipstack_no_such_attribute"] = json!("x");
        let v = schemas
            .errors(kind, &ty, &body)
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        assert!(
            has_violation(
                &v,
                "",
                "additionalProperties",
                Some("shipstack_no_such_attribute")
            ),
            "{at}: an unknown attribute was not reported:{}",
            describe(&v)
        );
    }
}

#[test]
fn a_missing_required_attribute_fails() {
    let schemas = Schemas::load();
    let mut covered = 0;
    for (at, kind, ty, body) in one_per_type(&corpus()) {
        let def = schemas
            .def(kind, &ty)
            .unwrap_or_else(|| panic!("{at}: {ty} not in {FIXTURE}: {REGENERATE}"));
        for required in def["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let mut mutated = body.clone();
            if mutated
                .as_object_mut()
                .and_then(|m| m.remove(required))
                .is_none()
            {
                continue;
            }
            covered += 1;
            let v = schemas.errors(kind, &ty, &mutated).unwrap();
            assert!(
                has_violation(&v, "", "required", Some(required)),
                "{at}: removing required {required:?} was not reported:{}",
                describe(&v)
            );
        }
    }
    assert!(
        covered > 0,
        "no rendered resource sets a required attribute: the test proves nothing"
    );
}

#[test]
fn a_computed_only_attribute_fails() {
    let schemas = Schemas::load();
    let mut covered = 0;
    for (at, kind, ty, mut body) in one_per_type(&corpus()) {
        let def = schemas.def(kind, &ty).unwrap();
        let computed: Vec<String> = def["x-attributes"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, role)| *role == "computed")
            .map(|(name, _)| name.clone())
            .collect();
        let Some(attr) = computed.iter().find(|a| *a == "arn").or(computed.first()) else {
            continue;
        };
        body[attr.as_str()] = json!("arn:aws:sqs:eu-west-1:123456789012:set-by-hand");
        covered += 1;
        let v = schemas.errors(kind, &ty, &body).unwrap();
        assert!(
            has_violation(&v, &format!("/{attr}"), "falseSchema", None),
            "{at}: setting computed-only {attr:?} was not reported:{}",
            describe(&v)
        );
    }
    assert!(
        covered > 0,
        "no rendered type has a computed-only attribute: the test proves nothing"
    );
}

#[test]
fn the_computed_only_arn_of_an_sqs_queue_fails() {
    let schemas = Schemas::load();
    let envs = corpus();
    let queue = one_per_type(&envs)
        .into_iter()
        .find(|(_, kind, ty, _)| *kind == "resource" && ty == "aws_sqs_queue")
        .or_else(|| {
            one_per_type(&[sample_env()])
                .into_iter()
                .find(|(_, _, ty, _)| ty == "aws_sqs_queue")
        })
        .unwrap();
    let (at, kind, ty, mut body) = queue;
    body["arn"] = json!("arn:aws:sqs:eu-west-1:123456789012:orders");
    let v = schemas.errors(kind, &ty, &body).unwrap();
    assert!(
        has_violation(&v, "/arn", "falseSchema", None),
        "{at}: arn was accepted:{}",
        describe(&v)
    );
}

#[test]
fn a_wrong_block_shape_fails() {
    let schemas = Schemas::load();
    let (mut scalar, mut too_many, mut not_a_list) = (0, 0, 0);
    for (at, kind, ty, body) in one_per_type(&corpus()) {
        let def = schemas.def(kind, &ty).unwrap();
        for (block, mode) in def["x-blocks"].as_object().unwrap() {
            let shape = &def["properties"][block];
            // A scalar where a block goes.
            let mut mutated = body.clone();
            mutated[block.as_str()] = json!("not a block");
            let v = schemas.errors(kind, &ty, &mutated).unwrap();
            assert!(
                has_violation(&v, &format!("/{block}"), "type", None),
                "{at}: a string for block {block:?} was accepted:{}",
                describe(&v)
            );
            scalar += 1;

            let Some(element) = body.get(block).and_then(|b| {
                b.as_array()
                    .and_then(|a| a.first())
                    .or(b.as_object().map(|_| b))
            }) else {
                continue;
            };
            if mode == "list" || mode == "set" {
                // The renderer writes a repeated block as an array of objects, never a bare object.
                let mut mutated = body.clone();
                mutated[block.as_str()] = element.clone();
                let v = schemas.errors(kind, &ty, &mutated).unwrap();
                assert!(
                    has_violation(&v, &format!("/{block}"), "type", None),
                    "{at}: an object for list block {block:?} was accepted:{}",
                    describe(&v)
                );
                not_a_list += 1;
            }
            if let Some(max) = shape["maxItems"].as_u64() {
                let mut mutated = body.clone();
                mutated[block.as_str()] = Value::Array(vec![element.clone(); max as usize + 1]);
                let v = schemas.errors(kind, &ty, &mutated).unwrap();
                assert!(
                    has_violation(&v, &format!("/{block}"), "maxItems", None),
                    "{at}: {} {block:?} blocks (max_items {max}) were accepted:{}",
                    max + 1,
                    describe(&v)
                );
                too_many += 1;
            }
        }
    }
    assert!(scalar > 0 && too_many > 0 && not_a_list > 0, "block shapes barely exercised: {scalar} scalar, {too_many} max_items, {not_a_list} object-for-list");
}

#[test]
fn a_wrongly_typed_attribute_fails_but_a_template_is_accepted_anywhere() {
    let schemas = Schemas::load();
    let mut covered = 0;
    for (at, kind, ty, body) in one_per_type(&corpus()) {
        let def = schemas.def(kind, &ty).unwrap();
        for (attr, s) in def["properties"].as_object().unwrap() {
            let expected = s.get("$ref").and_then(Value::as_str);
            if expected != Some("#/$defs/cty.number") && expected != Some("#/$defs/cty.bool") {
                continue;
            }
            let mut mutated = body.clone();
            mutated[attr.as_str()] = json!({"not": "a scalar"});
            let v = schemas.errors(kind, &ty, &mutated).unwrap();
            assert!(
                !v.iter().all(|v| v.path != format!("/{attr}")),
                "{at}: an object for {attr:?} was accepted"
            );
            mutated[attr.as_str()] = json!("no template here");
            let v = schemas.errors(kind, &ty, &mutated).unwrap();
            assert!(
                !v.iter().all(|v| v.path != format!("/{attr}")),
                "{at}: a plain string for {attr:?} was accepted"
            );
            mutated[attr.as_str()] = json!("${var.some_value}");
            let v = schemas.errors(kind, &ty, &mutated).unwrap();
            assert!(
                v.iter().all(|v| v.path != format!("/{attr}")),
                "{at}: a template for {attr:?} was rejected:{}",
                describe(&v)
            );
            mutated[attr.as_str()] = json!("$${literal}");
            let v = schemas.errors(kind, &ty, &mutated).unwrap();
            assert!(
                !v.iter().all(|v| v.path != format!("/{attr}")),
                "{at}: an escaped $${{ for {attr:?} was accepted"
            );
            covered += 1;
            break;
        }
    }
    assert!(
        covered > 0,
        "no rendered type has a number or bool attribute"
    );
}

#[test]
fn a_type_missing_from_the_fixture_fails_and_says_how_to_regenerate() {
    let schemas = Schemas::load();
    let mut env = sample_env();
    env.files[0].doc["resource"]["aws_shipstack_not_rendered"] = json!({"x": {"name": "y"}});
    let violations = schema_violations(schemas, &env);
    assert!(
        violations
            .iter()
            .any(|v| v.contains("aws_shipstack_not_rendered.x") && v.contains(REGENERATE)),
        "{violations:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests: reference integrity checker
// ---------------------------------------------------------------------------------------------

/// Each env's document, built as `shipstack render` builds it.
fn built_docs() -> Vec<(String, tf::Document)> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root().join("envs"))
        .expect("envs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(shipstack::config::ENV_FILE).is_file())
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|dir| {
            let env = shipstack::config::load(dir).expect("a valid env");
            let doc = shipstack::platform::build(&env).expect("the env builds");
            (env.name, doc)
        })
        .collect()
}

#[test]
fn every_reference_of_every_env_resolves_against_the_fixture() {
    let schemas = Schemas::load();
    let mut violations = Vec::new();
    let mut checked = 0;
    for (name, doc) in built_docs() {
        if let Err(e) = doc.render(aws::file_of) {
            violations.push(format!("env {name}: {e}"));
        }
        for edge in doc.references() {
            let (kind, ty) = match &edge.to.address {
                tf::Address::Resource { ty, .. } => ("resource", ty),
                tf::Address::Data { ty, .. } => ("data", ty),
                _ => continue,
            };
            let Some(attr) = &edge.to.attribute else {
                continue;
            };
            checked += 1;
            let at = format!("env {name}, {}: {}.{attr}", edge.from, edge.to.address);
            match schemas.has_field(kind, ty, attr) {
                None => violations.push(format!(
                    "{at}: {kind} type {ty} is not in {FIXTURE}: {REGENERATE}"
                )),
                Some(false) => {
                    violations.push(format!("{at}: {ty} has no attribute or block {attr:?}"))
                }
                Some(true) => {}
            }
        }
    }
    assert!(
        checked > 0,
        "no env refers to an AWS attribute: the graph is empty"
    );
    assert!(
        violations.is_empty(),
        "{} broken reference(s) ({checked} checked):\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn an_undeclared_resource_and_an_unknown_attribute_are_render_errors() {
    let (_, mut doc) = built_docs().remove(0);
    let (declared, _) = doc
        .resources()
        .find(|(r, _)| r.resource_type().starts_with("aws_"))
        .expect("an AWS resource");
    let ghost = tf::Resource::new(declared.resource_type(), "shipstack_ghost");
    doc.output("shipstack_test_undeclared", "x", ghost.attr("id"));
    let unknown = tf::Tf::object([("x", declared.attr("shipstack_no_such_attribute"))]);
    doc.output("shipstack_test_unknown_attr", "x", tf::Tf::json(unknown));
    doc.output("shipstack_test_fine", "x", declared.attr("id"));
    let err = doc.render(aws::file_of).unwrap_err().to_string();
    let expected = [
        format!(
            "output shipstack_test_undeclared refers to {}, which is not declared",
            ghost.address()
        ),
        format!(
            "output shipstack_test_unknown_attr refers to {}.shipstack_no_such_attribute, an attribute its type does not have",
            declared.address()
        ),
    ];
    for message in expected {
        assert!(err.contains(&message), "{message:?} not in:\n{err}");
    }
    assert!(
        !err.contains("shipstack_test_fine"),
        "a good reference was reported:\n{err}"
    );
}

#[test]
fn an_undeclared_depends_on_is_reported() {
    let schemas = Schemas::load();
    let mut envs = corpus();
    let env = &mut envs[0];
    let doc = &mut env.files[0].doc;
    let first = declarations(doc)
        .into_iter()
        .find(|d| d.kind == "resource")
        .map(|d| (d.ty.clone(), d.name.clone()))
        .unwrap();
    doc["resource"][&first.0][&first.1]["depends_on"] =
        json!(["aws_sqs_queue.shipstack_ghost_dependency"]);

    let violations = reference_violations(schemas, env);
    let joined = violations.join("\n");
    assert!(
        violations.iter().any(|v| v.contains("depends_on")
            && v.contains("aws_sqs_queue.shipstack_ghost_dependency")
            && v.contains("is not declared")),
        "undeclared depends_on not reported:\n{joined}"
    );
    // Each message names env, file and resource.
    assert!(
        violations.iter().any(|v| v.starts_with(&format!(
            "env {}, {}, {}.{} depends_on",
            env.name, env.files[0].path, first.0, first.1
        ))),
        "{joined}"
    );
}

#[test]
fn a_wrong_provider_configuration_fails() {
    let schemas = Schemas::load();
    let mut env = sample_env();
    env.files[0].doc["provider"] = json!({"aws": [
        {"region": "us-east-1", "default_tags": [{"tags": {"Project": "shipstack"}}]},
        {"alias": "global", "region": "us-east-1", "default_tag": [{"tags": {}}]}
    ]});
    let violations = schema_violations(schemas, &env);
    pretty_assertions::assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].contains("provider.aws.global") && violations[0].contains("default_tag"),
        "{violations:#?}"
    );
}
