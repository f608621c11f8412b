//! A Terraform JSON root module: the top-level blocks kept in sorted maps, rendered to one or
//! more `*.tf.json` files.

use std::collections::BTreeMap;
use std::fmt;

use crate::expr::{Address, Expr, Reference};
use crate::value::{Block, Tf};

/// A declared resource (or data source): its address, and typed references to its attributes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource {
    kind: &'static str,
    ty: String,
    name: String,
}

impl Resource {
    /// A handle to `<ty>.<name>`. [`Document::resource`] is the way to declare one.
    pub fn new(ty: &str, name: &str) -> Resource {
        Resource {
            kind: "resource",
            ty: ty.to_owned(),
            name: name.to_owned(),
        }
    }

    fn data(ty: &str, name: &str) -> Resource {
        Resource {
            kind: "data",
            ty: ty.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The address Terraform uses in `depends_on`, `moved` and state: `aws_sqs_queue.events`.
    pub fn address(&self) -> String {
        match self.kind {
            "data" => format!("data.{}.{}", self.ty, self.name),
            _ => format!("{}.{}", self.ty, self.name),
        }
    }

    /// A reference to one of its attributes: `${aws_sqs_queue.events.arn}`.
    pub fn attr(&self, attribute: &str) -> Expr {
        Expr::reference(self.target()).attr(attribute)
    }

    /// The address as a reference target.
    pub fn target(&self) -> Address {
        let (ty, name) = (self.ty.clone(), self.name.clone());
        match self.kind {
            "data" => Address::Data { ty, name },
            _ => Address::Resource { ty, name },
        }
    }

    pub fn resource_type(&self) -> &str {
        &self.ty
    }

    /// The logical name (the part after the type).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A `variable` block.
#[derive(Clone, Debug, Default)]
pub struct Variable {
    /// A type constraint, e.g. `string`, `list(string)`.
    pub r#type: &'static str,
    pub description: &'static str,
    /// Without one the variable is required: plan fails until it is given a value.
    pub default: Option<Tf>,
    pub sensitive: bool,
    /// Checks Terraform runs on the value before planning anything.
    pub validations: Vec<Validation>,
}

/// A `validation` block of a variable: a condition on the variable's reference, and the error
/// Terraform reports when it is false.
#[derive(Clone, Debug)]
pub struct Validation {
    pub condition: fn(&Expr) -> Expr,
    pub error_message: &'static str,
}

/// A `check` block: one scoped data source and assertions on what it reads, which Terraform
/// evaluates at the end of every plan and apply. A false assertion is a warning, not a failure,
/// and a data source whose dependencies have pending changes is read only after the apply
/// (https://developer.hashicorp.com/terraform/language/checks).
#[derive(Clone, Debug)]
pub struct Check {
    data: Resource,
    body: Tf,
    asserts: Vec<Tf>,
}

impl Check {
    /// A check that reads the data source `ty` with `body`, scoped to the check as `name`.
    pub fn reading(ty: &str, name: &str, body: Block) -> Check {
        Check {
            data: Resource::data(ty, name),
            body: body.into(),
            asserts: Vec::new(),
        }
    }

    /// The scoped data source: only this check's assertions may refer to it.
    pub fn data(&self) -> &Resource {
        &self.data
    }

    /// Adds an assertion and the warning Terraform prints when it is false.
    pub fn assert(mut self, condition: Expr, error_message: &str) -> Check {
        self.asserts.push(
            Block::new()
                .set("condition", condition)
                .set("error_message", error_message)
                .into(),
        );
        self
    }
}

/// The block a reference is written in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Referrer {
    /// A resource or data source.
    Resource(Resource),
    Variable(String),
    Local(String),
    Output(String),
    Provider(String),
    Check(String),
}

impl fmt::Display for Referrer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Referrer::Resource(r) => f.write_str(&r.address()),
            Referrer::Variable(name) => write!(f, "variable {name}"),
            Referrer::Local(name) => write!(f, "local {name}"),
            Referrer::Output(name) => write!(f, "output {name}"),
            Referrer::Provider(name) => write!(f, "provider {name}"),
            Referrer::Check(name) => write!(f, "check {name}"),
        }
    }
}

