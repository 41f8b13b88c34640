//! The lock recipes against a real backend: a Herald node started in-process, or the
//! ensemble named by `HERALD_TEST_ZK=host:port` (for example Apache ZooKeeper).

#[path = "support/backend.rs"]
mod backend;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use recipes_lock::{ContenderKind, GuardedWrite, LockError, election, lock, semaphore};
use tokio::sync::Mutex;
use zookeeper_client::{Acls, Client, CreateMode};

use backend::Backend;

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Waits (bounded) until the lock at `dir` has `count` waiters.
async fn until_waiters(client: &Client, dir: &str, count: usize) {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    while lock::inspect(client, dir).await.unwrap().waiters.len() != count {
        assert!(tokio::time::Instant::now() < give_up, "never saw {count} waiters");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_contenders_never_overlap_and_tokens_strictly_increase() {
    let backend = Arc::new(Backend::start("recipes").await);
    let dir = backend.dir("mutex");
    let inside = Arc::new(AtomicU32::new(0));
    let grants = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (backend, dir, inside, grants) =
            (backend.clone(), dir.clone(), inside.clone(), grants.clone());
        tasks.push(tokio::spawn(async move {
            let client = backend.client().await;
            for _ in 0..3 {
                let grant = lock::acquire(&client, &dir, ContenderKind::Exclusive, b"", WAIT)
                    .await
                    .unwrap();
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                grants.lock().await.push(grant.token);
                tokio::task::yield_now().await;
                assert_eq!(inside.fetch_sub(1, Ordering::SeqCst), 1, "two holders at once");
                lock::release(&client, &dir, grant.token).await.unwrap();
            }
        }));
    }
    for task in tasks {
        within("contender", task).await.unwrap();
    }
    let grants = grants.lock().await;
    assert_eq!(grants.len(), 60);
    assert!(grants.windows(2).all(|pair| pair[0] < pair[1]), "tokens out of order: {grants:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_lock_returns_at_once_and_leaves_nothing_behind() {
    let backend = Backend::start("recipes").await;
    let dir = backend.dir("try");
    let (holder, other) = (backend.client().await, backend.client().await);
    let held =
        lock::acquire(&holder, &dir, ContenderKind::Exclusive, b"", Duration::ZERO).await.unwrap();
    let attempt = lock::acquire(&other, &dir, ContenderKind::Exclusive, b"", Duration::ZERO).await;
    assert_eq!(attempt, Err(LockError::NotAcquired));
    let info = lock::inspect(&other, &dir).await.unwrap();
    assert_eq!(info.holders.len(), 1);
    assert_eq!(info.holders[0].token, held.token);
    assert!(info.waiters.is_empty(), "the failed try left a contender: {info:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_session_ends_loses_the_lock_to_the_next_waiter() {
    let backend = Backend::start("recipes").await;
    let dir = backend.dir("handover");
    let holder = backend.client().await;
    let first = lock::acquire(&holder, &dir, ContenderKind::Exclusive, b"", WAIT).await.unwrap();
    let waiter = backend.client().await;
    let observer = backend.client().await;
    let dir_for_waiter = dir.clone();
    let waiting = tokio::spawn(async move {
        let grant =
            lock::acquire(&waiter, &dir_for_waiter, ContenderKind::Exclusive, b"", WAIT).await;
        (grant, waiter)
    });
    until_waiters(&observer, &dir, 1).await;
    drop(holder); // closes the session: the ensemble deletes its contender
    let (second, _waiter) = within("the waiter's grant", waiting).await.unwrap();
    let second = second.unwrap();
    assert!(second.token > first.token);
    assert_eq!(second.wakeups, 1);

    // The old holder's token is now stale: its guarded write is refused.
    let target = format!("{}/resource", backend.root);
    observer
        .create(&target, b"", &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .unwrap();
    let stale =
        GuardedWrite { token: first.token, path: &target, data: b"stale", expected_version: None };
    assert_eq!(
        lock::guarded_write(&observer, &dir, &stale).await,
        Err(LockError::NotHolder(first.token))
    );
    let fresh =
        GuardedWrite { token: second.token, path: &target, data: b"fresh", expected_version: None };
    lock::guarded_write(&observer, &dir, &fresh).await.unwrap();
    assert_eq!(observer.get_data(&target).await.unwrap().0, b"fresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiters_guarded_write_is_refused() {
    let backend = Backend::start("recipes").await;
    let dir = backend.dir("guard");
    let (holder, waiter_client, observer) =
        (backend.client().await, backend.client().await, backend.client().await);
    lock::acquire(&holder, &dir, ContenderKind::Exclusive, b"", WAIT).await.unwrap();
    let dir_for_waiter = dir.clone();
    let waiting = tokio::spawn(async move {
        lock::acquire(&waiter_client, &dir_for_waiter, ContenderKind::Exclusive, b"", WAIT).await
    });
    until_waiters(&observer, &dir, 1).await;
    let waiter_token = lock::inspect(&observer, &dir).await.unwrap().waiters[0].token;
    let target = format!("{}/resource", backend.root);
    observer
        .create(&target, b"", &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .unwrap();
    let write =
        GuardedWrite { token: waiter_token, path: &target, data: b"x", expected_version: None };
    assert_eq!(
        lock::guarded_write(&observer, &dir, &write).await,
        Err(LockError::NotHolder(waiter_token))
    );
    drop(holder);
    within("handover", waiting).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_waiter_is_woken_once_no_herd() {
    let backend = Arc::new(Backend::start("recipes").await);
    let dir = backend.dir("herd");
    let holder = backend.client().await;
    let observer = backend.client().await;
    let held = lock::acquire(&holder, &dir, ContenderKind::Exclusive, b"", WAIT).await.unwrap();
    let mut tasks = Vec::new();
    for index in 0..6 {
        let (backend, dir) = (backend.clone(), dir.clone());
        until_waiters(&observer, &dir, index).await; // queue them in a known order
        tasks.push(tokio::spawn(async move {
            let client = backend.client().await;
            let grant =
                lock::acquire(&client, &dir, ContenderKind::Exclusive, b"", WAIT).await.unwrap();
            lock::release(&client, &dir, grant.token).await.unwrap();
            grant.wakeups
        }));
    }
    until_waiters(&observer, &dir, 6).await;
    lock::release(&holder, &dir, held.token).await.unwrap();
    for task in tasks {
        // Watching the whole directory would wake later waiters on every release.
        assert_eq!(within("waiter", task).await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_share_and_writers_exclude() {
    let backend = Backend::start("recipes").await;
    let dir = backend.dir("rw");
    let (a, b, c) = (backend.client().await, backend.client().await, backend.client().await);
    let first = lock::acquire(&a, &dir, ContenderKind::Read, b"", Duration::ZERO).await.unwrap();
    let second = lock::acquire(&b, &dir, ContenderKind::Read, b"", Duration::ZERO).await.unwrap();
    assert!(second.token > first.token);
    assert_eq!(
        lock::acquire(&c, &dir, ContenderKind::Exclusive, b"", Duration::ZERO).await,
        Err(LockError::NotAcquired)
    );
    lock::release(&a, &dir, first.token).await.unwrap();
    lock::release(&b, &dir, second.token).await.unwrap();
    let writer =
        lock::acquire(&c, &dir, ContenderKind::Exclusive, b"", Duration::ZERO).await.unwrap();
    assert_eq!(
        lock::acquire(&a, &dir, ContenderKind::Read, b"", Duration::ZERO).await,
        Err(LockError::NotAcquired)
    );
    lock::release(&c, &dir, writer.token).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semaphore_never_exceeds_its_permits() {
    let backend = Arc::new(Backend::start("recipes").await);
    let dir = backend.dir("sem");
    let permits = 3;
    let holders: Vec<Client> = futures_join(&backend, permits).await;
    let mut grants = Vec::new();
    for client in &holders {
        grants
            .push(semaphore::acquire(client, &dir, permits as u32, Duration::ZERO).await.unwrap());
    }
    let extra = backend.client().await;
    assert_eq!(
        semaphore::acquire(&extra, &dir, permits as u32, Duration::ZERO).await,
        Err(LockError::NotAcquired)
    );
    let info = semaphore::inspect(&extra, &dir).await.unwrap();
    assert_eq!(info.holders.len(), permits);
    assert!(info.waiters.is_empty());

    // A waiter gets the permit a holder returns.
    let dir_for_waiter = dir.clone();
    let waiting = tokio::spawn(async move {
        let grant = semaphore::acquire(&extra, &dir_for_waiter, permits as u32, WAIT).await;
        (grant, extra)
    });
    semaphore::release(&holders[0], &dir, grants[0].token).await.unwrap();
    let (granted, _still_open) = within("permit", waiting).await.unwrap();
    let granted = granted.unwrap();
    assert!(granted.token > grants[2].token);
    let info = semaphore::inspect(&holders[1], &dir).await.unwrap();
    assert_eq!(info.holders.len(), permits);
}

async fn futures_join(backend: &Backend, count: usize) -> Vec<Client> {
    let mut clients = Vec::new();
    for _ in 0..count {
        clients.push(backend.client().await);
    }
    clients
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn election_leader_proclaim_resign() {
    let backend = Backend::start("recipes").await;
    let dir = backend.dir("election");
    let (a, b) = (backend.client().await, backend.client().await);
    assert_eq!(election::leader(&a, &dir).await.unwrap(), None);
    let won = election::campaign(&a, &dir, b"node-a", Duration::ZERO).await.unwrap();
    assert_eq!(
        election::campaign(&b, &dir, b"node-b", Duration::ZERO).await,
        Err(LockError::NotAcquired)
    );
    let leader = election::leader(&b, &dir).await.unwrap().unwrap();
    assert_eq!((leader.token, leader.value.as_slice()), (won.token, &b"node-a"[..]));

    election::proclaim(&a, &dir, won.token, b"node-a:v2").await.unwrap();
    assert_eq!(election::leader(&b, &dir).await.unwrap().unwrap().value, b"node-a:v2");

    let dir_for_b = dir.clone();
    let campaigning =
        tokio::spawn(async move { (election::campaign(&b, &dir_for_b, b"node-b", WAIT).await, b) });
    until_waiters(&a, &dir, 1).await;
    let candidate_token = lock::inspect(&a, &dir).await.unwrap().waiters[0].token;
    // A candidate that is not leader cannot proclaim (a's session does not own it either).
    assert!(election::proclaim(&a, &dir, candidate_token, b"x").await.is_err());
    election::resign(&a, &dir, won.token).await.unwrap();
    let (next, b) = within("b becomes leader", campaigning).await.unwrap();
    let next = next.unwrap();
    assert!(next.token > won.token);
    let leader = election::leader(&b, &dir).await.unwrap().unwrap();
    assert_eq!(leader.value, b"node-b");
    assert_eq!(leader.session_id, b.session_id().0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_mode_finds_a_contender_by_its_guid() {
    use recipes_lock::{contenders, protected};
    let backend = Backend::start("recipes").await;
    let dir = backend.dir("protected");
    let client = backend.client().await;
    protected::ensure_directory(&client, &dir).await.unwrap();
    let options = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
    // Two contenders, as a create applied just before a connection loss would leave one.
    for guid in ["0123abcd", "ffff0000"] {
        let prefix = contenders::name_prefix(guid, ContenderKind::Exclusive);
        client.create(&format!("{dir}/{prefix}"), b"", &options).await.unwrap();
    }
    let (name, stat) = protected::find_by_guid(&client, &dir, "ffff0000").await.unwrap().unwrap();
    assert!(name.starts_with("_c_ffff0000-x-"), "{name}");
    assert_eq!(stat.ephemeral_owner, client.session_id().0);
    assert_eq!(protected::find_by_guid(&client, &dir, "99999999").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_delay_applies_only_after_a_lost_lease() {
    let backend = Backend::start("recipes").await;
    let dir = backend.dir("delay");
    let delay = Duration::from_millis(200);
    for lose_the_lease in [false, true] {
        let holder = backend.client().await;
        let observer = backend.client().await;
        let held = lock::acquire(&holder, &dir, ContenderKind::Exclusive, b"", WAIT).await.unwrap();
        let waiter = backend.client().await;
        let dir_for_waiter = dir.clone();
        let waiting = tokio::spawn(async move {
            let grant = lock::acquire_with_delay(
                &waiter,
                &dir_for_waiter,
                ContenderKind::Exclusive,
                b"",
                WAIT,
                delay,
            )
            .await;
            (grant, waiter)
        });
        until_waiters(&observer, &dir, 1).await;
        if lose_the_lease {
            drop(holder);
        } else {
            lock::release(&holder, &dir, held.token).await.unwrap();
        }
        let (grant, waiter) = within("grant", waiting).await.unwrap();
        let grant = grant.unwrap();
        assert_eq!(grant.lock_delayed, lose_the_lease);
        lock::release(&waiter, &dir, grant.token).await.unwrap();
    }
}

#[test]
fn lock_delay_bound() {
    assert!(lock::lock_delay_from_ms(lock::LOCK_DELAY_MS_MAX).is_ok());
    assert!(matches!(
        lock::lock_delay_from_ms(lock::LOCK_DELAY_MS_MAX + 1),
        Err(LockError::LockDelayTooLong { .. })
    ));
}
