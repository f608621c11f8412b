//! The SDK-backed implementations of [`crate::ports`]. Every client is built from the
//! standard SDK configuration, so `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_DYNAMODB`, ...)
//! points them at an emulator with no special code; the WebSocket management API alone
//! takes its endpoint from `WEBSOCKET_ENDPOINT`.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, BatchStatementRequest, Select};
use aws_smithy_http_client::tls;
use shipment::contract::{connections_table, dead_letter, shipments_table};
use shipment::{AttrValue, Item};

use crate::partiql;
use crate::ports::{
    Connections, DeadLetter, DeadLetters, EventStore, Notification, PostOutcome, Publisher, Push,
    PutOutcome, Transient,
};

/// The most one AWS call may take, retries included, whatever the function's timeout.
pub const MAX_OPERATION_TIMEOUT: Duration = Duration::from_secs(12);

/// How long one AWS call may take, retries included, and one attempt of it, inside a function
/// whose own timeout is `function_timeout`. A call may use 40 % of what is left once the answer's
/// margin is kept back (at most
/// [`MAX_OPERATION_TIMEOUT`]), so two calls in sequence (a put, then the read of a duplicate)
/// still end before Lambda ends the invocation; an attempt a third of that, so the standard
/// retry mode's three attempts fit. A hung dependency then ends as the designed error (a JSON
/// 500, a batch item failure), never as a Lambda timeout: API Gateway would answer 502.
pub fn sdk_timeouts(function_timeout: Duration) -> (Duration, Duration) {
    let budget = function_timeout.saturating_sub(crate::deadline::ANSWER_MARGIN);
    let operation = (budget * 2 / 5).min(MAX_OPERATION_TIMEOUT);
    (operation / 3, operation)
}

/// The one HTTPS client every SDK client of a process shares (one connection pool for the
/// same timeouts): hyper with rustls on ring. The packaged functions build the SDK crates
/// without a default client of their own, so this is the only one they have.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Loads the standard SDK configuration (region, credentials, endpoints from the
/// environment; standard retry mode) on [`https_client`], with [`sdk_timeouts`] for the
/// function's own timeout (`FUNCTION_TIMEOUT_S`).
///
/// Stalled-stream protection is off: every call the functions make has a small JSON body
/// that the SDK reads inside the attempt (`aws-smithy-runtime`'s `try_attempt`), so the
/// attempt timeout ends a stalled answer before the protection's grace period could (20 s
/// by default; the attempt timeout is at most [`MAX_OPERATION_TIMEOUT`] / 3). Its checks on
/// every poll of a body were 6-10 % of queue-processor's `perf` samples, 2 % of its
/// instructions (callgrind).
pub async fn load_config() -> Result<SdkConfig, crate::settings::SettingsError> {
    Ok(config_loader(crate::settings::function_timeout()?)
        .load()
        .await)
}

/// The loader [`load_config`] uses, for a function whose timeout is `function_timeout`.
pub fn config_loader(function_timeout: Duration) -> aws_config::ConfigLoader {
    let (attempt, operation) = sdk_timeouts(function_timeout);
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(attempt)
                .operation_timeout(operation)
                .build(),
        )
}

/// Opens the process's connection to DynamoDB during init, in the pool every client built
/// from `config` shares, so the first invocation finds it open: on Lambda the TLS handshake
/// and the credentials' first resolution then land in init, not on the first event. Every
/// function talks to DynamoDB. DescribeEndpoints reads no table and costs no capacity, and
/// DynamoDB skips its authorization on the public endpoints (developer guide, "Securing
/// DynamoDB connections using VPC endpoints and IAM policies"), so it needs no grant. A
/// failure or [`OPEN_CONNECTION_TIMEOUT`] costs nothing but that head start: it is logged and
/// init goes on.
pub async fn open_dynamodb_connection(config: &SdkConfig) {
    let client = aws_sdk_dynamodb::Client::new(config);
    let call = client.describe_endpoints().send();
    let reason = match tokio::time::timeout(OPEN_CONNECTION_TIMEOUT, call).await {
        Ok(Ok(_)) => return,
        Ok(Err(err)) => describe(&err),
        Err(_) => format!("no answer in {OPEN_CONNECTION_TIMEOUT:?}"),
    };
    tracing::info!(
        reason,
        "dynamodb:DescribeEndpoints failed at init: the first call opens the connection"
    );
}

