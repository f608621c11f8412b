//! API Gateway REST: a regional API whose routes proxy to Lambda functions, deployed to a stage
//! with X-Ray tracing, JSON access logs and throttling.

use tf::{Block, Expr, Lifecycle, Resource, Tf};

use crate::cloudwatch::{LogGroup, Metric};
use crate::iam::{assume_role_policy, Service, Statement};
use crate::kms::KeyRef;
use crate::lambda::FunctionRef;
use crate::{Component, Stack};

/// The account-level role API Gateway writes access logs with. It is one setting per account
/// and region (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigateway-account.html:
/// "only have one AWS::ApiGateway::Account resource per region per account"), so exactly one
/// environment of an account renders it; REST and WebSocket stages with logging need it set.
#[derive(Clone, Debug)]
pub struct AccountLogging {
    pub name: String,
}

impl Component for AccountLogging {
    type Handle = Resource;

    fn add_to(self, stack: &mut Stack) -> Resource {
        let role_body = Block::new()
            // IAM role names: at most 64 characters (IAM quotas).
            .set(
                "name",
                stack.physical_name_within(&self.name, "IAM role", 64),
            )
            .set(
                "assume_role_policy",
                assume_role_policy(Service::ApiGateway),
            );
        let role = stack.doc().resource("aws_iam_role", &self.name, role_body);
        // What AWS's AmazonAPIGatewayPushToCloudWatchLogs grants, scoped to this account's log
        // groups in this region.
        let log_groups = stack.arn("logs", "log-group:*");
        let grant = stack.grant_role(
            &role,
            Statement::allow(
                &[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams",
                    "logs:FilterLogEvents",
                    "logs:GetLogEvents",
                    "logs:PutLogEvents",
                ],
                [log_groups],
            ),
        );
        // UpdateAccount checks the role's permissions: its policy must exist first.
        stack.doc().resource(
            "aws_api_gateway_account",
            &self.name,
            Block::new()
                .set("cloudwatch_role_arn", role.attr("arn"))
                .depends_on([grant.policy()]),
        )
    }
}

/// One route: `<method> /<path>` proxied to a function.
#[derive(Clone, Debug)]
pub struct Route {
    pub path: &'static str,
    pub method: &'static str,
    pub function: FunctionRef,
    /// A JSON Schema (draft 4) API Gateway checks the body against before invoking the
    /// function: malformed requests are refused at the edge.
    pub body_model: (&'static str, serde_json::Value),
}

/// Stage throttling.
#[derive(Clone, Copy, Debug)]
pub struct Throttling {
    pub rate_per_s: u32,
    pub burst: u32,
}

#[derive(Clone, Debug)]
pub struct RestApi {
    pub name: String,
    pub description: String,
    pub stage: String,
    /// `AWS_IAM` (SigV4-signed callers) or `NONE`.
    pub authorization: &'static str,
    pub routes: Vec<Route>,
    pub throttling: Throttling,
    pub log_retention_days: u32,
    pub key: KeyRef,
    /// The account's API Gateway logging settings, when this stack renders them (stages wait
    /// for them); `None` where another environment of the account owns them.
    pub account_logging: Option<Resource>,
}

#[derive(Clone, Debug)]
pub struct RestApiRef {
    stage: Resource,
    physical_name: String,
    stage_name: String,
}

impl RestApiRef {
    /// The stage's base URL (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`).
    pub fn url(&self) -> Expr {
        self.stage.attr("invoke_url")
    }

    /// Requests answered with a 5xx (the function's designed 500s and API Gateway's own).
    pub fn metric_server_errors(&self) -> Metric {
        // https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html:
        // a REST stage publishes by ApiName and Stage.
        Metric::new(
            "AWS/ApiGateway",
            "5XXError",
            vec![
                ("ApiName", Tf::from(self.physical_name.as_str())),
                ("Stage", Tf::from(self.stage_name.as_str())),
            ],
        )
    }
}

/// A stage's `access_log_settings`: an encrypted log group of its own and one JSON line per
/// request with `fields` (name, `$context` variable).
pub(crate) struct AccessLogs<'a> {
    pub api: &'a str,
    pub physical_name: &'a str,
    pub retention_days: u32,
    pub key: KeyRef,
    pub fields: &'a [(&'a str, &'a str)],
}

impl AccessLogs<'_> {
    pub(crate) fn settings(self, stack: &mut Stack) -> Block {
        let group = stack.add(LogGroup {
            name: format!("{}_access", self.api),
            path: format!("/aws/apigateway/{}", self.physical_name),
            retention_days: self.retention_days,
            key: self.key,
        });
        let format = Tf::json(Tf::object(
            self.fields.iter().map(|(k, v)| (*k, Tf::from(*v))),
        ));
        Block::new()
            .set("destination_arn", group.attr("arn"))
            .set("format", format)
    }
}

impl Component for RestApi {
    type Handle = RestApiRef;

