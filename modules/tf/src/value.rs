//! Values of Terraform's JSON syntax, with literal strings kept apart from expressions so that
//! escaping happens once, at serialization, and a user string can never become an expression.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::expr::{Expr, Reference};

/// A value in a Terraform JSON document.
#[derive(Clone, Debug, PartialEq)]
pub enum Tf {
    Null,
    Bool(bool),
    Int(i64),
    /// A literal string. `${` and `%{` are escaped when rendered.
    Str(String),
    /// An expression, rendered as `${...}`.
    Expr(Expr),
    /// A string template: literal and expression parts, rendered as one JSON string.
    Template(Vec<Tf>),
    List(Vec<Tf>),
    /// A map or object attribute (keys are sorted: output is byte-stable).
    Map(BTreeMap<String, Tf>),
    /// A JSON document in a string attribute: policies, redrive policies, event patterns,
    /// dashboard bodies. Rendered as JSON text whose references are `${...}` interpolations
    /// (so policy scanners read it as JSON); inside an expression it is `jsonencode(...)`.
    /// A reference inside always renders as a JSON string.
    Json(Box<Tf>),
}

impl Tf {
    /// An object from key/value pairs.
    pub fn object<K: Into<String>, V: Into<Tf>>(pairs: impl IntoIterator<Item = (K, V)>) -> Tf {
        Tf::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// A list from anything convertible.
    pub fn list<V: Into<Tf>>(items: impl IntoIterator<Item = V>) -> Tf {
        Tf::List(items.into_iter().map(Into::into).collect())
    }

    /// `jsonencode(value)`: a JSON document string whose references are resolved by Terraform.
    pub fn json(value: impl Into<Tf>) -> Tf {
        Tf::Json(Box::new(value.into()))
    }

    /// A string built from literal parts and expressions, e.g. an ARN pattern around an id.
    pub fn template(parts: impl IntoIterator<Item = Tf>) -> Tf {
        Tf::Template(parts.into_iter().collect())
    }

    /// Every reference inside this value, with the attribute keys leading to it (list items
    /// and template parts add no key), in key order.
    pub(crate) fn collect_references(&self, found: &mut Vec<Reference>) {
        self.visit_references(&mut Vec::new(), &mut |_, r| found.push(r));
    }

    pub(crate) fn visit_references<'a>(
        &'a self,
        at: &mut Vec<&'a str>,
        visit: &mut dyn FnMut(&[&'a str], Reference),
    ) {
        match self {
            Tf::Expr(e) => e.references().into_iter().for_each(|r| visit(at, r)),
            Tf::Template(parts) | Tf::List(parts) => {
                parts.iter().for_each(|p| p.visit_references(at, visit))
            }
            Tf::Map(map) => {
                for (key, value) in map {
                    at.push(key);
                    value.visit_references(at, visit);
                    at.pop();
                }
            }
            Tf::Json(inner) => inner.visit_references(at, visit),
            Tf::Null | Tf::Bool(_) | Tf::Int(_) | Tf::Str(_) => {}
        }
    }

    /// The value in Terraform's JSON syntax.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a Tf value always serializes")
    }

    /// The value as compact JSON text in a Terraform template: literals JSON-escaped and
    /// template-escaped, references as `"${...}"`, keys sorted.
    fn to_json_text(&self) -> String {
        let mut text = String::new();
        self.write_json_text(&mut text);
        text
    }

    /// [`Tf::to_json_text`] into one buffer: policies and dashboards are large.
    fn write_json_text(&self, out: &mut String) {
        let quoted = |s: &str| serde_json::to_string(s).expect("a string always serializes");
        let interpolate = |out: &mut String, hcl: String| {
            out.push_str("${");
            out.push_str(&hcl);
            out.push('}');
        };
        match self {
            Tf::Null => out.push_str("null"),
            Tf::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Tf::Int(i) => out.push_str(&i.to_string()),
            Tf::Str(s) => out.push_str(&escape_template(&quoted(s))),
            Tf::Expr(e) => {
                out.push('"');
                interpolate(out, e.to_hcl());
                out.push('"');
            }
            Tf::Template(parts) => {
                out.push('"');
                for part in parts {
                    match part {
                        Tf::Str(s) => {
                            let q = quoted(s);
                            out.push_str(&escape_template(&q[1..q.len() - 1]));
                        }
                        other => interpolate(out, other.to_hcl()),
                    }
                }
                out.push('"');
            }
            Tf::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json_text(out);
                }
                out.push(']');
            }
            Tf::Map(map) => {
                out.push('{');
                for (i, (key, value)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&escape_template(&quoted(key)));
                    out.push(':');
                    value.write_json_text(out);
                }
                out.push('}');
            }
            Tf::Json(inner) => out.push_str(&quoted(&inner.to_json_text())),
        }
    }

    /// The value as an HCL expression (used inside `${...}`, e.g. for `jsonencode`).
    pub fn to_hcl(&self) -> String {
        match self {
            Tf::Null => "null".into(),
            Tf::Bool(b) => b.to_string(),
            Tf::Int(i) => i.to_string(),
            Tf::Str(s) => format!("\"{}\"", escape_quoted(s)),
            Tf::Expr(e) => e.to_hcl(),
            Tf::Template(parts) => format!("\"{}\"", quoted_template_body(parts)),
            Tf::List(items) => {
                format!(
                    "[{}]",
                    items.iter().map(Tf::to_hcl).collect::<Vec<_>>().join(", ")
                )
            }
            Tf::Map(map) => {
                let fields: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("\"{}\" = {}", escape_quoted(k), v.to_hcl()))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
            Tf::Json(inner) => format!("jsonencode({})", inner.to_hcl()),
        }
    }
}

