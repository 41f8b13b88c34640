//! Locks, semaphores, elections and watch streams over HTTP against a real backend
//! (`HERALD_TEST_ZK=host:port` switches to an external ensemble such as Apache ZooKeeper).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use common::{Backend, assert_problem, call, eventually, within};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tower::ServiceExt;

async fn open_lease(app: &Router) -> String {
    let reply = call(app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": 2000}))).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json["id"].as_str().unwrap().to_owned()
}

/// A unique lock/election name per test run (names are global under /herald).
fn name(backend: &Backend, what: &str) -> String {
    format!("{}-{what}", backend.root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_grant_try_inspect_guarded_write_and_handover() {
    let backend = Backend::start().await;
    let app = backend.app();
    let lock = name(&backend, "lock");
    let (a, b) = (open_lease(&app).await, open_lease(&app).await);
    let target = format!("/{}", backend.root);
    call(&app, Method::POST, &format!("/v1/znodes{target}"), Some(json!({}))).await;

    let granted =
        call(&app, Method::POST, &format!("/v1/locks/{lock}/acquire"), Some(json!({"lease": a})))
            .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let token_a = granted.json["token"].as_i64().unwrap();
    let tried = call(
        &app,
        Method::POST,
        &format!("/v1/locks/{lock}/acquire"),
        Some(json!({"lease": b, "wait_ms": 0})),
    )
    .await;
    assert_problem(&tried, 409);

    let inspected = call(&app, Method::GET, &format!("/v1/locks/{lock}"), None).await;
    assert_eq!(inspected.json["holders"][0]["token"], token_a);
    assert_eq!(inspected.json["waiters"], json!([]));

    let write = |token: i64, data: &str| json!({"token": token, "path": target, "data": data});
    let ok =
        call(&app, Method::POST, &format!("/v1/locks/{lock}/write"), Some(write(token_a, "by-a")))
            .await;
    assert_eq!(ok.status, 200, "{}", ok.text);

    // B waits; revoking A's lease hands the lock to B with a larger token.
    let waiting = {
        let (app, lock, b) = (app.clone(), lock.clone(), b.clone());
        tokio::spawn(async move {
            call(
                &app,
                Method::POST,
                &format!("/v1/locks/{lock}/acquire"),
                Some(json!({"lease": b, "wait_ms": 20000})),
            )
            .await
        })
    };
    let uri = format!("/v1/locks/{lock}");
    eventually("b queues", || async {
        call(&app, Method::GET, &uri, None).await.json["waiters"].as_array().map(Vec::len)
            == Some(1)
    })
    .await;
    assert_eq!(call(&app, Method::DELETE, &format!("/v1/leases/{a}"), None).await.status, 204);
    let granted_b = within("b's grant", waiting).await.unwrap();
    assert_eq!(granted_b.status, 200, "{}", granted_b.text);
    let token_b = granted_b.json["token"].as_i64().unwrap();
    assert!(token_b > token_a);

    let stale =
        call(&app, Method::POST, &format!("/v1/locks/{lock}/write"), Some(write(token_a, "stale")))
            .await;
    assert_problem(&stale, 412);
    let fresh =
        call(&app, Method::POST, &format!("/v1/locks/{lock}/write"), Some(write(token_b, "by-b")))
            .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    assert_eq!(
        call(&app, Method::GET, &format!("/v1/znodes{target}"), None).await.json["data"],
        "by-b"
    );

    let released = call(
        &app,
        Method::POST,
        &format!("/v1/locks/{lock}/release"),
        Some(json!({"lease": b, "token": token_b})),
    )
    .await;
    assert_eq!(released.status, 204, "{}", released.text);
    let again = call(
        &app,
        Method::POST,
        &format!("/v1/locks/{lock}/release"),
        Some(json!({"lease": b, "token": token_b})),
    )
    .await;
    assert_problem(&again, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_http_clients_never_overlap() {
    let backend = Backend::start().await;
    let app = backend.app();
    let lock = name(&backend, "contended");
    let inside = Arc::new(AtomicU32::new(0));
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, lock, inside, tokens) =
            (app.clone(), lock.clone(), inside.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let lease = open_lease(&app).await;
            for _ in 0..2 {
                let granted = call(
                    &app,
                    Method::POST,
                    &format!("/v1/locks/{lock}/acquire"),
                    Some(json!({"lease": lease, "wait_ms": 60000})),
                )
                .await;
                assert_eq!(granted.status, 200, "{}", granted.text);
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                let token = granted.json["token"].as_i64().unwrap();
                tokens.lock().await.push(token);
                assert_eq!(inside.fetch_sub(1, Ordering::SeqCst), 1, "two holders at once");
                let released = call(
                    &app,
                    Method::POST,
                    &format!("/v1/locks/{lock}/release"),
                    Some(json!({"lease": lease, "token": token})),
                )
                .await;
                assert_eq!(released.status, 204, "{}", released.text);
            }
        }));
    }
    for task in tasks {
        within("contender", task).await.unwrap();
    }
    let tokens = tokens.lock().await;
    assert_eq!(tokens.len(), 40);
    assert!(tokens.windows(2).all(|pair| pair[0] < pair[1]), "{tokens:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_bounds_and_bad_names() {
    let backend = Backend::start().await;
    let app = backend.app();
    let lease = open_lease(&app).await;
    let too_long = call(
        &app,
        Method::POST,
        &format!("/v1/locks/{}/acquire", name(&backend, "x")),
        Some(json!({"lease": lease, "wait_ms": recipes_lock::WAIT_MS_MAX + 1})),
    )
    .await;
    assert_problem(&too_long, 400);
    let bad_name =
        call(&app, Method::POST, "/v1/locks/bad%20name/acquire", Some(json!({"lease": lease})))
            .await;
    assert_problem(&bad_name, 400);
    let no_permits = call(
        &app,
        Method::POST,
        &format!("/v1/semaphores/{}/acquire", name(&backend, "s")),
        Some(json!({"lease": lease, "permits": 0})),
    )
    .await;
    assert_problem(&no_permits, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semaphore_over_http() {
    let backend = Backend::start().await;
    let app = backend.app();
    let sem = name(&backend, "sem");
    let mut granted = Vec::new();
    for _ in 0..2 {
        let lease = open_lease(&app).await;
        let reply = call(
            &app,
            Method::POST,
            &format!("/v1/semaphores/{sem}/acquire"),
            Some(json!({"lease": lease, "permits": 2})),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        granted.push((lease, reply.json["token"].as_i64().unwrap()));
    }
    let third = open_lease(&app).await;
    let refused = call(
        &app,
        Method::POST,
        &format!("/v1/semaphores/{sem}/acquire"),
        Some(json!({"lease": third, "permits": 2})),
    )
    .await;
    assert_problem(&refused, 409);
    let (lease, token) = &granted[0];
    let released = call(
        &app,
        Method::POST,
        &format!("/v1/semaphores/{sem}/release"),
        Some(json!({"lease": lease, "token": token})),
    )
    .await;
    assert_eq!(released.status, 204);
    let now = call(
        &app,
        Method::POST,
        &format!("/v1/semaphores/{sem}/acquire"),
        Some(json!({"lease": third, "permits": 2})),
    )
    .await;
    assert_eq!(now.status, 200, "{}", now.text);
    let inspected = call(&app, Method::GET, &format!("/v1/semaphores/{sem}"), None).await;
    assert_eq!(inspected.json["holders"].as_array().unwrap().len(), 2);
}

/// Reads SSE events (`event:` name and parsed `data:`) until `count` arrived.
async fn read_events(body: &mut Body, count: usize) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while events.len() < count {
        let frame = tokio::time::timeout_at(give_up, body.frame())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} SSE events: {events:?}", events.len()))
            .expect("stream open")
            .unwrap();
        let Ok(bytes) = frame.into_data() else { continue };
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim());
                }
            }
            if !name.is_empty() {
                events.push((name, serde_json::from_str(&data).unwrap_or(Value::Null)));
            }
        }
    }
    events
}

