//! SDK configuration for talking to the emulator with its test credentials.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// The region of the local environment (`envs/local/env.json`).
pub const REGION: &str = "us-east-1";
/// moto's account id.
pub const ACCOUNT: &str = "123456789012";
/// The emulator's test credentials (the same the rendered provider uses).
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "test";

/// Every client built from this talks to `endpoint`, whatever the host's environment says.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "emulator",
        ))
        .load()
        .await
}

/// The clients the harness and the tests use.
#[derive(Clone, Debug)]
pub struct Clients {
    pub config: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub apigatewayv2: aws_sdk_apigatewayv2::Client,
}

impl Clients {
    pub async fn new(endpoint: &str) -> Clients {
        let config = sdk_config(endpoint).await;
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            streams: aws_sdk_dynamodbstreams::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            apigateway: aws_sdk_apigateway::Client::new(&config),
            apigatewayv2: aws_sdk_apigatewayv2::Client::new(&config),
            config,
        }
    }
}

/// `arn:aws:sqs:region:account:name` -> `name`; any ARN -> its last `:` part.
pub fn arn_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// A Lambda function name from a function ARN (qualified or not) or a name.
pub fn function_name_of(arn_or_name: &str) -> String {
    match arn_or_name.split(':').collect::<Vec<_>>().as_slice() {
        [_, _, "lambda", _, _, "function", name, ..] => (*name).to_owned(),
        _ => arn_or_name.to_owned(),
    }
}

/// An API Gateway Lambda integration URI
/// (`arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations`)
/// -> the function's name.
pub fn function_of_integration_uri(uri: &str) -> Option<String> {
    let rest = uri.split("/functions/").nth(1)?;
    let arn = rest.strip_suffix("/invocations").unwrap_or(rest);
    Some(function_name_of(arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_out_of_arns_and_uris() {
        assert_eq!(arn_name("arn:aws:sqs:us-east-1:123456789012:q"), "q");
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"),
            "f"
        );
        assert_eq!(function_name_of("f"), "f");
        assert_eq!(
            function_of_integration_uri("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:shipstack-local-ingest-api/invocations").as_deref(),
            Some("shipstack-local-ingest-api")
        );
    }
}
