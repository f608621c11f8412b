//! What was deployed, read back from the emulator: the functions' configuration, the event
//! source mappings and the API routes. The harness plays what the emulator holds, not what
//! the Terraform files say, so a wiring mistake that deploys shows up here too.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use shipment::contract::functions;

use crate::sdk_clients::{function_name_of, function_of_integration_uri, Clients};

/// A deployed function.
#[derive(Debug, Clone)]
pub struct DeployedFunction {
    /// The contract name (`ingest-api`), which is also the package name.
    pub contract_name: String,
    pub deployed_name: String,
    pub arn: String,
    /// The execution role's ARN.
    pub role: String,
    pub timeout: Duration,
    pub memory_mb: i32,
    pub variables: BTreeMap<String, String>,
    pub reserved_concurrency: Option<i32>,
}

/// A Lambda event source mapping, as configured.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub uuid: String,
    pub source_arn: String,
    pub function_name: String,
    pub enabled: bool,
    pub batch_size: i32,
    pub batching_window: Duration,
    pub report_batch_item_failures: bool,
    pub starting_position: Option<String>,
    pub bisect_on_error: bool,
    /// `None`: retry until the record expires (Lambda's -1).
    pub max_retry_attempts: Option<i32>,
    pub max_record_age: Option<Duration>,
    pub on_failure: Option<String>,
    pub max_concurrency: Option<i32>,
}

impl Mapping {
    pub fn is_sqs(&self) -> bool {
        self.source_arn.starts_with("arn:aws:sqs:")
    }
    pub fn is_dynamodb_stream(&self) -> bool {
        self.source_arn.starts_with("arn:aws:dynamodb:") && self.source_arn.contains("/stream/")
    }
}

/// A REST API method integrated with a function (AWS_PROXY).
#[derive(Debug, Clone)]
pub struct RestRoute {
    pub api_id: String,
    pub stage: String,
    pub method: String,
    /// Resource path, e.g. `/shipments`.
    pub path: String,
    pub resource_id: String,
    pub function: String,
    pub authorization: String,
    /// The JSON Schema of the `application/json` request model, when the method's request
    /// validator validates bodies.
    pub body_schema: Option<Value>,
}

/// A WebSocket route.
#[derive(Debug, Clone)]
pub struct WsRoute {
    pub function: String,
    pub authorization: String,
    /// With a route response, API Gateway returns the integration's reply to the client.
    pub has_route_response: bool,
}

/// A WebSocket API.
#[derive(Debug, Clone)]
pub struct WebSocketApi {
    pub api_id: String,
    pub stage: String,
    pub route_selection_expression: String,
    pub routes: BTreeMap<String, WsRoute>,
}

/// Everything the harness plays.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// By contract name.
    pub functions: BTreeMap<String, DeployedFunction>,
    pub mappings: Vec<Mapping>,
    pub rest: Vec<RestRoute>,
    pub websocket: Option<WebSocketApi>,
}

impl Deployed {
    /// Reads the deployment from the emulator.
    pub async fn discover(clients: &Clients) -> Result<Deployed> {
        let functions = discover_functions(clients).await?;
        let mappings = discover_mappings(clients).await?;
        let rest = discover_rest(clients).await?;
        let websocket = discover_websocket(clients).await?;
        Ok(Deployed {
            functions,
            mappings,
            rest,
            websocket,
        })
    }

    /// The function deployed for a contract name.
    pub fn function(&self, contract_name: &str) -> Result<&DeployedFunction> {
        self.functions
            .get(contract_name)
            .with_context(|| format!("no deployed function for {contract_name}"))
    }

    /// The contract name of a deployed function name.
    pub fn contract_name_of(&self, deployed_name: &str) -> Option<&str> {
        self.functions
            .values()
            .find(|f| f.deployed_name == deployed_name)
            .map(|f| f.contract_name.as_str())
    }
}

