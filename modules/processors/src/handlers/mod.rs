//! One module per function; each exposes a plain async `handle` that the binary's `main`
//! wires to `lambda_runtime` and the tests call directly.

pub mod daily_summary;
pub mod event_processor;
pub mod ingest_api;
pub mod queue_processor;
pub mod stream_fanout;
pub mod websocket_handler;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::ApiGatewayProxyResponse;
use http::header::{HeaderValue, CONTENT_TYPE};
use serde_json::Value;

/// An API Gateway proxy answer with a JSON body (REST and WebSocket routes alike).
fn json_response(status: i64, body: &Value) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(body.to_string()));
    response
}
