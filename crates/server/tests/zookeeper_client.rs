//! The Rust `zookeeper-client` crate, written by people who are not us,
//! against a real node over TCP.

mod common;

use std::time::Duration;

use common::{TestNode, eventually, within};
use zookeeper_client::{
    Acls, AddWatchMode, AuthId, CreateMode, CreateOptions, Error, EventType, Permission,
};

fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

#[tokio::test]
async fn create_get_set_delete_with_stats_and_errors() {
    let node = TestNode::start().await;
    let client = node.client().await;

    let (created, _) = client.create("/app", b"v1", &persistent()).await.unwrap();
    assert_eq!((created.version, created.data_length, created.num_children), (0, 2, 0));
    assert_eq!(created.czxid, created.mzxid);

    let (data, stat) = client.get_data("/app").await.unwrap();
    assert_eq!(data, b"v1");
    assert_eq!(stat, created);

    let updated = client.set_data("/app", b"version two", Some(0)).await.unwrap();
    assert_eq!((updated.version, updated.data_length), (1, 11));
    assert!(updated.mzxid > created.mzxid);
    assert_eq!(updated.czxid, created.czxid);

    assert_eq!(client.set_data("/app", b"x", Some(0)).await.unwrap_err(), Error::BadVersion);
    assert_eq!(client.create("/app", b"", &persistent()).await.unwrap_err(), Error::NodeExists);
    assert_eq!(
        client.create("/missing/child", b"", &persistent()).await.unwrap_err(),
        Error::NoNode
    );
    assert_eq!(client.get_data("/nope").await.unwrap_err(), Error::NoNode);

    client.create("/app/child", b"", &persistent()).await.unwrap();
    assert_eq!(client.delete("/app", None).await.unwrap_err(), Error::NotEmpty);
    let (children, parent) = client.get_children("/app").await.unwrap();
    assert_eq!(children, vec!["child".to_string()]);
    assert_eq!((parent.num_children, parent.cversion), (1, 1));

    client.delete("/app/child", Some(0)).await.unwrap();
    client.delete("/app", None).await.unwrap();
    assert_eq!(client.check_stat("/app").await.unwrap(), None);
}

#[tokio::test]
async fn sequential_suffixes_count_creates_not_deletes() {
    let node = TestNode::start().await;
    let client = node.client().await;
    client.create("/q", b"", &persistent()).await.unwrap();
    let sequential = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
    for expected in 0..3 {
        let (_, sequence) = client.create("/q/n-", b"", &sequential).await.unwrap();
        assert_eq!(sequence.into_i64(), expected);
    }
    client.create("/q/plain", b"", &persistent()).await.unwrap();
    client.delete("/q/plain", None).await.unwrap();
    let (_, stat) = client.get_children("/q").await.unwrap();
    assert_eq!(stat.cversion, 5);
    let (_, sequence) = client.create("/q/n-", b"", &sequential).await.unwrap();
    assert_eq!(sequence.into_i64(), 4);
    let mut children = client.list_children("/q").await.unwrap();
    children.sort();
    assert_eq!(children, ["n-0000000000", "n-0000000001", "n-0000000002", "n-0000000004"]);
}

#[tokio::test]
async fn ephemerals_go_with_their_session_and_watchers_are_told() {
    let node = TestNode::start().await;
    let owner = node.client().await;
    let observer = node.client().await;
    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    let (stat, _) = owner.create("/lease", b"", &ephemeral).await.unwrap();
    assert_eq!(stat.ephemeral_owner, owner.session_id().0);
    assert_eq!(
        owner.create("/lease/child", b"", &persistent()).await.unwrap_err(),
        Error::NoChildrenForEphemerals
    );
    assert_eq!(observer.list_ephemerals("/").await.unwrap(), Vec::<String>::new());
    assert_eq!(owner.list_ephemerals("/").await.unwrap(), vec!["/lease".to_string()]);

    let (_, watcher) = observer.check_and_watch_stat("/lease").await.unwrap();
    drop(owner); // closes the session
    let event = within("NodeDeleted after close", watcher.changed()).await;
    assert_eq!(event.event_type, EventType::NodeDeleted);
    assert_eq!(event.path, "/lease");
    assert_eq!(observer.check_stat("/lease").await.unwrap(), None);
}

