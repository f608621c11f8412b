//! SNS: encrypted topics, email and SQS subscriptions, and a topic policy that publishing
//! services are added to.

use tf::{Block, Expr, Resource, Tf};

use crate::cloudwatch::Metric;
use crate::iam::{Condition, Grant, Grantee, Ordered, Principal, Service, Statement};
use crate::kms::KeyRef;
use crate::sqs::QueueRef;
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

    /// Deliveries to subscribers that failed for good.
    pub fn metric_failed_notifications(&self) -> Metric {
        // https://docs.aws.amazon.com/sns/latest/dg/sns-monitoring-using-cloudwatch.html: by TopicName.
        Metric::new(
            "AWS/SNS",
            "NumberOfNotificationsFailed",
            vec![("TopicName", self.name().into())],
        )
    }

    pub fn resource(&self) -> &Resource {
        &self.topic
    }

    pub fn grant_publish(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        to.grant(
            stack,
            Statement::allow(&["sns:Publish"], [self.arn().into()]),
        );
        self.key.grant_encrypt_decrypt(stack, to)
    }

    /// Lets `service` publish from the resources `source_arn` matches only (a rule, this
    /// stack's alarms), and use the topic's key.
    pub(crate) fn allow_service_publish(
        &self,
        stack: &mut Stack,
        service: Service,
        source_arn: Tf,
    ) {
        // https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html: a service
        // principal in a topic policy, limited by aws:SourceArn to the publishing resources.
        let statement = Statement::allow(&["sns:Publish"], [self.arn().into()])
            .principal(Principal::Service(service.principal().to_owned()))
            .condition(Condition::new("ArnLike", "aws:SourceArn", [source_arn]));
        self.add_to_policy(stack, statement);
        self.key.allow_delivery(stack, service);
    }

    /// One email subscription per address of `emails` (a list of strings, e.g. a variable);
    /// each address confirms by mail before it receives anything.
    pub fn subscribe_emails(&self, stack: &mut Stack, emails: Expr) {
        let body = Block::new()
            .for_each(Expr::call("toset", [emails.into()]))
            .set("topic_arn", self.arn())
            .set("protocol", "email")
            .set("endpoint", Expr::each_value());
        let name = format!("{}_email", self.topic.name());
        stack
            .doc()
            .resource("aws_sns_topic_subscription", &name, body);
    }

    /// Delivers every message into `queue` (which must let this topic send) in its SNS
    /// envelope: consumers read `Subject`, `Message` and `MessageAttributes`, which raw
    /// delivery would drop the subject of.
    pub fn subscribe_queue(&self, stack: &mut Stack, queue: &QueueRef) {
        queue.allow_service_send(stack, Service::Sns, self.arn().into());
        let body = Block::new()
            .set("topic_arn", self.arn())
            .set("protocol", "sqs")
            .set("endpoint", queue.arn());
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
        .principal(Principal::Aws(Ordered::new(stack.account_root())));
        handle.add_to_policy(stack, owner);
        handle.add_to_policy(
            stack,
            Statement::deny_insecure_transport(&["sns:Publish"], [handle.arn().into()]),
        );
        handle
    }
}
