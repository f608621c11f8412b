//! SNS: encrypted topics, email and SQS subscriptions, and a topic policy that publishing
//! services are added to.

use tf::{Block, Expr, Resource};

use crate::iam::{Grantee, Principal, Statement};
use crate::kms::KeyRef;
use crate::sqs::{deny_insecure_transport, QueueRef};
use crate::{Component, Stack};

/// A standard topic encrypted with a customer-managed key.
#[derive(Clone, Debug)]
pub struct Topic {
    /// Logical name; the topic is named `<prefix>-<name>`.
    pub name: String,
    pub display_name: String,
    pub key: KeyRef,
}

/// A rendered topic.
#[derive(Clone, Debug)]
pub struct TopicRef {
    topic: Resource,
    key: KeyRef,
}

impl TopicRef {
    pub fn arn(&self) -> Expr {
        self.topic.attr("arn")
    }

    pub fn name(&self) -> Expr {
        self.topic.attr("name")
    }

    pub fn resource(&self) -> &Resource {
        &self.topic
    }

    pub fn grant_publish(&self, stack: &mut Stack, to: &impl Grantee) {
        stack.grant_role(
            to.role(),
            Statement::allow(&["sns:Publish"], [self.arn().into()]),
        );
        stack.grant_role(
            to.role(),
            Statement::allow(KeyRef::ENCRYPT_DECRYPT, [self.key.arn().into()]),
        );
    }

    /// Lets an AWS service in this account publish (e.g. CloudWatch alarm actions).
    pub fn allow_service_publish(&self, stack: &mut Stack, service: &str) {
        let statement = stack.service_statement(service, &["sns:Publish"], vec![self.arn().into()]);
        self.add_to_policy(stack, statement);
        self.key
            .allow_service(stack, service, &["kms:Decrypt", "kms:GenerateDataKey"]);
    }

    /// Email subscriptions; each address confirms by mail before it receives anything.
    pub fn subscribe_emails(&self, stack: &mut Stack, emails: &[String]) {
        for email in emails {
            let body = Block::new()
                .set("topic_arn", self.arn())
                .set("protocol", "email")
                .set("endpoint", email.as_str());
            stack.doc().resource(
                "aws_sns_topic_subscription",
                &subscription_name(self.topic.name(), email),
                body,
            );
        }
    }

    /// Delivers every message, raw, into `queue` (which must let this topic send).
    pub fn subscribe_queue(&self, stack: &mut Stack, queue: &QueueRef) {
        queue.allow_service_send(stack, "sns.amazonaws.com", vec![self.arn().into()]);
        let body = Block::new()
            .set("topic_arn", self.arn())
            .set("protocol", "sqs")
            .set("endpoint", queue.arn())
            .set("raw_message_delivery", true);
        let name = format!("{}_to_{}", self.topic.name(), queue.resource().name());
        stack
            .doc()
            .resource("aws_sns_topic_subscription", &name, body);
    }

    fn add_to_policy(&self, stack: &mut Stack, statement: Statement) {
        stack.add_resource_policy(
            "aws_sns_topic_policy",
            &self.topic,
            "arn",
            self.arn(),
            statement,
        );
    }
}

/// `alerts_email_ops_example_com`: stable whatever the order of the list.
fn subscription_name(topic: &str, email: &str) -> String {
    let address: String = email
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{topic}_email_{address}")
}

impl Component for Topic {
    type Handle = TopicRef;

    fn add_to(self, stack: &mut Stack) -> TopicRef {
        let body = Block::new()
            .set("name", stack.physical_name(&self.name))
            .set("display_name", self.display_name)
            .set("kms_master_key_id", self.key.arn());
        let topic = stack.doc().resource("aws_sns_topic", &self.name, body);
        let handle = TopicRef {
            topic,
            key: self.key,
        };
        let owner = Statement::allow(
            &[
                "sns:GetTopicAttributes",
                "sns:Publish",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
            ],
            [handle.arn().into()],
        )
        .principal(Principal::Aws(crate::iam::Ordered(stack.account_root())));
        handle.add_to_policy(stack, owner);
        handle.add_to_policy(
            stack,
            deny_insecure_transport(&["sns:Publish"], vec![handle.arn().into()]),
        );
        handle
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn email_subscription_names_are_snake_case_and_stable() {
        assert_eq!(
            super::subscription_name("alerts", "Ops.Team+x@Example.com"),
            "alerts_email_ops_team_x_example_com"
        );
    }
}
