//! A fault-injecting proxy between the functions and the emulator.
//!
//! The functions' `AWS_ENDPOINT_URL` points here; every request is forwarded to moto,
//! except that a seeded share of the DynamoDB and SNS ones (the service is read from the
//! SigV4 credential scope) is answered with an error the real services return under load:
//!
//! | kind | DynamoDB | SNS |
//! |------|----------|-----|
//! | throttle (400) | `ProvisionedThroughputExceededException` or `ThrottlingException` | `Throttling` |
//! | 500 | `InternalServerError` | `InternalError` |
//! | 503 | `ServiceUnavailable` | `ServiceUnavailable` |
//! | 500 after applying | the request **is** applied by moto, then a 500 is returned | same |
//!
//! The last kind is the nasty one: the write happened but the caller saw a failure and
//! retries, so only idempotent processing keeps the event exactly once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::sdk_clients::Credentials;
use anyhow::{Context, Result};
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A plain HTTP/1 client (loopback only: the emulator, the harness's front doors).
pub(crate) fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A request to the emulator, SigV4-signed for `service` with `credentials` (S3 with a
/// signed payload hash).
pub async fn raw_request(
    method: &str,
    url: &str,
    service: &str,
    credentials: &Credentials,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>)> {
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in crate::sdk_clients::sign(method, url, &[], &body, service, credentials)? {
        request = request.header(name, value);
    }
    let request = request
        .header("content-length", body.len())
        .body(Full::new(Bytes::from(body)))?;
    let response = http_client()
        .request(request)
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, body))
}

/// An AWS Query-protocol call (`Action=...&Version=...`) to the emulator, as
/// [`crate::sdk_clients::credentials_for`] `endpoint`; the XML answer. Used for CloudWatch: the
/// current SDK speaks the RPC v2 CBOR protocol to it, which moto does not (it answers XML,
/// and the SDK fails with `unexpected type 0x3c`).
pub async fn query_api(endpoint: &str, service: &str, form: &str) -> Result<String> {
    query_api_as(
        endpoint,
        &crate::sdk_clients::credentials_for(endpoint),
        service,
        form,
    )
    .await
}

/// An IAM Query-protocol call (`Action=...`; IAM's API version is added).
pub async fn iam_api(endpoint: &str, form: &str) -> Result<String> {
    query_api(endpoint, "iam", &format!("{form}&Version=2010-05-08")).await
}

/// [`query_api`] signed with `credentials`. A refusal (moto answers 403 with an XML
/// `AccessDenied` / `InvalidClientTokenId` body) is an error that quotes the body.
pub async fn query_api_as(
    endpoint: &str,
    credentials: &Credentials,
    service: &str,
    form: &str,
) -> Result<String> {
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let mut request = hyper::Request::builder().method("POST").uri(&url);
    for (name, value) in crate::sdk_clients::sign(
        "POST",
        &url,
        &[("content-type", content_type)],
        form.as_bytes(),
        service,
        credentials,
    )? {
        request = request.header(name, value);
    }
    let request = request
        .header("content-type", content_type)
        .header("content-length", form.len())
        .body(Full::new(Bytes::from(form.to_owned())))?;
    let response = http_client()
        .request(request)
        .await
        .with_context(|| format!("{service} {form}"))?;
    let status = response.status().as_u16();
    let body =
        String::from_utf8_lossy(&response.into_body().collect().await?.to_bytes()).into_owned();
    anyhow::ensure!(status < 300, "{service} {form}: {status} {body}");
    Ok(body)
}

/// A SigV4-shaped header for the test credentials (never a real signature): for the
/// harness's own API Gateway front doors, which do not verify signatures, and for moto
/// while it does not check them.
pub fn fake_authorization(service: &str) -> String {
    let day = chrono::Utc::now().format("%Y%m%d");
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{day}/{}/{service}/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        crate::sdk_clients::ACCESS_KEY,
        crate::sdk_clients::REGION
    )
}

/// The service named in a SigV4 `Authorization` header's credential scope.
pub fn service_of(authorization: &str) -> Option<&str> {
    let scope = authorization.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    scope.split('/').nth(3)
}

/// What was injected, by `service kind`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Injected(pub BTreeMap<String, u64>);

impl Injected {
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// A deterministic generator (SplitMix64): the same seed injects the same sequence.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct ProxyState {
    upstream: String,
    client: HttpClient,
    /// Share of DynamoDB and SNS requests that fail, in parts per million.
    share_ppm: AtomicU64,
    rng: Mutex<SplitMix>,
    injected: Mutex<BTreeMap<String, u64>>,
    forwarded: AtomicU64,
    connections: Arc<AtomicU64>,
}

