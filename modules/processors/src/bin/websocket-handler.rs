//! `websocket-handler`: `$connect`, `$disconnect`, `$default`. See
//! [`processors::handlers::websocket_handler`].
use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use processors::handlers::websocket_handler::handle;
use processors::{aws, metrics::Metrics, settings};
use shipment::contract::{env_vars, functions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    processors::init_tracing();
    let config = aws::load_config().await;
    let connections =
        &aws::DynamoConnections::new(&config, settings::required(env_vars::CONNECTIONS_TABLE)?);
    let metrics = &Metrics::from_env(functions::WEBSOCKET_HANDLER);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            let response = handle(event.payload, connections, chrono::Utc::now(), metrics).await;
            metrics.flush();
            Ok::<_, Error>(response)
        },
    ))
    .await
}
