//! `websocket-handler`: `$connect`, `$disconnect`, `$default`. See
//! [`processors::handlers::websocket_handler`].
use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use processors::handlers::websocket_handler::{handle, out_of_time};
use processors::{aws, deadline::before_deadline, metrics::Metrics, settings};
use shipment::contract::{env_vars, functions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    processors::init_tracing();
    let config = aws::load_config().await?;
    let connections =
        &aws::DynamoConnections::new(&config, settings::required(env_vars::CONNECTIONS_TABLE)?);
    let metrics = &Metrics::from_env(functions::WEBSOCKET_HANDLER);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            let work = handle(event.payload, connections, chrono::Utc::now(), metrics);
            let response = before_deadline(event.context.deadline, work)
                .await
                .unwrap_or_else(|| out_of_time(metrics));
            metrics.flush();
            Ok::<_, Error>(response)
        },
    ))
    .await
}
