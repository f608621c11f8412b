//! `event-processor`: EventBridge events delivered straight to Lambda. See
//! [`processors::handlers::event_processor`].
use lambda_runtime::{service_fn, Error, LambdaEvent};
use processors::handlers::event_processor::handle;
use processors::{aws, metrics::Metrics};
use serde_json::Value;
use shipment::contract::functions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    processors::init_tracing();
    let config = aws::load_config().await?;
    let deps = &aws::writer_deps(&config)?;
    let metrics = &Metrics::from_env(functions::EVENT_PROCESSOR);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result = handle(event.payload, deps, chrono::Utc::now(), metrics).await;
        metrics.flush();
        result.map_err(Error::from)
    }))
    .await
}
