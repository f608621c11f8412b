//! `event-processor`: EventBridge events delivered straight to Lambda. See
//! [`processors::handlers::event_processor`].
use lambda_runtime::{Error, LambdaEvent};
use processors::handlers::event_processor::handle;
use processors::{sdk, shell::serve};
use serde_json::Value;
use shipment::contract::functions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = |config: &_| Ok(sdk::writer_deps(config)?);
    serve(
        functions::EVENT_PROCESSOR,
        deps,
        |event: LambdaEvent<Value>, deps, metrics| async move {
            Ok(handle(event.payload, deps, chrono::Utc::now(), metrics).await?)
        },
    )
    .await
}
