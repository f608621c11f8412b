//! The contract of `aws::websocket`: a WebSocket API routed to one function.

mod kit;

use std::sync::LazyLock;

use aws::apigateway::Throttling;
use aws::websocket::WebSocketApi;
use kit::{allow, assert_statements, function, granted, key, key_named, render, Rendered};
use serde_json::json;

fn api(handler: aws::lambda::FunctionRef, key: aws::kms::KeyRef) -> WebSocketApi {
    WebSocketApi {
        name: "ws".into(),
        description: "updates".into(),
        stage: "live".into(),
        authorization: "AWS_IAM",
        handler,
        throttling: Throttling {
            rate_per_s: 10,
            burst: 20,
        },
        log_retention_days: 14,
        key,
        account_logging: None,
    }
}

static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let worker = stack.add(function(&key, None));
    stack.add(api(worker, key));
    render(stack)
});

#[test]
fn a_websocket_api_routes_on_the_action_of_the_body() {
    FIXTURE.has_properties(
        "aws_apigatewayv2_api",
        "ws",
        json!({
            "name": "shipstack-test-ws",
            "protocol_type": "WEBSOCKET",
            "route_selection_expression": "$request.body.action",
        }),
    );
    FIXTURE.has_properties(
        "aws_apigatewayv2_integration",
        "ws",
        json!({
            "integration_type": "AWS_PROXY",
            "integration_method": "POST",
            "integration_uri": "${aws_lambda_function.worker.invoke_arn}",
        }),
    );
}

#[test]
fn only_connect_is_authorized_and_only_default_replies() {
    for (route, key, authorized, replies) in [
        ("ws_connect", "$connect", true, false),
        ("ws_disconnect", "$disconnect", false, false),
        ("ws_default", "$default", false, true),
    ] {
        let body = FIXTURE.resource("aws_apigatewayv2_route", route);
        kit::assert_subset(
            body,
            json!({"route_key": key, "target": "integrations/${aws_apigatewayv2_integration.ws.id}"}),
        );
        assert_eq!(
            body.get("authorization_type"),
            authorized.then_some(&json!("AWS_IAM")),
            "{route}"
        );
        assert_eq!(
            body.get("route_response_selection_expression").is_some(),
            replies,
            "{route}"
        );
        assert_eq!(
            FIXTURE.has("aws_apigatewayv2_route_response", route),
            replies,
            "{route}"
        );
    }
}

#[test]
fn the_stage_deploys_itself_throttles_and_logs_access_to_its_own_log_group() {
    FIXTURE.has_properties(
        "aws_apigatewayv2_stage",
        "ws",
        json!({
            "name": "live",
            "auto_deploy": true,
            "default_route_settings": [{"throttling_rate_limit": 10, "throttling_burst_limit": 20}],
            "access_log_settings": [{"destination_arn": "${aws_cloudwatch_log_group.ws_access.arn}"}],
        }),
    );
    FIXTURE.has_properties(
        "aws_cloudwatch_log_group",
        "ws_access",
        json!({"name": "/aws/apigateway/shipstack-test-ws", "retention_in_days": 14}),
    );
    assert!(FIXTURE
        .resource("aws_apigatewayv2_stage", "ws")
        .get("depends_on")
        .is_none());
}

#[test]
fn only_this_api_may_invoke_the_handler() {
    FIXTURE.has_properties(
        "aws_lambda_permission",
        "worker_from_ws",
        json!({
            "principal": "apigateway.amazonaws.com",
            "source_arn": "${aws_apigatewayv2_api.ws.execution_arn}/*",
        }),
    );
}

#[test]
fn grant_manage_connections_allows_posting_to_this_stages_connections_only() {
    let added = granted(|stack, worker| {
        let key = key_named(stack, "ws");
        let api = stack.add(api(worker.clone(), key));
        api.grant_manage_connections(stack, worker);
    });
    assert_statements(
        added,
        vec![allow(
            &["execute-api:ManageConnections"],
            &["${aws_apigatewayv2_api.ws.execution_arn}/live/POST/@connections/*"],
        )],
    );
}
