//! What an uncontended lock costs on the wire, counted by a proxy between the client and
//! the backend (a Herald node started in-process, or the ensemble named by
//! `HERALD_TEST_ZK=host:port`): the acquire's create and first listing travel together,
//! and a release by node name is one multi.

#[path = "support/backend.rs"]
mod backend;
#[path = "support/proxy.rs"]
mod proxy;

use std::time::Duration;

use backend::Backend;
use proxy::CuttingProxy;
use recipes_lock::{ContenderKind, LockError, lock, semaphore};
use zookeeper_client::Client;

/// ZooKeeper opcodes as the proxy logs them.
const CREATE2: i32 = 15;
const GET_CHILDREN: i32 = 8;
const MULTI: i32 = 14;

async fn connect(address: &str) -> Client {
    Client::connector()
        .with_session_timeout(Duration::from_secs(4))
        .connect(address)
        .await
        .expect("client connects")
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn node_name(node: &str) -> &str {
    node.rsplit_once('/').expect("a node path").1
}

const TRY: Duration = Duration::ZERO;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncontended_acquire_and_release_cost_three_requests() {
    let backend = Backend::start("round-trips").await;
    let proxy = CuttingProxy::start(backend.address).await;
    let client = connect(&proxy.address()).await;
    let dir = format!("{}/mutex", backend.root);
    // The first acquire also makes the directory; measure the ones after it.
    let first = lock::acquire(&client, &dir, ContenderKind::Exclusive, b"", TRY).await.unwrap();
    lock::release(&client, &dir, first.token).await.unwrap();

    for kind in [ContenderKind::Exclusive, ContenderKind::Read] {
        let before = proxy.requests_containing(&dir).len();
        let grant = lock::acquire(&client, &dir, kind, b"", TRY).await.unwrap();
        let acquire = proxy.requests_containing(&dir)[before..].to_vec();
        assert_eq!(acquire, vec![CREATE2, GET_CHILDREN], "{kind:?} acquire: create + listing");

        let before = proxy.requests_containing(&dir).len();
        lock::release_node(&client, &dir, node_name(&grant.node), grant.token).await.unwrap();
        let release = proxy.requests_containing(&dir)[before..].to_vec();
        assert_eq!(release, vec![MULTI], "{kind:?} release: one multi");
        assert_eq!(lock::inspect(&client, &dir).await.unwrap(), Default::default());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_listing_is_sent_before_the_create_is_answered() {
    let backend = Backend::start("round-trips").await;
    let proxy = CuttingProxy::start(backend.address).await;
    let client = connect(&proxy.address()).await;
    let dir = format!("{}/pipelined", backend.root);
    let first = lock::acquire(&client, &dir, ContenderKind::Exclusive, b"", TRY).await.unwrap();
    lock::release(&client, &dir, first.token).await.unwrap();

    // No answer reaches the client until two more requests for the lock arrived: an
    // acquire that awaited its create before listing would wait for a reply that is held
    // back, until its connection is declared lost.
    proxy.hold_replies_until(&dir, 2);
    let grant = within(
        "acquire with held replies",
        lock::acquire(&client, &dir, ContenderKind::Exclusive, b"", TRY),
    )
    .await
    .expect("granted");
    assert_eq!(proxy.connections(), 1, "the acquire needed no reconnect");
    lock::release_node(&client, &dir, node_name(&grant.node), grant.token).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_a_node_that_is_gone_answers_unknown_token() {
    let backend = Backend::start("round-trips").await;
    let address = backend.address.to_string();
    let (holder, observer) = (connect(&address).await, connect(&address).await);
    let dir = format!("{}/gone", backend.root);

    let grant = lock::acquire(&holder, &dir, ContenderKind::Exclusive, b"", TRY).await.unwrap();
    let name = node_name(&grant.node).to_owned();
    lock::release_node(&holder, &dir, &name, grant.token).await.unwrap();
    assert_eq!(observer.get_data(&dir).await.unwrap().0, name.as_bytes(), "a clean release");
    assert_eq!(
        lock::release_node(&holder, &dir, &name, grant.token).await,
        Err(LockError::UnknownToken(grant.token)),
        "released already"
    );
    assert_eq!(
        lock::release(&holder, &dir, grant.token).await,
        Err(LockError::UnknownToken(grant.token)),
        "the searching release answers the same"
    );

    // A grant whose lease ended.
    let grant = lock::acquire(&holder, &dir, ContenderKind::Exclusive, b"", TRY).await.unwrap();
    let name = node_name(&grant.node).to_owned();
    drop(holder);
    let successor = connect(&address).await;
    let next = within(
        "the next holder after the session ended",
        lock::acquire(&successor, &dir, ContenderKind::Exclusive, b"", Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert!(next.token > grant.token);
    assert_eq!(
        lock::release_node(&successor, &dir, &name, grant.token).await,
        Err(LockError::UnknownToken(grant.token))
    );
    let holders = lock::inspect(&observer, &dir).await.unwrap().holders;
    assert_eq!(holders.len(), 1, "the failed release left the current holder alone");
    assert_eq!(holders[0].token, next.token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semaphore_permit_is_returned_by_node_name() {
    let backend = Backend::start("round-trips").await;
    let client = connect(&backend.address.to_string()).await;
    let dir = format!("{}/permits", backend.root);
    let first = semaphore::acquire(&client, &dir, 1, TRY).await.unwrap();
    assert_eq!(
        semaphore::acquire(&client, &dir, 1, TRY).await,
        Err(LockError::NotAcquired),
        "the only permit is taken"
    );
    semaphore::release_node(&client, &dir, node_name(&first.node), first.token).await.unwrap();
    let second = semaphore::acquire(&client, &dir, 1, TRY).await.expect("the permit came back");
    assert!(second.token > first.token);
}
