//! The platform's data plane, created in moto the way the renderer declares it: the
//! shipments table (keys, status index, stream), the connections table (subscribers index),
//! the dead-letter queue and the two topics, each topic with a queue subscribed so tests can
//! read what was published.

#![allow(dead_code)]

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use processors::sdk::{from_sdk, DynamoConnections, DynamoShipments, SnsPublisher, SqsDeadLetters};
use serde_json::Value;
use shipment::contract::{connections_table as ct, shipments_table as st};
use shipment::Item;

use local::Moto;

pub struct Cloud {
    pub moto: Moto,
    pub config: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub shipments_table: String,
    pub connections_table: String,
    pub dead_letter_queue_url: String,
    pub notifications_topic_arn: String,
    pub shipment_alerts_topic_arn: String,
    notifications_inbox: String,
    alerts_inbox: String,
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

/// A received SNS message: the message text and its string attributes.
#[derive(Debug, Clone)]
pub struct Published {
    pub subject: Option<String>,
    pub message: String,
    pub attributes: HashMap<String, String>,
}

impl Cloud {
    pub async fn start() -> Cloud {
        let moto = Moto::start().expect("moto (scripts/setup-python installs it)");
        let config = local::sdk_clients::sdk_config(&moto.endpoint()).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);

        let shipments_table = "shipstack-test-shipments".to_owned();
        dynamodb
            .create_table()
            .table_name(&shipments_table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(st::PARTITION_KEY, KeyType::Hash))
            .key_schema(key(st::SORT_KEY, KeyType::Range))
            .attribute_definitions(string_attribute(st::PARTITION_KEY))
            .attribute_definitions(string_attribute(st::SORT_KEY))
            .attribute_definitions(string_attribute(st::STATUS_INDEX_PARTITION_KEY))
            .attribute_definitions(string_attribute(st::STATUS_INDEX_SORT_KEY))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(st::STATUS_INDEX)
                    .key_schema(key(st::STATUS_INDEX_PARTITION_KEY, KeyType::Hash))
                    .key_schema(key(st::STATUS_INDEX_SORT_KEY, KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("create shipments table");

        let connections_table = "shipstack-test-connections".to_owned();
        dynamodb
            .create_table()
            .table_name(&connections_table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(ct::PARTITION_KEY, KeyType::Hash))
            .key_schema(key(ct::SORT_KEY, KeyType::Range))
            .attribute_definitions(string_attribute(ct::PARTITION_KEY))
            .attribute_definitions(string_attribute(ct::SORT_KEY))
            .attribute_definitions(string_attribute(ct::SUBSCRIBERS_INDEX_PARTITION_KEY))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(ct::SUBSCRIBERS_INDEX)
                    .key_schema(key(ct::SUBSCRIBERS_INDEX_PARTITION_KEY, KeyType::Hash))
                    .key_schema(key(ct::SUBSCRIBERS_INDEX_SORT_KEY, KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("create connections table");

        let queue = |name: &'static str| {
            let sqs = sqs.clone();
            async move {
                sqs.create_queue()
                    .queue_name(name)
                    .send()
                    .await
                    .expect("create queue")
                    .queue_url()
                    .unwrap()
                    .to_owned()
            }
        };
        let dead_letter_queue_url = queue("shipstack-test-dlq").await;
        let notifications_inbox = queue("notifications-inbox").await;
        let alerts_inbox = queue("alerts-inbox").await;

        let mut topics = Vec::new();
        for (topic, inbox) in [
            ("notifications", &notifications_inbox),
            ("alerts", &alerts_inbox),
        ] {
            let arn = sns
                .create_topic()
                .name(topic)
                .send()
                .await
                .expect("create topic")
                .topic_arn()
                .unwrap()
                .to_owned();
            let inbox_arn = sqs
                .get_queue_attributes()
                .queue_url(inbox)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await
                .unwrap()
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                        .cloned()
                })
                .unwrap();
            sns.subscribe()
                .topic_arn(&arn)
                .protocol("sqs")
                .endpoint(inbox_arn)
                .send()
                .await
                .expect("subscribe");
            topics.push(arn);
        }

        Cloud {
            moto,
            config,
            dynamodb,
            sqs,
            shipments_table,
            connections_table,
            dead_letter_queue_url,
            notifications_topic_arn: topics[0].clone(),
            shipment_alerts_topic_arn: topics[1].clone(),
            notifications_inbox,
            alerts_inbox,
        }
    }

    pub fn shipments(&self) -> DynamoShipments {
        DynamoShipments::new(&self.config, &self.shipments_table)
    }
    pub fn connections(&self) -> DynamoConnections {
        DynamoConnections::new(&self.config, &self.connections_table)
    }
    pub fn dead_letters(&self) -> SqsDeadLetters {
        SqsDeadLetters::new(&self.config, &self.dead_letter_queue_url)
    }
    pub fn publisher(&self) -> SnsPublisher {
        SnsPublisher::new(&self.config)
    }

    /// Every item of a table (Scan: test inspection only).
    pub async fn scan(&self, table: &str) -> Vec<Item> {
        let output = self
            .dynamodb
            .scan()
            .table_name(table)
            .send()
            .await
            .expect("scan");
        output
            .items()
            .iter()
            .map(|item| item.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect())
            .collect()
    }

    /// Messages waiting in a queue, with their string attributes.
    pub async fn drain(&self, queue_url: &str) -> Vec<(String, HashMap<String, String>)> {
        let mut all = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .send()
                .await
                .expect("receive");
            let messages = output.messages();
            if messages.is_empty() {
                return all;
            }
            for message in messages {
                let attributes = message
                    .message_attributes()
                    .map(|attrs| {
                        attrs
                            .iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_owned())))
                            .collect()
                    })
                    .unwrap_or_default();
                all.push((message.body().unwrap_or_default().to_owned(), attributes));
                self.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    async fn published(&self, inbox: &str) -> Vec<Published> {
        self.drain(inbox)
            .await
            .into_iter()
            .map(|(body, _)| {
                let envelope: Value = serde_json::from_str(&body).expect("SNS envelope");
                let attributes = envelope["MessageAttributes"]
                    .as_object()
                    .map(|attrs| {
                        attrs
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v["Value"].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Published {
                    subject: envelope["Subject"].as_str().map(str::to_owned),
                    message: envelope["Message"].as_str().unwrap_or_default().to_owned(),
                    attributes,
                }
            })
            .collect()
    }

    pub async fn notifications(&self) -> Vec<Published> {
        self.published(&self.notifications_inbox).await
    }
    pub async fn alerts(&self) -> Vec<Published> {
        self.published(&self.alerts_inbox).await
    }
}
