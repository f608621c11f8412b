//! Expressions: references and function calls, kept as values so the reference graph is known
//! without parsing text. Only this crate spells out `${...}`; callers get an [`Expr`] from a
//! handle (`queue.arn()`), a variable, or a function call.

use std::fmt;

use crate::value::Tf;

/// What a reference names: a declared object or one of Terraform's built-in values.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    Resource {
        ty: String,
        name: String,
    },
    Data {
        ty: String,
        name: String,
    },
    Var(String),
    Local(String),
    /// `path.module`: the directory of the rendered root module.
    PathModule,
    /// `each.value`: the current element inside a resource with `for_each`.
    EachValue,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Resource { ty, name } => write!(f, "{ty}.{name}"),
            Address::Data { ty, name } => write!(f, "data.{ty}.{name}"),
            Address::Var(name) => write!(f, "var.{name}"),
            Address::Local(name) => write!(f, "local.{name}"),
            Address::PathModule => f.write_str("path.module"),
            Address::EachValue => f.write_str("each.value"),
        }
    }
}

/// One step after the head of an expression: `.name` or `[key]`.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Attr(String),
    Index(Box<Tf>),
}

/// Where an expression starts.
#[derive(Clone, Debug, PartialEq)]
enum Head {
    Ref(Address),
    Call {
        function: String,
        args: Vec<Tf>,
    },
    /// `length(list) > 0`.
    NotEmpty(Box<Expr>),
    /// `left == right`.
    Equals(Box<Expr>, Box<Tf>),
    /// `alltrue(...)` (`negate: false`) or `!anytrue(...)` over `can(regex(pattern, item))`.
    Matches {
        list: Box<Expr>,
        pattern: String,
        negate: bool,
    },
}

/// An HCL expression (without the `${}` wrapper), e.g. `aws_sqs_queue.events.arn`.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    head: Head,
    path: Vec<Step>,
}

/// A reference inside an expression: the address and the attribute read from it (if any).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    pub address: Address,
    pub attribute: Option<String>,
}

impl Expr {
    /// A reference to `address`.
    pub(crate) fn reference(address: Address) -> Expr {
        Expr {
            head: Head::Ref(address),
            path: Vec::new(),
        }
    }

    /// `path.module`: the directory of the rendered root module.
    pub fn path_module() -> Expr {
        Expr::reference(Address::PathModule)
    }

    /// A call of a Terraform built-in function, e.g. `filebase64sha256(path)`.
    pub fn call(function: &str, args: impl IntoIterator<Item = Tf>) -> Expr {
        Expr::from_head(Head::Call {
            function: function.to_owned(),
            args: args.into_iter().collect(),
        })
    }

    /// `each.value`: the current element inside a resource with `for_each`.
    pub fn each_value() -> Expr {
        Expr::reference(Address::EachValue)
    }

    /// `length(list) > 0`.
    pub fn not_empty(list: &Expr) -> Expr {
        Expr::from_head(Head::NotEmpty(Box::new(list.clone())))
    }

    /// `self == other`.
    pub fn equals(&self, other: impl Into<Tf>) -> Expr {
        Expr::from_head(Head::Equals(Box::new(self.clone()), Box::new(other.into())))
    }

    /// Whether every element of `list` matches the RE2 `pattern`.
    pub fn all_match(list: &Expr, pattern: &str) -> Expr {
        Expr::matches(list, pattern, false)
    }

    /// Whether no element of `list` matches the RE2 `pattern`.
    pub fn none_match(list: &Expr, pattern: &str) -> Expr {
        Expr::matches(list, pattern, true)
    }

    fn matches(list: &Expr, pattern: &str, negate: bool) -> Expr {
        Expr::from_head(Head::Matches {
            list: Box::new(list.clone()),
            pattern: pattern.to_owned(),
            negate,
        })
    }

    fn from_head(head: Head) -> Expr {
        Expr {
            head,
            path: Vec::new(),
        }
    }

    /// An attribute of this expression's value: `expr.name`.
    pub fn attr(&self, name: &str) -> Expr {
        self.then(Step::Attr(name.to_owned()))
    }

    /// An index into a list or map: `expr[key]`.
    pub fn index(&self, key: impl Into<Tf>) -> Expr {
        self.then(Step::Index(Box::new(key.into())))
    }

    fn then(&self, step: Step) -> Expr {
        let mut next = self.clone();
        next.path.push(step);
        next
    }

