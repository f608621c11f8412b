//! SQS: encrypted queues with long polling, optional redrive to a dead-letter queue, and a
//! queue policy that delivering services are added to.

use tf::{Block, Expr, Resource, Tf};

use crate::iam::{Condition, Grantee, Ordered, Principal, Statement};
use crate::kms::KeyRef;
use crate::{Component, Stack};

/// A standard queue encrypted with a customer-managed key.
#[derive(Clone, Debug)]
pub struct Queue {
    /// Logical name; the queue is named `<prefix>-<name>`.
    pub name: String,
    pub key: KeyRef,
    /// Must be at least 6x the consumer's timeout (plus its batching window), as AWS advises,
    /// or a message still being processed becomes visible again and is processed twice.
    pub visibility_timeout_s: u32,
    pub retention_s: u32,
    /// Long polling: 20 s makes empty receives rare and cheap.
    pub receive_wait_s: u32,
    /// Where messages go after `max_receive_count` failed receives.
    pub dead_letter: Option<(QueueRef, u32)>,
}

/// A rendered queue.
#[derive(Clone, Debug)]
pub struct QueueRef {
    queue: Resource,
    key: KeyRef,
    visibility_timeout_s: u32,
}

const SEND: &[&str] = &[
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:SendMessage",
];
const CONSUME: &[&str] = &[
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
];

impl QueueRef {
    pub fn arn(&self) -> Expr {
        self.queue.attr("arn")
    }

    pub fn url(&self) -> Expr {
        self.queue.attr("url")
    }

    pub fn name(&self) -> Expr {
        self.queue.attr("name")
    }

    pub fn resource(&self) -> &Resource {
        &self.queue
    }

    pub fn visibility_timeout_s(&self) -> u32 {
        self.visibility_timeout_s
    }

    pub fn grant_send_messages(&self, stack: &mut Stack, to: &impl Grantee) {
        stack.grant_role(to.role(), Statement::allow(SEND, [self.arn().into()]));
        stack.grant_role(
            to.role(),
            Statement::allow(KeyRef::ENCRYPT_DECRYPT, [self.key.arn().into()]),
        );
    }

    pub fn grant_consume_messages(&self, stack: &mut Stack, to: &impl Grantee) {
        stack.grant_role(to.role(), Statement::allow(CONSUME, [self.arn().into()]));
        stack.grant_role(
            to.role(),
            Statement::allow(KeyRef::DECRYPT, [self.key.arn().into()]),
        );
    }

    /// Lets an AWS service (SNS, EventBridge) deliver into this queue, but only from
    /// `source_arns`, and lets it use the queue's key to do so.
    pub fn allow_service_send(&self, stack: &mut Stack, service: &str, source_arns: Vec<Tf>) {
        let statement = Statement::allow(&["sqs:SendMessage"], [self.arn().into()])
            .principal(Principal::Service(service.to_owned()))
            .condition(Condition::new("ArnEquals", "aws:SourceArn", source_arns));
        self.add_to_policy(stack, statement);
        self.key
            .allow_service(stack, service, &["kms:Decrypt", "kms:GenerateDataKey"]);
    }

    fn add_to_policy(&self, stack: &mut Stack, statement: Statement) {
        stack.add_resource_policy(
            "aws_sqs_queue_policy",
            &self.queue,
            "queue_url",
            self.url(),
            statement,
        );
    }
}

/// Denies every request that does not use TLS.
pub(crate) fn deny_insecure_transport(actions: &[&'static str], resources: Vec<Tf>) -> Statement {
    Statement::deny(actions, resources)
        .principal(Principal::Aws(Ordered(Tf::from("*"))))
        .condition(Condition::new(
            "Bool",
            "aws:SecureTransport",
            [Tf::from("false")],
        ))
}

impl Component for Queue {
    type Handle = QueueRef;

    fn add_to(self, stack: &mut Stack) -> QueueRef {
        let mut body = Block::new()
            .set("name", stack.physical_name(&self.name))
            .set("visibility_timeout_seconds", self.visibility_timeout_s)
            .set("message_retention_seconds", self.retention_s)
            .set("receive_wait_time_seconds", self.receive_wait_s)
            .set("kms_master_key_id", self.key.arn())
            .set("kms_data_key_reuse_period_seconds", 300);
        if let Some((dlq, max_receive_count)) = &self.dead_letter {
            let redrive = Tf::object([
                ("deadLetterTargetArn", Tf::from(dlq.arn())),
                ("maxReceiveCount", Tf::from(*max_receive_count)),
            ]);
            body = body.set("redrive_policy", Tf::json(redrive));
        }
        let queue = stack.doc().resource("aws_sqs_queue", &self.name, body);
        let handle = QueueRef {
            queue,
            key: self.key,
            visibility_timeout_s: self.visibility_timeout_s,
        };
        handle.add_to_policy(
            stack,
            deny_insecure_transport(
                &["sqs:SendMessage", "sqs:ReceiveMessage"],
                vec![handle.arn().into()],
            ),
        );
        handle
    }
}
