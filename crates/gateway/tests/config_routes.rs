//! `/v1/config` through the whole router with `oneshot`, against a real Herald node.

mod route_support;

use axum::http::StatusCode;
use gateway::ApiError;
use recipes_config::ConfigError;
use route_support::{assert_problem, call, call_with, gateway, open_stream, read_events, request};
use serde_json::json;

#[tokio::test]
async fn put_and_get_with_compare_and_set_by_header_or_body() {
    let gateway = gateway().await;
    let app = &gateway.app;
    let uri = "/v1/config/app/limits";
    let create = request("PUT", uri).header("if-none-match", "*");
    let created = call_with(app, create, Some(json!({"value": {"rps": 1}}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["version"], 0);
    let create = request("PUT", uri).header("if-none-match", "*");
    let again = call_with(app, create, Some(json!({"value": {"rps": 9}}))).await;
    assert_problem(&again, StatusCode::PRECONDITION_FAILED, "precondition-failed");

    let update = request("PUT", uri).header("if-match", "\"0\"");
    let updated = call_with(app, update, Some(json!({"value": {"rps": 2}}))).await;
    assert_eq!((updated.status, &updated.body["version"]), (StatusCode::OK, &json!(1)));
    let stale = call(app, "PUT", uri, Some(json!({"value": {"rps": 3}, "version": 0}))).await;
    assert_problem(&stale, StatusCode::CONFLICT, "version-conflict");

    let read = call(app, "GET", uri, None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!((&read.body["version"], &read.body["value"]), (&json!(1), &json!({"rps": 2})));
    let missing = call(app, "GET", "/v1/config/app/nope", None).await;
    assert_problem(&missing, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn the_etag_header_carries_the_version() {
    let gateway = gateway().await;
    let app = gateway.app.clone();
    let put = |value| {
        let app = app.clone();
        async move {
            let request = axum::http::Request::builder()
                .method("PUT")
                .uri("/v1/config/app/k")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(json!({ "value": value }).to_string()))
                .unwrap();
            tower::ServiceExt::oneshot(app, request).await.unwrap()
        }
    };
    put(1).await;
    let second = put(2).await;
    assert_eq!(second.headers()["etag"], "\"1\"");
}

#[tokio::test]
async fn history_lists_versions_oldest_first() {
    let gateway = gateway().await;
    let app = &gateway.app;
    for n in 0..3 {
        call(app, "PUT", "/v1/config/app/k", Some(json!({"value": n}))).await;
    }
    let history = call(app, "GET", "/v1/config/app/k/history", None).await;
    let versions: Vec<_> =
        history.body.as_array().unwrap().iter().map(|entry| entry["version"].clone()).collect();
    assert_eq!(versions, [json!(0), json!(1), json!(2)]);
    assert_eq!(history.body[2]["value"], 2);
}

#[tokio::test]
async fn a_namespace_schema_refuses_invalid_values_with_422() {
    let gateway = gateway().await;
    let app = &gateway.app;
    let schema = json!({"type": "object", "required": ["limit"],
                        "properties": {"limit": {"type": "integer", "minimum": 1}}});
    let set = call(app, "PUT", "/v1/config/billing", Some(json!({"schema": schema}))).await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let read = call(app, "GET", "/v1/config/billing", None).await;
    assert_eq!(read.body["schema"], schema);

    let good =
        call(app, "PUT", "/v1/config/billing/plan", Some(json!({"value": {"limit": 2}}))).await;
    assert_eq!(good.status, StatusCode::CREATED);
    let bad =
        call(app, "PUT", "/v1/config/billing/plan", Some(json!({"value": {"limit": 0}}))).await;
    assert_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY, "schema-violation");
    let broken = call(app, "PUT", "/v1/config/billing", Some(json!({"schema": {"type": 5}}))).await;
    assert_problem(&broken, StatusCode::BAD_REQUEST, "invalid-schema");
}

#[tokio::test]
async fn the_stream_resumes_after_last_event_id_and_follows_live_writes() {
    let gateway = gateway().await;
    let app = &gateway.app;
    for n in 0..3 {
        call(app, "PUT", "/v1/config/app/flags", Some(json!({"value": n}))).await;
    }
    let resume = request("GET", "/v1/config/app/flags/stream").header("last-event-id", "0");
    let (status, content_type, mut body) = open_stream(app, resume).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let mut buffer = String::new();
    let replayed = read_events(&mut body, &mut buffer, 2).await;
    let ids: Vec<_> = replayed.iter().map(|event| event.id.clone().unwrap()).collect();
    assert_eq!(ids, ["1", "2"]);
    assert!(replayed.iter().all(|event| event.event == "change"));
    assert_eq!(replayed[1].data["value"], 2);

    call(app, "PUT", "/v1/config/app/flags", Some(json!({"value": "live"}))).await;
    let live = read_events(&mut body, &mut buffer, 1).await;
    assert_eq!((live[0].id.as_deref(), &live[0].data["value"]), (Some("3"), &json!("live")));

    // `?after=` does the same without the header.
    let (_, _, mut from_query) =
        open_stream(app, request("GET", "/v1/config/app/flags/stream?after=2")).await;
    let events = read_events(&mut from_query, &mut String::new(), 1).await;
    assert_eq!(events[0].id.as_deref(), Some("3"));
}

#[tokio::test]
async fn bad_input_is_a_problem_not_a_crash() {
    let gateway = gateway().await;
    let app = &gateway.app;
    call(app, "PUT", "/v1/config/app/k", Some(json!({"value": 1}))).await;
    let cases = [
        request("PUT", "/v1/config/app/k").header("if-match", "abc"),
        request("PUT", "/v1/config/app/k").header("if-none-match", "\"1\""),
        request("PUT", "/v1/config/app/k").header("if-match", "\"1\"").header("if-none-match", "*"),
        request("PUT", "/v1/config/a%20b/k"),
    ];
    for builder in cases {
        let reply = call_with(app, builder, Some(json!({"value": 1}))).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "bad-request");
    }
    let no_value = call(app, "PUT", "/v1/config/app/k", Some(json!({"versions": 1}))).await;
    assert_problem(&no_value, StatusCode::BAD_REQUEST, "bad-request");
    let bad_version =
        call(app, "PUT", "/v1/config/app/k", Some(json!({"value": 1, "version": -5}))).await;
    assert_problem(&bad_version, StatusCode::BAD_REQUEST, "bad-request");
    let header = request("GET", "/v1/config/app/k/stream").header("last-event-id", "x");
    let stream = call_with(app, header, None).await;
    assert_problem(&stream, StatusCode::BAD_REQUEST, "bad-request");
}

#[test]
fn a_version_outside_the_history_is_410() {
    let trimmed = ConfigError::HistoryTrimmed { requested: 3, oldest: Some(9) };
    assert_eq!(ApiError::from(trimmed).status, StatusCode::GONE);
}

#[tokio::test]
async fn the_openapi_document_describes_the_config_routes() {
    let gateway = gateway().await;
    let reply = call(&gateway.app, "GET", "/openapi.json", None).await;
    for path in [
        "/v1/config/{namespace}",
        "/v1/config/{namespace}/{key}",
        "/v1/config/{namespace}/{key}/history",
        "/v1/config/{namespace}/{key}/stream",
    ] {
        assert!(reply.body["paths"].get(path).is_some(), "{path} missing from /openapi.json");
    }
}