/// Escapes a literal for a JSON-syntax string, which Terraform reads as a template.
pub fn escape_template(s: &str) -> Cow<'_, str> {
    if s.contains("${") || s.contains("%{") {
        Cow::Owned(s.replace("${", "$${").replace("%{", "%%{"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Escapes a literal for a quoted HCL string inside an expression.
fn escape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    escape_template(&out).into_owned()
}

fn template_body(parts: &[Tf]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Tf::Str(s) => escape_template(s).into_owned(),
            other => format!("${{{}}}", other.to_hcl()),
        })
        .collect()
}

fn quoted_template_body(parts: &[Tf]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Tf::Str(s) => escape_quoted(s),
            other => format!("${{{}}}", other.to_hcl()),
        })
        .collect()
}

/// Terraform JSON, written straight to the serializer (no intermediate `serde_json::Value`):
/// literals template-escaped, expressions as `"${...}"`, map keys sorted.
impl Serialize for Tf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Tf::Null => serializer.serialize_unit(),
            Tf::Bool(b) => serializer.serialize_bool(*b),
            Tf::Int(i) => serializer.serialize_i64(*i),
            Tf::Str(s) => serializer.serialize_str(&escape_template(s)),
            Tf::Expr(e) => serializer.serialize_str(&format!("${{{}}}", e.to_hcl())),
            Tf::Template(parts) => serializer.serialize_str(&template_body(parts)),
            Tf::List(items) => serializer.collect_seq(items),
            Tf::Map(map) => serializer.collect_map(map),
            Tf::Json(inner) => serializer.serialize_str(&inner.to_json_text()),
        }
    }
}

