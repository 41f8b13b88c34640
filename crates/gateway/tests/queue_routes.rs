//! `/v1/queues` through the whole router with `oneshot`, against a real Herald node.

mod route_support;

use axum::http::StatusCode;
use gateway::ApiError;
use recipes_queue::QueueError;
use route_support::{assert_problem, call, call_with, gateway, lease, request};
use serde_json::json;

#[tokio::test]
async fn enqueue_claim_ack_in_priority_order_with_idempotency_and_stats() {
    let gateway = gateway().await;
    let app = &gateway.app;
    let lease = lease(app).await;
    let low = call(app, "POST", "/v1/queues/jobs/items", Some(json!({"payload": "low"}))).await;
    assert_eq!(low.status, StatusCode::CREATED);
    assert_eq!(low.body["duplicate"], false);
    let high_body = json!({"payload": {"job": "high"}, "priority": 7});
    let keyed = request("POST", "/v1/queues/jobs/items").header("idempotency-key", "order-1");
    let high = call_with(app, keyed, Some(high_body.clone())).await;
    assert_eq!(high.status, StatusCode::CREATED);
    let keyed = request("POST", "/v1/queues/jobs/items").header("idempotency-key", "order-1");
    let again = call_with(app, keyed, Some(high_body)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["id"], high.body["id"]);

    let stats = call(app, "GET", "/v1/queues/jobs/stats", None).await;
    assert_eq!((&stats.body["depth"], &stats.body["in_flight"]), (&json!(2), &json!(0)));

    let claim = json!({"lease": lease, "visibility_timeout_ms": 10000});
    let first = call(app, "POST", "/v1/queues/jobs/claims", Some(claim.clone())).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["payload"], json!({"job": "high"}));
    assert_eq!(first.body["attempts"], 1);
    let stats = call(app, "GET", "/v1/queues/jobs/stats", None).await;
    assert_eq!(stats.body["in_flight"], 1);

    let receipt = first.body["receipt"].as_str().unwrap();
    let ack = call(app, "POST", &format!("/v1/queues/jobs/claims/{receipt}/ack"), None).await;
    assert_eq!(ack.status, StatusCode::NO_CONTENT);
    let twice = call(app, "POST", &format!("/v1/queues/jobs/claims/{receipt}/ack"), None).await;
    assert_problem(&twice, StatusCode::CONFLICT, "claim-lost");

    let second = call(app, "POST", "/v1/queues/jobs/claims", Some(claim.clone())).await;
    assert_eq!(second.body["payload"], "low");
    let empty = call(app, "POST", "/v1/queues/jobs/claims", Some(claim)).await;
    assert_eq!(empty.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_claim_long_polls_until_an_item_arrives() {
    let gateway = gateway().await;
    let lease = lease(&gateway.app).await;
    let waiting = tokio::spawn({
        let app = gateway.app.clone();
        async move {
            let body = json!({"lease": lease, "wait_ms": 15000});
            call(&app, "POST", "/v1/queues/poll/claims", Some(body)).await
        }
    });
    let put =
        call(&gateway.app, "POST", "/v1/queues/poll/items", Some(json!({"payload": 1}))).await;
    assert_eq!(put.status, StatusCode::CREATED);
    let claimed = waiting.await.unwrap();
    assert_eq!(claimed.status, StatusCode::OK);
    assert_eq!(claimed.body["payload"], 1);
}

#[tokio::test]
async fn a_revoked_lease_returns_its_claimed_item_and_its_receipt_dies() {
    let gateway = gateway().await;
    let app = &gateway.app;
    let (doomed, survivor) = (lease(app).await, lease(app).await);
    call(app, "POST", "/v1/queues/jobs/items", Some(json!({"payload": "x"}))).await;
    let body = json!({"lease": doomed, "visibility_timeout_ms": 60000});
    let held = call(app, "POST", "/v1/queues/jobs/claims", Some(body)).await;
    assert_eq!(held.status, StatusCode::OK);
    let revoke = call(app, "DELETE", &format!("/v1/leases/{doomed}"), None).await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);

    let body = json!({"lease": survivor, "wait_ms": 10000});
    let again = call(app, "POST", "/v1/queues/jobs/claims", Some(body)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["attempts"], 2);
    let stale = held.body["receipt"].as_str().unwrap();
    let ack = call(app, "POST", &format!("/v1/queues/jobs/claims/{stale}/ack"), None).await;
    assert_problem(&ack, StatusCode::CONFLICT, "claim-lost");
}

