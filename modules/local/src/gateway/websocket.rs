//! The WebSocket front door (`$connect`, routed messages, `$disconnect`) and the
//! `@connections` management API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::deployed::WebSocketApi;
use crate::lambda::Outcome;

use super::http::{
    api_error, error_reply, header_maps, new_id, now_epoch_ms, query_maps, request_time, uuid_like,
};
use super::signing::sigv4_access_key;
use super::Functions;

/// One `@connections` post the management API received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub connection_id: String,
    pub data: String,
    /// 200 (delivered to the socket) or 410 (gone).
    pub status: u16,
}

struct Connection {
    sender: mpsc::UnboundedSender<Message>,
    connected_at: i64,
    source_ip: String,
    user_agent: Option<String>,
    stale: bool,
}

/// The WebSocket side: live connections and what the management API did.
pub struct WsHub {
    api: WebSocketApi,
    functions: Functions,
    connections: Mutex<HashMap<String, Connection>>,
    order: Mutex<Vec<String>>,
    posts: Mutex<Vec<Post>>,
    counter: AtomicU64,
}

impl WsHub {
    pub fn new(api: WebSocketApi, functions: Functions) -> Arc<WsHub> {
        Arc::new(WsHub {
            api,
            functions,
            connections: Mutex::new(HashMap::new()),
            order: Mutex::new(Vec::new()),
            posts: Mutex::new(Vec::new()),
            counter: AtomicU64::new(1),
        })
    }

    pub fn stage(&self) -> &str {
        &self.api.stage
    }

    /// Connection ids in the order they connected (closed ones included).
    pub fn connection_ids(&self) -> Vec<String> {
        self.order.lock().unwrap().clone()
    }

    /// From now on the management API answers 410 Gone for this connection, as API Gateway
    /// does for a connection it has dropped (the socket itself is left alone).
    pub fn mark_stale(&self, connection_id: &str) {
        if let Some(c) = self.connections.lock().unwrap().get_mut(connection_id) {
            c.stale = true;
        }
    }

    /// Every `@connections` post so far.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The router: the WebSocket at `/<stage>`, the management API under it.
    pub fn app(self: &Arc<Self>) -> Router {
        let stage = self.api.stage.clone();
        Router::new()
            .route(&format!("/{stage}"), any(upgrade))
            .route(
                &format!("/{stage}/@connections/{{id}}"),
                post(post_to_connection)
                    .get(get_connection)
                    .delete(delete_connection),
            )
            .with_state(self.clone())
    }

    fn route_for(&self, body: &str) -> String {
        let selected = self
            .api
            .route_selection_expression
            .strip_prefix("$request.body.")
            .and_then(|path| {
                let value: Value = serde_json::from_str(body).ok()?;
                let mut at = &value;
                for part in path.split('.') {
                    at = at.get(part)?;
                }
                at.as_str().map(str::to_owned)
            });
        match selected {
            Some(key) if self.api.routes.contains_key(&key) => key,
            _ => "$default".to_owned(),
        }
    }

    fn event(
        &self,
        route_key: &str,
        event_type: &str,
        connection_id: &str,
        connected_at: i64,
        body: Option<&str>,
        extra: Value,
    ) -> Value {
        let epoch = now_epoch_ms();
        let mut context = json!({
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": format!("{}=", uuid_like(&self.counter)),
            "requestTime": request_time(epoch),
            "messageDirection": "IN",
            "stage": self.api.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": epoch,
            "identity": {"sourceIp": extra["sourceIp"].clone(), "userAgent": extra["userAgent"].clone()},
            "requestId": uuid_like(&self.counter),
            "domainName": format!("{}.execute-api.{}.amazonaws.com", self.api.api_id, crate::sdk_clients::REGION),
            "connectionId": connection_id,
            "apiId": self.api.api_id,
        });
        if event_type == "MESSAGE" {
            context["messageId"] = json!(uuid_like(&self.counter));
        }
        if event_type == "DISCONNECT" {
            context["disconnectStatusCode"] = extra["disconnectStatusCode"].clone();
            context["disconnectReason"] = extra["disconnectReason"].clone();
        }
        let mut event = json!({
            "requestContext": context,
            "isBase64Encoded": false,
        });
        if let Some(body) = body {
            event["body"] = json!(body);
        }
        if event_type != "MESSAGE" {
            event["headers"] = extra["headers"].clone();
            event["multiValueHeaders"] = extra["multiValueHeaders"].clone();
        }
        if event_type == "CONNECT" {
            event["queryStringParameters"] = extra["queryStringParameters"].clone();
            event["multiValueQueryStringParameters"] =
                extra["multiValueQueryStringParameters"].clone();
        }
        // Checked against the typed shape the function deserializes.
        serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(event.clone())
            .and_then(serde_json::to_value)
            .unwrap_or(event)
    }

