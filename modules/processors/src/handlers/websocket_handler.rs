//! `websocket-handler`: the WebSocket API's `$connect`, `$disconnect` and `$default`.
//!
//! - `$connect` stores the connection row (24 h TTL);
//! - `$disconnect` deletes the connection row and its subscription rows (Query by
//!   connection id, never a Scan);
//! - `$default` takes `{"action":"subscribe"|"unsubscribe","shipmentId":"..."}` and replies
//!   `{"type":"subscribed"|"unsubscribed","shipmentId":...}`, or `{"type":"error","message":...}`
//!   with status 400 for anything else. (API Gateway returns the reply to the client when the
//!   route has a `$default` route response.)

use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use chrono::{DateTime, Utc};
use serde_json::json;
use shipment::connections::{
    connection_row, parse_client_message, subscription_row, subscription_sort_key, ClientMessage,
    MAX_SUBSCRIPTIONS_PER_CONNECTION, SUBSCRIPTION_PREFIX,
};
use shipment::contract::metrics as metric;

use super::json_response;
use crate::metrics::Metrics;
use crate::ports::{forget_connection, Connections, Transient};

/// Handles one WebSocket route invocation.
pub async fn handle<C: Connections>(
    request: ApiGatewayWebsocketProxyRequest,
    connections: &C,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> ApiGatewayProxyResponse {
    let context = &request.request_context;
    let Some(connection_id) = context.connection_id.as_deref().filter(|id| !id.is_empty()) else {
        return json_response(
            400,
            &json!({"type": "error", "message": "missing connection id"}),
        );
    };
    let route = context.route_key.as_deref().unwrap_or("$default");
    let result = match route {
        "$connect" => connections
            .put_row(&connection_row(connection_id, now))
            .await
            .map(|()| json_response(200, &json!({"type": "connected"}))),
        "$disconnect" => forget_connection(connections, connection_id)
            .await
            .map(|_| json_response(200, &json!({"type": "disconnected"}))),
        _ => match parse_client_message(request.body.as_deref()) {
            Err(message) => {
                tracing::info!(connection_id, route, error = %message, "client message refused");
                return json_response(400, &json!({"type": "error", "message": message}));
            }
            Ok(ClientMessage::Subscribe { shipment_id }) => {
                subscribe(connections, connection_id, &shipment_id, now).await
            }
            Ok(ClientMessage::Unsubscribe { shipment_id }) => connections
                .delete_row(connection_id, &subscription_sort_key(&shipment_id))
                .await
                .map(|()| {
                    json_response(
                        200,
                        &json!({"type": "unsubscribed", "shipmentId": shipment_id}),
                    )
                }),
        },
    };
    result.unwrap_or_else(|error: Transient| {
        metrics.incr(metric::PROCESSING_ERRORS);
        tracing::error!(connection_id, route, error = %error, "websocket route failed");
        internal_error()
    })
}

/// The answer when the invocation's deadline comes before the connections table answered.
pub fn out_of_time(metrics: &Metrics) -> ApiGatewayProxyResponse {
    metrics.incr(metric::PROCESSING_ERRORS);
    tracing::error!("the connections table did not answer before the deadline");
    internal_error()
}

fn internal_error() -> ApiGatewayProxyResponse {
    json_response(
        500,
        &json!({"type": "error", "message": "internal error; try again"}),
    )
}

/// Writes the subscription row unless the connection already follows
/// [`MAX_SUBSCRIPTIONS_PER_CONNECTION`] other shipments.
async fn subscribe<C: Connections>(
    connections: &C,
    connection_id: &str,
    shipment_id: &str,
    now: DateTime<Utc>,
) -> Result<ApiGatewayProxyResponse, Transient> {
    let rows = connections.rows_of(connection_id).await?;
    let wanted = subscription_sort_key(shipment_id);
    let others = rows
        .iter()
        .filter(|sk| sk.starts_with(SUBSCRIPTION_PREFIX) && **sk != wanted)
        .count();
    if others >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
        return Ok(json_response(
            400,
            &json!({"type": "error", "message": format!(
                "a connection may follow at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} shipments; unsubscribe from one first"
            )}),
        ));
    }
    connections
        .put_row(&subscription_row(connection_id, shipment_id, now))
        .await?;
    Ok(json_response(
        200,
        &json!({"type": "subscribed", "shipmentId": shipment_id}),
    ))
}