/// An edge of the reference graph: `from` refers to `to` in the attribute at `at` (the keys
/// leading to it in the block's body; list items add none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: Referrer,
    pub at: Vec<String>,
    pub to: Reference,
}

/// Whether a resource or data source type (an [`Address::Resource`] or [`Address::Data`]) has an
/// attribute or nested block of this name; `None` when the type is not known at all.
pub type Attributes = fn(&Address, &str) -> Option<bool>;

/// Why a document could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError(pub Vec<String>);

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid Terraform document:\n  - {}",
            self.0.join("\n  - ")
        )
    }
}

impl std::error::Error for RenderError {}

/// A Terraform root module in JSON syntax.
#[derive(Debug, Default)]
pub struct Document {
    terraform: BTreeMap<String, Tf>,
    providers: BTreeMap<String, Vec<Tf>>,
    variables: BTreeMap<String, Tf>,
    locals: BTreeMap<String, Tf>,
    resources: BTreeMap<String, BTreeMap<String, Tf>>,
    data: BTreeMap<String, BTreeMap<String, Tf>>,
    outputs: BTreeMap<String, Tf>,
    checks: BTreeMap<String, Check>,
    moved: Vec<(String, String)>,
    forgotten: Vec<String>,
    errors: Vec<String>,
    attributes: Option<Attributes>,
}

