//! The backend the gateway tests talk to: a real Herald node started in-process on a
//! loopback port, or — when `HERALD_TEST_ZK=host:port` is set — an external ensemble such
//! as Apache ZooKeeper. Each test works under its own random root so runs never collide.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use gateway::{AppState, GatewayConfig, app};
use http_body_util::BodyExt;
use serde_json::Value;
use server::{RunningServer, ServerConfig};
use tower::ServiceExt;

pub struct Backend {
    pub address: String,
    /// A unique top-level znode name for this test.
    pub root: String,
    _node: Option<(RunningServer, tempfile::TempDir)>,
}

impl Backend {
    pub async fn start() -> Backend {
        let root = format!("t{:x}", rand_suffix());
        if let Ok(address) = std::env::var("HERALD_TEST_ZK") {
            return Backend { address, root, _node: None };
        }
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.path());
        config.tick_ms = 100;
        config.container_check_interval_ms = 50;
        let node = RunningServer::start(config).await.expect("node starts");
        let address = node.client_address().to_string();
        Backend { address, root, _node: Some((node, data_dir)) }
    }

    pub fn config(&self) -> GatewayConfig {
        GatewayConfig::new(self.address.clone())
    }

    pub fn app(&self) -> Router {
        app(AppState::new(self.config()))
    }

    pub async fn client(&self) -> zookeeper_client::Client {
        zookeeper_client::Client::connector()
            .with_session_timeout(Duration::from_secs(5))
            .connect(&self.address)
            .await
            .expect("client connects")
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    hasher.finish()
}

/// A response: status, headers and the body parsed as JSON (`Null` if empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
    pub text: String,
}

pub async fn call(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Reply {
    call_with(app, method, uri, body, &[]).await
}

pub async fn call_with(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    };
    send(app, request).await
}

pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = within("gateway reply", app.clone().oneshot(request)).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, headers, json, text }
}

/// Awaits `future` with a deadline so a hung backend fails the test instead of hanging it.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Polls `condition` until it holds or 10 s pass.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(tokio::time::Instant::now() < give_up, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn assert_problem(reply: &Reply, status: u16) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.text);
    assert_eq!(
        reply.headers.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/problem+json"),
        "body: {}",
        reply.text
    );
    assert_eq!(reply.json["status"], status);
    assert!(reply.json["type"].as_str().unwrap().starts_with("urn:herald:problem:"));
}