    async fn invoke_route(&self, route_key: &str, event: Value) -> Option<Outcome> {
        let route = self.api.routes.get(route_key)?;
        let function = self.functions.get(&route.function)?;
        Some(function.invoke(event).await.outcome)
    }
}

fn status_of(outcome: &Outcome) -> u16 {
    match outcome {
        Outcome::Response(answer) => answer
            .get("statusCode")
            .and_then(Value::as_u64)
            .unwrap_or(200) as u16,
        _ => 502,
    }
}

fn body_of(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Response(answer) => answer
            .get("body")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => Some(json!({"message": "Internal server error"}).to_string()),
    }
}

async fn upgrade(
    State(hub): State<Arc<WsHub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    method: Method,
    uri: axum::http::Uri,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Some(ws) = ws.ok().filter(|_| method == Method::GET) else {
        return (StatusCode::BAD_REQUEST, "expected a WebSocket upgrade").into_response();
    };
    let query = uri.query().unwrap_or_default().to_owned();
    if hub
        .api
        .routes
        .get("$connect")
        .is_some_and(|r| r.authorization == "AWS_IAM")
        && sigv4_access_key(&headers, &query).is_none()
    {
        return api_error(StatusCode::FORBIDDEN, "Forbidden", "ForbiddenException");
    }
    let connection_id = new_id(&hub.counter);
    let connected_at = now_epoch_ms();
    let (h, mh) = header_maps(&headers);
    let (qs, mqs) = query_maps(&query);
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let extra = json!({
        "sourceIp": peer.ip().to_string(), "userAgent": user_agent,
        "headers": h, "multiValueHeaders": mh,
        "queryStringParameters": qs, "multiValueQueryStringParameters": mqs,
    });
    if hub.api.routes.contains_key("$connect") {
        let event = hub.event(
            "$connect",
            "CONNECT",
            &connection_id,
            connected_at,
            None,
            extra.clone(),
        );
        let outcome = hub.invoke_route("$connect", event).await;
        let status = outcome.as_ref().map(status_of).unwrap_or(502);
        if !(200..300).contains(&status) {
            return (
                StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
                "connection refused by $connect",
            )
                .into_response();
        }
    }
    let (sender, receiver) = mpsc::unbounded_channel();
    hub.connections.lock().unwrap().insert(
        connection_id.clone(),
        Connection {
            sender,
            connected_at,
            source_ip: peer.ip().to_string(),
            user_agent,
            stale: false,
        },
    );
    hub.order.lock().unwrap().push(connection_id.clone());
    ws.on_upgrade(move |socket| session(hub, socket, connection_id, connected_at, receiver, extra))
}

async fn session(
    hub: Arc<WsHub>,
    socket: WebSocket,
    connection_id: String,
    connected_at: i64,
    mut outgoing: mpsc::UnboundedReceiver<Message>,
    extra: Value,
) {
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let close = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || close {
                break;
            }
        }
    });
    let mut close_code = 1005u16;
    let mut close_reason = String::new();
    while let Some(Ok(message)) = stream.next().await {
        let body = match message {
            Message::Text(text) => text.to_string(),
            Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Message::Close(frame) => {
                if let Some(frame) = frame {
                    close_code = frame.code;
                    close_reason = frame.reason.to_string();
                }
                break;
            }
            _ => continue,
        };
        let route_key = hub.route_for(&body);
        let event = hub.event(
            &route_key,
            "MESSAGE",
            &connection_id,
            connected_at,
            Some(&body),
            extra.clone(),
        );
        let Some(outcome) = hub.invoke_route(&route_key, event).await else {
            continue;
        };
        let has_response = hub
            .api
            .routes
            .get(&route_key)
            .is_some_and(|r| r.has_route_response);
        if has_response {
            if let Some(reply) = body_of(&outcome) {
                let sender = hub
                    .connections
                    .lock()
                    .unwrap()
                    .get(&connection_id)
                    .map(|c| c.sender.clone());
                if let Some(sender) = sender {
                    let _ = sender.send(Message::Text(reply.into()));
                }
            }
        }
    }
    hub.connections.lock().unwrap().remove(&connection_id);
    writer.abort();
    if hub.api.routes.contains_key("$disconnect") {
        let mut extra = extra;
        extra["disconnectStatusCode"] = json!(close_code);
        extra["disconnectReason"] = json!(close_reason);
        let event = hub.event(
            "$disconnect",
            "DISCONNECT",
            &connection_id,
            connected_at,
            None,
            extra,
        );
        let _ = hub.invoke_route("$disconnect", event).await;
    }
}

