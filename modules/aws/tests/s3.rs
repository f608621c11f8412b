//! The contract of `aws::s3`: what a bucket renders and what its grant allows.

mod kit;

use std::sync::LazyLock;

use aws::s3::{Bucket, BucketRef};
use aws::Stack;
use kit::{
    allow, assert_render_error, assert_statements, granted, key, key_named, render, Rendered,
};
use serde_json::json;

fn bucket(stack: &mut Stack, name: &str, eventbridge_notifications: bool) -> BucketRef {
    let key = key(stack);
    stack.add(Bucket {
        name: name.into(),
        key,
        expire_after_days: 30,
        force_destroy: false,
        eventbridge_notifications,
    })
}

static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    bucket(&mut stack, "records", true);
    render(stack)
});

#[test]
fn a_bucket_is_named_with_the_prefix_and_the_account_id() {
    FIXTURE.has_properties(
        "aws_s3_bucket",
        "records",
        json!({"bucket": format!("shipstack-test-records-{}", kit::ACCOUNT), "force_destroy": false}),
    );
}

#[test]
fn a_bucket_blocks_every_kind_of_public_access() {
    FIXTURE.has_properties(
        "aws_s3_bucket_public_access_block",
        "records",
        json!({
            "bucket": "${aws_s3_bucket.records.id}",
            "block_public_acls": true,
            "block_public_policy": true,
            "ignore_public_acls": true,
            "restrict_public_buckets": true,
        }),
    );
}

#[test]
fn a_bucket_disables_acls_so_the_owner_owns_every_object() {
    FIXTURE.has_properties(
        "aws_s3_bucket_ownership_controls",
        "records",
        json!({"rule": [{"object_ownership": "BucketOwnerEnforced"}]}),
    );
}

#[test]
fn a_bucket_encrypts_with_the_customer_key_and_a_bucket_key() {
    FIXTURE.has_properties(
        "aws_s3_bucket_server_side_encryption_configuration",
        "records",
        json!({"rule": [{
            "bucket_key_enabled": true,
            "apply_server_side_encryption_by_default": [{
                "sse_algorithm": "aws:kms",
                "kms_master_key_id": "${aws_kms_key.data.arn}",
            }],
        }]}),
    );
}

#[test]
fn a_bucket_is_versioned_and_expires_objects_old_versions_and_unfinished_uploads() {
    FIXTURE.has_properties(
        "aws_s3_bucket_versioning",
        "records",
        json!({"versioning_configuration": [{"status": "Enabled"}]}),
    );
    FIXTURE.has_properties(
        "aws_s3_bucket_lifecycle_configuration",
        "records",
        json!({"rule": [{
            "status": "Enabled",
            "filter": [{"prefix": ""}],
            "expiration": [{"days": 30}],
            "noncurrent_version_expiration": [{"noncurrent_days": 30}],
            "abort_incomplete_multipart_upload": [{"days_after_initiation": 1}],
        }]}),
    );
}

#[test]
fn the_bucket_policy_denies_requests_without_tls_on_the_bucket_and_its_objects() {
    assert_statements(
        FIXTURE.policy_statements("aws_s3_bucket_policy", "records"),
        vec![kit::deny_insecure_transport(
            &["s3:GetObject", "s3:PutObject"],
            &[
                "${aws_s3_bucket.records.arn}/*",
                "${aws_s3_bucket.records.arn}",
            ],
        )],
    );
    FIXTURE.has_properties(
        "aws_s3_bucket_policy",
        "records",
        json!({"bucket": "${aws_s3_bucket.records.id}"}),
    );
}

#[test]
fn object_events_go_to_eventbridge_only_when_asked() {
    FIXTURE.has_properties(
        "aws_s3_bucket_notification",
        "records",
        json!({"bucket": "${aws_s3_bucket.records.id}", "eventbridge": true}),
    );
    let mut stack = kit::stack();
    bucket(&mut stack, "quiet", false);
    assert!(render(stack)
        .of_type("aws_s3_bucket_notification")
        .is_empty());
}

#[test]
fn a_bucket_name_that_leaves_no_room_for_the_account_id_is_a_render_error() {
    let mut stack = kit::long_stack();
    bucket(&mut stack, "records", false);
    assert_render_error(stack, &["S3 bucket name", "AWS allows 50"]);
}

#[test]
fn grant_put_objects_allows_putting_objects_listing_the_bucket_and_encrypting() {
    let added = granted(|stack, worker| {
        let key = key_named(stack, "records");
        let bucket = stack.add(Bucket {
            name: "failed".into(),
            key,
            expire_after_days: 7,
            force_destroy: true,
            eventbridge_notifications: false,
        });
        bucket.grant_put_objects(stack, worker);
    });
    assert_statements(
        added,
        vec![
            allow(&["s3:PutObject"], &["${aws_s3_bucket.failed.arn}/*"]),
            allow(&["s3:ListBucket"], &["${aws_s3_bucket.failed.arn}"]),
            allow(
                &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                &["${aws_kms_key.records.arn}"],
            ),
        ],
    );
}