#[tokio::test]
async fn nack_extend_and_dead_letters() {
    let gateway = gateway().await;
    let app = &gateway.app;
    let lease = lease(app).await;
    call(app, "POST", "/v1/queues/work/items", Some(json!({"payload": "p"}))).await;
    let claim = json!({"lease": lease});
    let first = call(app, "POST", "/v1/queues/work/claims", Some(claim.clone())).await;
    let receipt = first.body["receipt"].as_str().unwrap().to_owned();

    let extend_uri = format!("/v1/queues/work/claims/{receipt}/extend");
    let longer = json!({"visibility_timeout_ms": 60000});
    let extended = call(app, "POST", &extend_uri, Some(longer)).await;
    assert_eq!(extended.status, StatusCode::OK, "{:?}", extended.body);
    let renewed = extended.body["receipt"].as_str().unwrap().to_owned();
    assert_ne!(renewed, receipt);
    let stale = call(app, "POST", &extend_uri, Some(json!({"visibility_timeout_ms": 1000}))).await;
    assert_problem(&stale, StatusCode::CONFLICT, "claim-lost");

    let nack_uri = format!("/v1/queues/work/claims/{renewed}/nack");
    let nacked = call(app, "POST", &nack_uri, Some(json!({"delay_ms": 0}))).await;
    assert_eq!(nacked.status, StatusCode::OK);
    assert_eq!(nacked.body["outcome"], "requeued");
    let dead = call(app, "GET", "/v1/queues/work/dead-letters", None).await;
    assert_eq!(dead.body, json!([]));

    // The default allows five attempts; the fifth nack dead-letters the item.
    for attempt in 2..=5 {
        let claimed = call(app, "POST", "/v1/queues/work/claims", Some(claim.clone())).await;
        assert_eq!(claimed.body["attempts"], attempt);
        let receipt = claimed.body["receipt"].as_str().unwrap();
        let uri = format!("/v1/queues/work/claims/{receipt}/nack");
        let nacked = call(app, "POST", &uri, None).await;
        let expected = if attempt == 5 { "dead_lettered" } else { "requeued" };
        assert_eq!(nacked.body["outcome"], expected);
    }
    let dead = call(app, "GET", "/v1/queues/work/dead-letters?limit=10", None).await;
    assert_eq!(dead.body[0]["payload"], "p");
    assert_eq!(dead.body[0]["attempts"], 5);
    let stats = call(app, "GET", "/v1/queues/work/stats", None).await;
    assert_eq!((&stats.body["depth"], &stats.body["dead_letters"]), (&json!(0), &json!(1)));
}

#[tokio::test]
async fn bad_input_is_a_problem_not_a_crash() {
    let gateway = gateway().await;
    let app = &gateway.app;
    let lease = lease(app).await;
    let cases = [
        ("POST", "/v1/queues/jobs/items", Some(json!({"no_payload": 1}))),
        ("POST", "/v1/queues/jobs/items", Some(json!({"payload": 1, "priority": 10}))),
        ("POST", "/v1/queues/bad%20name/items", Some(json!({"payload": 1}))),
        ("POST", "/v1/queues/jobs/claims", Some(json!({"lease": "nonsense"}))),
        ("POST", "/v1/queues/jobs/claims", Some(json!({"lease": lease, "wait_ms": 60001}))),
        ("POST", "/v1/queues/jobs/claims/not-a-receipt/ack", None),
        ("GET", "/v1/queues/jobs/dead-letters?limit=1001", None),
        ("GET", "/v1/queues/jobs/dead-letters?limit=-1", None),
    ];
    for (method, uri, body) in cases {
        let reply = call(app, method, uri, body).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "bad-request");
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
    let gateway = gateway().await;
    let reply = call(&gateway.app, "GET", "/openapi.json", None).await;
    let paths = &reply.body["paths"];
    for path in [
        "/v1/queues/{name}/items",
        "/v1/queues/{name}/claims",
        "/v1/queues/{name}/claims/{receipt}/ack",
        "/v1/queues/{name}/claims/{receipt}/nack",
        "/v1/queues/{name}/claims/{receipt}/extend",
        "/v1/queues/{name}/stats",
        "/v1/queues/{name}/dead-letters",
    ] {
        assert!(paths.get(path).is_some(), "{path} missing from /openapi.json");
    }
}
