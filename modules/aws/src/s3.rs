//! S3: private, encrypted, versioned buckets with lifecycle expiry and TLS-only access.

use tf::{Block, Expr, Resource, Tf};

use crate::iam::{Grant, Grantee, Statement};
use crate::kms::KeyRef;
use crate::{Component, Stack};

#[derive(Clone, Debug)]
pub struct Bucket {
    /// Logical name; the bucket is named `<prefix>-<name>-<account id>` (globally unique).
    pub name: String,
    pub key: KeyRef,
    /// Objects (and old versions) expire after this many days.
    pub expire_after_days: u32,
    /// Lets `terraform destroy` delete a non-empty bucket (dev only).
    pub force_destroy: bool,
    /// Publishes object events to EventBridge (so a rule can alert on new objects).
    pub eventbridge_notifications: bool,
}

#[derive(Clone, Debug)]
pub struct BucketRef {
    bucket: Resource,
    key: KeyRef,
}

impl BucketRef {
    pub fn arn(&self) -> Expr {
        self.bucket.attr("arn")
    }

    pub fn name(&self) -> Expr {
        self.bucket.attr("bucket")
    }

    /// Writing new objects (e.g. a Lambda on-failure destination).
    pub fn grant_put_objects(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        let objects = Tf::template([self.arn().into(), Tf::from("/*")]);
        to.grant(stack, Statement::allow(&["s3:PutObject"], [objects]));
        to.grant(
            stack,
            Statement::allow(&["s3:ListBucket"], [self.arn().into()]),
        );
        self.key.grant_encrypt_decrypt(stack, to)
    }
}

impl Component for Bucket {
    type Handle = BucketRef;

    fn add_to(self, stack: &mut Stack) -> BucketRef {
        let name = Tf::template([
            // https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html: 3-63
            // characters, of which "-<12-digit account id>" takes 13.
            Tf::from(format!(
                "{}-",
                stack.physical_name_within(&self.name, "S3 bucket", 50)
            )),
            stack.account_id().into(),
        ]);
        let bucket = stack.doc().resource(
            "aws_s3_bucket",
            &self.name,
            Block::new()
                .set("bucket", name)
                .set("force_destroy", self.force_destroy),
        );
        let id = bucket.attr("id");
        let doc = stack.doc();
        doc.resource(
            "aws_s3_bucket_public_access_block",
            &self.name,
            Block::new()
                .set("bucket", id.clone())
                .set("block_public_acls", true)
                .set("block_public_policy", true)
                .set("ignore_public_acls", true)
                .set("restrict_public_buckets", true),
        );
        doc.resource(
            "aws_s3_bucket_ownership_controls",
            &self.name,
            Block::new().set("bucket", id.clone()).block(
                "rule",
                Block::new().set("object_ownership", "BucketOwnerEnforced"),
            ),
        );
        doc.resource(
            "aws_s3_bucket_server_side_encryption_configuration",
            &self.name,
            Block::new().set("bucket", id.clone()).block(
                "rule",
                Block::new().set("bucket_key_enabled", true).block(
                    "apply_server_side_encryption_by_default",
                    Block::new()
                        .set("sse_algorithm", "aws:kms")
                        .set("kms_master_key_id", self.key.arn()),
                ),
            ),
        );
        doc.resource(
            "aws_s3_bucket_versioning",
            &self.name,
            Block::new().set("bucket", id.clone()).block(
                "versioning_configuration",
                Block::new().set("status", "Enabled"),
            ),
        );
        let days = self.expire_after_days;
        doc.resource(
            "aws_s3_bucket_lifecycle_configuration",
            &self.name,
            Block::new().set("bucket", id.clone()).block(
                "rule",
                Block::new()
                    .set("id", "expire")
                    .set("status", "Enabled")
                    .block("filter", Block::new().set("prefix", ""))
                    .block("expiration", Block::new().set("days", days))
                    .block(
                        "noncurrent_version_expiration",
                        Block::new().set("noncurrent_days", days),
                    )
                    .block(
                        "abort_incomplete_multipart_upload",
                        Block::new().set("days_after_initiation", 1),
                    ),
            ),
        );
        if self.eventbridge_notifications {
            doc.resource(
                "aws_s3_bucket_notification",
                &self.name,
                Block::new()
                    .set("bucket", id.clone())
                    .set("eventbridge", true),
            );
        }
        let handle = BucketRef {
            bucket,
            key: self.key,
        };
        let all = vec![
            handle.arn().into(),
            Tf::template([handle.arn().into(), Tf::from("/*")]),
        ];
        stack.add_resource_policy(
            "aws_s3_bucket_policy",
            &handle.bucket,
            "bucket",
            id,
            Statement::deny_insecure_transport(&["s3:GetObject", "s3:PutObject"], all),
        );
        handle
    }
}
