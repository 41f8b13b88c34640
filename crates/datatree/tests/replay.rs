//! Property: the tree is a deterministic state machine. Replaying the logged
//! (encoded) txns of any history on a fresh tree, or on a tree restored from
//! a snapshot taken midway, gives the same digest as the original; and a
//! snapshot view taken midway still encodes the midway tree at the end.

use bytes::Bytes;
use datatree::{AuthContext, DataTree, RequestContext, Txn, WriteOp};
use proptest::prelude::*;
use proto::{Acl, CreateMode, Record, SessionId};

const PATHS: [&str; 6] = ["/a", "/b", "/a/x", "/a/y", "/b/z", "/a/x/q"];

fn op_strategy() -> impl Strategy<Value = (u8, usize, u8, i32)> {
    (0u8..6, 0..PATHS.len(), 0u8..6, -1i32..3)
}

fn to_op((kind, path_index, mode, version): (u8, usize, u8, i32)) -> WriteOp {
    let path = PATHS[path_index].to_string();
    let mode = match mode {
        0 => CreateMode::Persistent,
        1 => CreateMode::Ephemeral,
        2 => CreateMode::PersistentSequential,
        3 => CreateMode::Container,
        4 => CreateMode::EphemeralSequential,
        _ => CreateMode::PersistentWithTtl,
    };
    match kind {
        0 | 1 => WriteOp::Create {
            path,
            data: Bytes::from_static(b"d"),
            acl: Acl::open_unsafe(),
            mode,
            ttl_ms: 100,
        },
        2 => WriteOp::Delete { path, version },
        3 => WriteOp::SetData { path, data: Bytes::from(vec![version as u8; 3]), version },
        4 => WriteOp::CloseSession,
        _ => WriteOp::Check { path, version },
    }
}

proptest! {
    #[test]
    fn replay_and_snapshots_reproduce_the_tree(ops in prop::collection::vec(op_strategy(), 1..60), cut in 0usize..60) {
        let mut tree = DataTree::new();
        let mut log: Vec<Vec<u8>> = Vec::new();
        let mut snapshot = None;
        for (index, raw) in ops.into_iter().enumerate() {
            let session = SessionId(1 + (index % 3) as i64);
            let context = RequestContext { session, auth: AuthContext::default(), now_ms: index as i64 };
            if tree.session(session).is_none() {
                let open = WriteOp::CreateSession { timeout_ms: 4_000, password: [index as u8; 16] };
                let body = tree.prepare(&open, &context).unwrap();
                let txn = Txn { zxid: tree.last_zxid().next().unwrap(), time_ms: index as i64, session, body };
                tree.apply(&txn);
                log.push(txn.to_bytes());
            }
            if let Ok(body) = tree.prepare(&to_op(raw), &context) {
                let txn = Txn { zxid: tree.last_zxid().next().unwrap(), time_ms: index as i64, session, body };
                prop_assert!(tree.apply(&txn).result.is_ok(), "a prepared txn applies");
                log.push(txn.to_bytes());
            }
            if index == cut {
                // The view is encoded only after the rest of the history has
                // been applied: it must still show the tree as of the cut.
                snapshot = Some((tree.serialize_snapshot(), tree.snapshot_view(), log.len()));
            }
        }
        let mut replayed = DataTree::new();
        for bytes in &log {
            replayed.apply(&Txn::from_bytes(bytes).unwrap());
        }
        prop_assert_eq!(replayed.digest(), tree.digest());
        if let Some((bytes, view, logged)) = snapshot {
            prop_assert!(view.encode() == bytes, "a view is not changed by later txns");
            let mut restored = DataTree::from_snapshot(&bytes).unwrap();
            for bytes in &log[logged..] {
                restored.apply(&Txn::from_bytes(bytes).unwrap());
            }
            prop_assert_eq!(restored.digest(), tree.digest());
            prop_assert_eq!(restored.node_count(), tree.node_count());
        }
    }
}
