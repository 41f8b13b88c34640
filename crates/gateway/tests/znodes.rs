//! Raw znode routes, errors and limits against a real backend, driven with `oneshot`.

mod common;

use axum::http::Method;
use common::{Backend, assert_problem, call, call_with};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_set_delete_round_trip() {
    let backend = Backend::start().await;
    let app = backend.app();
    let base = format!("/v1/znodes/{}", backend.root);
    let created = call(&app, Method::POST, &base, Some(json!({"data": "hello"}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["path"], format!("/{}", backend.root));

    let read = call(&app, Method::GET, &base, None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json["data"], "hello");
    assert_eq!(read.json["encoding"], "utf8");
    assert_eq!(read.json["stat"]["version"], 0);

    let set = call(
        &app,
        Method::PUT,
        &base,
        Some(json!({"data": "aGk=", "encoding": "base64", "version": 0})),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json["version"], 1);
    let read = call(&app, Method::GET, &format!("{base}?encoding=base64"), None).await;
    assert_eq!(read.json["data"], "aGk=");

    let stale = call(&app, Method::PUT, &base, Some(json!({"data": "x", "version": 0}))).await;
    assert_problem(&stale, 409);
    assert_eq!(stale.json["zookeeper_code"], -103);

    let stale_delete = call(&app, Method::DELETE, &format!("{base}?version=0"), None).await;
    assert_problem(&stale_delete, 409);
    let deleted = call(&app, Method::DELETE, &format!("{base}?version=1"), None).await;
    assert_eq!(deleted.status, 204);
    let gone = call(&app, Method::GET, &base, None).await;
    assert_problem(&gone, 404);
    assert_eq!(gone.json["zookeeper_code"], -101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_types_children_and_stat() {
    let backend = Backend::start().await;
    let app = backend.app();
    let root = &backend.root;
    assert_eq!(
        call(&app, Method::POST, &format!("/v1/znodes/{root}"), Some(json!({}))).await.status,
        201
    );
    let again = call(&app, Method::POST, &format!("/v1/znodes/{root}"), Some(json!({}))).await;
    assert_problem(&again, 409);
    assert_eq!(again.json["zookeeper_code"], -110);

    let first = call(
        &app,
        Method::POST,
        &format!("/v1/znodes/{root}/job-"),
        Some(json!({"mode": "persistent_sequential"})),
    )
    .await;
    let second = call(
        &app,
        Method::POST,
        &format!("/v1/znodes/{root}/job-"),
        Some(json!({"mode": "persistent_sequential"})),
    )
    .await;
    let (first, second) = (
        first.json["path"].as_str().unwrap().to_owned(),
        second.json["path"].as_str().unwrap().to_owned(),
    );
    assert!(
        first.starts_with(&format!("/{root}/job-"))
            && first.len() == format!("/{root}/job-").len() + 10,
        "{first}"
    );
    assert!(second > first);

    let container = call(
        &app,
        Method::POST,
        &format!("/v1/znodes/{root}/box"),
        Some(json!({"mode": "container"})),
    )
    .await;
    assert_eq!(container.status, 201, "{}", container.text);
    let ttl =
        call(&app, Method::POST, &format!("/v1/znodes/{root}/ttl"), Some(json!({"ttl_ms": 60000})))
            .await;
    // TTL nodes need the server's extended types; a real ZooKeeper without
    // zookeeper.extendedTypesEnabled refuses them with a ZooKeeper error, never a 5xx.
    assert!(ttl.status == 201 || ttl.status.is_client_error(), "{}", ttl.text);

    let no_lease = call(
        &app,
        Method::POST,
        &format!("/v1/znodes/{root}/eph"),
        Some(json!({"mode": "ephemeral"})),
    )
    .await;
    assert_problem(&no_lease, 400);

    let children = call(&app, Method::GET, &format!("/v1/children/{root}"), None).await;
    assert_eq!(children.status, 200);
    let names: Vec<&str> =
        children.json["children"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(names.contains(&"box"));
    assert_eq!(names.iter().filter(|n| n.starts_with("job-")).count(), 2);

    let top = call(&app, Method::GET, "/v1/children", None).await;
    assert_eq!(top.status, 200, "{}", top.text);
    assert!(top.json["children"].as_array().unwrap().contains(&json!(root)));

    let stat = call(&app, Method::GET, &format!("/v1/stat/{root}"), None).await;
    assert_eq!(stat.status, 200);
    assert_eq!(stat.json["num_children"].as_i64().unwrap() as usize, names.len());

    let not_empty = call(&app, Method::DELETE, &format!("/v1/znodes/{root}"), None).await;
    assert_problem(&not_empty, 409);
    assert_eq!(not_empty.json["zookeeper_code"], -111);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_is_all_or_nothing() {
    let backend = Backend::start().await;
    let app = backend.app();
    let root = format!("/{}", backend.root);
    let ok = call(
        &app,
        Method::POST,
        "/v1/txn",
        Some(json!({"ops": [
            {"op": "create", "path": root, "data": "v0"},
            {"op": "create", "path": format!("{root}/a")},
            {"op": "set", "path": root, "data": "v1", "version": 0},
            {"op": "check", "path": format!("{root}/a"), "version": 0},
        ]})),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["results"][0]["op"], "create");
    assert_eq!(ok.json["results"][2]["stat"]["version"], 1);

    let failed = call(
        &app,
        Method::POST,
        "/v1/txn",
        Some(json!({"ops": [
            {"op": "create", "path": format!("{root}/b")},
            {"op": "check", "path": root, "version": 0},
        ]})),
    )
    .await;
    assert_problem(&failed, 409);
    assert!(failed.json["detail"].as_str().unwrap().contains("operation 1"));
    let absent = call(&app, Method::GET, &format!("/v1/stat{root}/b"), None).await;
    assert_problem(&absent, 404);

    let empty = call(&app, Method::POST, "/v1/txn", Some(json!({"ops": []}))).await;
    assert_problem(&empty, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_operation_count_bound() {
    let backend = Backend::start().await;
    let app = backend.app();
    let root = format!("/{}", backend.root);
    let mut ops = vec![json!({"op": "create", "path": root})];
    for i in 1..gateway::routes::znodes::TXN_OPS_MAX {
        ops.push(json!({"op": "create", "path": format!("{root}/n{i}")}));
    }
    let at_bound = call(&app, Method::POST, "/v1/txn", Some(json!({"ops": ops}))).await;
    assert_eq!(at_bound.status, 200, "{}", at_bound.text);
    ops.push(json!({"op": "check", "path": root, "version": 0}));
    let over = call(&app, Method::POST, "/v1/txn", Some(json!({"ops": ops}))).await;
    assert_problem(&over, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_size_limit_at_the_bound() {
    let backend = Backend::start().await;
    let mut config = backend.config();
    config.body_bytes_max = 1024;
    let app = gateway::app(gateway::AppState::new(config));
    let uri = format!("/v1/znodes/{}", backend.root);
    let body_of = |len: usize| {
        let frame = r#"{"data":""}"#.len();
        format!(r#"{{"data":"{}"}}"#, "x".repeat(len - frame))
    };
    let request = |body: String| {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri(&uri)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let over = common::send(&app, request(body_of(1025))).await;
    assert_problem(&over, 413);
    let at = common::send(&app, request(body_of(1024))).await;
    assert_eq!(at.status, 201, "{}", at.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_problem_not_a_panic() {
    let backend = Backend::start().await;
    let app = backend.app();
    let bad_base64 = call(
        &app,
        Method::POST,
        &format!("/v1/znodes/{}", backend.root),
        Some(json!({"data": "***", "encoding": "base64"})),
    )
    .await;
    assert_problem(&bad_base64, 400);
    let bad_path = call(&app, Method::GET, "/v1/znodes/a//b", None).await;
    assert_problem(&bad_path, 400);
    let no_route = call(&app, Method::GET, "/v2/nothing", None).await;
    assert_problem(&no_route, 404);
    let bad_lease = call(&app, Method::GET, "/v1/leases/not-a-lease", None).await;
    assert_problem(&bad_lease, 400);
    let wrong_shape = call(&app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": "soon"}))).await;
    assert_problem(&wrong_shape, 400);
    let not_json = common::send(
        &app,
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/v1/leases")
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{"))
            .unwrap(),
    )
    .await;
    assert_problem(&not_json, 400);
    let wrong_method = call(&app, Method::PATCH, "/v1/leases", None).await;
    assert_problem(&wrong_method, 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_set_and_echoed() {
    let backend = Backend::start().await;
    let app = backend.app();
    let generated = call(&app, Method::GET, "/healthz", None).await;
    assert!(!generated.headers["x-request-id"].to_str().unwrap().is_empty());
    let echoed =
        call_with(&app, Method::GET, "/healthz", None, &[("x-request-id", "abc-123")]).await;
    assert_eq!(echoed.headers["x-request-id"], "abc-123");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_ensemble_is_503() {
    // A port nothing listens on: bind one, then drop it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = gateway::app(gateway::AppState::new(gateway::GatewayConfig::new(format!(
        "127.0.0.1:{port}"
    ))));
    let reply = call(&app, Method::GET, "/v1/znodes/x", None).await;
    assert_problem(&reply, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_describes_the_routes() {
    let backend = Backend::start().await;
    let app = backend.app();
    let doc = call(&app, Method::GET, "/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc.json["paths"].as_object().unwrap();
    for path in ["/v1/leases", "/v1/znodes/{path}", "/v1/txn", "/v1/children/{path}"] {
        assert!(paths.contains_key(path), "missing {path}: {:?}", paths.keys());
    }
    let docs = call(&app, Method::GET, "/docs/", None).await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("swagger"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_request_timeout_answers_503() {
    // Nothing listens on the port, so connecting never succeeds: the request timeout fires
    // long before the connect bound.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = gateway::GatewayConfig::new(format!("127.0.0.1:{port}"));
    config.request_timeout = std::time::Duration::from_millis(100);
    let app = gateway::app(gateway::AppState::new(config));
    let reply = call(&app, Method::GET, "/v1/znodes/x", None).await;
    assert_problem(&reply, 503);
    assert_eq!(reply.json["type"], "urn:herald:problem:timeout");
}
