//! `/v1/config` through the whole router with `oneshot`, against a real node (or
//! `HERALD_TEST_ZK`). Each test uses a namespace named after its backend's unique root.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Backend, Reply, assert_problem, call, call_with, within};
use gateway::ApiError;
use http_body_util::BodyExt;
use recipes_config::ConfigError;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A problem reply of this status and `urn:herald:problem:<kind>`.
fn assert_kind(reply: &Reply, status: u16, kind: &str) {
    assert_problem(reply, status);
    assert_eq!(reply.json["type"], format!("urn:herald:problem:{kind}"), "{}", reply.text);
}

/// `/v1/config/<unique namespace>`.
fn namespace_uri(backend: &Backend, name: &str) -> String {
    format!("/v1/config/{}-{name}", backend.root)
}

/// One Server-Sent Event.
#[derive(Debug)]
struct SseEvent {
    event: String,
    id: Option<String>,
    data: Value,
}

/// An open SSE response body and the text read from it but not yet parsed.
struct EventReader {
    body: Body,
    buffer: String,
}

async fn open_stream(app: &Router, uri: &str, headers: &[(&str, &str)]) -> (Reply, EventReader) {
    let mut builder = Request::builder().method(Method::GET).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Body::empty()).unwrap();
    let response = within("stream opens", app.clone().oneshot(request)).await.unwrap();
    let head = Reply {
        status: response.status(),
        headers: response.headers().clone(),
        json: Value::Null,
        text: String::new(),
    };
    (head, EventReader { body: response.into_body(), buffer: String::new() })
}

impl EventReader {
    /// The next `count` events (keep-alive comments skipped), with a deadline so a
    /// silent stream fails the test.
    async fn next(&mut self, count: usize) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = ("message".to_owned(), None, String::new());
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
                return events;
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .expect("events arrive in time")
                .expect("the stream stays open")
                .unwrap();
            if let Ok(bytes) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&bytes).unwrap());
            }
        }
    }
}

#[tokio::test]
async fn put_and_get_with_compare_and_set_by_header_or_body() {
    let backend = Backend::start().await;
    let (app, uri) = (&backend.app(), format!("{}/limits", namespace_uri(&backend, "app")));
    let create_only = [("if-none-match", "*")];
    let created =
        call_with(app, Method::PUT, &uri, Some(json!({"value": {"rps": 1}})), &create_only).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["version"], 0);
    assert_eq!(created.headers["etag"], "\"0\"");
    let again = call_with(app, Method::PUT, &uri, Some(json!({"value": 9})), &create_only).await;
    assert_kind(&again, 412, "precondition-failed");

    let if_match = [("if-match", "\"0\"")];
    let updated =
        call_with(app, Method::PUT, &uri, Some(json!({"value": {"rps": 2}})), &if_match).await;
    assert_eq!((updated.status, &updated.json["version"]), (StatusCode::OK, &json!(1)));
    assert_eq!(updated.headers["etag"], "\"1\"");
    let stale = call(app, Method::PUT, &uri, Some(json!({"value": 3, "version": 0}))).await;
    assert_kind(&stale, 409, "version-conflict");

    let read = call(app, Method::GET, &uri, None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!((&read.json["version"], &read.json["value"]), (&json!(1), &json!({"rps": 2})));
    assert_eq!(read.headers["etag"], "\"1\"");
    let missing = format!("{}/nope", namespace_uri(&backend, "app"));
    assert_kind(&call(app, Method::GET, &missing, None).await, 404, "not-found");
}

#[tokio::test]
async fn history_lists_versions_oldest_first() {
    let backend = Backend::start().await;
    let (app, uri) = (&backend.app(), format!("{}/k", namespace_uri(&backend, "app")));
    for n in 0..3 {
        call(app, Method::PUT, &uri, Some(json!({"value": n}))).await;
    }
    let history = call(app, Method::GET, &format!("{uri}/history"), None).await;
    let versions: Vec<_> =
        history.json.as_array().unwrap().iter().map(|entry| entry["version"].clone()).collect();
    assert_eq!(versions, [json!(0), json!(1), json!(2)]);
    assert_eq!(history.json[2]["value"], 2);
}

