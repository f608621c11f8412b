//! The REST front door: routes, request validation, `AWS_IAM` checks, the proxy event and
//! the integration's answer.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::Result;
use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use crate::deployed::RestRoute;
use crate::lambda::Outcome;
use crate::sdk_clients::ACCOUNT;

use super::http::{api_error, header_maps, now_epoch_ms, query_maps, request_time, uuid_like};
use super::signing::sigv4_access_key;
use super::Functions;

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
            "domainName": format!("{}.execute-api.{}.amazonaws.com", route.api_id, crate::sdk_clients::REGION),
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
