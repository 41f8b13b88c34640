//! `/v1/queues` through the whole router with `oneshot`, against a real node (or
//! `HERALD_TEST_ZK`). Each test uses a queue named after its backend's unique root.

mod common;

use axum::Router;
use axum::http::{Method, StatusCode};
use common::{Backend, Reply, assert_problem, call, call_with};
use gateway::ApiError;
use recipes_queue::QueueError;
use serde_json::json;

async fn lease(app: &Router) -> String {
    let reply = call(app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": 4000}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.json["id"].as_str().unwrap().to_owned()
}

/// A problem reply of this status and `urn:herald:problem:<kind>`.
fn assert_kind(reply: &Reply, status: u16, kind: &str) {
    assert_problem(reply, status);
    assert_eq!(reply.json["type"], format!("urn:herald:problem:{kind}"), "{}", reply.text);
}

/// `/v1/queues/<unique name>`.
fn queue_uri(backend: &Backend, name: &str) -> String {
    format!("/v1/queues/{}-{name}", backend.root)
}

#[tokio::test]
async fn enqueue_claim_ack_in_priority_order_with_idempotency_and_stats() {
    let backend = Backend::start().await;
    let (app, queue) = (&backend.app(), queue_uri(&backend, "jobs"));
    let lease = lease(app).await;
    let items = format!("{queue}/items");
    let low = call(app, Method::POST, &items, Some(json!({"payload": "low"}))).await;
    assert_eq!(low.status, StatusCode::CREATED);
    assert_eq!(low.json["duplicate"], false);
    let high_body = json!({"payload": {"job": "high"}, "priority": 7});
    let key = [("idempotency-key", "order-1")];
    let high = call_with(app, Method::POST, &items, Some(high_body.clone()), &key).await;
    assert_eq!(high.status, StatusCode::CREATED);
    let again = call_with(app, Method::POST, &items, Some(high_body), &key).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json["duplicate"], true);
    assert_eq!(again.json["id"], high.json["id"]);

    let stats = call(app, Method::GET, &format!("{queue}/stats"), None).await;
    assert_eq!((&stats.json["depth"], &stats.json["in_flight"]), (&json!(2), &json!(0)));

    let claims = format!("{queue}/claims");
    let claim = json!({"lease": lease, "visibility_timeout_ms": 10000});
    let first = call(app, Method::POST, &claims, Some(claim.clone())).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.json["payload"], json!({"job": "high"}));
    assert_eq!(first.json["attempts"], 1);
    let stats = call(app, Method::GET, &format!("{queue}/stats"), None).await;
    assert_eq!(stats.json["in_flight"], 1);

    let ack = format!("{claims}/{}/ack", first.json["receipt"].as_str().unwrap());
    assert_eq!(call(app, Method::POST, &ack, None).await.status, StatusCode::NO_CONTENT);
    assert_kind(&call(app, Method::POST, &ack, None).await, 409, "claim-lost");

    let second = call(app, Method::POST, &claims, Some(claim.clone())).await;
    assert_eq!(second.json["payload"], "low");
    let empty = call(app, Method::POST, &claims, Some(claim)).await;
    assert_eq!(empty.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_claim_long_polls_until_an_item_arrives() {
    let backend = Backend::start().await;
    let (app, queue) = (backend.app(), queue_uri(&backend, "poll"));
    let lease = lease(&app).await;
    let waiting = tokio::spawn({
        let (app, claims) = (app.clone(), format!("{queue}/claims"));
        async move {
            let body = json!({"lease": lease, "wait_ms": 15000});
            call(&app, Method::POST, &claims, Some(body)).await
        }
    });
    let items = format!("{queue}/items");
    let put = call(&app, Method::POST, &items, Some(json!({"payload": 1}))).await;
    assert_eq!(put.status, StatusCode::CREATED);
    let claimed = waiting.await.unwrap();
    assert_eq!(claimed.status, StatusCode::OK);
    assert_eq!(claimed.json["payload"], 1);
}

#[tokio::test]
async fn a_revoked_lease_returns_its_claimed_item_and_its_receipt_dies() {
    let backend = Backend::start().await;
    let (app, queue) = (&backend.app(), queue_uri(&backend, "jobs"));
    let (doomed, survivor) = (lease(app).await, lease(app).await);
    call(app, Method::POST, &format!("{queue}/items"), Some(json!({"payload": "x"}))).await;
    let claims = format!("{queue}/claims");
    let body = json!({"lease": doomed, "visibility_timeout_ms": 60000});
    let held = call(app, Method::POST, &claims, Some(body)).await;
    assert_eq!(held.status, StatusCode::OK);
    let revoke = call(app, Method::DELETE, &format!("/v1/leases/{doomed}"), None).await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);

    let body = json!({"lease": survivor, "wait_ms": 10000});
    let again = call(app, Method::POST, &claims, Some(body)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json["attempts"], 2);
    let stale = format!("{claims}/{}/ack", held.json["receipt"].as_str().unwrap());
    assert_kind(&call(app, Method::POST, &stale, None).await, 409, "claim-lost");
}