/// How long init waits for [`open_dynamodb_connection`]: Lambda allows init 10 s ("Lambda
/// execution environment lifecycle"), and an in-region handshake takes milliseconds.
pub const OPEN_CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);

/// The deployed dependencies of a bus-event writer, from its environment variables.
pub fn writer_deps(
    config: &SdkConfig,
) -> Result<
    crate::ingest::WriterDeps<DynamoShipments, SqsDeadLetters>,
    crate::settings::SettingsError,
> {
    Ok(crate::ingest::WriterDeps {
        store: DynamoShipments::from_env(config)?,
        dead_letters: SqsDeadLetters::new(
            config,
            crate::settings::required(shipment::contract::env_vars::DEAD_LETTER_QUEUE_URL)?,
        ),
        ttl_days: crate::settings::ttl_days()?,
    })
}

/// A short description of an SDK failure: `Code: message` for a service error, the error
/// chain for anything else (timeouts, connection failures, credentials).
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("UnknownError"),
            service.message().unwrap_or("no message")
        ),
        None => DisplayErrorContext(err).to_string(),
    }
}

/// How a failed SDK call becomes a port error: named by the IAM action it needed,
/// described by [`describe`].
fn failed<E, R>(action: &'static str) -> impl FnOnce(SdkError<E, R>) -> Transient
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |err| Transient::new(action, describe(&err))
}

/// An SDK call whose output the port does not need: `()`, or the [`failed`] error.
fn sent<T, E, R>(action: &'static str, result: Result<T, SdkError<E, R>>) -> Result<(), Transient>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    result.map(|_| ()).map_err(failed(action))
}

/// An SDK call with two good outcomes: `done` when it succeeds, and `expected.0` when it
/// fails with the service error `expected.1` recognises (the item already exists, the
/// connection is gone); any other error is [`failed`].
fn outcome<T, E, R, O>(
    action: &'static str,
    result: Result<T, SdkError<E, R>>,
    done: O,
    expected: (O, impl FnOnce(&E) -> bool),
) -> Result<O, Transient>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(done),
        Err(err) if err.as_service_error().is_some_and(expected.1) => Ok(expected.0),
        Err(err) => Err(failed(action)(err)),
    }
}

/// An unconditional PutItem: the shipments table's `put` and the connections table's `put_row`.
async fn put_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: &Item,
) -> Result<(), Transient> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(to_sdk_item(item)))
        .send()
        .await;
    sent("dynamodb:PutItem", result)
}

/// Domain value to SDK value.
pub fn to_sdk(value: &AttrValue) -> AttributeValue {
    match value {
        AttrValue::S(s) => AttributeValue::S(s.clone()),
        AttrValue::N(n) => AttributeValue::N(n.clone()),
        AttrValue::Bool(b) => AttributeValue::Bool(*b),
        AttrValue::Null => AttributeValue::Null(true),
        AttrValue::L(items) => AttributeValue::L(items.iter().map(to_sdk).collect()),
        AttrValue::M(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect())
        }
        AttrValue::Ss(items) => AttributeValue::Ss(items.clone()),
        AttrValue::Ns(items) => AttributeValue::Ns(items.clone()),
    }
}

/// SDK value to domain value (binary values, which we never write, become `Null`).
pub fn from_sdk(value: &AttributeValue) -> AttrValue {
    match value {
        AttributeValue::S(s) => AttrValue::S(s.clone()),
        AttributeValue::N(n) => AttrValue::N(n.clone()),
        AttributeValue::Bool(b) => AttrValue::Bool(*b),
        AttributeValue::L(items) => AttrValue::L(items.iter().map(from_sdk).collect()),
        AttributeValue::M(map) => {
            AttrValue::M(map.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect())
        }
        AttributeValue::Ss(items) => AttrValue::Ss(items.clone()),
        AttributeValue::Ns(items) => AttrValue::Ns(items.clone()),
        _ => AttrValue::Null,
    }
}

