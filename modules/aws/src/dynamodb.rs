//! DynamoDB: on-demand tables with keys, global secondary indexes, stream, TTL, point-in-time
//! recovery, a customer-managed key and deletion protection.

use tf::{Block, Expr, Lifecycle, Resource, Tf};

use crate::cloudwatch::Metric;
use crate::iam::{Grant, Grantee, Statement};
use crate::kms::KeyRef;
use crate::{Component, Stack};

/// A key attribute: name and whether it is a string (`S`) or number (`N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAttribute {
    S(&'static str),
    N(&'static str),
}

impl KeyAttribute {
    fn name(self) -> &'static str {
        match self {
            KeyAttribute::S(n) | KeyAttribute::N(n) => n,
        }
    }

    fn type_code(self) -> &'static str {
        match self {
            KeyAttribute::S(_) => "S",
            KeyAttribute::N(_) => "N",
        }
    }
}

/// What a global secondary index copies from the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    All,
    KeysOnly,
}

#[derive(Clone, Debug)]
pub struct GlobalIndex {
    pub name: &'static str,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    pub projection: Projection,
}

/// A pay-per-request table encrypted with a customer-managed key.
#[derive(Clone, Debug)]
pub struct Table {
    /// Logical name; the table is named `<prefix>-<name>`.
    pub name: String,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    pub indexes: Vec<GlobalIndex>,
    /// Stream of new and old images, for change consumers.
    pub stream: bool,
    pub ttl_attribute: Option<&'static str>,
    pub point_in_time_recovery: bool,
    /// DynamoDB's own deletion protection and Terraform's `prevent_destroy`.
    pub deletion_protection: bool,
    pub key: KeyRef,
}

/// A rendered table.
#[derive(Clone, Debug)]
pub struct TableRef {
    table: Resource,
    key: KeyRef,
    stream: bool,
}

const READ: &[&str] = &[
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
];
const WRITE: &[&str] = &[
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
];
// "IAM security policies with PartiQL for DynamoDB": an INSERT statement needs
// dynamodb:PartiQLInsert on the table; no item action grants it.
const PARTIQL_INSERT: &[&str] = &["dynamodb:PartiQLInsert"];
const STREAM_READ: &[&str] = &[
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];

impl TableRef {
    pub fn name(&self) -> Expr {
        self.table.attr("name")
    }

    pub fn arn(&self) -> Expr {
        self.table.attr("arn")
    }

    /// Whether the table has a stream (`Table::stream`): only then is there a `stream_arn`.
    pub fn has_stream(&self) -> bool {
        self.stream
    }

    pub fn stream_arn(&self) -> Expr {
        self.table.attr("stream_arn")
    }

    /// Reads refused for exceeding the table's (or an index's) throughput.
    pub fn metric_read_throttles(&self) -> Metric {
        self.metric("ReadThrottleEvents")
    }

    /// Writes refused for exceeding the table's (or an index's) throughput.
    pub fn metric_write_throttles(&self) -> Metric {
        self.metric("WriteThrottleEvents")
    }

    /// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html:
    /// table metrics by TableName.
    fn metric(&self, name: &'static str) -> Metric {
        Metric::new(
            "AWS/DynamoDB",
            name,
            vec![("TableName", self.name().into())],
        )
    }

    /// The logical name, for alarms and dashboards.
    pub fn resource(&self) -> &Resource {
        &self.table
    }

    fn index_arns(&self) -> Tf {
        Tf::template([self.arn().into(), Tf::from("/index/*")])
    }

    /// Reads by key and Query, on the table and its indexes. Scan is deliberately not granted:
    /// every access path of this platform has a key condition.
    pub fn grant_read_data(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        to.grant(
            stack,
            Statement::allow(READ, [self.arn().into(), self.index_arns()]),
        );
        self.key.grant_decrypt(stack, to)
    }

    /// Item writes (put, update, delete, batch), conditional writes included.
    pub fn grant_write_data(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        to.grant(stack, Statement::allow(WRITE, [self.arn().into()]));
        self.key.grant_encrypt_decrypt(stack, to)
    }

    /// PartiQL INSERT statements: an item written unless its key exists (the conditional
    /// writes of the event writers, batched by `BatchExecuteStatement`).
    pub fn grant_partiql_insert(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        to.grant(stack, Statement::allow(PARTIQL_INSERT, [self.arn().into()]));
        self.key.grant_encrypt_decrypt(stack, to)
    }

    /// Reading the table's stream (what a stream event source mapping needs).
    pub fn grant_stream_read(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        let streams = Tf::template([self.arn().into(), Tf::from("/stream/*")]);
        to.grant(stack, Statement::allow(STREAM_READ, [streams]));
        self.key.grant_decrypt(stack, to)
    }
}

/// Requests DynamoDB rejected as invalid (HTTP 400), in the whole account and region.
pub fn metric_account_user_errors() -> Metric {
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html:
    // UserErrors has no dimension at all; a TableName on it names a metric that never exists.
    Metric::new("AWS/DynamoDB", "UserErrors", vec![])
}

fn key_schema(
    partition: KeyAttribute,
    sort: Option<KeyAttribute>,
) -> (&'static str, Option<&'static str>) {
    (partition.name(), sort.map(KeyAttribute::name))
}

impl Component for Table {
    type Handle = TableRef;

    fn add_to(self, stack: &mut Stack) -> TableRef {
        let (hash_key, range_key) = key_schema(self.partition_key, self.sort_key);
        // Every key attribute of the table and its indexes is declared exactly once.
        let mut attributes: Vec<KeyAttribute> = vec![self.partition_key];
        attributes.extend(self.sort_key);
        for index in &self.indexes {
            attributes.push(index.partition_key);
            attributes.extend(index.sort_key);
        }
        attributes.sort_by_key(|a| a.name());
        attributes.dedup();

        let mut body = Block::new()
            .set("name", stack.physical_name(&self.name))
            .set("billing_mode", "PAY_PER_REQUEST")
            .set("hash_key", hash_key)
            .set_opt("range_key", range_key)
            .blocks(
                "attribute",
                attributes.iter().map(|a| {
                    Block::new()
                        .set("name", a.name())
                        .set("type", a.type_code())
                }),
            )
            .blocks(
                "global_secondary_index",
                self.indexes.iter().map(|index| {
                    let (hash, range) = key_schema(index.partition_key, index.sort_key);
                    Block::new()
                        .set("name", index.name)
                        .set("hash_key", hash)
                        .set_opt("range_key", range)
                        .set(
                            "projection_type",
                            match index.projection {
                                Projection::All => "ALL",
                                Projection::KeysOnly => "KEYS_ONLY",
                            },
                        )
                }),
            )
            .block(
                "point_in_time_recovery",
                Block::new().set("enabled", self.point_in_time_recovery),
            )
            .block(
                "server_side_encryption",
                Block::new()
                    .set("enabled", true)
                    .set("kms_key_arn", self.key.arn()),
            )
            .set("deletion_protection_enabled", self.deletion_protection)
            .lifecycle(Lifecycle {
                prevent_destroy: self.deletion_protection,
                ..Default::default()
            });
        if self.stream {
            body = body
                .set("stream_enabled", true)
                .set("stream_view_type", "NEW_AND_OLD_IMAGES");
        }
        if let Some(ttl) = self.ttl_attribute {
            body = body.block(
                "ttl",
                Block::new().set("attribute_name", ttl).set("enabled", true),
            );
        }
        let table = stack.doc().resource("aws_dynamodb_table", &self.name, body);
        TableRef {
            table,
            key: self.key,
            stream: self.stream,
        }
    }
}
