//! Split deployment: a front gateway that serves only leases and locks forwards the queue
//! and config services to a back gateway process that serves only those (a real HTTP
//! server on 127.0.0.1:0). Queue calls succeeding through the front prove forwarding,
//! since the front has no queue routes of its own.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Backend, assert_problem, call, call_with, within};
use gateway::services::Service;
use gateway::{AppState, app};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

struct BackGateway {
    address: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_back(backend: &Backend, only: Vec<Service>) -> BackGateway {
    let mut config = backend.config();
    config.only = only;
    config.validate().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway::serve(listener, AppState::new(config), async move {
        let _ = stopped.await;
    }));
    BackGateway { address, _stop: stop }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_gateway_forwards_queue_and_config_to_the_gateway_that_serves_them() {
    let backend = Backend::start().await;
    let back = start_back(&backend, vec![Service::Queue, Service::Config]).await;
    let mut config = backend.config();
    config.only = vec![Service::Leases, Service::Lock];
    for service in ["queue", "config"] {
        config.routes.push(format!("{service}=http://{}", back.address).parse().unwrap());
    }
    config.validate().unwrap();
    let front = app(AppState::new(config));

    // Queue through the front: enqueue, claim (with a lease the front opened), ack.
    let lease = call(&front, Method::POST, "/v1/leases", Some(json!({"ttl_ms": 4000}))).await;
    assert_eq!(lease.status, StatusCode::CREATED, "{}", lease.text);
    let lease = lease.json["id"].as_str().unwrap().to_owned();
    let queue = format!("/v1/queues/{}-split", backend.root);
    let request_id = [("x-request-id", "split-1")];
    let added = call_with(
        &front,
        Method::POST,
        &format!("{queue}/items"),
        Some(json!({"payload": "job"})),
        &request_id,
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    assert_eq!(added.headers["x-request-id"], "split-1");
    let claimed =
        call(&front, Method::POST, &format!("{queue}/claims"), Some(json!({"lease": lease}))).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
    assert_eq!(claimed.json["payload"], "job");
    let receipt = claimed.json["receipt"].as_str().unwrap();
    let acked = call(&front, Method::POST, &format!("{queue}/claims/{receipt}/ack"), None).await;
    assert!(acked.status.is_success(), "{}", acked.text);
    let stats = call(&front, Method::GET, &format!("{queue}/stats?x=1"), None).await;
    assert_eq!((&stats.json["depth"], &stats.json["in_flight"]), (&json!(0), &json!(0)));
    // Errors come back as the back's problem documents.
    let bad = call(&front, Method::POST, &format!("{queue}/items"), Some(json!({"nope": 1}))).await;
    assert_problem(&bad, 400);

    // A config change stream (Server-Sent Events) is streamed through the front.
    let key = format!("/v1/config/{}-split/flags", backend.root);
    let stream = Request::get(format!("{key}/stream")).body(Body::empty()).unwrap();
    let response = within("stream opens", front.clone().oneshot(stream)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let put = call(&front, Method::PUT, &key, Some(json!({"value": "live"}))).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains("\"live\"") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("the change arrives through the front")
            .expect("the stream stays open")
            .unwrap();
        if let Ok(bytes) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&bytes));
        }
    }

    // The back serves only what it was told to; the front serves neither znodes nor
    // elections (not served, not routed) but documents every service.
    let direct = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Body>();
    let uri = format!("http://{}/v1/locks/anything", back.address).parse().unwrap();
    let on_back = within("the back answers", direct.get(uri)).await.unwrap();
    assert_eq!(on_back.status(), StatusCode::NOT_FOUND, "the back serves no locks");
    let znodes = call(&front, Method::GET, &format!("/v1/znodes/{}", backend.root), None).await;
    assert_problem(&znodes, 404);
    let openapi = call(&front, Method::GET, "/openapi.json", None).await;
    let paths = openapi.json["paths"].as_object().unwrap();
    for path in [
        "/v1/queues/{name}/items",
        "/v1/config/{namespace}/{key}/stream",
        "/v1/znodes/{path}",
        "/v1/locks/{name}/acquire",
    ] {
        assert!(paths.contains_key(path), "{path} missing from {:?}", paths.keys());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_is_a_bad_gateway_problem() {
    let backend = Backend::start().await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let mut config = backend.config();
    config.routes.push(format!("queue=http://{closed}").parse().unwrap());
    let front = app(AppState::new(config));
    let reply = call(&front, Method::GET, "/v1/queues/q/stats", None).await;
    assert_problem(&reply, 502);
}
