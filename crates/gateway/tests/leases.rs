//! Leases (= ZooKeeper sessions) and bearer-token auth over the router.

mod common;

use axum::http::Method;
use common::{Backend, assert_problem, call, call_with, eventually};
use gateway::leases::{LEASE_TTL_MS_MAX, LEASE_TTL_MS_MIN};
use serde_json::json;

async fn open_lease(app: &axum::Router, ttl_ms: u64) -> String {
    let reply = call(app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": ttl_ms}))).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_lease_removes_its_ephemerals() {
    let backend = Backend::start().await;
    let app = backend.app();
    let lease = open_lease(&app, 2000).await;
    let root = &backend.root;
    call(&app, Method::POST, &format!("/v1/znodes/{root}"), Some(json!({}))).await;
    let eph = call(
        &app,
        Method::POST,
        &format!("/v1/znodes/{root}/me"),
        Some(json!({"mode": "ephemeral", "lease": lease})),
    )
    .await;
    assert_eq!(eph.status, 201, "{}", eph.text);
    assert_ne!(eph.json["stat"]["ephemeral_owner"], 0);

    let inspected = call(&app, Method::GET, &format!("/v1/leases/{lease}"), None).await;
    assert_eq!(inspected.status, 200, "{}", inspected.text);
    assert_eq!(inspected.json["ephemerals"], json!([format!("/{root}/me")]));
    assert!(inspected.json["ttl_ms"].as_u64().unwrap() > 0);
    assert!(
        inspected.json["remaining_ms"].as_u64().unwrap()
            <= inspected.json["ttl_ms"].as_u64().unwrap()
    );

    let revoked = call(&app, Method::DELETE, &format!("/v1/leases/{lease}"), None).await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    let uri = format!("/v1/stat/{root}/me");
    eventually("the ephemeral vanishes", || async {
        call(&app, Method::GET, &uri, None).await.status == 404
    })
    .await;
    let after = call(&app, Method::POST, &format!("/v1/leases/{lease}/keepalive"), None).await;
    assert_problem(&after, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_restart_loses_no_lease() {
    let backend = Backend::start().await;
    let root = &backend.root;
    let lease = {
        let first = backend.app();
        let lease = open_lease(&first, 2000).await;
        call(&first, Method::POST, &format!("/v1/znodes/{root}"), Some(json!({}))).await;
        let eph = call(
            &first,
            Method::POST,
            &format!("/v1/znodes/{root}/held"),
            Some(json!({"mode": "ephemeral", "lease": lease})),
        )
        .await;
        assert_eq!(eph.status, 201);
        lease
        // `first` and its state (with the lease's open session) are dropped here.
    };
    let second = backend.app();
    let kept = call(&second, Method::POST, &format!("/v1/leases/{lease}/keepalive"), None).await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    let inspected = call(&second, Method::GET, &format!("/v1/leases/{lease}"), None).await;
    assert_eq!(inspected.json["ephemerals"], json!([format!("/{root}/held")]));
    assert_eq!(
        call(&second, Method::DELETE, &format!("/v1/leases/{lease}"), None).await.status,
        204
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_without_keepalive_ends() {
    let backend = Backend::start().await;
    let app = backend.app();
    let lease = open_lease(&app, 500).await;
    let root = &backend.root;
    call(&app, Method::POST, &format!("/v1/znodes/{root}"), Some(json!({}))).await;
    call(
        &app,
        Method::POST,
        &format!("/v1/znodes/{root}/short"),
        Some(json!({"mode": "ephemeral", "lease": lease})),
    )
    .await;
    let uri = format!("/v1/stat/{root}/short");
    eventually("the unkept lease ends", || async {
        call(&app, Method::GET, &uri, None).await.status == 404
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_ttl_bounds() {
    let backend = Backend::start().await;
    let app = backend.app();
    for (ttl, status) in [(LEASE_TTL_MS_MIN - 1, 400), (LEASE_TTL_MS_MAX + 1, 400)] {
        let reply = call(&app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": ttl}))).await;
        assert_problem(&reply, status);
    }
    for ttl in [LEASE_TTL_MS_MIN, LEASE_TTL_MS_MAX] {
        let reply = call(&app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": ttl}))).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_lease_id_is_refused() {
    let backend = Backend::start().await;
    let app = backend.app();
    let lease = open_lease(&app, 2000).await;
    let decoded = gateway::leases::LeaseId::decode(&lease).unwrap();
    let mut forged = decoded.clone();
    forged.password = vec![0; decoded.password.len()];
    let reply = call(&app, Method::GET, &format!("/v1/leases/{}", forged.encode()), None).await;
    assert_problem(&reply, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_map_to_digest_identities() {
    let backend = Backend::start().await;
    let mut config = backend.config();
    for entry in ["alice-token=alice:pw1", "bob-token=bob:pw2"] {
        let (token, identity) = gateway::GatewayConfig::parse_token(entry).unwrap();
        config.tokens.insert(token, identity);
    }
    let app = gateway::app(gateway::AppState::new(config));
    let uri = format!("/v1/znodes/{}", backend.root);

    let anonymous = call(&app, Method::GET, &uri, None).await;
    assert_problem(&anonymous, 401);
    let unknown =
        call_with(&app, Method::GET, &uri, None, &[("authorization", "Bearer nope")]).await;
    assert_problem(&unknown, 401);
    assert_eq!(call(&app, Method::GET, "/healthz", None).await.status, 200);

    let alice = [("authorization", "Bearer alice-token")];
    let bob = [("authorization", "Bearer bob-token")];
    let created = call_with(
        &app,
        Method::POST,
        &uri,
        Some(json!({"data": "secret", "acl": "creator"})),
        &alice,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let read = call_with(&app, Method::GET, &uri, None, &alice).await;
    assert_eq!(read.json["data"], "secret");
    let denied = call_with(&app, Method::GET, &uri, None, &bob).await;
    assert_problem(&denied, 403);
    assert_eq!(denied.json["zookeeper_code"], -102);
}

/// Two gateway replicas on one node: a lease opened on A and kept alive only through B
/// stays alive (A must not end it on its own timer), ends once keepalives stop, and a
/// revoke through B ends it for A too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_through_any_replica_keep_the_lease_for_all() {
    let backend = Backend::start().await;
    let (a, b) = (backend.app(), backend.app());
    // The longest ttl the test node negotiates (20 ticks of 100 ms): slack for a busy
    // machine between keepalives.
    let ttl_ms = 2000;
    let lease = open_lease(&a, ttl_ms).await;
    let lock = format!("{}-replicas", backend.root);
    let granted =
        call(&a, Method::POST, &format!("/v1/locks/{lock}/acquire"), Some(json!({"lease": lease})))
            .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let token = granted.json["token"].clone();

    // Keepalives only through B, for 2.5 × ttl: A's own timer would have fired twice.
    let started = tokio::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_millis(5 * ttl_ms / 2) {
        let kept = call(&b, Method::POST, &format!("/v1/leases/{lease}/keepalive"), None).await;
        assert_eq!(kept.status, 200, "{}", kept.text);
        tokio::time::sleep(std::time::Duration::from_millis(ttl_ms / 8)).await;
    }
    let inspected = call(&a, Method::GET, &format!("/v1/locks/{lock}"), None).await;
    assert_eq!(inspected.json["holders"][0]["token"], token, "{}", inspected.text);

    // No more keepalives: the lease ends (the reaper's bound plus the close round trip).
    let uri = format!("/v1/locks/{lock}");
    eventually("the unkept lease releases its lock", || async {
        call(&a, Method::GET, &uri, None).await.json["holders"] == json!([])
    })
    .await;
    for replica in [&a, &b] {
        let after =
            call(replica, Method::POST, &format!("/v1/leases/{lease}/keepalive"), None).await;
        assert_problem(&after, 404);
    }

    // Revoke through B ends a lease A opened and holds.
    let root = &backend.root;
    let second = open_lease(&a, ttl_ms).await;
    call(&a, Method::POST, &format!("/v1/znodes/{root}"), Some(json!({}))).await;
    let eph = call(
        &a,
        Method::POST,
        &format!("/v1/znodes/{root}/owned"),
        Some(json!({"mode": "ephemeral", "lease": second})),
    )
    .await;
    assert_eq!(eph.status, 201, "{}", eph.text);
    assert_eq!(call(&b, Method::DELETE, &format!("/v1/leases/{second}"), None).await.status, 204);
    assert_eq!(call(&a, Method::GET, &format!("/v1/stat/{root}/owned"), None).await.status, 404);
    let on_a = call(&a, Method::POST, &format!("/v1/leases/{second}/keepalive"), None).await;
    assert_problem(&on_a, 404);
    // No marker is left behind once the leases ended.
    let client = backend.client().await;
    let markers = client.list_children(gateway::lease_marker::LEASE_MARKERS_PATH).await.unwrap();
    for id in [&lease, &second] {
        let session = gateway::leases::LeaseId::decode(id).unwrap().session_id;
        assert!(!markers.contains(&format!("{session:016x}")), "{markers:?}");
    }
}

/// A lease whose requests alternate between two replicas (a load balancer spreading one
/// client's calls) serves every request. Each move is a take-over: the replica holding the
/// session's connection must let go before the other connects, or the two clients steal
/// the connection from each other and a request in flight fails with connection loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_moving_between_replicas_on_every_request_serves_them_all() {
    const MOVES: usize = 24;
    let backend = Backend::start().await;
    let (a, b) = (backend.app(), backend.app());
    let lease = open_lease(&a, 4000).await;
    let session = gateway::leases::LeaseId::decode(&lease).unwrap().session_id;
    let root = &backend.root;
    assert_eq!(
        call(&a, Method::POST, &format!("/v1/znodes/{root}"), Some(json!({}))).await.status,
        201
    );
    for round in 0..MOVES {
        let replica = if round % 2 == 0 { &b } else { &a };
        let created = call(
            replica,
            Method::POST,
            &format!("/v1/znodes/{root}/e{round}"),
            Some(json!({"mode": "ephemeral", "lease": lease})),
        )
        .await;
        assert_eq!(created.status, 201, "move {round}: {}", created.text);
        let stat = call(&a, Method::GET, &format!("/v1/stat/{root}/e{round}"), None).await;
        assert_eq!(stat.json["ephemeral_owner"], json!(session), "{}", stat.text);
    }
}

/// A keepalive moves the marker's deadline only: it must not name its replica keeper again
/// after that replica handed the lease on, nor drop another replica's pending request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extending_a_marker_keeps_its_keeper_and_pending_handover() {
    use gateway::auth::Identity;
    use gateway::lease_marker::{self as marker, MarkerRecord};
    let backend = Backend::start().await;
    let client = backend.client().await;
    let session = client.session_id().0;
    let asked = MarkerRecord { handover_to: Some(6), ..MarkerRecord::kept_by(5, 1) };
    marker::create(&client, &Identity(None), session, &asked).await.unwrap();
    marker::extend(&client, session, 7, 99).await.unwrap();
    let extended = marker::read(&client, session).await.unwrap();
    assert_eq!(extended, Some(MarkerRecord { deadline_unix_ms: 99, ..asked }));

    // A marker that is not a record is rewritten as kept by the extending replica.
    let path = marker::marker_path(session);
    client.set_data(&path, b"not a record", None).await.unwrap();
    marker::extend(&client, session, 7, 100).await.unwrap();
    assert_eq!(marker::read(&client, session).await.unwrap(), Some(MarkerRecord::kept_by(7, 100)));

    // No marker: the lease ended.
    client.delete(&path, None).await.unwrap();
    let ended = marker::extend(&client, session, 7, 101).await;
    assert_eq!(ended, Err(zookeeper_client::Error::NoNode));
}