async fn discover_functions(clients: &Clients) -> Result<BTreeMap<String, DeployedFunction>> {
    let names: Vec<String> = clients
        .lambda
        .list_functions()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .context("lambda:ListFunctions")?
        .into_iter()
        .filter_map(|f| f.function_name)
        .collect();
    let mut found = BTreeMap::new();
    if !names
        .iter()
        .any(|n| functions::ALL.iter().any(|c| n.ends_with(&format!("-{c}"))))
    {
        bail!("none of the platform's functions is deployed in the emulator (deployed: {names:?})");
    }
    for contract_name in functions::ALL {
        let suffix = format!("-{contract_name}");
        // Not every environment deploys every function (`queued` delivery has no
        // event-processor).
        let Some(name) = names.iter().find(|n| n.ends_with(&suffix)) else {
            continue;
        };
        let config = clients
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .with_context(|| format!("lambda:GetFunctionConfiguration {name}"))?;
        let variables = config
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let reserved = clients
            .lambda
            .get_function_concurrency()
            .function_name(name)
            .send()
            .await
            .ok()
            .and_then(|c| c.reserved_concurrent_executions());
        found.insert(
            contract_name.to_owned(),
            DeployedFunction {
                contract_name: contract_name.to_owned(),
                deployed_name: name.clone(),
                arn: config.function_arn().unwrap_or_default().to_owned(),
                role: config.role().unwrap_or_default().to_owned(),
                timeout: Duration::from_secs(config.timeout().unwrap_or(3).max(1) as u64),
                memory_mb: config.memory_size().unwrap_or(128),
                variables,
                reserved_concurrency: reserved,
            },
        );
    }
    Ok(found)
}

async fn discover_mappings(clients: &Clients) -> Result<Vec<Mapping>> {
    let mappings = clients
        .lambda
        .list_event_source_mappings()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .context("lambda:ListEventSourceMappings")?;
    Ok(mappings
        .iter()
        .map(|m| Mapping {
            uuid: m.uuid().unwrap_or_default().to_owned(),
            source_arn: m.event_source_arn().unwrap_or_default().to_owned(),
            function_name: function_name_of(m.function_arn().unwrap_or_default()),
            enabled: m.state() == Some("Enabled"),
            batch_size: m.batch_size().unwrap_or(10),
            batching_window: Duration::from_secs(
                m.maximum_batching_window_in_seconds().unwrap_or(0).max(0) as u64,
            ),
            report_batch_item_failures: m
                .function_response_types()
                .iter()
                .any(|t| t.as_str() == "ReportBatchItemFailures"),
            starting_position: m.starting_position().map(|p| p.as_str().to_owned()),
            bisect_on_error: m.bisect_batch_on_function_error().unwrap_or(false),
            max_retry_attempts: m.maximum_retry_attempts().filter(|n| *n >= 0),
            max_record_age: m
                .maximum_record_age_in_seconds()
                .filter(|n| *n > 0)
                .map(|n| Duration::from_secs(n as u64)),
            on_failure: m
                .destination_config()
                .and_then(|d| d.on_failure())
                .and_then(|f| f.destination())
                .map(str::to_owned),
            max_concurrency: m.scaling_config().and_then(|s| s.maximum_concurrency()),
        })
        .collect())
}

