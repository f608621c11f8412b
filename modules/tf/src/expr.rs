//! Expressions: references and function calls. Only this crate spells out `${...}`; callers get
//! an [`Expr`] from a handle (`queue.arn()`), a variable, or a function call.

use crate::value::Tf;

/// An HCL expression (without the `${}` wrapper), e.g. `aws_sqs_queue.events.arn`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expr(String);

impl Expr {
    /// A reference by address: `aws_sqs_queue.events.arn`, `var.region`, `data.x.y.json`.
    pub(crate) fn reference(address: &str) -> Expr {
        Expr(address.to_owned())
    }

    /// `path.module`: the directory of the rendered root module.
    pub fn path_module() -> Expr {
        Expr::reference("path.module")
    }

    /// A call of a Terraform built-in function, e.g. `filebase64sha256(path)`.
    pub fn call(function: &str, args: impl IntoIterator<Item = Tf>) -> Expr {
        let args: Vec<String> = args.into_iter().map(|a| a.to_hcl()).collect();
        Expr(format!("{function}({})", args.join(", ")))
    }

    /// `each.value`: the current element inside a resource with `for_each`.
    pub fn each_value() -> Expr {
        Expr::reference("each.value")
    }

    /// `length(list) > 0`.
    pub fn not_empty(list: &Expr) -> Expr {
        Expr(format!("length({}) > 0", list.0))
    }

    /// Whether every element of `list` matches the RE2 `pattern`.
    pub fn all_match(list: &Expr, pattern: &str) -> Expr {
        Expr(format!("alltrue({})", matches_each(list, pattern)))
    }

    /// Whether no element of `list` matches the RE2 `pattern`.
    pub fn none_match(list: &Expr, pattern: &str) -> Expr {
        Expr(format!("!anytrue({})", matches_each(list, pattern)))
    }

    /// An attribute of this expression's value: `expr.name`.
    pub fn attr(&self, name: &str) -> Expr {
        Expr(format!("{}.{name}", self.0))
    }

    /// An index into a list or map: `expr[key]`.
    pub fn index(&self, key: impl Into<Tf>) -> Expr {
        Expr(format!("{}[{}]", self.0, key.into().to_hcl()))
    }

    /// The expression's HCL text.
    pub fn hcl(&self) -> &str {
        &self.0
    }
}

/// `[for item in list : can(regex(pattern, item))]`.
fn matches_each(list: &Expr, pattern: &str) -> String {
    format!(
        "[for item in {} : can(regex({}, item))]",
        list.0,
        Tf::from(pattern).to_hcl()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

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
    fn list_checks_quote_their_pattern() {
        let list = Expr::reference("var.emails");
        assert_eq!(
            Expr::all_match(&list, r#"^[^@"]+\.${x}$"#).hcl(),
            r#"alltrue([for item in var.emails : can(regex("^[^@\"]+\\.$${x}$", item))])"#
        );
        assert_eq!(Expr::not_empty(&list).hcl(), "length(var.emails) > 0");
    }

    #[test]
    fn attributes_and_indexes_chain() {
        let e = Expr::reference("aws_x.y")
            .attr("stage")
            .index(0)
            .attr("arn");
        assert_eq!(e.hcl(), "aws_x.y.stage[0].arn");
        assert_eq!(
            Expr::reference("var.m").index("k\"").hcl(),
            "var.m[\"k\\\"\"]"
        );
    }
}