fn to_sdk_item(item: &Item) -> HashMap<String, AttributeValue> {
    item.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()
}

fn from_sdk_item(item: &HashMap<String, AttributeValue>) -> Item {
    item.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// The shipments table.
#[derive(Debug, Clone)]
pub struct DynamoShipments {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl DynamoShipments {
    pub fn new(config: &SdkConfig, table: impl Into<String>) -> Self {
        DynamoShipments {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.into(),
        }
    }

    /// The deployed shipments table, named by `SHIPMENTS_TABLE`.
    pub fn from_env(config: &SdkConfig) -> Result<Self, crate::settings::SettingsError> {
        Ok(Self::new(
            config,
            crate::settings::required(shipment::contract::env_vars::SHIPMENTS_TABLE)?,
        ))
    }
}

/// How many times a statement refused for throughput is sent, as the standard retry mode
/// tries a request (the SDK retries a failed request, not a refused statement).
const INSERT_ATTEMPTS: u32 = 3;

impl DynamoShipments {
    /// Up to [`partiql::MAX_STATEMENTS`] items in one request, statements answered
    /// [`partiql::Answer::Retry`] sent again after a jittered exponential backoff.
    async fn insert(&self, items: &[&Item]) -> Vec<Result<PutOutcome, Transient>> {
        let mut results = vec![None; items.len()];
        let mut pending: Vec<usize> = (0..items.len()).collect();
        for attempt in 1..=INSERT_ATTEMPTS {
            let statements = pending.iter().map(|&n| {
                let (statement, parameters) = partiql::insert_statement(&self.table, items[n]);
                BatchStatementRequest::builder()
                    .statement(statement)
                    .set_parameters(Some(parameters))
                    .build()
            });
            let sent = match statements.collect::<Result<Vec<_>, _>>() {
                Ok(statements) => self
                    .client
                    .batch_execute_statement()
                    .set_statements(Some(statements))
                    .send()
                    .await
                    .map_err(failed(partiql::ACTION)),
                Err(error) => Err(Transient::new(partiql::ACTION, error)),
            };
            let output = match sent {
                Ok(output) => output,
                Err(error) => {
                    for &n in &pending {
                        results[n] = Some(Err(error.clone()));
                    }
                    break;
                }
            };
            // The responses are in the order of the statements (API reference, BatchExecuteStatement).
            let mut again = Vec::new();
            for (position, &n) in pending.iter().enumerate() {
                results[n] = Some(match partiql::answer(output.responses().get(position)) {
                    partiql::Answer::Done(outcome) => Ok(outcome),
                    partiql::Answer::Retry(reason) => {
                        again.push(n);
                        Err(Transient::new(partiql::ACTION, reason))
                    }
                    partiql::Answer::Failed(reason) => Err(Transient::new(partiql::ACTION, reason)),
                });
            }
            if again.is_empty() || attempt == INSERT_ATTEMPTS {
                break;
            }
            pending = again;
            // Full jitter on 25 ms, 50 ms: concurrent functions do not retry in step.
            let ceiling = 25u64 << (attempt - 1);
            tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=ceiling))).await;
        }
        results
            .into_iter()
            .map(|result| result.expect("every statement has a result"))
            .collect()
    }
}

impl EventStore for DynamoShipments {
    async fn put_all_if_absent(&self, items: &[Item]) -> Vec<Result<PutOutcome, Transient>> {
        let distinct = partiql::Distinct::of(items);
        let requests = distinct
            .items
            .chunks(partiql::MAX_STATEMENTS)
            .map(|chunk| self.insert(chunk));
        distinct.outcomes(futures_util::future::join_all(requests).await.concat())
    }

