//! `queue-processor`: SQS batches from the events queue. See
//! [`processors::handlers::queue_processor`].
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use processors::handlers::queue_processor::handle;
use processors::{aws, metrics::Metrics};
use shipment::contract::functions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    processors::init_tracing();
    let config = aws::load_config().await?;
    let deps = &aws::writer_deps(&config)?;
    let metrics = &Metrics::from_env(functions::QUEUE_PROCESSOR);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let response = handle(event.payload, deps, chrono::Utc::now(), metrics).await;
        metrics.flush();
        Ok::<_, Error>(response)
    }))
    .await
}
