//! `GET /metrics`: the per-recipe and HTTP families, scraped through the router and
//! parsed as Prometheus text, against a real node (or `HERALD_TEST_ZK`).

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Backend, call};
use prometheus_parse::{Scrape, Value};
use serde_json::json;
use tower::ServiceExt;

/// Parses the gateway's `/metrics` (which must be Prometheus text).
async fn scrape(app: &Router) -> Scrape {
    let reply = call(app, Method::GET, "/metrics", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let content_type = reply.headers.get("content-type").unwrap().to_str().unwrap();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    Scrape::parse(reply.text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text")
}

/// The value of `metric` with exactly these labels (a histogram's `_count`
/// is its own sample), or `None` when there is no such series.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == metric)
        .filter(|sample| sample.labels.len() == labels.len())
        .find(|sample| labels.iter().all(|(name, want)| sample.labels.get(name) == Some(*want)))
        .map(|sample| match &sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{metric} is not a single value: {other:?}"),
        })
}

async fn lease(app: &Router) -> String {
    let reply = call(app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": 4000}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.json["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_lock_held_then_released_gives_one_wait_and_one_hold_sample() {
    let backend = Backend::start().await;
    let app = backend.app();
    let lock = format!("{}-metered", backend.root);
    let lease = lease(&app).await;
    let labels = [("lock", lock.as_str())];

    let granted = call(
        &app,
        Method::POST,
        &format!("/v1/locks/{lock}/acquire"),
        Some(json!({"lease": lease})),
    )
    .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
    let held = scrape(&app).await;
    assert_eq!(value(&held, "herald_gateway_lock_wait_seconds_count", &labels), Some(1.0));
    assert_eq!(value(&held, "herald_gateway_lock_hold_seconds_count", &labels), None);

    let token = granted.json["token"].as_i64().unwrap();
    let release = json!({"lease": lease, "token": token});
    let released =
        call(&app, Method::POST, &format!("/v1/locks/{lock}/release"), Some(release)).await;
    assert_eq!(released.status, StatusCode::NO_CONTENT, "{}", released.text);
    let after = scrape(&app).await;
    assert_eq!(value(&after, "herald_gateway_lock_hold_seconds_count", &labels), Some(1.0));
    assert_eq!(value(&after, "herald_gateway_lock_wait_seconds_count", &labels), Some(1.0));
    let buckets = after
        .samples
        .iter()
        .find(|s| s.metric == "herald_gateway_lock_hold_seconds" && s.labels.get("lock").is_some())
        .expect("hold histogram buckets");
    assert!(matches!(&buckets.value, Value::Histogram(counts) if !counts.is_empty()));
}

#[tokio::test]
async fn queue_stats_set_depth_and_in_flight_and_a_dead_letter_is_counted() {
    let backend = Backend::start().await;
    let app = backend.app();
    let name = format!("{}-metered", backend.root);
    let queue = format!("/v1/queues/{name}");
    let lease = lease(&app).await;
    for payload in ["a", "b"] {
        let added =
            call(&app, Method::POST, &format!("{queue}/items"), Some(json!({"payload": payload})))
                .await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    }
    let claims = format!("{queue}/claims");
    let claim = json!({"lease": lease});
    let claimed = call(&app, Method::POST, &claims, Some(claim.clone())).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);

    let labels = [("queue", name.as_str())];
    let before_stats = scrape(&app).await;
    assert_eq!(value(&before_stats, "herald_gateway_queue_depth", &labels), None);
    call(&app, Method::GET, &format!("{queue}/stats"), None).await;
    let scraped = scrape(&app).await;
    assert_eq!(value(&scraped, "herald_gateway_queue_depth", &labels), Some(2.0));
    assert_eq!(value(&scraped, "herald_gateway_queue_inflight_claims", &labels), Some(1.0));
    assert_eq!(value(&scraped, "herald_gateway_queue_dead_letters_total", &labels), None);

    // The default allows five attempts: the fifth nack dead-letters the item.
    let mut receipt = claimed.json["receipt"].as_str().unwrap().to_owned();
    let id = claimed.json["id"].clone();
    for attempt in 1..=5 {
        let nacked = call(&app, Method::POST, &format!("{claims}/{receipt}/nack"), None).await;
        let expected = if attempt == 5 { "dead_lettered" } else { "requeued" };
        assert_eq!(nacked.json["outcome"], expected, "{}", nacked.text);
        if attempt < 5 {
            // Highest priority, then FIFO: the requeued item is behind "b" now, so
            // claim until it is the one nacked again.
            loop {
                let next = call(&app, Method::POST, &claims, Some(claim.clone())).await;
                assert_eq!(next.status, StatusCode::OK, "{}", next.text);
                if next.json["id"] == id {
                    receipt = next.json["receipt"].as_str().unwrap().to_owned();
                    break;
                }
            }
        }
    }
    let scraped = scrape(&app).await;
    assert_eq!(value(&scraped, "herald_gateway_queue_dead_letters_total", &labels), Some(1.0));
}

/// Opens an SSE stream through the router; the stream lives as long as the response.
async fn open_stream(app: &Router, uri: &str) -> axum::response::Response {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = common::within("stream opens", app.clone().oneshot(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    response
}

#[tokio::test]
async fn sse_subscribers_are_counted_while_their_streams_are_open() {
    let backend = Backend::start().await;
    let app = backend.app();
    let subscribers = |scrape: &Scrape, kind: &str| {
        value(scrape, "herald_gateway_sse_subscribers", &[("kind", kind)])
    };
    let idle = scrape(&app).await;
    for kind in ["watch", "config", "election"] {
        assert_eq!(subscribers(&idle, kind), Some(0.0), "{kind} is exported at 0");
    }

    let root = &backend.root;
    let watch = open_stream(&app, &format!("/v1/watch/{root}")).await;
    let election = open_stream(&app, &format!("/v1/elections/{root}-e/observe")).await;
    let open = scrape(&app).await;
    assert_eq!(subscribers(&open, "watch"), Some(1.0));
    assert_eq!(subscribers(&open, "election"), Some(1.0));
    assert_eq!(subscribers(&open, "config"), Some(0.0));

    drop(watch);
    let one_left = scrape(&app).await;
    assert_eq!(subscribers(&one_left, "watch"), Some(0.0));
    assert_eq!(subscribers(&one_left, "election"), Some(1.0));
    drop(election);
    assert_eq!(subscribers(&scrape(&app).await, "election"), Some(0.0));
}

#[tokio::test]
async fn http_requests_are_counted_by_route_template_method_and_status() {
    let backend = Backend::start().await;
    let app = backend.app();
    for name in ["one", "two"] {
        let missing = format!("/v1/znodes/{}/{name}", backend.root);
        assert_eq!(call(&app, Method::GET, &missing, None).await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(call(&app, Method::GET, "/no/such/route", None).await.status, 404);

    let scraped = scrape(&app).await;
    let znodes = [("route", "/v1/znodes/*path"), ("method", "GET"), ("status", "404")];
    assert_eq!(value(&scraped, "herald_gateway_http_requests_total", &znodes), Some(2.0));
    assert_eq!(
        value(&scraped, "herald_gateway_http_request_duration_seconds_count", &znodes),
        Some(2.0)
    );
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    assert_eq!(value(&scraped, "herald_gateway_http_requests_total", &unmatched), Some(1.0));
    // Raw paths never become labels.
    assert!(scraped.samples.iter().all(|s| s.labels.get("route") != Some("/no/such/route")));
}
