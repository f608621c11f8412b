//! What the launcher tests share.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;

/// Creates the on-demand table `t` keyed by the string `k`, with a stream of new and old
/// images if `stream`; answers its stream ARN.
pub async fn create_table(dynamodb: &Client, stream: bool) -> Option<String> {
    let output = dynamodb
        .create_table()
        .table_name("t")
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("k")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("k")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .set_stream_specification(stream.then(|| {
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap()
        }))
        .send()
        .await
        .unwrap();
    let description = output.table_description()?;
    description.latest_stream_arn().map(str::to_owned)
}