impl From<&str> for Tf {
    fn from(s: &str) -> Tf {
        Tf::Str(s.to_owned())
    }
}
impl From<String> for Tf {
    fn from(s: String) -> Tf {
        Tf::Str(s)
    }
}
impl From<&String> for Tf {
    fn from(s: &String) -> Tf {
        Tf::Str(s.clone())
    }
}
impl From<bool> for Tf {
    fn from(b: bool) -> Tf {
        Tf::Bool(b)
    }
}
macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Tf {
            fn from(i: $t) -> Tf { Tf::Int(i64::from(i)) }
        }
    )*};
}
from_int!(i32, i64, u8, u16, u32);
impl From<Expr> for Tf {
    fn from(e: Expr) -> Tf {
        Tf::Expr(e)
    }
}
impl From<&Expr> for Tf {
    fn from(e: &Expr) -> Tf {
        Tf::Expr(e.clone())
    }
}
impl<V: Into<Tf>> From<Vec<V>> for Tf {
    fn from(items: Vec<V>) -> Tf {
        Tf::list(items)
    }
}
impl<V: Into<Tf>> From<BTreeMap<String, V>> for Tf {
    fn from(map: BTreeMap<String, V>) -> Tf {
        Tf::object(map)
    }
}
impl<V: Into<Tf>> From<Option<V>> for Tf {
    fn from(v: Option<V>) -> Tf {
        v.map_or(Tf::Null, Into::into)
    }
}
impl From<Block> for Tf {
    fn from(b: Block) -> Tf {
        Tf::Map(b.0)
    }
}

/// Literal JSON: every string in it is a literal (escaped), never an expression.
impl From<serde_json::Value> for Tf {
    fn from(v: serde_json::Value) -> Tf {
        use serde_json::Value;
        match v {
            Value::Null => Tf::Null,
            Value::Bool(b) => Tf::Bool(b),
            Value::Number(n) => n.as_i64().map_or_else(|| Tf::Str(n.to_string()), Tf::Int),
            Value::String(s) => Tf::Str(s),
            Value::Array(items) => Tf::list(items),
            Value::Object(map) => Tf::object(map),
        }
    }
}

/// The body of a resource, data source, provider or nested block, built field by field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block(pub(crate) BTreeMap<String, Tf>);

impl Block {
    pub fn new() -> Block {
        Block::default()
    }