/// The running proxy.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<ProxyState>,
    server: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a pass-through proxy to `upstream` on a free loopback port (share 0).
    pub async fn start(upstream: &str, seed: u64) -> Result<FaultProxy> {
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: http_client(),
            share_ppm: AtomicU64::new(0),
            rng: Mutex::new(SplitMix(seed)),
            injected: Mutex::new(BTreeMap::new()),
            forwarded: AtomicU64::new(0),
            connections: Arc::new(AtomicU64::new(0)),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let app = Router::new().fallback(proxy).with_state(state.clone());
        let connections = state.connections.clone();
        let listener = listener.tap_io(move |_| {
            connections.fetch_add(1, Ordering::Relaxed);
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FaultProxy {
            endpoint,
            state,
            server,
        })
    }

    /// From now on, fail this share (0.0 to 1.0) of DynamoDB and SNS requests.
    pub fn set_share(&self, share: f64) {
        self.state
            .share_ppm
            .store((share.clamp(0.0, 1.0) * 1e6) as u64, Ordering::SeqCst);
    }

    pub fn injected(&self) -> Injected {
        Injected(self.state.injected.lock().unwrap().clone())
    }

    pub fn forwarded(&self) -> u64 {
        self.state.forwarded.load(Ordering::Relaxed)
    }

    /// Connections callers have opened to the proxy so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Throttle,
    Internal,
    Unavailable,
    InternalAfterApplying,
}

async fn proxy(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, 64 * 1024 * 1024).await else {
        return (StatusCode::BAD_REQUEST, "unreadable body").into_response();
    };
    let service = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(service_of)
        .unwrap_or("")
        .to_owned();
    let fault = if service == "dynamodb" || service == "sns" {
        let share = state.share_ppm.load(Ordering::SeqCst) as f64 / 1e6;
        let mut rng = state.rng.lock().unwrap();
        if share > 0.0 && rng.unit() < share {
            Some(match rng.next() % 4 {
                0 => Fault::Throttle,
                1 => Fault::Internal,
                2 => Fault::Unavailable,
                _ => Fault::InternalAfterApplying,
            })
        } else {
            None
        }
    } else {
        None
    };
    if let Some(fault) = fault {
        *state
            .injected
            .lock()
            .unwrap()
            .entry(format!("{service} {fault:?}"))
            .or_default() += 1;
        if !matches!(fault, Fault::InternalAfterApplying) {
            return error_response(&service, fault);
        }
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut forward = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{}{}", state.upstream, path));
    // Every header as sent, `host` too: the caller signed it, and moto checks signatures
    // when it enforces IAM (the URI's authority is moto's; hyper keeps the given host).
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let Ok(forward) = forward.body(Full::new(body)) else {
        return (StatusCode::BAD_GATEWAY, "bad request").into_response();
    };
    state.forwarded.fetch_add(1, Ordering::Relaxed);
    let upstream = match state.client.request(forward).await {
        Ok(response) => response,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    if let Some(fault) = fault {
        // Applied upstream; the caller is told it failed.
        return error_response(&service, fault);
    }
    let (parts, body) = upstream.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && name != "content-length" {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// Headers about one connection, which a proxy must not forward (RFC 9110, 7.6.1). moto
/// answers every request with `Connection: close`; passed on, it would make the functions
/// reconnect for every call, which DynamoDB, SQS and SNS (keep-alive) never make them do.
fn is_hop_by_hop(name: &axum::http::HeaderName) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ]
    .contains(&name.as_str())
}

fn error_response(service: &str, fault: Fault) -> Response {
    let (status, code, message) = match (service, fault) {
        ("dynamodb", Fault::Throttle) => (
            400,
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        ("sns", Fault::Throttle) => (400, "Throttling", "Rate exceeded"),
        ("dynamodb", Fault::Internal | Fault::InternalAfterApplying) => {
            (500, "InternalServerError", "Internal server error")
        }
        (_, Fault::Internal | Fault::InternalAfterApplying) => {
            (500, "InternalError", "Internal failure")
        }
        (_, Fault::Unavailable) => (503, "ServiceUnavailable", "Service unavailable"),
        (_, Fault::Throttle) => (400, "ThrottlingException", "Rate exceeded"),
    };
    let request_id = format!(
        "fault-{:x}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let (content_type, body) = if service == "dynamodb" {
        (
            "application/x-amz-json-1.0",
            serde_json::json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": message}).to_string(),
        )
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                if status < 500 { "Sender" } else { "Receiver" }
            ),
        )
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_comes_from_the_credential_scope() {
        assert_eq!(
            service_of("AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x"),
            Some("dynamodb")
        );
        assert_eq!(service_of(&fake_authorization("sns")), Some("sns"));
        assert_eq!(service_of("Basic abc"), None);
    }

    /// Two requests on one connection to the proxy, whose upstream closes every connection
    /// as moto does: the second finds the connection still open.
    #[tokio::test]
    async fn callers_keep_their_connection_when_the_upstream_closes_every_one() {
        let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
        let app = Router::new().fallback(|| async { ([("connection", "close")], "ok") });
        tokio::spawn(async move { axum::serve(upstream, app).await });
        let proxy = FaultProxy::start(&upstream_url, 1).await.unwrap();

        let address = proxy.endpoint.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        for _ in 0..2 {
            sender.ready().await.expect("the connection is still open");
            let request = hyper::Request::post("/")
                .header("host", address)
                .body(Full::new(Bytes::new()))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers().get("connection"), None);
        }
        assert_eq!(proxy.forwarded(), 2);
        assert_eq!(proxy.connections(), 1, "both requests on one connection");
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let (mut a, mut b) = (SplitMix(7), SplitMix(7));
        let xs: Vec<u64> = (0..5).map(|_| a.next()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next()).collect();
        assert_eq!(xs, ys);
        let mut c = SplitMix(7);
        let share = (0..10_000).filter(|_| c.unit() < 0.2).count();
        assert!((1_800..2_200).contains(&share), "{share}");
    }
}
