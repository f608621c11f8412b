//! A Terraform JSON root module: the top-level blocks kept in sorted maps, rendered to one or
//! more `*.tf.json` files.

use std::collections::BTreeMap;
use std::fmt;

use crate::expr::Expr;
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
        Expr::reference(&format!("{}.{attribute}", self.address()))
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
    moved: Vec<(String, String)>,
    forgotten: Vec<String>,
    errors: Vec<String>,
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
        let reference = Expr::reference(&format!("var.{name}"));
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
        Expr::reference(&format!("local.{name}"))
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
        if !self.errors.is_empty() {
            return Err(RenderError(self.errors.clone()));
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
                let Tf::Map(types) = file
                    .entry(block.into())
                    .or_insert_with(|| Tf::Map(BTreeMap::new()))
                else {
                    unreachable!("top-level blocks are maps")
                };
                types.insert(ty.clone(), Tf::Map(by_name.clone()));
            }
        }
        Ok(files
            .into_iter()
            .map(|(name, body)| (format!("{name}.tf.json"), to_pretty_json(&Tf::Map(body))))
            .collect())
    }
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
    let mut text =
        serde_json::to_string_pretty(&value.to_json()).expect("JSON values always serialize");
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
    fn data_sources_are_addressed_with_the_data_prefix() {
        let mut doc = Document::new();
        let caller = doc.data("aws_caller_identity", "current", Block::new());
        assert_eq!(
            caller.attr("account_id").hcl(),
            "data.aws_caller_identity.current.account_id"
        );
    }
}
