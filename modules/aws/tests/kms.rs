//! The contract of `aws::kms`: what a key renders, its policy and grants.

mod kit;

use std::sync::LazyLock;

use kit::{
    allow, arn, assert_statements, granted, key, key_named, render, Rendered, ACCOUNT, PARTITION,
};
use serde_json::json;

/// The statement every key policy keeps: the account administers its key.
fn account_administers_key() -> serde_json::Value {
    json!({
        "Action": ["kms:*"],
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:{PARTITION}:iam::{ACCOUNT}:root")},
        "Resource": ["*"],
    })
}

static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    key(&mut stack);
    render(stack)
});

#[test]
fn a_key_rotates_and_keeps_its_deletion_window() {
    FIXTURE.has_properties(
        "aws_kms_key",
        "data",
        json!({"description": "test", "enable_key_rotation": true, "deletion_window_in_days": 7}),
    );
}

#[test]
fn a_key_has_an_alias_named_with_the_prefix() {
    FIXTURE.has_properties(
        "aws_kms_alias",
        "data",
        json!({"name": "alias/shipstack-test-data", "target_key_id": "${aws_kms_key.data.key_id}"}),
    );
}

#[test]
fn an_unused_key_policy_only_lets_the_account_administer_the_key() {
    assert_statements(
        FIXTURE.policy_statements("aws_kms_key", "data"),
        vec![account_administers_key()],
    );
    assert!(FIXTURE.of_type("aws_kms_key_policy").is_empty());
}

#[test]
fn a_log_group_lets_the_regional_logs_service_use_the_key_for_this_accounts_log_groups() {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    stack.add(kit::log_group(&key));
    assert_statements(
        render(stack).policy_statements("aws_kms_key", "data"),
        vec![
            account_administers_key(),
            json!({
                "Action": [
                    "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                    "kms:ReEncryptFrom", "kms:ReEncryptTo",
                ],
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": [arn("logs", "*")]}},
                "Effect": "Allow",
                "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
                "Resource": ["*"],
            }),
        ],
    );
}

#[test]
fn grant_decrypt_allows_only_decrypt_and_grant_encrypt_decrypt_adds_encrypt_and_data_keys() {
    for (encrypts, actions) in [
        (false, &["kms:Decrypt"][..]),
        (
            true,
            &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"][..],
        ),
    ] {
        let added = granted(|stack, worker| {
            let key = key_named(stack, "other");
            if encrypts {
                key.grant_encrypt_decrypt(stack, worker);
            } else {
                key.grant_decrypt(stack, worker);
            }
        });
        assert_statements(added, vec![allow(actions, &["${aws_kms_key.other.arn}"])]);
    }
}

#[test]
fn two_keys_with_one_name_are_a_render_error_not_one_policy_replacing_the_other() {
    let mut stack = kit::stack();
    key(&mut stack);
    key(&mut stack);
    let errors = kit::render_errors(stack);
    assert!(
        errors
            .iter()
            .any(|e| e == "resource aws_kms_key \"data\" is declared twice"),
        "{errors:?}"
    );
}
