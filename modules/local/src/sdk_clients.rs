//! SDK configuration and request signing for talking to the emulator.
//!
//! Which credentials: moto either accepts anything (its default, `test`/`test`) or, started
//! with [`crate::Moto::start_iam`], enforces IAM: then only its admin user's keys and role
//! sessions got through `sts:AssumeRole` are accepted. The admin's keys are registered
//! under the emulator's endpoint ([`register_credentials`]), so everything that is handed
//! an endpoint (the harness, Terraform, the tests' clients) acts as the admin there.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
pub use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_http_client::tls;

/// The region of the local environment (`envs/local/env.json`).
pub const REGION: &str = "us-east-1";
/// moto's account id.
pub const ACCOUNT: &str = "123456789012";
/// The emulator's test credentials (accepted while moto does not enforce IAM).
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "test";

/// How long a role session lasts: 12 hours, longer than any test (moto allows it; real STS
/// caps a session at the role's MaxSessionDuration, 1 hour by default).
pub const SESSION_SECONDS: u32 = 43_200;

static REGISTERED: Mutex<BTreeMap<String, Credentials>> = Mutex::new(BTreeMap::new());

/// `test`/`test`.
pub fn test_credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "emulator")
}

/// From now on, clients for `endpoint` use `credentials` (the admin of an IAM-enforcing moto).
pub fn register_credentials(endpoint: &str, credentials: Credentials) {
    REGISTERED
        .lock()
        .unwrap()
        .insert(endpoint.trim_end_matches('/').to_owned(), credentials);
}

/// Forgets what [`register_credentials`] registered for `endpoint`.
pub fn unregister_credentials(endpoint: &str) {
    REGISTERED
        .lock()
        .unwrap()
        .remove(endpoint.trim_end_matches('/'));
}

/// The credentials to use at `endpoint`: its registered admin, else the test credentials.
pub fn credentials_for(endpoint: &str) -> Credentials {
    REGISTERED
        .lock()
        .unwrap()
        .get(endpoint.trim_end_matches('/'))
        .cloned()
        .unwrap_or_else(test_credentials)
}

/// Every client built from this talks to `endpoint`, whatever the host's environment says,
/// with [`credentials_for`] `endpoint`.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    sdk_config_with(endpoint, credentials_for(endpoint)).await
}

/// Same, with the given credentials.
pub async fn sdk_config_with(endpoint: &str, credentials: Credentials) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

/// The SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`,
/// `x-amz-content-sha256` for S3) to add to a request that has `headers` (besides `host`,
/// which is taken from `url`).
pub fn sign(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    service: &str,
    credentials: &Credentials,
) -> Result<Vec<(String, String)>> {
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
        SigningSettings, UriPathNormalizationMode,
    };
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .context("SigV4 signing parameters")?
        .into();
    let request = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )?;
    let (instructions, _) = sign(request, &params)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// `sts:AssumeRole` as `caller`: a session of `role_arn` lasting [`SESSION_SECONDS`].
pub async fn assume_role(
    endpoint: &str,
    caller: &Credentials,
    role_arn: &str,
    session_name: &str,
) -> Result<Credentials> {
    let form = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName={}&DurationSeconds={SESSION_SECONDS}",
        form_encode(role_arn),
        form_encode(session_name)
    );
    let answer = crate::faults::query_api_as(endpoint, caller, "sts", &form)
        .await
        .with_context(|| format!("sts:AssumeRole {role_arn}"))?;
    let field = |tag: &str| {
        xml_text(&answer, tag)
            .map(str::to_owned)
            .with_context(|| format!("sts:AssumeRole {role_arn}: no <{tag}> in {answer}"))
    };
    Ok(Credentials::new(
        field("AccessKeyId")?,
        field("SecretAccessKey")?,
        Some(field("SessionToken")?),
        None,
        "role session",
    ))
}

/// The text of the first `<tag>` element (no entities decoded: ids and keys have none).
pub fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..start + end].trim())
}

/// `application/x-www-form-urlencoded` value encoding (every byte but `A-Za-z0-9-._~`).
pub fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The clients the harness and the tests use.
#[derive(Clone, Debug)]
pub struct Clients {
    pub config: SdkConfig,
    /// The credentials the clients sign with.
    pub credentials: Credentials,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub apigatewayv2: aws_sdk_apigatewayv2::Client,
}

impl Clients {
    /// Clients acting as [`credentials_for`] `endpoint`.
    pub async fn new(endpoint: &str) -> Clients {
        Clients::with_credentials(endpoint, credentials_for(endpoint)).await
    }

    /// Clients acting as `credentials` (e.g. a function's role session).
    pub async fn with_credentials(endpoint: &str, credentials: Credentials) -> Clients {
        let config = sdk_config_with(endpoint, credentials.clone()).await;
        Clients {
            credentials,
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            streams: aws_sdk_dynamodbstreams::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            apigateway: aws_sdk_apigateway::Client::new(&config),
            apigatewayv2: aws_sdk_apigatewayv2::Client::new(&config),
            config,
        }
    }
}

/// `arn:aws:sqs:region:account:name` -> `name`; any ARN -> its last `:` part.
pub fn arn_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// A Lambda function name from a function ARN (qualified or not) or a name.
pub fn function_name_of(arn_or_name: &str) -> String {
    match arn_or_name.split(':').collect::<Vec<_>>().as_slice() {
        [_, _, "lambda", _, _, "function", name, ..] => (*name).to_owned(),
        _ => arn_or_name.to_owned(),
    }
}

/// An API Gateway Lambda integration URI
/// (`arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations`)
/// -> the function's name.
pub fn function_of_integration_uri(uri: &str) -> Option<String> {
    let rest = uri.split("/functions/").nth(1)?;
    let arn = rest.strip_suffix("/invocations").unwrap_or(rest);
    Some(function_name_of(arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_and_form_helpers() {
        let xml = "<R><Credentials><AccessKeyId>ASIA1</AccessKeyId></Credentials></R>";
        assert_eq!(xml_text(xml, "AccessKeyId"), Some("ASIA1"));
        assert_eq!(xml_text(xml, "SessionToken"), None);
        assert_eq!(
            form_encode("arn:aws:iam::1:role/a b~"),
            "arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b~"
        );
    }

    #[test]
    fn names_come_out_of_arns_and_uris() {
        assert_eq!(arn_name("arn:aws:sqs:us-east-1:123456789012:q"), "q");
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"),
            "f"
        );
        assert_eq!(function_name_of("f"), "f");
        assert_eq!(
            function_of_integration_uri("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:shipstack-local-ingest-api/invocations").as_deref(),
            Some("shipstack-local-ingest-api")
        );
    }
}