    /// Every reference in this expression (also inside call arguments and indexes), outermost
    /// first, each with the attribute read from it.
    pub fn references(&self) -> Vec<Reference> {
        let mut found = Vec::new();
        self.collect_references(&mut found);
        found
    }

    pub(crate) fn collect_references(&self, found: &mut Vec<Reference>) {
        match &self.head {
            Head::Ref(address) => found.push(Reference {
                address: address.clone(),
                attribute: match self.path.first() {
                    Some(Step::Attr(name)) => Some(name.clone()),
                    _ => None,
                },
            }),
            Head::Call { args, .. } => args.iter().for_each(|a| a.collect_references(found)),
            Head::NotEmpty(list) | Head::Matches { list, .. } => list.collect_references(found),
            Head::Equals(left, right) => {
                left.collect_references(found);
                right.collect_references(found);
            }
        }
        for step in &self.path {
            if let Step::Index(key) = step {
                key.collect_references(found);
            }
        }
    }

    /// The expression's HCL text.
    pub fn to_hcl(&self) -> String {
        let mut text = match &self.head {
            Head::Ref(address) => address.to_string(),
            Head::Call { function, args } => {
                let args: Vec<String> = args.iter().map(Tf::to_hcl).collect();
                format!("{function}({})", args.join(", "))
            }
            Head::NotEmpty(list) => format!("length({}) > 0", list.to_hcl()),
            Head::Equals(left, right) => format!("{} == {}", left.to_hcl(), right.to_hcl()),
            Head::Matches {
                list,
                pattern,
                negate,
            } => format!(
                "{}({})",
                if *negate { "!anytrue" } else { "alltrue" },
                format_args!(
                    "[for item in {} : can(regex({}, item))]",
                    list.to_hcl(),
                    Tf::from(pattern.as_str()).to_hcl()
                )
            ),
        };
        for step in &self.path {
            match step {
                Step::Attr(name) => {
                    text.push('.');
                    text.push_str(name);
                }
                Step::Index(key) => {
                    text.push('[');
                    text.push_str(&key.to_hcl());
                    text.push(']');
                }
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn var(name: &str) -> Expr {
        Expr::reference(Address::Var(name.into()))
    }

    #[test]
    fn function_calls_render_their_arguments_as_hcl() {
        let path = Tf::template([Expr::path_module().into(), Tf::from("/../dist/a.zip")]);
        let hash = Expr::call("filebase64sha256", [path]);
        assert_eq!(
            Tf::from(hash).to_json(),
            json!("${filebase64sha256(\"${path.module}/../dist/a.zip\")}")
        );
    }

    #[test]
    fn literal_call_arguments_stay_literal() {
        let call = Expr::call("format", [Tf::from("${x} %{ if y }"), var("a").into()]);
        assert_eq!(
            Tf::from(call).to_json(),
            json!(r#"${format("$${x} %%{ if y }", var.a)}"#)
        );
    }

    #[test]
    fn list_checks_quote_their_pattern() {
        let list = var("emails");
        assert_eq!(
            Expr::all_match(&list, r#"^[^@"]+\.${x}$"#).to_hcl(),
            r#"alltrue([for item in var.emails : can(regex("^[^@\"]+\\.$${x}$", item))])"#
        );
        assert_eq!(
            Expr::none_match(&list, "%{a}").to_hcl(),
            r#"!anytrue([for item in var.emails : can(regex("%%{a}", item))])"#
        );
        assert_eq!(Expr::not_empty(&list).to_hcl(), "length(var.emails) > 0");
    }

    #[test]
    fn attributes_and_indexes_chain() {
        let x = Address::Resource {
            ty: "aws_x".into(),
            name: "y".into(),
        };
        let e = Expr::reference(x.clone())
            .attr("stage")
            .index(0)
            .attr("arn");
        assert_eq!(e.to_hcl(), "aws_x.y.stage[0].arn");
        assert_eq!(var("m").index("k\"").to_hcl(), "var.m[\"k\\\"\"]");
        assert_eq!(
            e.references(),
            [Reference {
                address: x,
                attribute: Some("stage".into())
            }]
        );
    }

    #[test]
    fn references_are_found_inside_calls_and_indexes() {
        let e = Expr::call("toset", [var("a").into()]).index(var("k"));
        let found: Vec<String> = e
            .references()
            .iter()
            .map(|r| r.address.to_string())
            .collect();
        assert_eq!(found, ["var.a", "var.k"]);
    }
}
