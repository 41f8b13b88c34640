//! Shared by the recipe route tests: a real Herald node, the gateway's router over it,
//! and a `oneshot` call helper that decodes JSON replies.

#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use gateway::{AppState, GatewayConfig, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use server::{RunningServer, ServerConfig};
use tempfile::TempDir;
use tower::ServiceExt;

pub struct Gateway {
    pub app: Router,
    _node: RunningServer,
    _data: TempDir,
}

pub async fn gateway() -> Gateway {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data.path());
    config.tick_ms = 100;
    let node = RunningServer::start(config).await.expect("node starts");
    let state = AppState::new(GatewayConfig::new(node.client_address().to_string()));
    Gateway { app: app(state), _node: node, _data: data }
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

pub fn request(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

pub async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> Reply {
    call_with(app, request(method, uri), body).await
}

pub async fn call_with(
    app: &Router,
    builder: axum::http::request::Builder,
    body: Option<Value>,
) -> Reply {
    let request = match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    };
    let response = tokio::time::timeout(Duration::from_secs(20), app.clone().oneshot(request))
        .await
        .expect("the gateway answers in time")
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    Reply { status, content_type, body }
}

pub async fn lease(app: &Router) -> String {
    let reply = call(app, "POST", "/v1/leases", Some(json!({"ttl_ms": 4000}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

pub fn assert_problem(reply: &Reply, status: StatusCode, kind: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(reply.body["type"], format!("urn:herald:problem:{kind}"), "{:?}", reply.body);
}

/// Sends a request whose reply is a stream; returns its status, content type and body.
pub async fn open_stream(
    app: &Router,
    builder: axum::http::request::Builder,
) -> (StatusCode, String, Body) {
    let request = builder.body(Body::empty()).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), app.clone().oneshot(request))
        .await
        .expect("the gateway answers in time")
        .unwrap();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status(), content_type, response.into_body())
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// Reads events from an SSE body until `count` have arrived (keep-alive comments are
/// skipped), with a deadline so a silent stream fails the test.
pub async fn read_events(body: &mut Body, buffer: &mut String, count: usize) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while events.len() < count {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    event = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("id:") {
                    id = Some(value.trim().to_owned());
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            if !data.is_empty() {
                events.push(SseEvent { event, id, data: serde_json::from_str(&data).unwrap() });
            }
        }
        if events.len() >= count {
            break;
        }
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("events arrive in time")
            .expect("the stream stays open")
            .unwrap();
        if let Ok(bytes) = frame.into_data() {
            buffer.push_str(std::str::from_utf8(&bytes).unwrap());
        }
    }
    events
}