#[tokio::test]
async fn nack_extend_and_dead_letters() {
    let backend = Backend::start().await;
    let (app, queue) = (&backend.app(), queue_uri(&backend, "work"));
    let lease = lease(app).await;
    call(app, Method::POST, &format!("{queue}/items"), Some(json!({"payload": "p"}))).await;
    let claims = format!("{queue}/claims");
    let claim = json!({"lease": lease});
    let first = call(app, Method::POST, &claims, Some(claim.clone())).await;
    let receipt = first.json["receipt"].as_str().unwrap().to_owned();

    let extend = format!("{claims}/{receipt}/extend");
    let longer = json!({"visibility_timeout_ms": 60000});
    let extended = call(app, Method::POST, &extend, Some(longer)).await;
    assert_eq!(extended.status, StatusCode::OK, "{}", extended.text);
    let renewed = extended.json["receipt"].as_str().unwrap().to_owned();
    assert_ne!(renewed, receipt);
    let shorter = json!({"visibility_timeout_ms": 1000});
    assert_kind(&call(app, Method::POST, &extend, Some(shorter)).await, 409, "claim-lost");

    let nack = format!("{claims}/{renewed}/nack");
    let nacked = call(app, Method::POST, &nack, Some(json!({"delay_ms": 0}))).await;
    assert_eq!(nacked.status, StatusCode::OK);
    assert_eq!(nacked.json["outcome"], "requeued");
    let dead_letters = format!("{queue}/dead-letters");
    assert_eq!(call(app, Method::GET, &dead_letters, None).await.json, json!([]));

    // The default allows five attempts; the fifth nack dead-letters the item.
    for attempt in 2..=5 {
        let claimed = call(app, Method::POST, &claims, Some(claim.clone())).await;
        assert_eq!(claimed.json["attempts"], attempt);
        let nack = format!("{claims}/{}/nack", claimed.json["receipt"].as_str().unwrap());
        let nacked = call(app, Method::POST, &nack, None).await;
        let expected = if attempt == 5 { "dead_lettered" } else { "requeued" };
        assert_eq!(nacked.json["outcome"], expected);
    }
    let dead = call(app, Method::GET, &format!("{dead_letters}?limit=10"), None).await;
    assert_eq!(dead.json[0]["payload"], "p");
    assert_eq!(dead.json[0]["attempts"], 5);
    let stats = call(app, Method::GET, &format!("{queue}/stats"), None).await;
    assert_eq!((&stats.json["depth"], &stats.json["dead_letters"]), (&json!(0), &json!(1)));
}