#[tokio::test]
async fn a_namespace_schema_refuses_invalid_values_with_422() {
    let backend = Backend::start().await;
    let (app, namespace) = (&backend.app(), namespace_uri(&backend, "billing"));
    let schema = json!({"type": "object", "required": ["limit"],
                        "properties": {"limit": {"type": "integer", "minimum": 1}}});
    let set = call(app, Method::PUT, &namespace, Some(json!({"schema": schema}))).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(call(app, Method::GET, &namespace, None).await.json["schema"], schema);

    let plan = format!("{namespace}/plan");
    let good = call(app, Method::PUT, &plan, Some(json!({"value": {"limit": 2}}))).await;
    assert_eq!(good.status, StatusCode::CREATED);
    let bad = call(app, Method::PUT, &plan, Some(json!({"value": {"limit": 0}}))).await;
    assert_kind(&bad, 422, "schema-violation");
    let broken = call(app, Method::PUT, &namespace, Some(json!({"schema": {"type": 5}}))).await;
    assert_kind(&broken, 400, "invalid-schema");
}

#[tokio::test]
async fn the_stream_resumes_after_last_event_id_and_follows_live_writes() {
    let backend = Backend::start().await;
    let (app, uri) = (&backend.app(), format!("{}/flags", namespace_uri(&backend, "app")));
    for n in 0..3 {
        call(app, Method::PUT, &uri, Some(json!({"value": n}))).await;
    }
    let stream = format!("{uri}/stream");
    let (head, mut events) = open_stream(app, &stream, &[("last-event-id", "0")]).await;
    assert_eq!(head.status, StatusCode::OK);
    let content_type = head.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let replayed = events.next(2).await;
    let ids: Vec<_> = replayed.iter().map(|event| event.id.clone().unwrap()).collect();
    assert_eq!(ids, ["1", "2"]);
    assert!(replayed.iter().all(|event| event.event == "change"));
    assert_eq!(replayed[1].data["value"], 2);

    call(app, Method::PUT, &uri, Some(json!({"value": "live"}))).await;
    let live = events.next(1).await;
    assert_eq!((live[0].id.as_deref(), &live[0].data["value"]), (Some("3"), &json!("live")));

    // `?after=` does the same without the header.
    let (_, mut from_query) = open_stream(app, &format!("{stream}?after=2"), &[]).await;
    assert_eq!(from_query.next(1).await[0].id.as_deref(), Some("3"));
}

#[tokio::test]
async fn bad_input_is_a_problem_not_a_crash() {
    let backend = Backend::start().await;
    let (app, uri) = (&backend.app(), format!("{}/k", namespace_uri(&backend, "app")));
    call(app, Method::PUT, &uri, Some(json!({"value": 1}))).await;
    let header_cases: [&[(&str, &str)]; 3] = [
        &[("if-match", "abc")],
        &[("if-none-match", "\"1\"")],
        &[("if-match", "\"1\""), ("if-none-match", "*")],
    ];
    for headers in header_cases {
        let reply = call_with(app, Method::PUT, &uri, Some(json!({"value": 1})), headers).await;
        assert_kind(&reply, 400, "bad-request");
    }
    let bodies = [json!({"versions": 1}), json!({"value": 1, "version": -5})];
    for body in bodies {
        assert_kind(&call(app, Method::PUT, &uri, Some(body)).await, 400, "bad-request");
    }
    let bad_name = call(app, Method::PUT, "/v1/config/a%20b/k", Some(json!({"value": 1}))).await;
    assert_kind(&bad_name, 400, "bad-request");
    let stream = format!("{uri}/stream");
    let bad_id = call_with(app, Method::GET, &stream, None, &[("last-event-id", "x")]).await;
    assert_kind(&bad_id, 400, "bad-request");
}

#[test]
fn a_version_outside_the_history_is_410() {
    let trimmed = ConfigError::HistoryTrimmed { requested: 3, oldest: Some(9) };
    assert_eq!(ApiError::from(trimmed).status, StatusCode::GONE);
}

#[tokio::test]
async fn the_openapi_document_describes_the_config_routes() {
    let backend = Backend::start().await;
    let reply = call(&backend.app(), Method::GET, "/openapi.json", None).await;
    for path in [
        "/v1/config/{namespace}",
        "/v1/config/{namespace}/{key}",
        "/v1/config/{namespace}/{key}/history",
        "/v1/config/{namespace}/{key}/stream",
    ] {
        assert!(reply.json["paths"].get(path).is_some(), "{path} missing from /openapi.json");
    }
}