/// Logical names are human snake_case: stable across refactors, never hashed.
fn is_logical_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Document {
    pub fn new() -> Document {
        Document::default()
    }

    /// Sets a setting of the `terraform` block (`required_version`, `required_providers`,
    /// `backend`).
    pub fn terraform(&mut self, key: &str, value: impl Into<Tf>) {
        self.terraform.insert(key.to_owned(), value.into());
    }

    /// Adds a provider configuration (several with aliases are allowed).
    pub fn provider(&mut self, name: &str, config: Block) {
        self.providers
            .entry(name.to_owned())
            .or_default()
            .push(config.into());
    }

    /// Declares a variable and returns a reference to it (`var.<name>`).
    pub fn variable(&mut self, name: &str, variable: Variable) -> Expr {
        let reference = Expr::reference(Address::Var(name.to_owned()));
        // A required or validated variable refuses null: the checks would fail on it unclearly.
        let non_null = variable.default.is_none() || !variable.validations.is_empty();
        self.check_name("variable", name, self.variables.contains_key(name));
        // JSON syntax takes the type constraint as a plain string (`"list(string)"`), read as a
        // type expression; it is a `&'static str` of the code, never user input.
        let body = Block::new()
            .set("type", variable.r#type)
            .set("description", variable.description)
            .set_opt("default", variable.default)
            .set_opt("sensitive", variable.sensitive.then_some(true))
            .set_opt("nullable", non_null.then_some(false))
            .blocks(
                "validation",
                variable.validations.into_iter().map(|v| {
                    Block::new()
                        .set("condition", (v.condition)(&reference))
                        .set("error_message", v.error_message)
                }),
            );
        self.variables.insert(name.to_owned(), body.into());
        reference
    }

    /// Declares a local value and returns a reference to it.
    pub fn local(&mut self, name: &str, value: impl Into<Tf>) -> Expr {
        self.check_name("local", name, self.locals.contains_key(name));
        self.locals.insert(name.to_owned(), value.into());
        Expr::reference(Address::Local(name.to_owned()))
    }

    /// Declares a resource. A duplicate or badly formed name is reported by [`Document::render`].
    pub fn resource(&mut self, ty: &str, name: &str, body: Block) -> Resource {
        let by_type = self.resources.entry(ty.to_owned()).or_default();
        let duplicate = by_type.insert(name.to_owned(), body.into()).is_some();
        self.check_name(&format!("resource {ty}"), name, duplicate);
        Resource::new(ty, name)
    }

    /// Declares a data source.
    pub fn data(&mut self, ty: &str, name: &str, body: Block) -> Resource {
        let by_type = self.data.entry(ty.to_owned()).or_default();
        let duplicate = by_type.insert(name.to_owned(), body.into()).is_some();
        self.check_name(&format!("data {ty}"), name, duplicate);
        Resource::data(ty, name)
    }

    /// Declares an output.
    pub fn output(&mut self, name: &str, description: &str, value: impl Into<Tf>) {
        self.check_name("output", name, self.outputs.contains_key(name));
        let body = Block::new()
            .set("description", description)
            .set("value", value);
        self.outputs.insert(name.to_owned(), body.into());
    }

    /// Every output's description, by name.
    pub fn output_descriptions(&self) -> BTreeMap<String, String> {
        self.outputs
            .iter()
            .filter_map(|(name, body)| match body {
                Tf::Map(map) => match map.get("description") {
                    Some(Tf::Str(d)) => Some((name.clone(), d.clone())),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// Declares a check; it is rendered beside the resources of its data source's type.
    pub fn check(&mut self, name: &str, check: Check) {
        let data = check.data.target();
        let Address::Data {
            ty,
            name: data_name,
        } = &data
        else {
            unreachable!("a check reads a data source")
        };
        let clash = nested_contains(&self.data, ty, data_name)
            || self.checks.values().any(|c| c.data.target() == data);
        self.check_name(&format!("data {ty}"), data_name, clash);
        self.check_name("check", name, self.checks.contains_key(name));
        if check.asserts.is_empty() {
            self.errors
                .push(format!("check \"{name}\" asserts nothing"));
        }
        self.checks.insert(name.to_owned(), check);
    }

    /// Records a rename, so Terraform moves state instead of replacing the resource.
    pub fn moved(&mut self, from: &str, to: &Resource) {
        self.moved.push((from.to_owned(), to.address()));
    }

    /// Records a resource that is no longer managed here: Terraform forgets it (a `removed`
    /// block with `destroy = false`) instead of destroying the real object.
    pub fn forget(&mut self, address: &str) {
        self.forgotten.push(address.to_owned());
    }

    /// Reports a problem found while composing the document; [`Document::render`] fails with it.
    pub fn report(&mut self, problem: impl Into<String>) {
        self.errors.push(problem.into());
    }

    /// Has [`Document::render`] check every attribute referenced on a resource or data source
    /// against the provider's schema (this crate knows no provider).
    pub fn check_attributes(&mut self, attributes: Attributes) {
        self.attributes = Some(attributes);
    }

    /// The reference graph: every reference of every block, in block order.
    pub fn references(&self) -> Vec<Edge> {
        let mut edges = Vec::new();
        self.visit_edges(&mut |from, at, to| {
            edges.push(Edge {
                from: from.clone(),
                at: at.iter().map(|key| key.to_string()).collect(),
                to,
            })
        });
        edges
    }

    /// Every edge of the reference graph, borrowed: checking the graph copies nothing.
    fn visit_edges(&self, visit: &mut dyn FnMut(&Referrer, &[&str], Reference)) {
        let mut add = |from: Referrer, body: &Tf| {
            body.visit_references(&mut Vec::new(), &mut |at, to| visit(&from, at, to))
        };
        for (name, configs) in &self.providers {
            configs
                .iter()
                .for_each(|c| add(Referrer::Provider(name.clone()), c));
        }
        for (name, body) in &self.variables {
            add(Referrer::Variable(name.clone()), body);
        }
        for (name, body) in &self.locals {
            add(Referrer::Local(name.clone()), body);
        }
        for (resource, body) in self.resources().chain(self.data_sources()) {
            add(Referrer::Resource(resource), body);
        }
        for (name, body) in &self.outputs {
            add(Referrer::Output(name.clone()), body);
        }
        for (name, check) in &self.checks {
            add(Referrer::Check(name.clone()), &check.body);
            for assert in &check.asserts {
                add(Referrer::Check(name.clone()), assert);
            }
        }
    }

    fn data_sources(&self) -> impl Iterator<Item = (Resource, &Tf)> {
        self.data.iter().flat_map(|(ty, by_name)| {
            by_name
                .iter()
                .map(move |(name, body)| (Resource::data(ty, name), body))
        })
    }

    /// Problems of the reference graph: references to undeclared objects, or to attributes
    /// their type does not have.
    fn reference_errors(&self) -> Vec<String> {
        let mut errors = Vec::new();
        self.visit_edges(&mut |from, _, to| {
            let declared = match &to.address {
                Address::Resource { ty, name } => nested_contains(&self.resources, ty, name),
                Address::Data { ty, name } => {
                    nested_contains(&self.data, ty, name)
                        || matches!(from, Referrer::Check(check)
                            if self.checks[check].data.target() == to.address)
                }
                Address::Var(name) => self.variables.contains_key(name),
                Address::Local(name) => self.locals.contains_key(name),
                Address::PathModule | Address::EachValue => true,
            };
            if !declared {
                errors.push(format!(
                    "{from} refers to {}, which is not declared",
                    to.address
                ));
            } else if let (Some(attributes), Some(attribute)) = (self.attributes, &to.attribute) {
                if attributes(&to.address, attribute) == Some(false) {
                    errors.push(format!(
                        "{from} refers to {}.{attribute}, an attribute its type does not have",
                        to.address
                    ));
                }
            }
        });
        errors.dedup();
        errors
    }

    fn check_name(&mut self, what: &str, name: &str, duplicate: bool) {
        if duplicate {
            self.errors
                .push(format!("{what} \"{name}\" is declared twice"));
        }
        if !is_logical_name(name) {
            self.errors.push(format!(
                "{what} \"{name}\" is not a snake_case logical name"
            ));
        }
    }

    /// Every resource declared, in address order.
    pub fn resources(&self) -> impl Iterator<Item = (Resource, &Tf)> {
        self.resources.iter().flat_map(|(ty, by_name)| {
            by_name
                .iter()
                .map(move |(name, body)| (Resource::new(ty, name), body))
        })
    }

    /// Renders the document into files: the `terraform` block into `versions.tf.json`;
    /// providers, variables and locals into `main.tf.json`; the state refactorings (`moved`,
    /// `removed`) into `state.tf.json`, where a reviewer sees what an apply re-addresses or
    /// forgets; outputs into `outputs.tf.json`; and each resource or data source into the file
    /// `file_of(type)` names (without `.tf.json`).
    pub fn render(
        &self,
        file_of: impl Fn(&str) -> &'static str,
    ) -> Result<BTreeMap<String, String>, RenderError> {
        let errors: Vec<String> = self
            .errors
            .iter()
            .cloned()
            .chain(self.reference_errors())
            .collect();
        if !errors.is_empty() {
            return Err(RenderError(errors));
        }
        let mut files: BTreeMap<String, BTreeMap<String, Tf>> = BTreeMap::new();
        if !self.terraform.is_empty() {
            let versions = files.entry("versions".into()).or_default();
            versions.insert("terraform".into(), Tf::Map(self.terraform.clone()));
        }
        let mut main = BTreeMap::new();
        insert_nonempty(&mut main, "provider", &self.providers, |m| {
            Tf::object(m.iter().map(|(k, v)| (k.clone(), Tf::List(v.clone()))))
        });
        insert_nonempty(&mut main, "variable", &self.variables, |m| {
            Tf::Map(m.clone())
        });
        insert_nonempty(&mut main, "locals", &self.locals, |m| Tf::Map(m.clone()));
        if !main.is_empty() {
            files.insert("main".into(), main);
        }
        let mut state = BTreeMap::new();
        if !self.moved.is_empty() {
            let moved = self.moved.iter().map(|(from, to)| {
                Tf::object([("from", Tf::Str(from.clone())), ("to", Tf::Str(to.clone()))])
            });
            state.insert("moved".into(), Tf::List(moved.collect()));
        }
        if !self.forgotten.is_empty() {
            let removed = self.forgotten.iter().map(|from| {
                Tf::object([
                    ("from", Tf::Str(from.clone())),
                    ("lifecycle", Block::new().set("destroy", false).into()),
                ])
            });
            state.insert("removed".into(), Tf::List(removed.collect()));
        }
        if !state.is_empty() {
            files.insert("state".into(), state);
        }
        if !self.outputs.is_empty() {
            files
                .entry("outputs".into())
                .or_default()
                .insert("output".into(), Tf::Map(self.outputs.clone()));
        }
        for (block, by_type) in [("resource", &self.resources), ("data", &self.data)] {
            for (ty, by_name) in by_type {
                let file = files.entry(file_of(ty).to_owned()).or_default();
                block_in(file, block).insert(ty.clone(), Tf::Map(by_name.clone()));
            }
        }
        for (name, check) in &self.checks {
            let ty = check.data.resource_type();
            let file = files.entry(file_of(ty).to_owned()).or_default();
            let data = Tf::object([(ty, Tf::object([(check.data.name(), check.body.clone())]))]);
            block_in(file, "check").insert(
                name.clone(),
                Tf::object([("data", data), ("assert", Tf::List(check.asserts.clone()))]),
            );
        }
        Ok(files
            .into_iter()
            .map(|(name, body)| (format!("{name}.tf.json"), to_pretty_json(&Tf::Map(body))))
            .collect())
    }
}

/// The top-level `block` map of a rendered file, created empty on first use.
fn block_in<'a>(file: &'a mut BTreeMap<String, Tf>, block: &str) -> &'a mut BTreeMap<String, Tf> {
    let Tf::Map(map) = file
        .entry(block.into())
        .or_insert_with(|| Tf::Map(BTreeMap::new()))
    else {
        unreachable!("top-level blocks are maps")
    };
    map
}

fn nested_contains(map: &BTreeMap<String, BTreeMap<String, Tf>>, ty: &str, name: &str) -> bool {
    map.get(ty)
        .is_some_and(|by_name| by_name.contains_key(name))
}

fn insert_nonempty<T>(
    into: &mut BTreeMap<String, Tf>,
    key: &str,
    map: &BTreeMap<String, T>,
    to_tf: impl Fn(&BTreeMap<String, T>) -> Tf,
) {
    if !map.is_empty() {
        into.insert(key.to_owned(), to_tf(map));
    }
}

/// Pretty-printed, keys sorted (all maps are `BTreeMap`s), trailing newline.
fn to_pretty_json(value: &Tf) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a Tf value always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn one_file(doc: &Document) -> BTreeMap<String, String> {
        doc.render(|_| "resources").expect("renders")
    }

    #[test]
    fn references_render_as_typed_addresses() {
        let mut doc = Document::new();
        let dlq = doc.resource(
            "aws_sqs_queue",
            "events_dlq",
            Block::new().set("name", "x-dlq"),
        );
        let body = Block::new().set("name", "x").set(
            "redrive_policy",
            Tf::json(Tf::object([(
                "deadLetterTargetArn",
                Tf::from(dlq.attr("arn")),
            )])),
        );
        doc.resource("aws_sqs_queue", "events", body);
        let files = one_file(&doc);
        assert_eq!(
            files["resources.tf.json"],
            r#"{
  "resource": {
    "aws_sqs_queue": {
      "events": {
        "name": "x",
        "redrive_policy": "{\"deadLetterTargetArn\":\"${aws_sqs_queue.events_dlq.arn}\"}"
      },
      "events_dlq": {
        "name": "x-dlq"
      }
    }
  }
}
"#
        );
    }

    #[test]
    fn duplicate_logical_ids_are_a_render_error() {
        let mut doc = Document::new();
        doc.resource("aws_sqs_queue", "events", Block::new());
        doc.resource("aws_sqs_queue", "events", Block::new());
        let err = doc.render(|_| "main").unwrap_err();
        assert_eq!(
            err.0,
            vec!["resource aws_sqs_queue \"events\" is declared twice".to_string()]
        );
    }

    #[test]
    fn logical_ids_must_be_snake_case() {
        let mut doc = Document::new();
        doc.resource("aws_sqs_queue", "Hello_lambda_6FB0923D", Block::new());
        doc.output("rest-url", "x", "y");
        let err = doc.render(|_| "main").unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
    }

    #[test]
    fn variables_outputs_and_moved_blocks() {
        let mut doc = Document::new();
        let region = doc.variable(
            "region",
            Variable {
                r#type: "string",
                description: "Region",
                default: Some("us-east-1".into()),
                ..Default::default()
            },
        );
        let queue = doc.resource("aws_sqs_queue", "events", Block::new());
        doc.moved("aws_sqs_queue.main", &queue);
        doc.output("queue_url", "Queue URL", queue.attr("url"));
        doc.provider("aws", Block::new().set("region", region));
        let files = doc.render(|_| "sqs").unwrap();
        let main: serde_json::Value = serde_json::from_str(&files["main.tf.json"]).unwrap();
        assert_eq!(
            main,
            serde_json::json!({
                "provider": {"aws": [{"region": "${var.region}"}]},
                "variable": {"region": {"default": "us-east-1", "description": "Region", "type": "string"}},
            })
        );
        let state: serde_json::Value = serde_json::from_str(&files["state.tf.json"]).unwrap();
        assert_eq!(
            state["moved"],
            serde_json::json!([{"from": "aws_sqs_queue.main", "to": "aws_sqs_queue.events"}])
        );
        let outputs: serde_json::Value = serde_json::from_str(&files["outputs.tf.json"]).unwrap();
        assert_eq!(
            outputs["output"]["queue_url"]["value"],
            "${aws_sqs_queue.events.url}"
        );
        assert!(files.contains_key("sqs.tf.json"));
    }

    fn code_check(doc: &mut Document, name: &str) -> Check {
        let function = doc.resource("aws_lambda_function", "worker", Block::new());
        let check = Check::reading(
            "aws_lambda_function",
            name,
            Block::new().set("function_name", function.attr("function_name")),
        );
        let deployed = check.data().attr("code_sha256");
        check.assert(
            deployed.equals(Expr::call("filebase64sha256", ["a.zip".into()])),
            "stale",
        )
    }

    #[test]
    fn a_check_renders_beside_its_data_source_type_with_its_scoped_data_and_assertions() {
        let mut doc = Document::new();
        let check = code_check(&mut doc, "worker_code");
        doc.check("worker_runs_packaged_code", check);
        let files = doc.render(|ty| {
            if ty.starts_with("aws_lambda") {
                "lambda"
            } else {
                "main"
            }
        });
        let files = files.expect("renders");
        let lambda: serde_json::Value = serde_json::from_str(&files["lambda.tf.json"]).unwrap();
        assert_eq!(
            lambda["check"],
            serde_json::json!({"worker_runs_packaged_code": {
                "data": {"aws_lambda_function": {"worker_code": {
                    "function_name": "${aws_lambda_function.worker.function_name}"}}},
                "assert": [{
                    "condition": "${data.aws_lambda_function.worker_code.code_sha256 == filebase64sha256(\"a.zip\")}",
                    "error_message": "stale"}],
            }})
        );
        let edges = doc.references();
        assert!(edges.iter().any(|e| e.from
            == Referrer::Check("worker_runs_packaged_code".into())
            && e.to.address.to_string() == "data.aws_lambda_function.worker_code"));
    }

    #[test]
    fn a_checks_scoped_data_is_out_of_reach_elsewhere_and_a_check_must_assert() {
        let mut doc = Document::new();
        let check = code_check(&mut doc, "worker_code");
        doc.output("leak", "", check.data().attr("code_sha256"));
        doc.check("worker_runs_packaged_code", check);
        doc.check(
            "empty",
            Check::reading("aws_lambda_function", "other", Block::new()),
        );
        let errors = doc.render(|_| "main").unwrap_err().0;
        assert_eq!(
            errors,
            [
                "check \"empty\" asserts nothing",
                "output leak refers to data.aws_lambda_function.worker_code, which is not declared",
            ]
        );
    }

    #[test]
    fn forgotten_resources_are_removed_without_being_destroyed() {
        let mut doc = Document::new();
        doc.forget("aws_kms_key_policy.data");
        let files = doc.render(|_| "main").unwrap();
        let state: serde_json::Value = serde_json::from_str(&files["state.tf.json"]).unwrap();
        assert_eq!(
            state["removed"],
            serde_json::json!([{"from": "aws_kms_key_policy.data", "lifecycle": {"destroy": false}}])
        );
    }

    #[test]
    fn rendering_is_byte_stable_regardless_of_declaration_order() {
        let build = |order: &[&str]| {
            let mut doc = Document::new();
            for name in order {
                doc.resource(
                    "aws_sns_topic",
                    name,
                    Block::new().set("name", *name).set("a", 1),
                );
            }
            one_file(&doc)
        };
        assert_eq!(build(&["b", "a", "c"]), build(&["c", "b", "a"]));
    }

    #[test]
    fn a_dangling_reference_is_a_render_error() {
        let mut doc = Document::new();
        let gone = Resource::new("aws_sqs_queue", "gone");
        doc.output("queue_url", "x", gone.attr("url"));
        doc.output(
            "region",
            "x",
            Expr::reference(Address::Var("region".into())),
        );
        let err = doc.render(|_| "main").unwrap_err();
        assert_eq!(
            err.0,
            [
                "output queue_url refers to aws_sqs_queue.gone, which is not declared",
                "output region refers to var.region, which is not declared",
            ]
        );
    }

    #[test]
    fn an_unknown_attribute_is_a_render_error() {
        let mut doc = Document::new();
        let queue = doc.resource("aws_sqs_queue", "q", Block::new());
        doc.resource(
            "aws_sns_topic",
            "t",
            Block::new()
                .set("a", queue.attr("arn"))
                .set("b", queue.attr("nope")),
        );
        doc.check_attributes(|_, attribute| Some(attribute == "arn"));
        let err = doc.render(|_| "main").unwrap_err();
        assert_eq!(
            err.0,
            ["aws_sns_topic.t refers to aws_sqs_queue.q.nope, an attribute its type does not have"]
        );
    }

    #[test]
    fn the_graph_names_each_reference_with_where_it_is_written() {
        let mut doc = Document::new();
        let queue = doc.resource("aws_sqs_queue", "q", Block::new());
        let nested = Block::new().block("env", Block::new().set("url", queue.attr("url")));
        let topic = doc.resource("aws_sns_topic", "t", nested);
        let edges = doc.references();
        assert_eq!(
            edges,
            [Edge {
                from: Referrer::Resource(topic),
                at: vec!["env".into(), "url".into()],
                to: Reference {
                    address: queue.target(),
                    attribute: Some("url".into())
                },
            }]
        );
    }

    #[test]
    fn data_sources_are_addressed_with_the_data_prefix() {
        let mut doc = Document::new();
        let caller = doc.data("aws_caller_identity", "current", Block::new());
        assert_eq!(
            caller.attr("account_id").to_hcl(),
            "data.aws_caller_identity.current.account_id"
        );
    }
}
