//! `stream-fanout`: the shipments table's stream. See [`processors::handlers::stream_fanout`].
use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use processors::handlers::stream_fanout::{handle, Deps};
use processors::{aws, metrics::Metrics, settings};
use shipment::contract::{env_vars, functions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    processors::init_tracing();
    let config = aws::load_config().await?;
    let deps = &Deps {
        publisher: aws::SnsPublisher::new(&config),
        connections: aws::DynamoConnections::new(
            &config,
            settings::required(env_vars::CONNECTIONS_TABLE)?,
        ),
        push: aws::WebSocketPush::new(&config, &settings::required(env_vars::WEBSOCKET_ENDPOINT)?),
        notifications_topic_arn: settings::required(env_vars::NOTIFICATIONS_TOPIC_ARN)?,
        alerts_topic_arn: settings::required(env_vars::ALERTS_TOPIC_ARN)?,
        environment: settings::environment(),
    };
    let metrics = &Metrics::from_env(functions::STREAM_FANOUT);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let response = handle(event.payload, deps, metrics).await;
        metrics.flush();
        Ok::<_, Error>(response)
    }))
    .await
}
