//! `ingest-api`: API Gateway REST `POST /shipments`. See [`processors::handlers::ingest_api`].
use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use processors::handlers::ingest_api::{handle, out_of_time, Deps};
use processors::{aws, deadline::before_deadline, metrics::Metrics, settings};
use shipment::contract::{env_vars, functions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    processors::init_tracing();
    let config = aws::load_config().await?;
    let deps = &Deps {
        store: aws::DynamoShipments::new(&config, settings::required(env_vars::SHIPMENTS_TABLE)?),
        ttl_days: settings::ttl_days()?,
    };
    let metrics = &Metrics::from_env(functions::INGEST_API);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| async move {
            let work = handle(event.payload, deps, chrono::Utc::now(), metrics);
            let response = before_deadline(event.context.deadline, work)
                .await
                .unwrap_or_else(|| out_of_time(&event.context.request_id, metrics));
            metrics.flush();
            Ok::<_, Error>(response)
        },
    ))
    .await
}