async fn open_stream(app: &Router, uri: &str) -> Body {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = within("stream", app.clone().oneshot(request)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response.into_body()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn election_campaign_proclaim_resign_and_observe() {
    let backend = Backend::start().await;
    let app = backend.app();
    let election = name(&backend, "election");
    let mut stream = open_stream(&app, &format!("/v1/elections/{election}/observe")).await;
    assert_eq!(read_events(&mut stream, 1).await, vec![("leader".to_owned(), Value::Null)]);
    let none = call(&app, Method::GET, &format!("/v1/elections/{election}"), None).await;
    assert_problem(&none, 404);

    let (a, b) = (open_lease(&app).await, open_lease(&app).await);
    let won = call(
        &app,
        Method::POST,
        &format!("/v1/elections/{election}/campaign"),
        Some(json!({"lease": a, "value": "a:8080"})),
    )
    .await;
    assert_eq!(won.status, 200, "{}", won.text);
    let token_a = won.json["token"].as_i64().unwrap();
    let event = read_events(&mut stream, 1).await.remove(0);
    assert_eq!(event.1["value"], "a:8080");
    assert_eq!(event.1["token"], token_a);

    let lost = call(
        &app,
        Method::POST,
        &format!("/v1/elections/{election}/campaign"),
        Some(json!({"lease": b, "value": "b:8080", "wait_ms": 0})),
    )
    .await;
    assert_problem(&lost, 409);

    let proclaimed = call(
        &app,
        Method::POST,
        &format!("/v1/elections/{election}/proclaim"),
        Some(json!({"lease": a, "token": token_a, "value": "a:9090"})),
    )
    .await;
    assert_eq!(proclaimed.status, 204, "{}", proclaimed.text);
    assert_eq!(read_events(&mut stream, 1).await[0].1["value"], "a:9090");
    assert_eq!(
        call(&app, Method::GET, &format!("/v1/elections/{election}"), None).await.json["value"],
        "a:9090"
    );

    let resigned = call(
        &app,
        Method::POST,
        &format!("/v1/elections/{election}/resign"),
        Some(json!({"lease": a, "token": token_a})),
    )
    .await;
    assert_eq!(resigned.status, 204);
    assert_eq!(read_events(&mut stream, 1).await[0].1, Value::Null);
    let won_b = call(
        &app,
        Method::POST,
        &format!("/v1/elections/{election}/campaign"),
        Some(json!({"lease": b, "value": "b:8080"})),
    )
    .await;
    assert!(won_b.json["token"].as_i64().unwrap() > token_a);
    assert_eq!(read_events(&mut stream, 1).await[0].1["value"], "b:8080");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_watch_streams_changes() {
    let backend = Backend::start().await;
    let app = backend.app();
    let root = &backend.root;
    call(&app, Method::POST, &format!("/v1/znodes/{root}"), Some(json!({}))).await;
    let mut stream = open_stream(&app, &format!("/v1/watch/{root}?recursive=true")).await;
    call(&app, Method::POST, &format!("/v1/znodes/{root}/child"), Some(json!({"data": "1"}))).await;
    call(&app, Method::PUT, &format!("/v1/znodes/{root}/child"), Some(json!({"data": "2"}))).await;
    call(&app, Method::DELETE, &format!("/v1/znodes/{root}/child"), None).await;
    let events = read_events(&mut stream, 3).await;
    let kinds: Vec<&str> = events.iter().map(|(_, data)| data["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["created", "data_changed", "deleted"]);
    assert!(events.iter().all(|(_, data)| data["path"] == format!("/{root}/child")));
}
