//! Typed AWS components, one module per service, rendered to Terraform JSON through the `tf`
//! core. A component is a plain struct; [`Stack::add`] renders the resources it owns and returns
//! a handle with typed references (`queue.arn()`) and grant helpers (`table.grant_write_data`).
//!
//! IAM is derived, never typed out: grant helpers add least-privilege statements (KMS included
//! where a key is involved) to the grantee's policy, and services that deliver into a resource
//! (SNS into SQS, EventBridge into SQS and SNS, CloudWatch into SNS) add resource-policy
//! statements, and key-policy statements with the conditions each service supports.
//! [`Stack::finish`] renders each policy once, merged, de-duplicated and sorted.

pub mod apigateway;
pub mod cloudwatch;
pub mod dynamodb;
pub mod eventbridge;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod provider;
pub mod s3;
mod schema;
pub mod sns;
pub mod sqs;
pub mod websocket;

use std::collections::{BTreeMap, BTreeSet};

use iam::{Grant, PolicyDocument, Statement};
use tf::{Block, Document, Expr, Resource, Tf};

/// Something that renders its resources into a stack and hands back typed references.
pub trait Component {
    type Handle;
    fn add_to(self, stack: &mut Stack) -> Self::Handle;
}

/// A resource policy that several grants contribute to, rendered once at [`Stack::finish`].
#[derive(Debug)]
struct ResourcePolicy {
    home: PolicyHome,
    document: PolicyDocument,
}

/// Where a resource policy is rendered.
#[derive(Debug)]
enum PolicyHome {
    /// A resource of its own whose `attribute` names the governed resource
    /// (`aws_sqs_queue_policy.queue_url`).
    Attached {
        attribute: &'static str,
        target: Expr,
    },
    /// The `policy` argument of the governed resource itself, whose other arguments are `body`:
    /// nothing that references the resource can be created before its policy is in force.
    Inline { body: Block },
}

/// One environment's Terraform document plus what every component needs: the naming prefix,
/// the account/region/partition references, and the policies grants add to.
pub struct Stack {
    doc: Document,
    prefix: String,
    region: String,
    account_id: Expr,
    partition: Expr,
    role_policies: BTreeMap<String, (Resource, PolicyDocument)>,
    /// Roles whose inline policy something waits for ([`Stack::role_policy`]).
    awaited_role_policies: BTreeSet<String>,
    resource_policies: BTreeMap<(&'static str, String), ResourcePolicy>,
    /// Applied to an emulator ([`provider::Emulator`]): the harness plays event source mappings.
    emulated: bool,
}

impl Stack {
    /// A stack whose physical names start with `prefix` (e.g. `shipstack-prod`).
    pub fn new(prefix: &str, region: &str) -> Stack {
        let mut doc = Document::new();
        let caller = doc.data("aws_caller_identity", "current", Block::new());
        let partition = doc.data("aws_partition", "current", Block::new());
        Stack {
            doc,
            prefix: prefix.to_owned(),
            region: region.to_owned(),
            account_id: caller.attr("account_id"),
            partition: partition.attr("partition"),
            role_policies: BTreeMap::new(),
            awaited_role_policies: BTreeSet::new(),
            resource_policies: BTreeMap::new(),
            emulated: false,
        }
    }

    pub fn add<C: Component>(&mut self, component: C) -> C::Handle {
        component.add_to(self)
    }

    /// The underlying document, for settings, variables and outputs.
    pub fn doc(&mut self) -> &mut Document {
        &mut self.doc
    }

    /// `<prefix>-<name>` with `_` as `-`: the physical name of a resource.
    pub fn physical_name(&self, logical: &str) -> String {
        format!("{}-{}", self.prefix, logical.replace('_', "-"))
    }

