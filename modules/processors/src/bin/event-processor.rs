//! `event-processor`: EventBridge events delivered straight to Lambda. See
//! [`processors::handlers::event_processor`].
use lambda_runtime::{service_fn, Error, LambdaEvent};
use processors::handlers::event_processor::{handle, Deps};
use processors::{aws, metrics::Metrics, settings};
use serde_json::Value;
use shipment::contract::{env_vars, functions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    processors::init_tracing();
    let config = aws::load_config().await;
    let deps = &Deps {
        store: aws::DynamoShipments::new(&config, settings::required(env_vars::SHIPMENTS_TABLE)?),
        dead_letters: aws::SqsDeadLetters::new(
            &config,
            settings::required(env_vars::DEAD_LETTER_QUEUE_URL)?,
        ),
        ttl_days: settings::ttl_days()?,
    };
    let metrics = &Metrics::from_env(functions::EVENT_PROCESSOR);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result = handle(event.payload, deps, chrono::Utc::now(), metrics).await;
        metrics.flush();
        result.map_err(Error::from)
    }))
    .await
}
