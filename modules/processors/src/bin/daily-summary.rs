//! `daily-summary`: yesterday's per-status counts. See [`processors::handlers::daily_summary`].
use lambda_runtime::{service_fn, Error, LambdaEvent};
use processors::handlers::daily_summary::{handle, Deps};
use processors::{aws, metrics::Metrics, settings};
use serde_json::Value;
use shipment::contract::{env_vars, functions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    processors::init_tracing();
    let config = aws::load_config().await?;
    let deps = &Deps {
        store: aws::DynamoShipments::new(&config, settings::required(env_vars::SHIPMENTS_TABLE)?),
        publisher: aws::SnsPublisher::new(&config),
        notifications_topic_arn: settings::required(env_vars::NOTIFICATIONS_TOPIC_ARN)?,
    };
    let metrics = &Metrics::from_env(functions::DAILY_SUMMARY);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result = handle(event.payload, deps, chrono::Utc::now(), metrics).await;
        metrics.flush();
        result.map_err(Error::from)
    }))
    .await
}