#[tokio::test]
async fn bad_input_is_a_problem_not_a_crash() {
    let backend = Backend::start().await;
    let (app, queue) = (&backend.app(), queue_uri(&backend, "jobs"));
    let lease = lease(app).await;
    let (items, claims) = (format!("{queue}/items"), format!("{queue}/claims"));
    let cases = [
        (Method::POST, items.clone(), Some(json!({"no_payload": 1}))),
        (Method::POST, items, Some(json!({"payload": 1, "priority": 10}))),
        (Method::POST, "/v1/queues/bad%20name/items".to_owned(), Some(json!({"payload": 1}))),
        (Method::POST, claims.clone(), Some(json!({"lease": "nonsense"}))),
        (Method::POST, claims.clone(), Some(json!({"lease": lease, "wait_ms": 60001}))),
        (Method::POST, format!("{claims}/not-a-receipt/ack"), None),
        (Method::GET, format!("{queue}/dead-letters?limit=1001"), None),
        (Method::GET, format!("{queue}/dead-letters?limit=-1"), None),
    ];
    for (method, uri, body) in cases {
        assert_kind(&call(app, method, &uri, body).await, 400, "bad-request");
    }
}

#[test]
fn a_full_queue_is_429_and_a_lost_claim_409() {
    let full = ApiError::from(QueueError::QueueFull { limit: 1 });
    assert_eq!(full.status, StatusCode::TOO_MANY_REQUESTS);
    let lost = QueueError::ClaimLost { item: "p0-1".parse().unwrap() };
    assert_eq!(ApiError::from(lost).status, StatusCode::CONFLICT);
    assert_eq!(ApiError::from(QueueError::Invalid("x".into())).status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_openapi_document_describes_the_queue_routes() {
    let backend = Backend::start().await;
    let reply = call(&backend.app(), Method::GET, "/openapi.json", None).await;
    for path in [
        "/v1/queues/{name}/items",
        "/v1/queues/{name}/claims",
        "/v1/queues/{name}/claims/{receipt}/ack",
        "/v1/queues/{name}/claims/{receipt}/nack",
        "/v1/queues/{name}/claims/{receipt}/extend",
        "/v1/queues/{name}/stats",
        "/v1/queues/{name}/dead-letters",
    ] {
        assert!(reply.json["paths"].get(path).is_some(), "{path} missing from /openapi.json");
    }
}

/// The gateway's queue settings reach the queues it opens: a size bound of 2 admits two
/// items and answers the third with 429, problem+json and a Retry-After; malformed input
/// stays 400; a claim without a visibility timeout gets the configured default.
#[tokio::test]
async fn configured_queue_settings_apply_at_their_bounds() {
    let backend = Backend::start().await;
    let mut config = backend.config();
    config.queue.max_items = 2;
    config.queue_visibility_timeout_ms = 1234;
    config.validate().unwrap();
    let app = &gateway::app(gateway::AppState::new(config));
    let queue = queue_uri(&backend, "bounded");
    let items = format!("{queue}/items");
    for n in 0..2 {
        let added = call(app, Method::POST, &items, Some(json!({"payload": n}))).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    }
    let full = call(app, Method::POST, &items, Some(json!({"payload": 2}))).await;
    assert_kind(&full, 429, "queue-full");
    assert_eq!(full.headers["retry-after"], "1");
    let malformed =
        call(app, Method::POST, &items, Some(json!({"payload": 3, "priority": 99}))).await;
    assert_problem(&malformed, 400);
    assert!(malformed.headers.get("retry-after").is_none());
    let stats = call(app, Method::GET, &format!("{queue}/stats"), None).await;
    assert_eq!((&stats.json["depth"], &stats.json["max_items"]), (&json!(2), &json!(2)));

    let lease = lease(app).await;
    let before =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as u64;
    let claimed =
        call(app, Method::POST, &format!("{queue}/claims"), Some(json!({"lease": lease}))).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
    let until = claimed.json["claimed_until_ms"].as_u64().unwrap();
    assert!(until >= before + 1234 && until < before + 30_000, "{until} vs {before}");
}
