//! Protected mode end to end: a connection cut after the server applied a contender's
//! create, before the reply reached the client, must leave exactly one contender.

#[path = "support/proxy.rs"]
mod proxy;

use std::time::Duration;

use proxy::CuttingProxy;
use recipes_lock::{Contender, ContenderKind, contenders::CONTENDER_PREFIX, lock};
use server::{RunningServer, ServerConfig};
use zookeeper_client::Client;

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

async fn connect(address: &str) -> Client {
    Client::connector()
        .with_session_timeout(Duration::from_secs(4))
        .connect(address)
        .await
        .expect("client connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contender_created_before_a_connection_loss_is_adopted_not_duplicated() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.path());
    config.tick_ms = 100;
    let node = RunningServer::start(config).await.unwrap();
    let proxy = CuttingProxy::start(node.client_address()).await;
    let client = connect(&proxy.address()).await;
    let observer = connect(&node.client_address().to_string()).await;
    let dir = "/protected/lock";
    recipes_lock::protected::ensure_directory(&client, dir).await.unwrap();

    proxy.cut_after_create_containing(&format!("{dir}/{CONTENDER_PREFIX}"));
    let grant = within(
        "acquire across the cut",
        lock::acquire(&client, dir, ContenderKind::Exclusive, b"", Duration::from_secs(10)),
    )
    .await
    .expect("the acquire recovers its contender");
    assert_eq!(proxy.cuts(), 1, "the create's reply was cut off");

    let children = observer.list_children(dir).await.unwrap();
    let name = grant.node.rsplit('/').next().unwrap();
    let guid = Contender::parse(name).expect("a contender name").guid;
    let ours: Vec<&String> = children
        .iter()
        .filter(|child| Contender::parse(child).is_some_and(|c| c.guid == guid))
        .collect();
    assert_eq!(ours, vec![&name.to_string()], "exactly one contender with our GUID");
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(lock::inspect(&observer, dir).await.unwrap().holders[0].token, grant.token);

    lock::release(&client, dir, grant.token).await.unwrap();
    assert!(observer.list_children(dir).await.unwrap().is_empty());
}
