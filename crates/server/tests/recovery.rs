//! Restart: snapshots bound the log a restart replays, and everything
//! acknowledged before a graceful shutdown is there afterwards.

mod common;

use common::TestNode;
use zookeeper_client::{Acls, CreateMode};

/// Snapshot every this many txns, with tiny log segments, so a few hundred
/// writes exercise snapshotting and the deletion of old segments.
const SNAPSHOT_EVERY_TXNS: u64 = 50;
const SEGMENT_BYTES: u64 = 2_048;
const WRITES: usize = 400;

fn log_segments(node: &TestNode) -> usize {
    std::fs::read_dir(node.data_dir.path().join(server::recovery::LOG_DIRECTORY))
        .expect("log directory")
        .count()
}

#[tokio::test]
async fn snapshots_truncate_the_log_and_restart_recovers_everything() {
    let mut node = TestNode::start_with(|config| {
        config.snapshot_every_txns = SNAPSHOT_EVERY_TXNS;
        // Every 50 txns, even once the tree has more than 50 znodes.
        config.snapshot_scales_with_tree = false;
        config.log_segment_bytes_max = SEGMENT_BYTES;
    })
    .await;
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let client = node.client().await;
    client.create("/many", b"", &options).await.unwrap();
    for index in 0..WRITES {
        client.create(&format!("/many/n{index:04}"), &[7; 64], &options).await.unwrap();
    }
    let ephemeral_owner = node.client().await;
    ephemeral_owner
        .create("/many/held", b"", &CreateMode::Ephemeral.with_acls(Acls::anyone_all()))
        .await
        .unwrap();
    let session_id = ephemeral_owner.session_id();
    let (_, before) = client.get_data("/many").await.unwrap();
    // 400 txns of ~100 bytes are ~20 segments of 2 KiB. Snapshots let all go
    // but those since the last saved snapshot (50 txns, ~3 segments) plus the
    // active one; a purge may lag one snapshot behind while it is being saved.
    let segments = log_segments(&node);
    assert!(segments <= 8, "{segments} log segments remain after snapshots");
    drop(client);
    node.restart().await;
    let client = node.client().await;
    let (_, after) = client.get_data("/many").await.unwrap();
    assert_eq!(after, before, "the restarted node has the same Stat for the parent");
    assert_eq!(client.list_children("/many").await.unwrap().len(), WRITES + 1);
    // The open session came back with its ephemeral.
    let (_, held) = client.get_data("/many/held").await.unwrap();
    assert_eq!(held.ephemeral_owner, session_id.0);
    // The zxid counter continues where it was.
    let stat = client.create("/after", b"", &options).await.unwrap().0;
    assert!(stat.czxid > after.pzxid);
}
