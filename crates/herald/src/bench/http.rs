//! The HTTP side shared by the REST and etcd workloads: one keep-alive client per
//! worker, JSON requests, and replies checked against the status a call must return.

use std::time::Duration;

use anyhow::Context;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

/// Idle keep-alive connections a worker's client keeps (it sends one request at a time).
pub const IDLE_CONNECTIONS_PER_CLIENT: usize = 2;
/// Bound on one connect, so a dead target shows up as an error instead of a hang.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes of an unexpected reply kept in the error message.
pub const ERROR_BODY_BYTES_MAX: usize = 300;

/// A worker's own client: its connections stay open between requests.
pub fn client() -> anyhow::Result<Client> {
    Client::builder()
        .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_CLIENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .context("building the HTTP client")
}

/// The base URL without a trailing slash, so paths can be appended.
pub fn base_url(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Sends `body` (if any) as JSON and returns the reply's JSON (Null when empty) if its
/// status is one of `expected`; otherwise an error naming the status and the reply.
pub async fn call(
    client: &Client,
    method: Method,
    url: &str,
    body: Option<&Value>,
    expected: &[StatusCode],
) -> anyhow::Result<Value> {
    let mut request = client.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let bytes = response.bytes().await.with_context(|| format!("reading {method} {url}"))?;
    if !expected.contains(&status) {
        let text = String::from_utf8_lossy(&bytes);
        let cut = text.char_indices().nth(ERROR_BODY_BYTES_MAX).map_or(text.len(), |(at, _)| at);
        anyhow::bail!("{method} {url}: {status}: {}", &text[..cut]);
    }
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).with_context(|| format!("{method} {url}: reply is not JSON"))
}

/// A string field of a JSON reply.
pub fn string_field(reply: &Value, field: &str) -> anyhow::Result<String> {
    reply
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("reply has no string `{field}`: {reply}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_trailing_slashes() {
        assert_eq!(base_url("http://127.0.0.1:8181/"), "http://127.0.0.1:8181");
        assert_eq!(base_url("http://127.0.0.1:8181"), "http://127.0.0.1:8181");
    }

    #[test]
    fn string_fields_are_read_or_named_when_missing() {
        let reply = serde_json::json!({"id": "abc", "n": 3});
        assert_eq!(string_field(&reply, "id").unwrap(), "abc");
        let error = string_field(&reply, "n").unwrap_err().to_string();
        assert!(error.contains("`n`"), "{error}");
    }
}
