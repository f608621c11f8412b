//! `queue-processor`: SQS batches from the events queue. See
//! [`processors::handlers::queue_processor`].
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent};
use processors::handlers::queue_processor::handle;
use processors::{sdk, shell::serve};
use shipment::contract::functions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = |config: &_| Ok(sdk::writer_deps(config)?);
    serve(
        functions::QUEUE_PROCESSOR,
        deps,
        |event: LambdaEvent<SqsEvent>, deps, metrics| async move {
            Ok(handle(event.payload, deps, chrono::Utc::now(), metrics).await)
        },
    )
    .await
}
