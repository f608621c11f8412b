//! IAM policy documents: statements that merge, de-duplicate and sort themselves, so every
//! rendered policy is minimal and byte-stable.

use std::collections::{BTreeMap, BTreeSet};

use tf::Tf;

/// Whoever grants are given to: a role, through the function that assumes it, or a managed
/// policy that someone else attaches.
pub trait Grantee {
    /// Adds `statement` to the grantee's identity policy.
    fn grant(&self, stack: &mut crate::Stack, statement: Statement) -> Grant;
}

/// A customer-managed IAM policy, for principals outside this configuration (a downstream
/// service's role attaches it): the grant helpers fill it like a function's role.
#[derive(Clone, Debug)]
pub struct ManagedPolicy {
    /// Logical name; the policy is named `<prefix>-<name>`.
    pub name: String,
    pub description: String,
}

/// A rendered managed policy.
#[derive(Clone, Debug)]
pub struct ManagedPolicyRef {
    policy: tf::Resource,
}

impl ManagedPolicyRef {
    pub fn arn(&self) -> tf::Expr {
        self.policy.attr("arn")
    }
}

impl Grantee for ManagedPolicyRef {
    fn grant(&self, stack: &mut crate::Stack, statement: Statement) -> Grant {
        stack.add_inline_policy(&self.policy, statement);
        Grant(self.policy.clone())
    }
}

impl crate::Component for ManagedPolicy {
    type Handle = ManagedPolicyRef;

    fn add_to(self, stack: &mut crate::Stack) -> ManagedPolicyRef {
        // https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html: names
        // are 1-128 characters; the document is rendered by `Stack::finish` from the grants.
        let body = tf::Block::new()
            .set(
                "name",
                stack.physical_name_within(&self.name, "IAM policy", 128),
            )
            .set("description", self.description);
        let policy = stack.resource_with_inline_policy("aws_iam_policy", &self.name, body);
        ManagedPolicyRef { policy }
    }
}

/// What a grant added to: the grantee's inline role policy, rendered by [`crate::Stack::finish`].
/// Something AWS checks the grantee's permissions for at creation (an event source mapping,
/// account settings) depends on it.
#[derive(Clone, Debug)]
pub struct Grant(pub(crate) tf::Resource);

impl Grant {
    pub fn policy(&self) -> &tf::Resource {
        &self.0
    }
}

/// A value ordered by its HCL text, so statements can be compared, merged and sorted. The
/// text is built once: policies compare their values many times while merging and sorting.
#[derive(Clone, Debug)]
pub struct Ordered {
    text: String,
    value: Tf,
}

impl Ordered {
    pub fn new(value: Tf) -> Ordered {
        Ordered {
            text: value.to_hcl(),
            value,
        }
    }

    pub fn value(&self) -> &Tf {
        &self.value
    }
}

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

/// The AWS services that act on this platform's resources, as resource-policy principals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    ApiGateway,
    CloudWatch,
    EventBridge,
    Lambda,
    Sns,
}

impl Service {
    pub fn principal(self) -> &'static str {
        match self {
            Service::ApiGateway => "apigateway.amazonaws.com",
            Service::CloudWatch => "cloudwatch.amazonaws.com",
            Service::EventBridge => "events.amazonaws.com",
            Service::Lambda => "lambda.amazonaws.com",
            Service::Sns => "sns.amazonaws.com",
        }
    }
}

/// Who a resource policy statement applies to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    /// An AWS service, e.g. `sns.amazonaws.com`.
    Service(String),
    /// An AWS account or role ARN (usually a reference).
    Aws(Ordered),
}

/// A condition: `{test: {key: values}}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Condition {
    pub test: &'static str,
    pub key: &'static str,
    pub values: Vec<Ordered>,
}

impl Condition {
    pub fn new(
        test: &'static str,
        key: &'static str,
        values: impl IntoIterator<Item = Tf>,
    ) -> Condition {
        Condition {
            test,
            key,
            values: values.into_iter().map(Ordered::new).collect(),
        }
    }
}

/// One statement. Its fields are private: the constructors below are the only way to build
/// one, so no statement grants a wildcard action but the key's own administration.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Statement {
    deny: bool,
    principal: Option<Principal>,
    resources: BTreeSet<Ordered>,
    conditions: BTreeSet<Condition>,
    actions: BTreeSet<&'static str>,
}

