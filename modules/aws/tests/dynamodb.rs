//! The contract of `aws::dynamodb`: what a table renders and what its grants allow.

mod kit;

use std::sync::LazyLock;

use aws::dynamodb::TableRef;
use aws::dynamodb::{metric_account_user_errors, GlobalIndex, KeyAttribute, Projection, Table};
use aws::kms::KeyRef;
use aws::lambda::FunctionRef;
use aws::Stack;
use kit::{alarm, allow, assert_statements, granted, key, key_named, render, topic, Rendered};
use serde_json::json;

/// The table `shipments`: keys `shipmentId`/`eventKey`, an index on `status`/`eventTime`.
fn table(key: &KeyRef, deletion_protection: bool) -> Table {
    Table {
        name: "shipments".into(),
        partition_key: KeyAttribute::S("shipmentId"),
        sort_key: Some(KeyAttribute::S("eventKey")),
        indexes: vec![
            GlobalIndex {
                name: "status-time-index",
                partition_key: KeyAttribute::S("status"),
                sort_key: Some(KeyAttribute::N("eventTime")),
                projection: Projection::All,
            },
            GlobalIndex {
                name: "by-shipment",
                partition_key: KeyAttribute::S("shipmentId"),
                sort_key: None,
                projection: Projection::KeysOnly,
            },
        ],
        stream: true,
        ttl_attribute: Some("expiresAt"),
        point_in_time_recovery: true,
        deletion_protection,
        key: key.clone(),
    }
}

static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    stack.add(table(&key, true));
    let alerts = topic(&mut stack, &key);
    stack.add(alarm("user_errors", metric_account_user_errors(), &alerts));
    render(stack)
});

#[test]
fn a_table_is_on_demand_encrypted_with_the_customer_key_and_recoverable() {
    FIXTURE.has_properties(
        "aws_dynamodb_table",
        "shipments",
        json!({
            "name": "shipstack-test-shipments",
            "billing_mode": "PAY_PER_REQUEST",
            "hash_key": "shipmentId",
            "range_key": "eventKey",
            "server_side_encryption": [{"enabled": true, "kms_key_arn": "${aws_kms_key.data.arn}"}],
            "point_in_time_recovery": [{"enabled": true}],
            "ttl": [{"attribute_name": "expiresAt", "enabled": true}],
        }),
    );
}

#[test]
fn every_key_attribute_of_the_table_and_its_indexes_is_declared_once() {
    FIXTURE.has_properties(
        "aws_dynamodb_table",
        "shipments",
        json!({
            "attribute": [
                {"name": "eventKey", "type": "S"},
                {"name": "eventTime", "type": "N"},
                {"name": "shipmentId", "type": "S"},
                {"name": "status", "type": "S"},
            ],
            "global_secondary_index": [
                {"name": "status-time-index", "hash_key": "status", "range_key": "eventTime", "projection_type": "ALL"},
                {"name": "by-shipment", "hash_key": "shipmentId", "projection_type": "KEYS_ONLY"},
            ],
        }),
    );
    let indexes = &FIXTURE.resource("aws_dynamodb_table", "shipments")["global_secondary_index"];
    assert!(indexes[1].get("range_key").is_none(), "{indexes}");
}

#[test]
fn a_stream_carries_new_and_old_images_only_when_asked() {
    FIXTURE.has_properties(
        "aws_dynamodb_table",
        "shipments",
        json!({"stream_enabled": true, "stream_view_type": "NEW_AND_OLD_IMAGES"}),
    );
    let mut stack = kit::stack();
    let key = key(&mut stack);
    stack.add(Table {
        stream: false,
        ttl_attribute: None,
        ..table(&key, false)
    });
    let rendered = render(stack);
    let table = rendered.resource("aws_dynamodb_table", "shipments");
    for absent in ["stream_enabled", "stream_view_type", "ttl"] {
        assert!(table.get(absent).is_none(), "{absent}: {table}");
    }
}

#[test]
fn deletion_protection_is_both_dynamodbs_and_terraforms() {
    FIXTURE.has_properties(
        "aws_dynamodb_table",
        "shipments",
        json!({"deletion_protection_enabled": true, "lifecycle": {"prevent_destroy": true}}),
    );
    let mut stack = kit::stack();
    let key = key(&mut stack);
    stack.add(table(&key, false));
    let rendered = render(stack);
    let table = rendered.resource("aws_dynamodb_table", "shipments");
    assert_eq!(table["deletion_protection_enabled"], false);
    assert!(table.get("lifecycle").is_none(), "{table}");
}

#[test]
fn account_user_errors_have_no_table_dimension() {
    FIXTURE.has_properties(
        "aws_cloudwatch_metric_alarm",
        "user_errors",
        json!({"namespace": "AWS/DynamoDB", "metric_name": "UserErrors", "dimensions": {}}),
    );
}

/// A grant of a table to a function.
type GrantFn = fn(&TableRef, &mut Stack, &FunctionRef) -> aws::iam::Grant;

#[test]
fn grants_allow_exactly_reads_writes_or_stream_reads_on_their_resources() {
    let table_arn = "${aws_dynamodb_table.shipments.arn}";
    let cases: [(GrantFn, _, _, _); 4] = [
        (
            |t, s, w| t.grant_read_data(s, w),
            &[
                "dynamodb:BatchGetItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:Query",
            ][..],
            vec![format!("{table_arn}/index/*"), table_arn.to_owned()],
            &["kms:Decrypt"][..],
        ),
        (
            |t, s, w| t.grant_write_data(s, w),
            &[
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:DescribeTable",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ][..],
            vec![table_arn.to_owned()],
            &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"][..],
        ),
        (
            |t, s, w| t.grant_partiql_insert(s, w),
            &["dynamodb:PartiQLInsert"][..],
            vec![table_arn.to_owned()],
            &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"][..],
        ),
        (
            |t, s, w| t.grant_stream_read(s, w),
            &[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ][..],
            vec![format!("{table_arn}/stream/*")],
            &["kms:Decrypt"][..],
        ),
    ];
    for (grant, actions, resources, key_actions) in cases {
        let added = granted(|stack, worker| {
            let key = key_named(stack, "table");
            let table = stack.add(table(&key, false));
            grant(&table, stack, worker);
        });
        let resources: Vec<&str> = resources.iter().map(String::as_str).collect();
        assert_statements(
            added,
            vec![
                allow(actions, &resources),
                allow(key_actions, &["${aws_kms_key.table.arn}"]),
            ],
        );
    }
}
