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
