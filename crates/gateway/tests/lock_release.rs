//! Lock release over HTTP: a grant made here is released by deleting its remembered node
//! (one multi), a grant made elsewhere by searching the lock, and neither path lets a wrong
//! lease or token release anything. Runs against a real backend
//! (`HERALD_TEST_ZK=host:port` switches to an external ensemble such as Apache ZooKeeper).

mod common;
#[path = "../../recipes-lock/tests/support/proxy.rs"]
mod proxy;

use axum::Router;
use axum::http::Method;
use common::{Backend, assert_problem, call};
use gateway::{AppState, GatewayConfig, app};
use proxy::CuttingProxy;
use serde_json::{Value, json};

/// ZooKeeper opcodes as the proxy logs them.
const CREATE2: i32 = 15;
const GET_CHILDREN: i32 = 8;
const MULTI: i32 = 14;

async fn open_lease(app: &Router) -> String {
    let reply = call(app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": 2000}))).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json["id"].as_str().unwrap().to_owned()
}

async fn acquire(app: &Router, lock: &str, lease: &str) -> i64 {
    let uri = format!("/v1/locks/{lock}/acquire");
    let granted = call(app, Method::POST, &uri, Some(json!({"lease": lease}))).await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    granted.json["token"].as_i64().unwrap()
}

async fn release(app: &Router, lock: &str, lease: &str, token: i64) -> common::Reply {
    let uri = format!("/v1/locks/{lock}/release");
    call(app, Method::POST, &uri, Some(json!({"lease": lease, "token": token}))).await
}

async fn holders(app: &Router, lock: &str) -> Value {
    call(app, Method::GET, &format!("/v1/locks/{lock}"), None).await.json["holders"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncontended_acquire_and_release_cost_three_requests() {
    let backend = Backend::start().await;
    let upstream = tokio::net::lookup_host(&backend.address).await.unwrap().next().unwrap();
    let proxy = CuttingProxy::start(upstream).await;
    let app = app(AppState::new(GatewayConfig::new(proxy.address())));
    let lease = open_lease(&app).await;
    let lock = format!("{}-counted", backend.root);
    let dir = format!("/herald/locks/{lock}");
    // The first pair also makes the lock's directory; count the ones after it.
    let token = acquire(&app, &lock, &lease).await;
    assert_eq!(release(&app, &lock, &lease, token).await.status, 204);

    for _ in 0..3 {
        let before = proxy.requests_containing(&dir).len();
        let token = acquire(&app, &lock, &lease).await;
        let released = release(&app, &lock, &lease, token).await;
        assert_eq!(released.status, 204, "{}", released.text);
        let pair = proxy.requests_containing(&dir)[before..].to_vec();
        assert_eq!(pair, vec![CREATE2, GET_CHILDREN, MULTI], "create + listing, then one multi");
    }
    assert_eq!(holders(&app, &lock).await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_made_by_another_replica_is_released_by_searching() {
    let backend = Backend::start().await;
    let lock = format!("{}-replicas", backend.root);
    let (lease, token) = {
        let first = backend.app();
        let lease = open_lease(&first).await;
        (lease.clone(), acquire(&first, &lock, &lease).await)
        // The replica that made the grant (and remembers it) is gone from here on. While
        // two replicas both hold a lease's session they take its connection from each
        // other, so a live first replica would make this test about that hand-over.
    };
    let state = AppState::new(backend.config());
    let second = app(state.clone());
    assert_eq!(holders(&second, &lock).await[0]["token"], token);
    let released = release(&second, &lock, &lease, token).await;
    assert_eq!(released.status, 204, "{}", released.text);
    assert_eq!(holders(&second, &lock).await, json!([]));
    assert_problem(&release(&second, &lock, &lease, token).await, 404);

    // The lease goes on through the second replica, which remembers its own grants.
    assert!(state.leases().grants().is_empty());
    let token = acquire(&second, &lock, &lease).await;
    assert_eq!(state.leases().grants().len(), 1);
    assert_eq!(release(&second, &lock, &lease, token).await.status, 204);
    assert!(state.leases().grants().is_empty());
    assert_eq!(holders(&second, &lock).await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_grant_whose_node_is_gone_is_unknown() {
    let backend = Backend::start().await;
    let app = backend.app();
    let lease = open_lease(&app).await;
    let lock = format!("{}-vanished", backend.root);
    let token = acquire(&app, &lock, &lease).await;
    let node = holders(&app, &lock).await[0]["node"].as_str().unwrap().to_owned();
    backend.client().await.delete(&node, None).await.unwrap();

    let refused = release(&app, &lock, &lease, token).await;
    assert_problem(&refused, 404);
    assert_eq!(refused.json["type"], "urn:herald:problem:unknown-token", "{}", refused.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_leases_and_locks_release_nothing() {
    let backend = Backend::start().await;
    let app = backend.app();
    let (owner, other) = (open_lease(&app).await, open_lease(&app).await);
    let lock = format!("{}-owned", backend.root);
    let elsewhere = format!("{}-elsewhere", backend.root);
    let token = acquire(&app, &lock, &owner).await;
    let other_token = acquire(&app, &elsewhere, &other).await;

    let not_owner = release(&app, &lock, &other, token).await;
    assert_problem(&not_owner, 403);
    assert_eq!(not_owner.json["type"], "urn:herald:problem:not-owner", "{}", not_owner.text);
    assert_problem(&release(&app, &lock, &owner, token + 1).await, 404);
    assert_problem(&release(&app, &elsewhere, &owner, token).await, 404);
    assert_problem(&release(&app, &lock, &owner, other_token).await, 404);
    assert_eq!(holders(&app, &lock).await[0]["token"], token, "still held");
    assert_eq!(holders(&app, &elsewhere).await[0]["token"], other_token, "still held");

    assert_eq!(release(&app, &lock, &owner, token).await.status, 204);
    assert_eq!(release(&app, &elsewhere, &other, other_token).await.status, 204);
    assert_eq!(holders(&app, &lock).await, json!([]));
    assert_eq!(holders(&app, &elsewhere).await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_forgotten_on_release_and_when_their_lease_ends() {
    let backend = Backend::start().await;
    let state = AppState::new(backend.config());
    let app = app(state.clone());
    let (kept, revoked) = (open_lease(&app).await, open_lease(&app).await);
    let (first, second) = (format!("{}-kept", backend.root), format!("{}-revoked", backend.root));
    let kept_token = acquire(&app, &first, &kept).await;
    acquire(&app, &second, &revoked).await;
    assert_eq!(state.leases().grants().len(), 2);

    let uri = format!("/v1/leases/{revoked}");
    assert_eq!(call(&app, Method::DELETE, &uri, None).await.status, 204);
    assert_eq!(state.leases().grants().len(), 1, "the revoked lease's grant is forgotten");
    assert_eq!(holders(&app, &second).await, json!([]), "and its lock is free");

    assert_eq!(release(&app, &first, &kept, kept_token).await.status, 204);
    assert!(state.leases().grants().is_empty());
}
