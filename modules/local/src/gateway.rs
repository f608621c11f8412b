//! API Gateway's front doors, routed as deployed (see [`crate::deployed`]):
//!
//! - REST: `http://127.0.0.1:<rest port>/<stage><resource path>`; each method integrated
//!   with a function (`AWS_PROXY`) gets the REST proxy event (`ApiGatewayProxyRequest`); the
//!   method's request validator and `application/json` model are applied first (400
//!   `Invalid request body`, as API Gateway answers); a method with `AWS_IAM` authorization
//!   needs a SigV4 `Authorization` header (403 `Missing Authentication Token` otherwise).
//!   **The signature is not verified**: the emulator has no real credentials to check it
//!   against.
//! - WebSocket: `ws://127.0.0.1:<ws port>/<stage>`; `$connect` runs before the upgrade is
//!   accepted (a non-2xx answer refuses it), messages are routed by the API's route
//!   selection expression (`$request.body.action`) to their route or `$default`, and
//!   `$disconnect` runs when the socket closes. An integration's reply goes back to the
//!   client only when the route has a route response, as in API Gateway.
//! - The `@connections` management API on the WebSocket port
//!   (`http://127.0.0.1:<ws port>/<stage>/@connections/{id}`): `POST` sends to a live
//!   connection (200) or answers 410 `GoneException` for closed ones and ones marked stale
//!   with [`WsHub::mark_stale`]; every post is recorded for assertions.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Result;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayWebsocketProxyRequest};
use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::aws::ACCOUNT;
use crate::deployed::{RestRoute, WebSocketApi};
use crate::lambda::{Function, Outcome};

/// Functions by deployed name.
pub type Functions = BTreeMap<String, Arc<Function>>;

fn now_epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

fn request_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}

/// A connection id shaped like API Gateway's (`L0SM9cOFvHcCIhw=`: 16 base64 characters).
fn new_id(counter: &AtomicU64) -> String {
    let n = counter.fetch_add(1, Ordering::Relaxed) as u32;
    let t = now_epoch_ms() as u64;
    let mut bytes = [0u8; 11];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    bytes[4..].copy_from_slice(&t.to_be_bytes()[1..]);
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .replace('/', "_")
        .replace('+', "-")
}

/// A SigV4 `Authorization` header (or presigned query): present, not verified.
fn sigv4_access_key(headers: &HeaderMap, query: &str) -> Option<String> {
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
        let credential = rest.split("Credential=").nth(1)?;
        return credential.split('/').next().map(str::to_owned);
    }
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("X-Amz-Credential="))
        .and_then(|c| c.split("%2F").next().or_else(|| c.split('/').next()))
        .map(str::to_owned)
}

fn header_maps(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    single_and_multi(headers.iter().map(|(name, value)| {
        (
            name.as_str().to_owned(),
            value.to_str().unwrap_or_default().to_owned(),
        )
    }))
}

/// API Gateway's pair of maps: the last value per name, and every value per name.
fn single_and_multi(
    pairs: impl Iterator<Item = (String, String)>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        single.insert(name.clone(), json!(value));
        if let Some(values) = multi
            .entry(name)
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            values.push(json!(value));
        }
    }
    (single, multi)
}

fn query_maps(query: &str) -> (Value, Value) {
    if query.is_empty() {
        return (Value::Null, Value::Null);
    }
    let (single, multi) =
        single_and_multi(query.split('&').filter(|p| !p.is_empty()).map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        }));
    (Value::Object(single), Value::Object(multi))
}

fn api_error(status: StatusCode, message: &str, kind: &str) -> Response {
    let mut response = (status, axum::Json(json!({"message": message}))).into_response();
    if let Ok(kind) = kind.parse() {
        response.headers_mut().insert("x-amzn-errortype", kind);
    }
    response
}

// ---------------------------------------------------------------- REST

struct RestState {
    routes: Vec<(RestRoute, Option<jsonschema::Validator>)>,
    functions: Functions,
    counter: AtomicU64,
}

/// Serves the REST routes on `listener`.
pub fn rest_app(routes: Vec<RestRoute>, functions: Functions) -> Result<Router> {
    let mut compiled = Vec::new();
    for route in routes {
        let validator =
            match &route.body_schema {
                Some(schema) => Some(jsonschema::validator_for(schema).map_err(|e| {
                    anyhow::anyhow!("model of {} {}: {e}", route.method, route.path)
                })?),
                None => None,
            };
        compiled.push((route, validator));
    }
    let state = Arc::new(RestState {
        routes: compiled,
        functions,
        counter: AtomicU64::new(1),
    });
    Ok(Router::new().fallback(rest).with_state(state))
}

