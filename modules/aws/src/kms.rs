//! KMS: a customer-managed key with rotation, an alias, and a key policy that services using
//! the key are added to.

use tf::{Block, Expr, Resource, Tf};

use crate::iam::{Condition, Ordered, Principal, Statement};
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

impl KeyRef {
    pub fn arn(&self) -> Expr {
        self.key.attr("arn")
    }

    /// Lets an AWS service use the key for data it stores or delivers on this account's behalf
    /// (SNS into an encrypted queue, CloudWatch into an encrypted topic, CloudWatch Logs).
    pub fn allow_service(&self, stack: &mut Stack, service: &str, actions: &[&'static str]) {
        let statement = stack.service_statement(service, actions, vec![Tf::from("*")]);
        self.add_to_policy(stack, statement);
    }

    /// Lets CloudWatch Logs encrypt this account's log groups in the stack's region.
    pub fn allow_logs(&self, stack: &mut Stack) {
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
        self.add_to_policy(stack, statement);
    }

    fn add_to_policy(&self, stack: &mut Stack, statement: Statement) {
        stack.add_resource_policy(
            "aws_kms_key_policy",
            &self.key,
            "key_id",
            self.key.attr("id"),
            statement,
        );
    }

    /// Actions a principal needs to read data encrypted under the key.
    pub(crate) const DECRYPT: &'static [&'static str] = &["kms:Decrypt"];
    /// Actions a principal needs to write data encrypted under the key.
    pub(crate) const ENCRYPT_DECRYPT: &'static [&'static str] =
        &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"];
}

impl Component for Key {
    type Handle = KeyRef;

    fn add_to(self, stack: &mut Stack) -> KeyRef {
        let body = Block::new()
            .set("description", self.description)
            .set("enable_key_rotation", true)
            .set("deletion_window_in_days", self.deletion_window_days);
        let key = stack.doc().resource("aws_kms_key", &self.name, body);
        let alias = Block::new()
            .set("name", format!("alias/{}", stack.physical_name(&self.name)))
            .set("target_key_id", key.attr("key_id"));
        stack.doc().resource("aws_kms_alias", &self.name, alias);
        let handle = KeyRef { key };
        // The account keeps full control of its key, as in AWS's default key policy; IAM
        // policies (the grants) then decide who may use it. Without this the key is unmanageable.
        let root = stack.account_root();
        let account_admin = Statement {
            actions: ["kms:*"].into(),
            ..Statement::allow(&[], [Tf::from("*")]).principal(Principal::Aws(Ordered(root)))
        };
        handle.add_to_policy(stack, account_admin);
        handle
    }
}
