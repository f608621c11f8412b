//! Request signing as API Gateway's `AWS_IAM` authorization sees it.

use axum::http::HeaderMap;

/// A SigV4 `Authorization` header (or presigned query): present, not verified.
pub(super) fn sigv4_access_key(headers: &HeaderMap, query: &str) -> Option<String> {
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
        let credential = rest.split("Credential=").nth(1)?;
        return credential.split('/').next().map(str::to_owned);
    }
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("X-Amz-Credential="))
        .and_then(|c| c.split("%2F").next().or_else(|| c.split('/').next()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_routes_need_a_sigv4_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(sigv4_access_key(&headers, ""), None);
        headers.insert(
            "authorization",
            crate::faults::fake_authorization("execute-api")
                .parse()
                .unwrap(),
        );
        assert_eq!(sigv4_access_key(&headers, "").as_deref(), Some("test"));
    }
}