fn gone() -> Response {
    error_reply(StatusCode::GONE, None, "GoneException")
}

async fn post_to_connection(
    State(hub): State<Arc<WsHub>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let data = String::from_utf8_lossy(&body).into_owned();
    let sender = {
        let connections = hub.connections.lock().unwrap();
        connections
            .get(&id)
            .filter(|c| !c.stale)
            .map(|c| c.sender.clone())
    };
    let delivered = sender.is_some_and(|s| s.send(Message::Text(data.clone().into())).is_ok());
    let status = if delivered { 200 } else { 410 };
    hub.posts.lock().unwrap().push(Post {
        connection_id: id,
        data,
        status,
    });
    if delivered {
        StatusCode::OK.into_response()
    } else {
        gone()
    }
}

async fn get_connection(State(hub): State<Arc<WsHub>>, Path(id): Path<String>) -> Response {
    let connections = hub.connections.lock().unwrap();
    match connections.get(&id).filter(|c| !c.stale) {
        Some(c) => axum::Json(json!({
            "connectedAt": chrono::DateTime::from_timestamp_millis(c.connected_at).unwrap_or_default().to_rfc3339(),
            "identity": {"sourceIp": c.source_ip, "userAgent": c.user_agent},
            "lastActiveAt": chrono::Utc::now().to_rfc3339(),
        }))
        .into_response(),
        None => gone(),
    }
}

async fn delete_connection(State(hub): State<Arc<WsHub>>, Path(id): Path<String>) -> Response {
    let sender = hub
        .connections
        .lock()
        .unwrap()
        .get(&id)
        .map(|c| c.sender.clone());
    match sender {
        Some(sender) => {
            let _ = sender.send(Message::Close(None));
            StatusCode::NO_CONTENT.into_response()
        }
        None => gone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployed::WsRoute;

    fn hub() -> Arc<WsHub> {
        let route = |f: &str| WsRoute {
            function: f.into(),
            authorization: "NONE".into(),
            has_route_response: false,
        };
        WsHub::new(
            WebSocketApi {
                api_id: "abc".into(),
                stage: "local".into(),
                route_selection_expression: "$request.body.action".into(),
                routes: [
                    ("$connect", route("f")),
                    ("$default", route("f")),
                    ("subscribe", route("f")),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            },
            Functions::new(),
        )
    }

    #[test]
    fn messages_are_routed_by_the_selection_expression() {
        let hub = hub();
        assert_eq!(hub.route_for(r#"{"action":"subscribe"}"#), "subscribe");
        assert_eq!(hub.route_for(r#"{"action":"unsubscribe"}"#), "$default");
        assert_eq!(hub.route_for("not json"), "$default");
    }

    #[test]
    fn websocket_events_have_the_typed_shape() {
        let hub = hub();
        let extra = json!({"sourceIp": "127.0.0.1", "userAgent": "t", "headers": {}, "multiValueHeaders": {}, "queryStringParameters": null, "multiValueQueryStringParameters": null});
        let event = hub.event("$default", "MESSAGE", "conn-1", 1, Some("{}"), extra);
        let typed: ApiGatewayWebsocketProxyRequest = serde_json::from_value(event).unwrap();
        assert_eq!(
            typed.request_context.connection_id.as_deref(),
            Some("conn-1")
        );
        assert_eq!(typed.request_context.route_key.as_deref(), Some("$default"));
    }
}
