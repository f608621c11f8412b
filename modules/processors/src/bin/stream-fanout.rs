//! `stream-fanout`: the shipments table's stream. See [`processors::handlers::stream_fanout`].
use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent};
use processors::handlers::stream_fanout::{handle, Deps};
use processors::{sdk, settings, shell::serve};
use shipment::contract::{env_vars, functions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = |config: &_| {
        Ok(Deps {
            publisher: sdk::SnsPublisher::new(config),
            connections: sdk::DynamoConnections::from_env(config)?,
            push: sdk::WebSocketPush::new(
                config,
                &settings::required(env_vars::WEBSOCKET_ENDPOINT)?,
            ),
            notifications_topic_arn: settings::required(env_vars::NOTIFICATIONS_TOPIC_ARN)?,
            shipment_alerts_topic_arn: settings::required(env_vars::SHIPMENT_ALERTS_TOPIC_ARN)?,
            environment: settings::environment(),
            in_flight: settings::fanout_in_flight()?,
            batch_entries: settings::fanout_batch_entries()?,
        })
    };
    serve(
        functions::STREAM_FANOUT,
        deps,
        |event: LambdaEvent<Event>, deps, metrics| async move {
            Ok(handle(event.payload, deps, metrics).await)
        },
    )
    .await
}