async fn discover_rest(clients: &Clients) -> Result<Vec<RestRoute>> {
    let api = &clients.apigateway;
    let mut routes = Vec::new();
    let apis = api
        .get_rest_apis()
        .send()
        .await
        .context("apigateway:GetRestApis")?;
    for rest_api in apis.items() {
        let api_id = rest_api.id().unwrap_or_default().to_owned();
        let stages = api
            .get_stages()
            .rest_api_id(&api_id)
            .send()
            .await
            .context("apigateway:GetStages")?;
        let Some(stage) = stages
            .item()
            .first()
            .and_then(|s| s.stage_name())
            .map(str::to_owned)
        else {
            continue;
        };
        let resources = api
            .get_resources()
            .rest_api_id(&api_id)
            .send()
            .await
            .context("apigateway:GetResources")?;
        for resource in resources.items() {
            let resource_id = resource.id().unwrap_or_default().to_owned();
            let path = resource.path().unwrap_or("/").to_owned();
            let methods: Vec<String> = resource
                .resource_methods()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for method in methods {
                let detail = api
                    .get_method()
                    .rest_api_id(&api_id)
                    .resource_id(&resource_id)
                    .http_method(&method)
                    .send()
                    .await
                    .context("apigateway:GetMethod")?;
                let Ok(integration) = api
                    .get_integration()
                    .rest_api_id(&api_id)
                    .resource_id(&resource_id)
                    .http_method(&method)
                    .send()
                    .await
                else {
                    continue;
                };
                let Some(function) = integration.uri().and_then(function_of_integration_uri) else {
                    continue;
                };
                let mut body_schema = None;
                if let Some(validator_id) = detail.request_validator_id() {
                    let validator = api
                        .get_request_validator()
                        .rest_api_id(&api_id)
                        .request_validator_id(validator_id)
                        .send()
                        .await
                        .context("apigateway:GetRequestValidator")?;
                    let model_name = detail
                        .request_models()
                        .and_then(|m| m.get("application/json"))
                        .cloned();
                    if let (true, Some(model_name)) =
                        (validator.validate_request_body(), model_name)
                    {
                        let model = api
                            .get_model()
                            .rest_api_id(&api_id)
                            .model_name(&model_name)
                            .send()
                            .await
                            .context("apigateway:GetModel")?;
                        body_schema = Some(
                            serde_json::from_str(model.schema().unwrap_or("{}"))
                                .with_context(|| format!("model {model_name} schema"))?,
                        );
                    }
                }
                routes.push(RestRoute {
                    api_id: api_id.clone(),
                    stage: stage.clone(),
                    method: method.clone(),
                    path: path.clone(),
                    resource_id: resource_id.clone(),
                    function,
                    authorization: detail.authorization_type().unwrap_or("NONE").to_owned(),
                    body_schema,
                });
            }
        }
    }
    Ok(routes)
}

async fn discover_websocket(clients: &Clients) -> Result<Option<WebSocketApi>> {
    let api = &clients.apigatewayv2;
    let apis = api
        .get_apis()
        .send()
        .await
        .context("apigatewayv2:GetApis")?;
    let Some(ws) = apis
        .items()
        .iter()
        .find(|a| a.protocol_type().map(|p| p.as_str()) == Some("WEBSOCKET"))
    else {
        return Ok(None);
    };
    let api_id = ws.api_id().unwrap_or_default().to_owned();
    let stages = api
        .get_stages()
        .api_id(&api_id)
        .send()
        .await
        .context("apigatewayv2:GetStages")?;
    let stage = stages
        .items()
        .first()
        .and_then(|s| s.stage_name())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("WebSocket API {api_id} has no stage"))?;
    let mut routes = BTreeMap::new();
    let listed = api
        .get_routes()
        .api_id(&api_id)
        .send()
        .await
        .context("apigatewayv2:GetRoutes")?;
    for route in listed.items() {
        let Some(integration_id) = route.target().and_then(|t| t.strip_prefix("integrations/"))
        else {
            continue;
        };
        let integration = api
            .get_integration()
            .api_id(&api_id)
            .integration_id(integration_id)
            .send()
            .await
            .context("apigatewayv2:GetIntegration")?;
        let Some(function) = integration
            .integration_uri()
            .and_then(function_of_integration_uri)
        else {
            continue;
        };
        let has_route_response = match route.route_id() {
            Some(route_id) => api
                .get_route_responses()
                .api_id(&api_id)
                .route_id(route_id)
                .send()
                .await
                .map(|r| !r.items().is_empty())
                .unwrap_or(false),
            None => false,
        };
        routes.insert(
            route.route_key().unwrap_or_default().to_owned(),
            WsRoute {
                function,
                authorization: route
                    .authorization_type()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_else(|| "NONE".into()),
                has_route_response,
            },
        );
    }
    Ok(Some(WebSocketApi {
        api_id,
        stage,
        route_selection_expression: ws
            .route_selection_expression()
            .unwrap_or_default()
            .to_owned(),
        routes,
    }))
}