    /// [`Stack::physical_name`], reported as a render error when it is longer than the
    /// `limit` AWS sets for `what` (the create call would fail on the first apply).
    pub(crate) fn physical_name_within(
        &mut self,
        logical: &str,
        what: &str,
        limit: usize,
    ) -> String {
        let name = self.physical_name(logical);
        if name.len() > limit {
            self.doc.report(format!(
                "{what} name \"{name}\" is {} characters; AWS allows {limit}",
                name.len()
            ));
        }
        name
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn partition(&self) -> Expr {
        self.partition.clone()
    }

    pub fn account_id(&self) -> Expr {
        self.account_id.clone()
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: impl Into<Tf>) -> Tf {
        Tf::template([
            Tf::from("arn:"),
            self.partition.clone().into(),
            Tf::from(format!(":{service}:{}:", self.region)),
            self.account_id.clone().into(),
            Tf::from(":"),
            resource.into(),
        ])
    }

    /// The account root principal (`arn:<partition>:iam::<account>:root`).
    pub fn account_root(&self) -> Tf {
        Tf::template([
            Tf::from("arn:"),
            self.partition.clone().into(),
            Tf::from(":iam::"),
            self.account_id.clone().into(),
            Tf::from(":root"),
        ])
    }

    /// The inline policy [`Stack::finish`] renders for `role`'s grants, for what is created
    /// before the grants are made (a function waits for its role's permissions); a grant made
    /// first hands back its [`Grant`] instead.
    pub(crate) fn role_policy(&mut self, role: &Resource) -> Resource {
        self.awaited_role_policies.insert(role.name().to_owned());
        Resource::new("aws_iam_role_policy", role.name())
    }

    /// Adds a statement to a role's inline policy (see [`lambda::FunctionRef`] grants).
    pub(crate) fn grant_role(&mut self, role: &Resource, statement: Statement) -> Grant {
        self.role_policies
            .entry(role.name().to_owned())
            .or_insert_with(|| (role.clone(), PolicyDocument::default()))
            .1
            .add(statement);
        Grant(Resource::new("aws_iam_role_policy", role.name()))
    }

    /// Adds a statement to the resource policy of `target` (a queue, topic or bucket), rendered
    /// as a `resource_type` resource whose `attribute` is `target_value`.
    pub(crate) fn add_resource_policy(
        &mut self,
        resource_type: &'static str,
        target: &Resource,
        attribute: &'static str,
        target_value: Expr,
        statement: Statement,
    ) {
        self.resource_policies
            .entry((resource_type, target.name().to_owned()))
            .or_insert_with(|| ResourcePolicy {
                home: PolicyHome::Attached {
                    attribute,
                    target: target_value,
                },
                document: PolicyDocument::default(),
            })
            .document
            .add(statement);
    }

    /// Declares a resource whose policy is its own `policy` argument, filled in by
    /// [`Stack::finish`] from the statements [`Stack::add_inline_policy`] adds.
    pub(crate) fn resource_with_inline_policy(
        &mut self,
        resource_type: &'static str,
        name: &str,
        body: Block,
    ) -> Resource {
        let replaced = self.resource_policies.insert(
            (resource_type, name.to_owned()),
            ResourcePolicy {
                home: PolicyHome::Inline { body },
                document: PolicyDocument::default(),
            },
        );
        if replaced.is_some() {
            self.doc.report(format!(
                "resource {resource_type} \"{name}\" is declared twice"
            ));
        }
        Resource::new(resource_type, name)
    }

    /// Adds a statement to the inline policy of a resource declared by
    /// [`Stack::resource_with_inline_policy`].
    pub(crate) fn add_inline_policy(&mut self, target: &Resource, statement: Statement) {
        let key = (target.resource_type(), target.name().to_owned());
        match self
            .resource_policies
            .iter_mut()
            .find(|((ty, name), _)| (*ty, name) == (key.0, &key.1))
        {
            Some((_, policy)) => policy.document.add(statement),
            None => unreachable!("{} has no inline policy", target.address()),
        }
    }

    /// Renders the accumulated policies and returns the finished document.
    pub fn finish(mut self) -> Document {
        for role in &self.awaited_role_policies {
            if !self.role_policies.contains_key(role) {
                self.doc.report(format!(
                    "aws_iam_role_policy.{role} is waited for (depends_on) but role {role} was granted nothing, so it is never rendered"
                ));
            }
        }
        for (name, (role, policy)) in std::mem::take(&mut self.role_policies) {
            let body = Block::new()
                .set("name", self.physical_name(&name))
                .set("role", role.attr("id"))
                .set("policy", policy.to_tf());
            self.doc.resource("aws_iam_role_policy", &name, body);
        }
        for ((resource_type, name), policy) in std::mem::take(&mut self.resource_policies) {
            // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_statement.html:
            // a policy needs a statement; one declared but never granted anything is refused.
            if policy.document.statements().is_empty() {
                self.doc.report(format!(
                    "{resource_type}.{name} has a policy with no statement (nothing was granted to it)"
                ));
            }
            let body = match policy.home {
                PolicyHome::Attached { attribute, target } => Block::new().set(attribute, target),
                PolicyHome::Inline { body } => body,
            };
            self.doc.resource(
                resource_type,
                &name,
                body.set("policy", policy.document.to_tf()),
            );
        }
        self.doc.check_attributes(schema::has_field);
        self.doc
    }
}

/// The file (without `.tf.json`) each resource type is rendered into: one per AWS service, so
/// a reviewer finds a change where they expect it.
pub fn file_of(resource_type: &str) -> &'static str {
    const FILES: [(&str, &str); 13] = [
        ("aws_api_gateway_", "apigateway"),
        ("aws_apigatewayv2_", "websocket"),
        ("aws_cloudwatch_event_", "eventbridge"),
        ("aws_cloudwatch_log_", "logs"),
        ("aws_cloudwatch_", "monitoring"),
        ("aws_dynamodb_", "dynamodb"),
        ("aws_iam_", "iam"),
        ("aws_kms_", "kms"),
        ("aws_lambda_", "lambda"),
        ("aws_s3_", "s3"),
        ("aws_sns_", "sns"),
        ("aws_sqs_", "sqs"),
        ("aws_", "main"),
    ];
    FILES
        .iter()
        .find(|(prefix, _)| resource_type.starts_with(prefix))
        .map_or("main", |(_, file)| file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_land_in_their_service_file() {
        assert_eq!(file_of("aws_cloudwatch_event_rule"), "eventbridge");
        assert_eq!(file_of("aws_cloudwatch_metric_alarm"), "monitoring");
        assert_eq!(file_of("aws_cloudwatch_log_group"), "logs");
        assert_eq!(file_of("aws_apigatewayv2_api"), "websocket");
        assert_eq!(file_of("aws_caller_identity"), "main");
    }

    #[test]
    fn waiting_for_a_role_policy_that_is_never_rendered_is_a_render_error() {
        let mut stack = Stack::new("shipstack-test", "eu-west-1");
        let lonely = Resource::new("aws_iam_role", "lonely");
        let policy = stack.role_policy(&lonely);
        stack
            .doc()
            .resource("aws_sqs_queue", "q", Block::new().depends_on([&policy]));
        let errors = stack.finish().render(file_of).unwrap_err().0;
        assert!(
            errors
                .iter()
                .any(|e| e.contains("aws_iam_role_policy.lonely")),
            "{errors:?}"
        );
    }
}