    async fn get(&self, shipment_id: &str, event_key: &str) -> Result<Option<Item>, Transient> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(shipments_table::PARTITION_KEY, s(shipment_id))
            .key(shipments_table::SORT_KEY, s(event_key))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed("dynamodb:GetItem"))?;
        Ok(output.item().map(from_sdk_item))
    }

    async fn put(&self, item: &Item) -> Result<(), Transient> {
        put_item(&self.client, &self.table, item).await
    }

    async fn count_on_day(&self, partition_key: &str, day: &str) -> Result<u64, Transient> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(shipments_table::STATUS_INDEX)
                .key_condition_expression("#s = :s AND begins_with(#t, :day)")
                .expression_attribute_names("#s", shipments_table::STATUS_INDEX_PARTITION_KEY)
                .expression_attribute_names("#t", shipments_table::STATUS_INDEX_SORT_KEY)
                .expression_attribute_values(":s", s(partition_key))
                .expression_attribute_values(":day", s(day))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(failed("dynamodb:Query"))?;
            total += u64::try_from(output.count()).unwrap_or(0);
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(total),
            }
        }
    }
}

/// The WebSocket connections table.
#[derive(Debug, Clone)]
pub struct DynamoConnections {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl DynamoConnections {
    pub fn new(config: &SdkConfig, table: impl Into<String>) -> Self {
        DynamoConnections {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.into(),
        }
    }

    /// The deployed connections table, named by `CONNECTIONS_TABLE`.
    pub fn from_env(config: &SdkConfig) -> Result<Self, crate::settings::SettingsError> {
        Ok(Self::new(
            config,
            crate::settings::required(shipment::contract::env_vars::CONNECTIONS_TABLE)?,
        ))
    }

    async fn query_all(
        &self,
        index: Option<&str>,
        key_name: &str,
        key_value: &str,
        wanted: &str,
    ) -> Result<Vec<String>, Transient> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression("#k = :k")
                .expression_attribute_names("#k", key_name)
                .expression_attribute_names("#w", wanted)
                .expression_attribute_values(":k", s(key_value))
                .projection_expression("#w")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(failed("dynamodb:Query"))?;
            found.extend(
                output
                    .items()
                    .iter()
                    .filter_map(|item| item.get(wanted).and_then(|v| v.as_s().ok()).cloned()),
            );
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(found),
            }
        }
    }
}

impl Connections for DynamoConnections {
    async fn put_row(&self, item: &Item) -> Result<(), Transient> {
        put_item(&self.client, &self.table, item).await
    }

    async fn delete_row(&self, connection_id: &str, sort_key: &str) -> Result<(), Transient> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(connections_table::PARTITION_KEY, s(connection_id))
            .key(connections_table::SORT_KEY, s(sort_key))
            .send()
            .await;
        sent("dynamodb:DeleteItem", result)
    }

    async fn rows_of(&self, connection_id: &str) -> Result<Vec<String>, Transient> {
        self.query_all(
            None,
            connections_table::PARTITION_KEY,
            connection_id,
            connections_table::SORT_KEY,
        )
        .await
    }

    async fn subscribers(&self, shipment_id: &str) -> Result<Vec<String>, Transient> {
        self.query_all(
            Some(connections_table::SUBSCRIBERS_INDEX),
            connections_table::SUBSCRIBERS_INDEX_PARTITION_KEY,
            shipment_id,
            connections_table::SUBSCRIBERS_INDEX_SORT_KEY,
        )
        .await
    }
}

/// The dead-letter queue. Its client is built on the first invalid event: most instances
/// never send one, and building it would lengthen every cold start.
#[derive(Debug, Clone)]
pub struct SqsDeadLetters {
    config: SdkConfig,
    client: OnceLock<aws_sdk_sqs::Client>,
    pub queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(config: &SdkConfig, queue_url: impl Into<String>) -> Self {
        SqsDeadLetters {
            config: config.clone(),
            client: OnceLock::new(),
            queue_url: queue_url.into(),
        }
    }

    /// The SQS client, built once.
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        self.client
            .get_or_init(|| aws_sdk_sqs::Client::new(&self.config))
    }
}

