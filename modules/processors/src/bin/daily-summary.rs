//! `daily-summary`: yesterday's per-status counts. See [`processors::handlers::daily_summary`].
use lambda_runtime::{Error, LambdaEvent};
use processors::handlers::daily_summary::{handle, Deps};
use processors::{sdk, settings, shell::serve};
use serde_json::Value;
use shipment::contract::{env_vars, functions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = |config: &_| {
        Ok(Deps {
            store: sdk::DynamoShipments::from_env(config)?,
            publisher: sdk::SnsPublisher::new(config),
            notifications_topic_arn: settings::required(env_vars::NOTIFICATIONS_TOPIC_ARN)?,
        })
    };
    serve(
        functions::DAILY_SUMMARY,
        deps,
        |event: LambdaEvent<Value>, deps, metrics| async move {
            Ok(handle(event.payload, deps, chrono::Utc::now(), metrics).await?)
        },
    )
    .await
}
