//! Real event payloads, in the JSON shapes AWS delivers them.

#![allow(dead_code)]

use serde_json::{json, Value};
use shipment::{AttrValue, Item};

/// Seed 003's docstring event, as EventBridge delivers it (the domain crate's sample).
pub fn seed_003_event() -> Value {
    shipment::samples::seed_003_envelope()
}

/// Seed 004's `aws events put-events` example, as EventBridge delivers it to a target.
pub fn seed_004_event() -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Shipment Update",
        "source": "logistics.shipments",
        "account": "123456789012",
        "time": "2025-10-17T14:05:09Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"shipmentId": "SHIP-12345", "status": "IN_TRANSIT", "location": "Memphis, TN", "carrier": "FedEx"}
    })
}

/// One SQS record as the event source mapping delivers it.
pub fn sqs_record(message_id: &str, body: &str) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": format!("AQEB{message_id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1760702400000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1760702400010"
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:shipstack-dev-events",
        "awsRegion": "us-east-1"
    })
}

pub fn sqs_event(records: Vec<Value>) -> aws_lambda_events::event::sqs::SqsEvent {
    serde_json::from_value(json!({ "Records": records })).expect("valid SQS event")
}

/// An API Gateway REST proxy request for `POST /shipments`.
pub fn api_request(
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> aws_lambda_events::event::apigw::ApiGatewayProxyRequest {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let multi: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    serde_json::from_value(json!({
        "resource": "/shipments",
        "path": "/shipments",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": "/shipments",
            "httpMethod": "POST",
            "extendedRequestId": "ExtReq=",
            "requestTime": "17/Oct/2025:09:30:00 +0000",
            "path": "/dev/shipments",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "dev",
            "domainPrefix": "api",
            "requestTimeEpoch": 1760693400000i64,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.0"},
            "domainName": "api.execute-api.us-east-1.amazonaws.com",
            "apiId": "api"
        },
        "body": body,
        "isBase64Encoded": false
    }))
    .expect("valid API Gateway request")
}

/// A WebSocket API request for one route.
pub fn websocket_request(
    route: &str,
    connection_id: &str,
    body: Option<&str>,
) -> aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest {
    let event_type = match route {
        "$connect" => "CONNECT",
        "$disconnect" => "DISCONNECT",
        _ => "MESSAGE",
    };
    serde_json::from_value(json!({
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": "Ext=",
            "requestTime": "17/Oct/2025:09:30:00 +0000",
            "messageDirection": "IN",
            "stage": "dev",
            "connectedAt": 1760693400000i64,
            "requestTimeEpoch": 1760693400500i64,
            "identity": {"sourceIp": "203.0.113.7"},
            "requestId": "req-1",
            "domainName": "ws.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection_id,
            "apiId": "ws"
        },
        "body": body,
        "isBase64Encoded": false
    }))
    .expect("valid WebSocket request")
}

/// A domain item in DynamoDB JSON, as stream images carry it.
pub fn dynamo_json(item: &Item) -> Value {
    fn attr(value: &AttrValue) -> Value {
        match value {
            AttrValue::S(s) => json!({ "S": s }),
            AttrValue::N(n) => json!({ "N": n }),
            AttrValue::Bool(b) => json!({ "BOOL": b }),
            AttrValue::Null => json!({ "NULL": true }),
            AttrValue::L(items) => json!({ "L": items.iter().map(attr).collect::<Vec<_>>() }),
            AttrValue::M(map) => {
                json!({ "M": map.iter().map(|(k, v)| (k.clone(), attr(v))).collect::<serde_json::Map<_, _>>() })
            }
            AttrValue::Ss(items) => json!({ "SS": items }),
            AttrValue::Ns(items) => json!({ "NS": items }),
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), attr(v))).collect())
}

/// One DynamoDB stream record.
pub fn stream_record(
    event_name: &str,
    sequence: &str,
    new: Option<&Item>,
    old: Option<&Item>,
) -> Value {
    let mut change = json!({
        "ApproximateCreationDateTime": 1760702400,
        "Keys": {"shipmentId": {"S": "x"}, "eventKey": {"S": "y"}},
        "SequenceNumber": sequence,
        "SizeBytes": 512,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
    });
    if let Some(new) = new {
        change["NewImage"] = dynamo_json(new);
    }
    if let Some(old) = old {
        change["OldImage"] = dynamo_json(old);
    }
    json!({
        "eventID": format!("id-{sequence}"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/shipstack-dev-shipments/stream/2025-10-17T00:00:00.000"
    })
}

pub fn stream_event(records: Vec<Value>) -> aws_lambda_events::event::dynamodb::Event {
    serde_json::from_value(json!({ "Records": records })).expect("valid stream event")
}
