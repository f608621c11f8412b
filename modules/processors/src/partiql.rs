//! The shipments table's conditional writes as PartiQL: one `BatchExecuteStatement` carries up
//! to [`MAX_STATEMENTS`] INSERTs, and DynamoDB refuses each one whose key exists with
//! `DuplicateItem` ("PartiQL insert statements for DynamoDB"). A batch of events costs one
//! request instead of a PutItem each (the SDK's signing and HTTP were two thirds of
//! queue-processor's CPU per event), with the same condition and write units per item
//! (PartiQL is billed as the equivalent item operation). IAM authorises it as
//! `dynamodb:PartiQLInsert` ("IAM security policies with PartiQL for DynamoDB").

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{BatchStatementErrorCodeEnum, BatchStatementResponse};
use shipment::contract::shipments_table;
use shipment::Item;

use crate::ports::{PutOutcome, Transient};
use crate::sdk::to_sdk;

/// The IAM action the batch needs, which names its failures.
pub const ACTION: &str = "dynamodb:PartiQLInsert";

/// "Running batch operations with PartiQL for DynamoDB": no more than 25 statements per batch.
pub const MAX_STATEMENTS: usize = 25;

/// API reference, `BatchStatementRequest`: a statement is 1 to 8,192 characters.
pub const MAX_STATEMENT_CHARS: usize = 8192;

/// `INSERT INTO "table" VALUE {'name': ?, ...}` for the item, its values as the parameters in
/// the same order: values never enter the statement's text, names and the table are quoted.
pub fn insert_statement(
    table: &str,
    item: &Item,
) -> (String, Vec<aws_sdk_dynamodb::types::AttributeValue>) {
    let mut statement = format!("INSERT INTO {} VALUE {{", quoted(table, '"'));
    let mut parameters = Vec::with_capacity(item.len());
    for (n, (name, value)) in item.iter().enumerate() {
        if n > 0 {
            statement.push_str(", ");
        }
        statement.push_str(&quoted(name, '\''));
        statement.push_str(": ?");
        parameters.push(to_sdk(value));
    }
    statement.push('}');
    (statement, parameters)
}

/// PartiQL quotes an identifier in `"` and a string in `'`, doubling the quote inside.
fn quoted(text: &str, quote: char) -> String {
    let doubled: String = [quote, quote].iter().collect();
    format!("{quote}{}{quote}", text.replace(quote, &doubled))
}

/// What one statement's response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Done(PutOutcome),
    /// Refused for throughput or by a transient fault: worth sending again.
    Retry(String),
    /// Any other refusal (validation, access, a missing table).
    Failed(String),
}

/// The answer to a statement (`None`: the response list ended before it).
pub fn answer(response: Option<&BatchStatementResponse>) -> Answer {
    use BatchStatementErrorCodeEnum as Code;
    let Some(response) = response else {
        return Answer::Failed("the answer has no response for this statement".into());
    };
    let Some(error) = response.error() else {
        return Answer::Done(PutOutcome::Created);
    };
    let reason = format!(
        "{}: {}",
        error.code().map_or("UnknownError", Code::as_str),
        error.message().unwrap_or("no message")
    );
    match error.code() {
        // An INSERT has no condition but its key's absence: both codes mean the item exists.
        Some(Code::DuplicateItem | Code::ConditionalCheckFailed) => {
            Answer::Done(PutOutcome::AlreadyExists)
        }
        Some(
            Code::ThrottlingError
            | Code::ProvisionedThroughputExceeded
            | Code::RequestLimitExceeded
            | Code::InternalServerError
            | Code::TransactionConflict,
        ) => Answer::Retry(reason),
        _ => Answer::Failed(reason),
    }
}

/// A batch's items, each key once: a request may not name one item twice, and a redelivered
/// event can share a batch with its first delivery.
pub struct Distinct<'a> {
    /// The first item of each key, in order.
    pub items: Vec<&'a Item>,
    /// For each item of the batch, the index of its key's first item in `items`.
    first: Vec<usize>,
}

impl<'a> Distinct<'a> {
    pub fn of(batch: &'a [Item]) -> Self {
        let mut items = Vec::with_capacity(batch.len());
        let mut first = Vec::with_capacity(batch.len());
        let mut seen = HashMap::with_capacity(batch.len());
        for item in batch {
            let key = [shipments_table::PARTITION_KEY, shipments_table::SORT_KEY]
                .map(|name| item.get(name).and_then(|value| value.as_s()));
            first.push(*seen.entry(key).or_insert_with(|| {
                items.push(item);
                items.len() - 1
            }));
        }
        Distinct { items, first }
    }

    /// Each batch item's outcome from its key's: the first item's own, the others duplicates
    /// of it (or failed with it, so that they are retried together).
    pub fn outcomes(
        &self,
        results: Vec<Result<PutOutcome, Transient>>,
    ) -> Vec<Result<PutOutcome, Transient>> {
        let mut reported = vec![false; results.len()];
        self.first
            .iter()
            .map(|&index| {
                let result = results[index].clone();
                if std::mem::replace(&mut reported[index], true) {
                    result.map(|_| PutOutcome::AlreadyExists)
                } else {
                    result
                }
            })
            .collect()
    }
}