    /// Sets an attribute.
    pub fn set(mut self, key: &str, value: impl Into<Tf>) -> Block {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    /// Sets several attributes.
    pub fn set_all<V: Into<Tf>>(self, pairs: impl IntoIterator<Item = (&'static str, V)>) -> Block {
        pairs.into_iter().fold(self, |b, (k, v)| b.set(k, v))
    }

    /// Sets an attribute when there is a value; leaves it out (provider default) otherwise.
    pub fn set_opt<V: Into<Tf>>(self, key: &str, value: Option<V>) -> Block {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// Appends a nested block (rendered as a list of objects, as Terraform's JSON syntax allows
    /// for every nesting mode).
    pub fn block(mut self, key: &str, nested: Block) -> Block {
        match self
            .0
            .entry(key.to_owned())
            .or_insert_with(|| Tf::List(Vec::new()))
        {
            Tf::List(items) => items.push(nested.into()),
            other => *other = Tf::List(vec![nested.into()]),
        }
        self
    }

    /// Appends one nested block per item.
    pub fn blocks(self, key: &str, nested: impl IntoIterator<Item = Block>) -> Block {
        nested.into_iter().fold(self, |b, n| b.block(key, n))
    }

    /// `depends_on`: bare resource addresses, as the JSON syntax requires (left out when there
    /// are none).
    pub fn depends_on<'a>(self, resources: impl IntoIterator<Item = &'a crate::Resource>) -> Block {
        let addresses: Vec<Tf> = resources
            .into_iter()
            .map(|r| Tf::Str(r.address()))
            .collect();
        if addresses.is_empty() {
            return self;
        }
        self.set("depends_on", Tf::List(addresses))
    }

    /// `for_each`: one instance per element of `collection` (a set or map expression), each
    /// addressed by its key and reading [`Expr::each_value`].
    pub fn for_each(self, collection: Expr) -> Block {
        self.set("for_each", collection)
    }

    /// The `lifecycle` meta-argument.
    pub fn lifecycle(self, lifecycle: Lifecycle) -> Block {
        let mut body = Block::new();
        if lifecycle.prevent_destroy {
            body = body.set("prevent_destroy", true);
        }
        if lifecycle.create_before_destroy {
            body = body.set("create_before_destroy", true);
        }
        if !lifecycle.ignore_changes.is_empty() {
            body = body.set("ignore_changes", Tf::list(lifecycle.ignore_changes));
        }
        if body.0.is_empty() {
            return self;
        }
        self.set("lifecycle", body)
    }

    /// The `provider` meta-argument: a bare `<name>.<alias>` reference.
    pub fn provider(self, name: &str, alias: &str) -> Block {
        self.set("provider", Tf::Str(format!("{name}.{alias}")))
    }
}

/// Terraform's `lifecycle` meta-argument.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lifecycle {
    pub prevent_destroy: bool,
    pub create_before_destroy: bool,
    /// Attribute names, bare.
    pub ignore_changes: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn literal_strings_never_become_expressions() {
        let v = Tf::from("cost ${var.secret} and %{ if true }x%{ endif }");
        assert_eq!(
            v.to_json(),
            json!("cost $${var.secret} and %%{ if true }x%%{ endif }")
        );
    }

    #[test]
    fn literal_json_strings_are_escaped_too() {
        let v = Tf::from(json!({"detail": {"note": ["${aws_sqs_queue.q.arn}"]}}));
        assert_eq!(
            v.to_json(),
            json!({"detail": {"note": ["$${aws_sqs_queue.q.arn}"]}})
        );
    }

    #[test]
    fn json_documents_keep_references_and_escape_literals() {
        let arn = crate::Resource::new("aws_sqs_queue", "dlq").attr("arn");
        let v = Tf::json(Tf::object([
            ("deadLetterTargetArn", Tf::from(arn)),
            ("maxReceiveCount", Tf::from(3)),
            ("note", Tf::from("say \"${hi}\"\n")),
        ]));
        assert_eq!(
            v.to_json(),
            json!(
                r#"{"deadLetterTargetArn":"${aws_sqs_queue.dlq.arn}","maxReceiveCount":3,"note":"say \"$${hi}\"\n"}"#
            )
        );
        // Inside an expression the same document is built by jsonencode.
        assert_eq!(
            v.to_hcl(),
            r#"jsonencode({"deadLetterTargetArn" = aws_sqs_queue.dlq.arn, "maxReceiveCount" = 3, "note" = "say \"$${hi}\"\n"})"#
        );
    }

    #[test]
    fn templates_mix_literals_and_references() {
        let id = crate::Resource::new("aws_apigatewayv2_api", "ws").attr("id");
        let v = Tf::template([Tf::from("https://"), id.into(), Tf::from(".example/${x}")]);
        assert_eq!(
            v.to_json(),
            json!("https://${aws_apigatewayv2_api.ws.id}.example/$${x}")
        );
        let inside = Tf::json(Tf::list([v]));
        assert_eq!(
            inside.to_json(),
            json!("[\"https://${aws_apigatewayv2_api.ws.id}.example/$${x}\"]")
        );
    }

    #[test]
    fn nested_blocks_render_as_lists_and_meta_arguments_bare() {
        let queue = crate::Resource::new("aws_sqs_queue", "events");
        let b = Block::new()
            .block("ttl", Block::new().set("enabled", true))
            .block("rule", Block::new().set("id", "a"))
            .block("rule", Block::new().set("id", "b"))
            .depends_on([&queue])
            .lifecycle(Lifecycle {
                prevent_destroy: true,
                ignore_changes: vec!["tags"],
                ..Default::default()
            })
            .provider("aws", "replica");
        assert_eq!(
            Tf::from(b).to_json(),
            json!({
                "depends_on": ["aws_sqs_queue.events"],
                "lifecycle": {"ignore_changes": ["tags"], "prevent_destroy": true},
                "provider": "aws.replica",
                "rule": [{"id": "a"}, {"id": "b"}],
                "ttl": [{"enabled": true}],
            })
        );
    }

    #[test]
    fn empty_lifecycle_is_left_out() {
        let b = Block::new().lifecycle(Lifecycle::default());
        assert_eq!(Tf::from(b).to_json(), json!({}));
    }
}
