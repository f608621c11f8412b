//! `websocket-handler`: `$connect`, `$disconnect`, `$default`. See
//! [`processors::handlers::websocket_handler`].
use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent};
use processors::handlers::websocket_handler::{handle, out_of_time};
use processors::{deadline::before_deadline, sdk, shell::serve};
use shipment::contract::functions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = |config: &_| Ok(sdk::DynamoConnections::from_env(config)?);
    serve(
        functions::WEBSOCKET_HANDLER,
        deps,
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>, connections, metrics| async move {
            let work = handle(event.payload, connections, chrono::Utc::now(), metrics);
            Ok(before_deadline(event.context.deadline, work)
                .await
                .unwrap_or_else(|| out_of_time(metrics)))
        },
    )
    .await
}
