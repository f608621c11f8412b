//! The APIs: `POST /shipments` on a REST API in front of ingest-api, and the WebSocket API
//! clients subscribe to a shipment on, in front of websocket-handler.

use aws::apigateway::{AccountLogging, RestApi, RestApiRef, Route, Throttling};
use aws::lambda::FunctionRef;
use aws::websocket::{WebSocketApi, WebSocketApiRef};
use aws::Stack;
use serde_json::json;
use shipment::contract::{env_vars, functions};

use super::data::Data;
use super::functions::Functions;
use crate::config::EnvConfig;

/// Seconds (seed 000: 30). One request is one conditional put and at most one read. API
/// Gateway gives up on an integration after 29 s and answers 504, so a longer timeout only lets
/// the function run on after the client has gone; 10 s leaves each AWS call 4 s with SDK
/// retries, and a stuck request gets the designed 500 (retry with the same request) at 10 s.
const INGEST_TIMEOUT_S: u32 = 10;
/// Seconds (seed 000: 30): `$connect`, `$disconnect` or a subscribe is one or two writes to
/// the connections table; the same 29 s integration limit and reasoning as [`INGEST_TIMEOUT_S`].
const WEBSOCKET_TIMEOUT_S: u32 = 10;

pub struct Apis {
    pub ingest: FunctionRef,
    pub rest: RestApiRef,
    pub websocket_handler: FunctionRef,
    pub websocket: WebSocketApiRef,
}

pub fn add(stack: &mut Stack, env: &EnvConfig, functions: &Functions, data: &Data) -> Apis {
    let ingest = stack.add(functions.function(
        functions::INGEST_API,
        "POST /shipments: validates and stores shipment events, idempotently",
        INGEST_TIMEOUT_S,
        functions.table_environment(&data.shipments),
        functions.reservation(|r| r.writers),
    ));
    data.shipments.grant_read_data(stack, &ingest);
    // Its only write is the conditional one, a PartiQL INSERT (processors' `partiql`).
    data.shipments.grant_partiql_insert(stack, &ingest);

    let websocket_handler = stack.add(functions.function(
        functions::WEBSOCKET_HANDLER,
        "WebSocket $connect/$disconnect/$default: connections and shipment subscriptions",
        WEBSOCKET_TIMEOUT_S,
        vec![(env_vars::CONNECTIONS_TABLE, data.connections.name().into())],
        functions.reservation(|r| r.websocket),
    ));
    data.connections.grant_read_data(stack, &websocket_handler);
    data.connections.grant_write_data(stack, &websocket_handler);

    // One API Gateway logging role per account and region: only the environment that manages
    // the account's settings renders it (EnvConfig::manages_account_settings).
    let account_logging = env.manages_account_settings.then(|| {
        stack.add(AccountLogging {
            name: "apigateway_logging".into(),
        })
    });
    let throttling = Throttling {
        rate_per_s: env.api.rate_per_s,
        burst: env.api.burst,
    };
    let rest = stack.add(RestApi {
        name: "api".into(),
        description: "Shipment status updates".into(),
        stage: env.name.clone(),
        authorization: env.api.authorization.as_str(),
        routes: vec![Route {
            path: "shipments",
            method: "POST",
            function: ingest.clone(),
            // The edge only checks the shape (a non-empty JSON object); ingest-api validates
            // every field of every producer dialect and answers with field errors.
            body_model: (
                "ShipmentEvent",
                json!({
                    "$schema": "http://json-schema.org/draft-04/schema#",
                    "title": "ShipmentEvent",
                    "type": "object",
                    "minProperties": 1
                }),
            ),
        }],
        throttling,
        log_retention_days: env.retention.log_days,
        key: data.key.clone(),
        account_logging: account_logging.clone(),
    });
    let websocket = stack.add(WebSocketApi {
        name: "live".into(),
        description: "Live shipment updates for subscribed clients".into(),
        stage: env.name.clone(),
        authorization: env.api.authorization.as_str(),
        handler: websocket_handler.clone(),
        throttling,
        log_retention_days: env.retention.log_days,
        key: data.key.clone(),
        account_logging,
    });
    Apis {
        ingest,
        rest,
        websocket_handler,
        websocket,
    }
}