#[tokio::test]
async fn one_shot_watches_fire_once_and_in_order_before_the_reply() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let writer = node.client().await;
    client.create("/w", b"", &persistent()).await.unwrap();

    let (_, _, data_watch) = client.get_and_watch_data("/w").await.unwrap();
    let (_, child_watch) = client.list_and_watch_children("/w").await.unwrap();
    let (_, exist_watch) = client.check_and_watch_stat("/w/new").await.unwrap();

    writer.set_data("/w", b"1", None).await.unwrap();
    writer.set_data("/w", b"2", None).await.unwrap();
    writer.create("/w/new", b"", &persistent()).await.unwrap();

    let data_event = within("data watch", data_watch.changed()).await;
    assert_eq!(
        (data_event.event_type, data_event.path.as_str()),
        (EventType::NodeDataChanged, "/w")
    );
    let exist_event = within("exist watch", exist_watch.changed()).await;
    assert_eq!(exist_event.event_type, EventType::NodeCreated);
    let child_event = within("child watch", child_watch.changed()).await;
    assert_eq!(child_event.event_type, EventType::NodeChildrenChanged);
}

#[tokio::test]
async fn persistent_recursive_watch_sees_the_whole_subtree() {
    let node = TestNode::start().await;
    let client = node.client().await;
    client.create("/tree", b"", &persistent()).await.unwrap();
    let mut watcher = client.watch("/tree", AddWatchMode::PersistentRecursive).await.unwrap();
    client.create("/tree/a", b"", &persistent()).await.unwrap();
    client.set_data("/tree/a", b"x", None).await.unwrap();
    client.delete("/tree/a", None).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = within("recursive watch", watcher.changed()).await;
        seen.push((event.event_type, event.path));
    }
    assert_eq!(
        seen,
        vec![
            (EventType::NodeCreated, "/tree/a".to_string()),
            (EventType::NodeDataChanged, "/tree/a".to_string()),
            (EventType::NodeDeleted, "/tree/a".to_string()),
        ]
    );
}

#[tokio::test]
async fn multi_is_all_or_nothing() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let mut multi = client.new_multi_writer();
    multi.add_create("/m", b"", &persistent()).unwrap();
    multi.add_create("/m/a", b"", &persistent()).unwrap();
    multi.add_set_data("/m/a", b"data", Some(0)).unwrap();
    let results = multi.commit().await.unwrap();
    assert_eq!(results.len(), 3);

    let mut failing = client.new_multi_writer();
    failing.add_create("/m/b", b"", &persistent()).unwrap();
    failing.add_set_data("/m/a", b"stale", Some(0)).unwrap(); // version is 1 now
    failing.add_delete("/m/a", None).unwrap();
    let error = failing.commit().await.unwrap_err();
    assert!(
        matches!(
            error,
            zookeeper_client::MultiWriteError::OperationFailed {
                index: 1,
                source: Error::BadVersion
            }
        ),
        "{error:?}"
    );
    assert_eq!(client.check_stat("/m/b").await.unwrap(), None, "nothing of a failed multi applies");
    assert_eq!(client.get_data("/m/a").await.unwrap().0, b"data");
}

#[tokio::test]
async fn digest_acls_are_enforced() {
    let node = TestNode::start().await;
    let owner = zookeeper_client::Client::connector()
        .with_auth("digest", b"alice:secret")
        .connect(&node.address())
        .await
        .unwrap();
    let stranger = node.client().await;
    let private = CreateMode::Persistent.with_acls(Acls::creator_all());
    owner.create("/private", b"mine", &private).await.unwrap();
    assert_eq!(owner.get_data("/private").await.unwrap().0, b"mine");
    assert_eq!(stranger.get_data("/private").await.unwrap_err(), Error::NoAuth);
    assert_eq!(stranger.set_data("/private", b"x", None).await.unwrap_err(), Error::NoAuth);
    let (acl, _) = owner.get_acl("/private").await.unwrap();
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].permission(), Permission::ALL);
    assert_eq!(acl[0].scheme(), "digest");
    assert!(acl[0].id().starts_with("alice:"));
    // An unauthenticated client cannot create a node with "auth" ACLs.
    assert_eq!(stranger.create("/nobody", b"", &private).await.unwrap_err(), Error::InvalidAcl);
    let _ = AuthId::anyone();
}

#[tokio::test]
async fn data_survives_a_restart() {
    let mut node = TestNode::start().await;
    {
        let client = node.client().await;
        client.create("/durable", b"kept", &persistent()).await.unwrap();
        client.set_data("/durable", b"kept twice", None).await.unwrap();
    }
    node.restart().await;
    let client = node.client().await;
    let (data, stat) = client.get_data("/durable").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"kept twice"[..], 1));
    // The zxid counter continues: a new write gets a larger zxid.
    let (created, _) = client.create("/after", b"", &persistent()).await.unwrap();
    assert!(created.czxid > stat.mzxid);
}

#[tokio::test]
async fn containers_disappear_after_their_last_child() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let container = CreateMode::Container.with_acls(Acls::anyone_all());
    client.create("/box", b"", &container).await.unwrap();
    client.create("/box/item", b"", &persistent()).await.unwrap();
    client.delete("/box/item", None).await.unwrap();
    eventually("container removed", Duration::from_secs(5), || async {
        client.check_stat("/box").await.unwrap().is_none()
    })
    .await;
}