impl Statement {
    /// Allows `actions` on `resources`.
    pub fn allow(actions: &[&'static str], resources: impl IntoIterator<Item = Tf>) -> Statement {
        for action in actions {
            assert!(
                !action.contains('*'),
                "wildcard action {action}: list the actions a grant needs"
            );
        }
        Statement {
            deny: false,
            principal: None,
            resources: resources.into_iter().map(Ordered::new).collect(),
            conditions: BTreeSet::new(),
            actions: actions.iter().copied().collect(),
        }
    }

    /// Denies `actions` on `resources` (used for transport-security guards).
    pub fn deny(actions: &[&'static str], resources: impl IntoIterator<Item = Tf>) -> Statement {
        Statement {
            deny: true,
            ..Statement::allow(actions, resources)
        }
    }

    /// `kms:*` on the key for the account (`account_root`), as in AWS's default key policy.
    pub(crate) fn account_administers_key(account_root: Tf) -> Statement {
        Statement {
            actions: ["kms:*"].into(),
            ..Statement::allow(&[], [Tf::from("*")])
                .principal(Principal::Aws(Ordered::new(account_root)))
        }
    }

    /// Denies `actions` on `resources` to every request that does not use TLS.
    pub fn deny_insecure_transport(
        actions: &[&'static str],
        resources: impl IntoIterator<Item = Tf>,
    ) -> Statement {
        Statement::deny(actions, resources)
            .principal(Principal::Aws(Ordered::new(Tf::from("*"))))
            .condition(Condition::new(
                "Bool",
                "aws:SecureTransport",
                [Tf::from("false")],
            ))
    }

    pub fn principal(mut self, principal: Principal) -> Statement {
        self.principal = Some(principal);
        self
    }

    pub fn condition(mut self, condition: Condition) -> Statement {
        self.conditions.insert(condition);
        self
    }

    fn to_tf(&self) -> Tf {
        let mut fields: Vec<(&str, Tf)> = vec![
            ("Effect", Tf::from(if self.deny { "Deny" } else { "Allow" })),
            ("Action", Tf::list(self.actions.iter().copied())),
            (
                "Resource",
                Tf::List(self.resources.iter().map(|r| r.value().clone()).collect()),
            ),
        ];
        if let Some(principal) = &self.principal {
            let (kind, value) = match principal {
                Principal::Service(s) => ("Service", Tf::from(s.as_str())),
                Principal::Aws(arn) => ("AWS", arn.value().clone()),
            };
            fields.push(("Principal", Tf::object([(kind, value)])));
        }
        if !self.conditions.is_empty() {
            let mut by_test: BTreeMap<&str, BTreeMap<String, Tf>> = BTreeMap::new();
            for c in &self.conditions {
                by_test.entry(c.test).or_default().insert(
                    c.key.to_owned(),
                    Tf::List(c.values.iter().map(|v| v.value().clone()).collect()),
                );
            }
            fields.push((
                "Condition",
                Tf::object(by_test.into_iter().map(|(t, m)| (t, Tf::Map(m)))),
            ));
        }
        Tf::object(fields)
    }
}

type StatementScope = (
    bool,
    Option<Principal>,
    BTreeSet<Ordered>,
    BTreeSet<Condition>,
);

/// A policy document: statements with the same effect, principal, resources and conditions are
/// merged (union of actions), duplicates vanish, and the order is sorted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyDocument {
    statements: BTreeMap<StatementScope, BTreeSet<&'static str>>,
}

impl PolicyDocument {
    pub fn add(&mut self, statement: Statement) {
        let Statement {
            deny,
            principal,
            resources,
            conditions,
            actions,
        } = statement;
        self.statements
            .entry((deny, principal, resources, conditions))
            .or_default()
            .extend(actions);
    }

    /// The merged statements, sorted.
    pub fn statements(&self) -> Vec<Statement> {
        let mut merged: Vec<Statement> = self
            .statements
            .iter()
            .map(
                |((deny, principal, resources, conditions), actions)| Statement {
                    deny: *deny,
                    principal: principal.clone(),
                    resources: resources.clone(),
                    conditions: conditions.clone(),
                    actions: actions.clone(),
                },
            )
            .collect();
        // Statements that differ only in resources but share their actions collapse into one.
        merged.sort_by(|a, b| {
            (a.deny, &a.principal, &a.actions, &a.conditions).cmp(&(
                b.deny,
                &b.principal,
                &b.actions,
                &b.conditions,
            ))
        });
        let mut by_resources: Vec<Statement> = Vec::new();
        for s in merged {
            match by_resources.last_mut() {
                Some(last)
                    if (last.deny, &last.principal, &last.actions, &last.conditions)
                        == (s.deny, &s.principal, &s.actions, &s.conditions) =>
                {
                    last.resources.extend(s.resources)
                }
                _ => by_resources.push(s),
            }
        }
        // Statements that differ only in the values of their one condition (several source
        // ARNs allowed to deliver into the same queue) collapse into one condition with all of
        // them: a condition's values are alternatives.
        by_resources.sort_by(|a, b| {
            (
                a.deny,
                &a.principal,
                &a.actions,
                &a.resources,
                condition_key(a),
            )
                .cmp(&(
                    b.deny,
                    &b.principal,
                    &b.actions,
                    &b.resources,
                    condition_key(b),
                ))
        });
        let mut out: Vec<Statement> = Vec::new();
        for s in by_resources {
            match out.last_mut() {
                Some(last)
                    if condition_key(last).is_some()
                        && (
                            last.deny,
                            &last.principal,
                            &last.actions,
                            &last.resources,
                            condition_key(last),
                        ) == (
                            s.deny,
                            &s.principal,
                            &s.actions,
                            &s.resources,
                            condition_key(&s),
                        ) =>
                {
                    let mut merged = last.conditions.pop_first().expect("one condition");
                    let extra = s.conditions.into_iter().next().expect("one condition");
                    merged.values.extend(extra.values);
                    merged.values.sort();
                    merged.values.dedup();
                    last.conditions.insert(merged);
                }
                _ => out.push(s),
            }
        }
        out.sort();
        out
    }

    /// `jsonencode({Version = "2012-10-17", Statement = [...]})`.
    pub fn to_tf(&self) -> Tf {
        Tf::json(Tf::object([
            ("Version", Tf::from("2012-10-17")),
            (
                "Statement",
                Tf::List(self.statements().iter().map(Statement::to_tf).collect()),
            ),
        ]))
    }
}

/// A trust policy letting `service` assume a role.
pub fn assume_role_policy(service: Service) -> Tf {
    Tf::json(Tf::object([
        ("Version", Tf::from("2012-10-17")),
        (
            "Statement",
            Tf::list([Tf::object([
                ("Effect", Tf::from("Allow")),
                ("Action", Tf::from("sts:AssumeRole")),
                ("Principal", Tf::object([("Service", service.principal())])),
            ])]),
        ),
    ]))
}

/// The test and key of a statement's only condition, if it has exactly one.
fn condition_key(statement: &Statement) -> Option<(&'static str, &'static str)> {
    match statement.conditions.len() {
        1 => statement.conditions.first().map(|c| (c.test, c.key)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn arn(name: &str) -> Tf {
        Tf::from(tf::Resource::new("aws_sqs_queue", name).attr("arn"))
    }

    #[test]
    fn grants_on_the_same_resource_merge_and_duplicates_vanish() {
        let mut policy = PolicyDocument::default();
        policy.add(Statement::allow(&["sqs:SendMessage"], [arn("a")]));
        policy.add(Statement::allow(
            &["sqs:GetQueueAttributes", "sqs:SendMessage"],
            [arn("a")],
        ));
        policy.add(Statement::allow(&["sqs:SendMessage"], [arn("a")]));
        let statements = policy.statements();
        assert_eq!(statements.len(), 1);
        assert_eq!(
            statements[0].actions.iter().copied().collect::<Vec<_>>(),
            ["sqs:GetQueueAttributes", "sqs:SendMessage"]
        );
    }

    #[test]
    fn same_actions_on_different_resources_share_a_statement() {
        let mut policy = PolicyDocument::default();
        policy.add(Statement::allow(&["sns:Publish"], [arn("b")]));
        policy.add(Statement::allow(&["sns:Publish"], [arn("a")]));
        let statements = policy.statements();
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0].resources.len(), 2);
    }

    #[test]
    fn source_conditions_of_one_service_merge_into_alternatives() {
        let mut policy = PolicyDocument::default();
        for rule in ["r2", "r1"] {
            policy.add(
                Statement::allow(&["sqs:SendMessage"], [arn("q")])
                    .principal(Principal::Service("events.amazonaws.com".into()))
                    .condition(Condition::new("ArnEquals", "aws:SourceArn", [arn(rule)])),
            );
        }
        let statements = policy.statements();
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0].conditions.first().unwrap().values.len(), 2);
    }

    #[test]
    fn rendering_is_independent_of_grant_order() {
        let grants = [
            Statement::allow(&["sns:Publish"], [arn("t")]),
            Statement::allow(&["sqs:SendMessage"], [arn("q")]),
            Statement::allow(&["kms:Decrypt"], [arn("k")]),
        ];
        let render = |order: &[usize]| {
            let mut policy = PolicyDocument::default();
            order.iter().for_each(|&i| policy.add(grants[i].clone()));
            policy.to_tf().to_json()
        };
        assert_eq!(render(&[0, 1, 2]), render(&[2, 0, 1]));
    }

    #[test]
    #[should_panic(expected = "wildcard action")]
    fn wildcard_actions_are_refused() {
        Statement::allow(&["dynamodb:*"], [arn("t")]);
    }
}