    fn add_to(self, stack: &mut Stack) -> RestApiRef {
        let physical_name = stack.physical_name(&self.name);
        let api = stack.doc().resource(
            "aws_api_gateway_rest_api",
            &self.name,
            Block::new()
                .set("name", physical_name.clone())
                .set("description", self.description)
                .block(
                    "endpoint_configuration",
                    Block::new().set("types", Tf::list(["REGIONAL"])),
                )
                .lifecycle(Lifecycle {
                    create_before_destroy: true,
                    ..Default::default()
                }),
        );
        let validator = stack.doc().resource(
            "aws_api_gateway_request_validator",
            &self.name,
            Block::new()
                .set("name", "body")
                .set("rest_api_id", api.attr("id"))
                .set("validate_request_body", true)
                .set("validate_request_parameters", false),
        );
        let mut redeploy_on = Vec::new();
        for route in &self.routes {
            let logical = format!("{}_{}", self.name, route.path.replace('/', "_"));
            let resource = stack.doc().resource(
                "aws_api_gateway_resource",
                &logical,
                Block::new()
                    .set("rest_api_id", api.attr("id"))
                    .set("parent_id", api.attr("root_resource_id"))
                    .set("path_part", route.path),
            );
            let method_name = format!("{logical}_{}", route.method.to_ascii_lowercase());
            let (model_name, model_schema) = &route.body_model;
            let model = stack.doc().resource(
                "aws_api_gateway_model",
                &method_name,
                Block::new()
                    .set("rest_api_id", api.attr("id"))
                    .set("name", *model_name)
                    .set("content_type", "application/json")
                    .set("schema", Tf::json(model_schema.clone())),
            );
            let method = stack.doc().resource(
                "aws_api_gateway_method",
                &method_name,
                Block::new()
                    .set("rest_api_id", api.attr("id"))
                    .set("resource_id", resource.attr("id"))
                    .set("http_method", route.method)
                    .set("authorization", self.authorization)
                    .set("request_validator_id", validator.attr("id"))
                    .set(
                        "request_models",
                        Tf::object([("application/json", model.attr("name"))]),
                    ),
            );
            let integration = stack.doc().resource(
                "aws_api_gateway_integration",
                &method_name,
                Block::new()
                    .set("rest_api_id", api.attr("id"))
                    .set("resource_id", resource.attr("id"))
                    .set("http_method", method.attr("http_method"))
                    .set("type", "AWS_PROXY")
                    .set("integration_http_method", "POST")
                    .set("uri", route.function.invoke_arn()),
            );
            let source = Tf::template([
                api.attr("execution_arn").into(),
                Tf::from(format!("/*/{}/{}", route.method, route.path)),
            ]);
            route
                .function
                .allow_invoke(stack, &self.name, Service::ApiGateway, source);
            redeploy_on.extend([
                resource.attr("id"),
                method.attr("id"),
                integration.attr("id"),
                model.attr("id"),
            ]);
        }
        let deployment = stack.doc().resource(
            "aws_api_gateway_deployment",
            &self.name,
            Block::new()
                .set("rest_api_id", api.attr("id"))
                .set(
                    "triggers",
                    Tf::object([(
                        "redeployment",
                        Expr::call("sha1", [Tf::json(Tf::list(redeploy_on))]),
                    )]),
                )
                .lifecycle(Lifecycle {
                    create_before_destroy: true,
                    ..Default::default()
                }),
        );
        let access_logs = AccessLogs {
            api: &self.name,
            physical_name: &physical_name,
            retention_days: self.log_retention_days,
            key: self.key,
            fields: &[
                ("requestId", "$context.requestId"),
                ("ip", "$context.identity.sourceIp"),
                ("requestTime", "$context.requestTime"),
                ("httpMethod", "$context.httpMethod"),
                ("resourcePath", "$context.resourcePath"),
                ("status", "$context.status"),
                ("responseLength", "$context.responseLength"),
                ("integrationError", "$context.integrationErrorMessage"),
            ],
        }
        .settings(stack);
        let stage = stack.doc().resource(
            "aws_api_gateway_stage",
            &self.name,
            Block::new()
                .set("rest_api_id", api.attr("id"))
                .set("deployment_id", deployment.attr("id"))
                .set("stage_name", self.stage.as_str())
                .set("xray_tracing_enabled", true)
                .block("access_log_settings", access_logs)
                .depends_on(&self.account_logging),
        );
        stack.doc().resource(
            "aws_api_gateway_method_settings",
            &self.name,
            Block::new()
                .set("rest_api_id", api.attr("id"))
                .set("stage_name", stage.attr("stage_name"))
                .set("method_path", "*/*")
                .block(
                    "settings",
                    Block::new()
                        .set("metrics_enabled", true)
                        .set("logging_level", "ERROR")
                        .set("throttling_rate_limit", self.throttling.rate_per_s)
                        .set("throttling_burst_limit", self.throttling.burst),
                ),
        );
        RestApiRef {
            stage,
            physical_name,
            stage_name: self.stage,
        }
    }
}