fn sqs_attribute(value: &str) -> Result<aws_sdk_sqs::types::MessageAttributeValue, Transient> {
    aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Transient::new("sqs message attribute", e))
}

impl DeadLetters for SqsDeadLetters {
    async fn send(&self, letter: &DeadLetter<'_>) -> Result<(), Transient> {
        // SQS refuses empty bodies; an empty one is kept visible as a placeholder.
        let body = if letter.body.is_empty() {
            "<empty body>"
        } else {
            letter.body
        };
        let mut request = self
            .client()
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes(dead_letter::REASON_ATTRIBUTE, sqs_attribute(letter.reason)?)
            .message_attributes(
                dead_letter::FUNCTION_ATTRIBUTE,
                sqs_attribute(letter.function)?,
            );
        if let Some(id) = letter.original_id.filter(|id| !id.is_empty()) {
            request =
                request.message_attributes(dead_letter::ORIGINAL_ID_ATTRIBUTE, sqs_attribute(id)?);
        }
        sent("sqs:SendMessage", request.send().await)
    }
}

/// SNS.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    pub client: aws_sdk_sns::Client,
}

impl SnsPublisher {
    pub fn new(config: &SdkConfig) -> Self {
        SnsPublisher {
            client: aws_sdk_sns::Client::new(config),
        }
    }
}

/// A notification's attributes as SNS message attributes.
fn sns_attributes(
    notification: &Notification,
) -> Result<HashMap<String, aws_sdk_sns::types::MessageAttributeValue>, Transient> {
    notification
        .attributes
        .iter()
        .map(|(name, value)| {
            let attribute = aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Transient::new("sns message attribute", e))?;
            Ok((name.clone(), attribute))
        })
        .collect()
}

impl Publisher for SnsPublisher {
    async fn publish(&self, notification: &Notification) -> Result<(), Transient> {
        let request = self
            .client
            .publish()
            .topic_arn(&notification.topic_arn)
            .subject(&notification.subject)
            .message(&notification.message)
            .set_message_attributes(Some(sns_attributes(notification)?));
        sent("sns:Publish", request.send().await)
    }

    async fn publish_batch(
        &self,
        topic_arn: &str,
        batch: &[&Notification],
    ) -> Result<Vec<(usize, Transient)>, Transient> {
        // Entry ids are the positions in `batch` (unique, alphanumeric: the API's rule).
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, notification)| {
                aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                    .id(i.to_string())
                    .subject(&notification.subject)
                    .message(&notification.message)
                    .set_message_attributes(Some(sns_attributes(notification)?))
                    .build()
                    .map_err(|e| Transient::new("sns batch entry", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .publish_batch()
            .topic_arn(topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(failed("sns:PublishBatch"))?;
        // An entry SNS does not report as successful is retried, reported failed or not.
        let accepted: Vec<&str> = output.successful().iter().filter_map(|e| e.id()).collect();
        Ok((0..batch.len())
            .filter(|i| !accepted.contains(&i.to_string().as_str()))
            .map(|i| {
                let why = output
                    .failed()
                    .iter()
                    .find(|f| f.id() == i.to_string())
                    .map_or("not reported as published".to_owned(), |f| {
                        format!("{}: {}", f.code(), f.message().unwrap_or_default())
                    });
                (i, Transient::new("sns:PublishBatch entry", why))
            })
            .collect())
    }
}

/// The WebSocket stage's management API.
#[derive(Debug, Clone)]
pub struct WebSocketPush {
    pub client: aws_sdk_apigatewaymanagement::Client,
}

impl WebSocketPush {
    /// `endpoint` is `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`.
    pub fn new(config: &SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build();
        WebSocketPush {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config),
        }
    }
}

impl Push for WebSocketPush {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<PostOutcome, Transient> {
        let result = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(data))
            .send()
            .await;
        outcome(
            "execute-api:ManageConnections",
            result,
            PostOutcome::Delivered,
            (PostOutcome::Gone, |e| e.is_gone_exception()),
        )
    }
}
