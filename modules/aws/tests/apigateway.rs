//! The contract of `aws::apigateway`: account logging and REST APIs proxied to functions.

mod kit;

use std::sync::LazyLock;

use aws::apigateway::{AccountLogging, RestApi, Route, Throttling};
use kit::{alarm, allow, arn, assert_statements, function, key, render, topic, Rendered};
use serde_json::json;

static FIXTURE: LazyLock<Rendered> = LazyLock::new(|| {
    let mut stack = kit::stack();
    let key = key(&mut stack);
    let logging = stack.add(AccountLogging {
        name: "apigateway_logging".into(),
    });
    let worker = stack.add(function(&key, None));
    let api = stack.add(RestApi {
        name: "api".into(),
        description: "shipments".into(),
        stage: "v1".into(),
        authorization: "AWS_IAM",
        routes: vec![Route {
            path: "shipments",
            method: "POST",
            function: worker,
            body_model: ("Shipment", json!({"type": "object", "required": ["id"]})),
        }],
        throttling: Throttling {
            rate_per_s: 50,
            burst: 100,
        },
        log_retention_days: 14,
        key: key.clone(),
        account_logging: Some(logging),
    });
    let alerts = topic(&mut stack, &key);
    stack.add(alarm("api_5xx", api.metric_server_errors(), &alerts));
    render(stack)
});

#[test]
fn account_logging_has_a_role_api_gateway_assumes_allowed_only_to_write_this_regions_logs() {
    FIXTURE.assert_role(
        "apigateway_logging",
        "shipstack-test-apigateway-logging",
        "apigateway.amazonaws.com",
    );
    assert_statements(
        FIXTURE.role_statements("apigateway_logging"),
        vec![allow(
            &[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:FilterLogEvents",
                "logs:GetLogEvents",
                "logs:PutLogEvents",
            ],
            &[&arn("logs", "log-group:*")],
        )],
    );
    FIXTURE.has_properties(
        "aws_api_gateway_account",
        "apigateway_logging",
        json!({"cloudwatch_role_arn": "${aws_iam_role.apigateway_logging.arn}"}),
    );
}

#[test]
fn a_rest_api_is_regional_and_replaced_before_it_is_destroyed() {
    for resource in ["aws_api_gateway_rest_api", "aws_api_gateway_deployment"] {
        FIXTURE.has_properties(
            resource,
            "api",
            json!({"lifecycle": {"create_before_destroy": true}}),
        );
    }
    FIXTURE.has_properties(
        "aws_api_gateway_rest_api",
        "api",
        json!({"name": "shipstack-test-api", "endpoint_configuration": [{"types": ["REGIONAL"]}]}),
    );
}

#[test]
fn a_route_checks_its_body_against_the_model_and_requires_the_authorization() {
    FIXTURE.has_properties(
        "aws_api_gateway_request_validator",
        "api",
        json!({"validate_request_body": true, "validate_request_parameters": false}),
    );
    let model = FIXTURE.resource("aws_api_gateway_model", "api_shipments_post");
    kit::assert_subset(
        model,
        json!({"name": "Shipment", "content_type": "application/json"}),
    );
    assert_eq!(
        kit::json_text(&model["schema"]),
        json!({"type": "object", "required": ["id"]})
    );
    FIXTURE.has_properties(
        "aws_api_gateway_method",
        "api_shipments_post",
        json!({
            "http_method": "POST",
            "authorization": "AWS_IAM",
            "request_validator_id": "${aws_api_gateway_request_validator.api.id}",
            "request_models": {"application/json": "${aws_api_gateway_model.api_shipments_post.name}"},
        }),
    );
}

#[test]
fn a_route_proxies_to_its_function_which_only_that_route_may_invoke() {
    FIXTURE.has_properties(
        "aws_api_gateway_integration",
        "api_shipments_post",
        json!({
            "type": "AWS_PROXY",
            "integration_http_method": "POST",
            "uri": "${aws_lambda_function.worker.invoke_arn}",
        }),
    );
    FIXTURE.has_properties(
        "aws_lambda_permission",
        "worker_from_api",
        json!({
            "principal": "apigateway.amazonaws.com",
            "source_arn": "${aws_api_gateway_rest_api.api.execution_arn}/*/POST/shipments",
        }),
    );
}

#[test]
fn the_deployment_is_redone_when_a_route_changes() {
    let triggers = &FIXTURE.resource("aws_api_gateway_deployment", "api")["triggers"];
    let redeployment = triggers["redeployment"].as_str().unwrap();
    for part in [
        "aws_api_gateway_resource.api_shipments.id",
        "aws_api_gateway_method.api_shipments_post.id",
        "aws_api_gateway_integration.api_shipments_post.id",
        "aws_api_gateway_model.api_shipments_post.id",
    ] {
        assert!(redeployment.contains(part), "{part}: {redeployment}");
    }
}

#[test]
fn the_stage_traces_logs_access_to_its_own_log_group_and_waits_for_account_logging() {
    FIXTURE.has_properties(
        "aws_api_gateway_stage",
        "api",
        json!({
            "stage_name": "v1",
            "xray_tracing_enabled": true,
            "access_log_settings": [{"destination_arn": "${aws_cloudwatch_log_group.api_access.arn}"}],
            "depends_on": ["aws_api_gateway_account.apigateway_logging"],
        }),
    );
    FIXTURE.has_properties(
        "aws_cloudwatch_log_group",
        "api_access",
        json!({
            "name": "/aws/apigateway/shipstack-test-api",
            "retention_in_days": 14,
            "kms_key_id": "${aws_kms_key.data.arn}",
        }),
    );
    let format = kit::json_text(
        &FIXTURE.resource("aws_api_gateway_stage", "api")["access_log_settings"][0]["format"],
    );
    kit::assert_subset(
        &format,
        json!({"requestId": "$context.requestId", "status": "$context.status"}),
    );
}

#[test]
fn every_method_is_throttled_measured_and_logs_errors() {
    FIXTURE.has_properties(
        "aws_api_gateway_method_settings",
        "api",
        json!({
            "method_path": "*/*",
            "stage_name": "${aws_api_gateway_stage.api.stage_name}",
            "settings": [{
                "metrics_enabled": true,
                "logging_level": "ERROR",
                "throttling_rate_limit": 50,
                "throttling_burst_limit": 100,
            }],
        }),
    );
}

#[test]
fn server_errors_are_measured_by_api_name_and_stage() {
    FIXTURE.has_properties(
        "aws_cloudwatch_metric_alarm",
        "api_5xx",
        json!({
            "namespace": "AWS/ApiGateway",
            "metric_name": "5XXError",
            "dimensions": {"ApiName": "shipstack-test-api", "Stage": "v1"},
        }),
    );
}
