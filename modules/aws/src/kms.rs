//! KMS: a customer-managed key with rotation and an alias. The key policy is the key's own
//! `policy` argument, so nothing that uses the key (a log group at creation, above all) can be
//! created before the services it names may use it; the key also grants its own use to roles.

use tf::{Block, Expr, Resource, Tf};

use crate::iam::{Condition, Grant, Grantee, Principal, Service, Statement};
use crate::{Component, Stack};

/// A symmetric customer-managed key.
#[derive(Clone, Debug)]
pub struct Key {
    /// Logical name; the alias is `alias/<prefix>-<name>`.
    pub name: String,
    pub description: String,
    /// Days before a deleted key is gone for good (7 to 30).
    pub deletion_window_days: u32,
}

/// A rendered key.
#[derive(Clone, Debug)]
pub struct KeyRef {
    key: Resource,
}

/// What a principal needs to read data encrypted under the key.
const DECRYPT: &[&str] = &["kms:Decrypt"];
/// What a principal needs to write data encrypted under the key (and read it back).
const ENCRYPT_DECRYPT: &[&str] = &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"];
/// What a service needs to deliver a message into a resource encrypted under the key.
const DELIVER: &[&str] = &["kms:Decrypt", "kms:GenerateDataKey"];

impl KeyRef {
    pub fn arn(&self) -> Expr {
        self.key.attr("arn")
    }

    /// Lets `to` read data encrypted under the key.
    pub fn grant_decrypt(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        to.grant(stack, Statement::allow(DECRYPT, [self.arn().into()]))
    }

    /// Lets `to` write (and read) data encrypted under the key.
    pub fn grant_encrypt_decrypt(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        to.grant(
            stack,
            Statement::allow(ENCRYPT_DECRYPT, [self.arn().into()]),
        )
    }

    /// Lets `service` use the key for what it delivers into a resource encrypted under it,
    /// with the confused-deputy condition that service supports in a key policy.
    pub(crate) fn allow_delivery(&self, stack: &mut Stack, service: Service) {
        let statement = Statement::allow(DELIVER, [Tf::from("*")])
            .principal(Principal::Service(service.principal().to_owned()));
        let statement = match service {
            // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services:
            // EventBridge does not send aws:SourceAccount/aws:SourceArn to KMS; a condition on
            // them makes every delivery into an encrypted topic or queue fail.
            Service::EventBridge => statement,
            // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html and
            // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html:
            // CloudWatch (alarm actions) and SNS (queue subscriptions) call KMS on this account's
            // behalf and send aws:SourceAccount.
            Service::CloudWatch | Service::Sns => statement.condition(Condition::new(
                "StringEquals",
                "aws:SourceAccount",
                [stack.account_id().into()],
            )),
            Service::ApiGateway | Service::Lambda => {
                unreachable!("{service:?} delivers into no encrypted resource")
            }
        };
        stack.add_inline_policy(&self.key, statement);
    }

    /// Lets CloudWatch Logs encrypt this account's log groups in the stack's region.
    pub(crate) fn allow_logs(&self, stack: &mut Stack) {
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html:
        // the regional logs principal, limited by the log group ARN in the encryption context;
        // CreateLogGroup with kms_key_id fails unless the key policy already says so.
        let log_groups = stack.arn("logs", "*");
        let statement = Statement::allow(
            &[
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
            ],
            [Tf::from("*")],
        )
        .principal(Principal::Service(format!(
            "logs.{}.amazonaws.com",
            stack.region()
        )))
        .condition(Condition::new(
            "ArnLike",
            "kms:EncryptionContext:aws:logs:arn",
            [log_groups],
        ));
        stack.add_inline_policy(&self.key, statement);
    }
}

impl Component for Key {
    type Handle = KeyRef;

    fn add_to(self, stack: &mut Stack) -> KeyRef {
        let body = Block::new()
            .set("description", self.description)
            .set("enable_key_rotation", true)
            .set("deletion_window_in_days", self.deletion_window_days);
        let key = stack.resource_with_inline_policy("aws_kms_key", &self.name, body);
        let alias = Block::new()
            .set("name", format!("alias/{}", stack.physical_name(&self.name)))
            .set("target_key_id", key.attr("key_id"));
        stack.doc().resource("aws_kms_alias", &self.name, alias);
        // https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html: the
        // account keeps full control of its key, so IAM policies (the grants) decide who may use
        // it; without this statement CreateKey fails its lockout safety check.
        let root = stack.account_root();
        stack.add_inline_policy(&key, Statement::account_administers_key(root));
        // Earlier renders kept the policy in an `aws_kms_key_policy`, whose destroy writes the
        // default (root-only) policy back, possibly after the key's own update: forget it.
        stack
            .doc()
            .forget(&format!("aws_kms_key_policy.{}", self.name));
        KeyRef { key }
    }
}
