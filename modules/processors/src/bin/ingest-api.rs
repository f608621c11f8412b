//! `ingest-api`: API Gateway REST `POST /shipments`. See [`processors::handlers::ingest_api`].
use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use lambda_runtime::{Error, LambdaEvent};
use processors::handlers::ingest_api::{handle, out_of_time, Deps};
use processors::{deadline::before_deadline, sdk, settings, shell::serve};
use shipment::contract::functions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = |config: &_| {
        Ok(Deps {
            store: sdk::DynamoShipments::from_env(config)?,
            ttl_days: settings::ttl_days()?,
        })
    };
    serve(
        functions::INGEST_API,
        deps,
        |event: LambdaEvent<ApiGatewayProxyRequest>, deps, metrics| async move {
            let work = handle(event.payload, deps, chrono::Utc::now(), metrics);
            Ok(before_deadline(event.context.deadline, work)
                .await
                .unwrap_or_else(|| out_of_time(&event.context.request_id, metrics)))
        },
    )
    .await
}
