//! SQS: encrypted queues with long polling, optional redrive to a dead-letter queue, and a
//! queue policy that delivering services are added to.

use tf::{Block, Expr, Resource, Tf};

use crate::cloudwatch::{Metric, Statistic};
use crate::iam::{Condition, Grant, Grantee, Principal, Service, Statement};
use crate::kms::KeyRef;
use crate::{Component, Stack};

/// A standard queue encrypted with a customer-managed key.
#[derive(Clone, Debug)]
pub struct Queue {
    /// Logical name; the queue is named `<prefix>-<name>`.
    pub name: String,
    pub key: KeyRef,
    /// For a Lambda consumer, at least [`crate::lambda::queue_visibility_for`] its timeout.
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
    retention_s: u32,
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

    /// Messages waiting to be received (the most in the period).
    pub fn metric_visible_messages(&self) -> Metric {
        self.metric("ApproximateNumberOfMessagesVisible")
    }

    /// Age of the oldest waiting message, seconds (the most in the period).
    pub fn metric_oldest_message_age(&self) -> Metric {
        self.metric("ApproximateAgeOfOldestMessage")
    }

    /// Messages added to the queue (seed 002's "Messages Sent" graph), summed over the period.
    pub fn metric_messages_sent(&self) -> Metric {
        self.metric("NumberOfMessagesSent")
            .statistic(Statistic::Sum)
    }

    /// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html:
    /// by QueueName; these gauges are meaningful as a maximum, not a sum.
    fn metric(&self, name: &'static str) -> Metric {
        Metric::new("AWS/SQS", name, vec![("QueueName", self.name().into())])
            .statistic(Statistic::Maximum)
    }

    pub fn visibility_timeout_s(&self) -> u32 {
        self.visibility_timeout_s
    }

    pub fn grant_send_messages(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        to.grant(stack, Statement::allow(SEND, [self.arn().into()]));
        self.key.grant_encrypt_decrypt(stack, to)
    }

    pub fn grant_consume_messages(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        to.grant(stack, Statement::allow(CONSUME, [self.arn().into()]));
        self.key.grant_decrypt(stack, to)
    }

    /// Lets an AWS service (SNS, EventBridge) deliver into this queue, but only from
    /// `source_arn`, and lets it use the queue's key to do so.
    pub fn allow_service_send(&self, stack: &mut Stack, service: Service, source_arn: Tf) {
        // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-access-policy-language-using-identity-based-policies.html:
        // a service principal in a queue policy, limited to the sending resource.
        let statement = Statement::allow(&["sqs:SendMessage"], [self.arn().into()])
            .principal(Principal::Service(service.principal().to_owned()))
            .condition(Condition::new("ArnEquals", "aws:SourceArn", [source_arn]));
        self.add_to_policy(stack, statement);
        self.key.allow_delivery(stack, service);
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

impl Component for Queue {
    type Handle = QueueRef;

    fn add_to(self, stack: &mut Stack) -> QueueRef {
        let mut body = Block::new()
            // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html: 80.
            .set(
                "name",
                stack.physical_name_within(&self.name, "SQS queue", 80),
            )
            .set("visibility_timeout_seconds", self.visibility_timeout_s)
            .set("message_retention_seconds", self.retention_s)
            .set("receive_wait_time_seconds", self.receive_wait_s)
            .set("kms_master_key_id", self.key.arn())
            .set("kms_data_key_reuse_period_seconds", 300);
        if let Some((dlq, max_receive_count)) = &self.dead_letter {
            // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html:
            // a moved message keeps its enqueue time, so a DLQ that keeps messages for less
            // time than its source deletes them before anyone has read them.
            if dlq.retention_s < self.retention_s {
                stack.doc().report(format!(
                    "queue {} keeps messages {} s but its dead-letter queue {} only {} s: moved messages keep their enqueue time and would expire early",
                    self.name,
                    self.retention_s,
                    dlq.resource().name(),
                    dlq.retention_s
                ));
            }
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
            retention_s: self.retention_s,
        };
        handle.add_to_policy(
            stack,
            Statement::deny_insecure_transport(
                &["sqs:SendMessage", "sqs:ReceiveMessage"],
                vec![handle.arn().into()],
            ),
        );
        handle
    }
}
