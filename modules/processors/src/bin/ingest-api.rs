//! `ingest-api`: API Gateway REST `POST /shipments`. See [`processors::handlers::ingest_api`].
use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use processors::handlers::ingest_api::{handle, Deps};
use processors::{aws, metrics::Metrics, settings};
use shipment::contract::{env_vars, functions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    processors::init_tracing();
    let config = aws::load_config().await;
    let deps = &Deps {
        store: aws::DynamoShipments::new(&config, settings::required(env_vars::SHIPMENTS_TABLE)?),
        ttl_days: settings::ttl_days()?,
    };
    let metrics = &Metrics::from_env(functions::INGEST_API);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| async move {
            let response = handle(event.payload, deps, chrono::Utc::now(), metrics).await;
            metrics.flush();
            Ok::<_, Error>(response)
        },
    ))
    .await
}