async fn rest(State(state): State<Arc<RestState>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let peer = ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, &())
        .await
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into());
    let Ok(body) = axum::body::to_bytes(body, 10 * 1024 * 1024).await else {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Too Long",
            "RequestTooLongException",
        );
    };
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let found = state.routes.iter().find(|(route, _)| {
        route.method.eq_ignore_ascii_case(parts.method.as_str())
            && path.trim_end_matches('/') == format!("/{}{}", route.stage, route.path)
    });
    let Some((route, validator)) = found else {
        return api_error(
            StatusCode::FORBIDDEN,
            "Missing Authentication Token",
            "MissingAuthenticationTokenException",
        );
    };
    let access_key = sigv4_access_key(&parts.headers, &query);
    if route.authorization == "AWS_IAM" && access_key.is_none() {
        return api_error(
            StatusCode::FORBIDDEN,
            "Missing Authentication Token",
            "MissingAuthenticationTokenException",
        );
    }
    if let Some(validator) = validator {
        let json_body = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.starts_with("application/json"));
        if json_body {
            let valid = serde_json::from_slice::<Value>(&body)
                .map(|value| validator.is_valid(&value))
                .unwrap_or(false);
            if !valid {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid request body",
                    "BadRequestException",
                );
            }
        }
    }
    let Some(function) = state.functions.get(&route.function) else {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            "InternalServerErrorException",
        );
    };
    let epoch = now_epoch_ms();
    let request_id = uuid_like(&state.counter);
    let (headers, multi_headers) = header_maps(&parts.headers);
    let (qs, multi_qs) = query_maps(&query);
    let (text, base64_encoded) = match std::str::from_utf8(&body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&body),
            true,
        ),
    };
    let user_agent = parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok());
    let event = json!({
        "resource": route.path,
        "path": route.path,
        "httpMethod": route.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": qs,
        "multiValueQueryStringParameters": multi_qs,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourceId": route.resource_id,
            "resourcePath": route.path,
            "httpMethod": route.method,
            "extendedRequestId": format!("{request_id}="),
            "requestTime": request_time(epoch),
            "path": format!("/{}{}", route.stage, route.path),
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": route.stage,
            "domainPrefix": route.api_id,
            "requestTimeEpoch": epoch,
            "requestId": request_id,
            "identity": {
                "sourceIp": peer,
                "userAgent": user_agent,
                "accessKey": access_key,
                "accountId": access_key.as_ref().map(|_| ACCOUNT),
                "caller": access_key,
                "user": access_key,
                "userArn": access_key.as_ref().map(|k| format!("arn:aws:iam::{ACCOUNT}:user/{k}")),
            },
            "domainName": format!("{}.execute-api.{}.amazonaws.com", route.api_id, crate::aws::REGION),
            "apiId": route.api_id,
        },
        "body": if body.is_empty() { Value::Null } else { json!(text) },
        "isBase64Encoded": base64_encoded,
    });
    // The event is checked against the typed shape the functions deserialize.
    let event = match serde_json::from_value::<ApiGatewayProxyRequest>(event)
        .and_then(serde_json::to_value)
    {
        Ok(event) => event,
        Err(error) => {
            eprintln!("[rest] could not build the proxy event: {error}");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "InternalServerErrorException",
            );
        }
    };
    let invocation = function.invoke(event).await;
    let mut response = proxy_response(&invocation.outcome);
    if let Ok(id) = request_id.parse() {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

fn uuid_like(counter: &AtomicU64) -> String {
    let n = counter.fetch_add(1, Ordering::Relaxed);
    let t = now_epoch_ms() as u64;
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        (t >> 16) as u32,
        t as u16,
        (n >> 12) & 0xfff,
        n & 0xfff,
        n
    )
}

/// A Lambda proxy integration's answer as the HTTP response API Gateway gives.
fn proxy_response(outcome: &Outcome) -> Response {
    let Outcome::Response(answer) = outcome else {
        return api_error(
            StatusCode::BAD_GATEWAY,
            "Internal server error",
            "InternalServerErrorException",
        );
    };
    let Some(status) = answer
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
    else {
        return api_error(
            StatusCode::BAD_GATEWAY,
            "Internal server error",
            "InternalServerErrorException",
        );
    };
    let body = match answer.get("body") {
        Some(Value::String(text)) if answer.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_default()
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        _ => Vec::new(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in answer
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let (Ok(name), Some(Ok(value))) = (
            name.parse::<axum::http::HeaderName>(),
            value.as_str().map(|v| v.parse::<axum::http::HeaderValue>()),
        ) {
            headers.insert(name, value);
        }
    }
    for (name, values) in answer
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for value in values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let (Ok(name), Ok(value)) = (
                name.parse::<axum::http::HeaderName>(),
                value.parse::<axum::http::HeaderValue>(),
            ) {
                headers.append(name, value);
            }
        }
    }
    response
}

// ---------------------------------------------------------------- WebSocket

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
            "domainName": format!("{}.execute-api.{}.amazonaws.com", self.api.api_id, crate::aws::REGION),
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
    let mut response = (StatusCode::GONE, axum::Json(json!({"message": null}))).into_response();
    response
        .headers_mut()
        .insert("x-amzn-errortype", "GoneException".parse().expect("static"));
    response
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

    #[test]
    fn iam_routes_need_a_sigv4_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(sigv4_access_key(&headers, ""), None);
        headers.insert(
            "authorization",
            crate::faults::fake_authorization("execute-api")
                .parse()
                .unwrap(),
        );
        assert_eq!(sigv4_access_key(&headers, "").as_deref(), Some("test"));
    }
}
