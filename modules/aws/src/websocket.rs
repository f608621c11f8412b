//! API Gateway v2 WebSocket: `$connect`, `$disconnect` and `$default` routed to one function,
//! a stage with access logs and throttling, and the management API grant for pushing updates.

use tf::{Block, Expr, Resource, Tf};

use crate::apigateway::{AccessLogs, Throttling};
use crate::iam::{Grant, Grantee, Service, Statement};
use crate::kms::KeyRef;
use crate::lambda::FunctionRef;
use crate::{Component, Stack};

#[derive(Clone, Debug)]
pub struct WebSocketApi {
    pub name: String,
    pub description: String,
    pub stage: String,
    /// Who may connect (`AWS_IAM` or `NONE`); AWS authorises `$connect` only.
    pub authorization: &'static str,
    /// Handles `$connect`, `$disconnect` and `$default`.
    pub handler: FunctionRef,
    pub throttling: Throttling,
    pub log_retention_days: u32,
    pub key: KeyRef,
    /// The account's API Gateway logging settings, when this stack renders them (stages wait
    /// for them); `None` where another environment of the account owns them.
    pub account_logging: Option<Resource>,
}

#[derive(Clone, Debug)]
pub struct WebSocketApiRef {
    api: Resource,
    stage: Resource,
    stage_name: String,
    region: String,
}

impl WebSocketApiRef {
    /// `wss://...`: where clients connect.
    pub fn url(&self) -> Expr {
        self.stage.attr("invoke_url")
    }

    /// `https://<id>.execute-api.<region>.amazonaws.com/<stage>`: where a backend posts to
    /// connections.
    pub fn management_endpoint(&self) -> Tf {
        Tf::template([
            Tf::from("https://"),
            self.api.attr("id").into(),
            Tf::from(format!(
                ".execute-api.{}.amazonaws.com/{}",
                self.region, self.stage_name
            )),
        ])
    }

    /// Posting to (and so pushing updates over) this stage's connections.
    pub fn grant_manage_connections(&self, stack: &mut Stack, to: &impl Grantee) -> Grant {
        let connections = Tf::template([
            self.api.attr("execution_arn").into(),
            Tf::from(format!("/{}/POST/@connections/*", self.stage_name)),
        ]);
        to.grant(
            stack,
            Statement::allow(&["execute-api:ManageConnections"], [connections]),
        )
    }
}

impl Component for WebSocketApi {
    type Handle = WebSocketApiRef;

    fn add_to(self, stack: &mut Stack) -> WebSocketApiRef {
        let physical_name = stack.physical_name(&self.name);
        let api = stack.doc().resource(
            "aws_apigatewayv2_api",
            &self.name,
            Block::new()
                .set("name", physical_name.clone())
                .set("description", self.description)
                .set("protocol_type", "WEBSOCKET")
                .set("route_selection_expression", "$request.body.action"),
        );
        let integration = stack.doc().resource(
            "aws_apigatewayv2_integration",
            &self.name,
            Block::new()
                .set("api_id", api.attr("id"))
                .set("integration_type", "AWS_PROXY")
                .set("integration_method", "POST")
                .set("integration_uri", self.handler.invoke_arn()),
        );
        let target = Tf::template([Tf::from("integrations/"), integration.attr("id").into()]);
        for (route, suffix) in [
            ("$connect", "connect"),
            ("$disconnect", "disconnect"),
            ("$default", "default"),
        ] {
            let authorization = (route == "$connect").then_some(self.authorization);
            // `$default` answers the client (subscribe acknowledgements, error replies): API
            // Gateway only relays a function's reply to a route that has a route response.
            let replies = route == "$default";
            let name = format!("{}_{suffix}", self.name);
            let route_resource = stack.doc().resource(
                "aws_apigatewayv2_route",
                &name,
                Block::new()
                    .set("api_id", api.attr("id"))
                    .set("route_key", route)
                    .set("target", target.clone())
                    .set_opt("authorization_type", authorization)
                    .set_opt(
                        "route_response_selection_expression",
                        replies.then_some("$default"),
                    ),
            );
            if replies {
                stack.doc().resource(
                    "aws_apigatewayv2_route_response",
                    &name,
                    Block::new()
                        .set("api_id", api.attr("id"))
                        .set("route_id", route_resource.attr("id"))
                        .set("route_response_key", "$default"),
                );
            }
        }
        let source = Tf::template([api.attr("execution_arn").into(), Tf::from("/*")]);
        self.handler
            .allow_invoke(stack, &self.name, Service::ApiGateway, source);
        let access_logs = AccessLogs {
            api: &self.name,
            physical_name: &physical_name,
            retention_days: self.log_retention_days,
            key: self.key,
            fields: &[
                ("requestId", "$context.requestId"),
                ("connectionId", "$context.connectionId"),
                ("eventType", "$context.eventType"),
                ("routeKey", "$context.routeKey"),
                ("status", "$context.status"),
                ("requestTime", "$context.requestTime"),
                ("integrationError", "$context.integrationErrorMessage"),
            ],
        }
        .settings(stack);
        let stage = stack.doc().resource(
            "aws_apigatewayv2_stage",
            &self.name,
            Block::new()
                .set("api_id", api.attr("id"))
                .set("name", self.stage.as_str())
                .set("auto_deploy", true)
                .block(
                    "default_route_settings",
                    Block::new()
                        .set("throttling_rate_limit", self.throttling.rate_per_s)
                        .set("throttling_burst_limit", self.throttling.burst),
                )
                .block("access_log_settings", access_logs)
                .depends_on(&self.account_logging),
        );
        WebSocketApiRef {
            api,
            stage,
            stage_name: self.stage,
            region: stack.region().to_owned(),
        }
    }
}
