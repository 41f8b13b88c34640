//! A leader's outstanding changes: writes prepared on top of proposals that
//! are not applied yet see those proposals, and stop seeing them once the
//! tree has applied them.

use bytes::Bytes;
use datatree::{AuthContext, DataTree, PendingChanges, RequestContext, Txn, TxnBody, WriteOp};
use proto::{Acl, CreateMode, ErrorCode, SessionId, Zxid};

const SESSION: SessionId = SessionId(0x42);

fn context(session: SessionId) -> RequestContext {
    RequestContext {
        session,
        auth: AuthContext { ids: Vec::new(), is_super: false },
        now_ms: 1_000,
    }
}

fn create(path: &str, mode: CreateMode) -> WriteOp {
    WriteOp::Create {
        path: path.to_string(),
        data: Bytes::from_static(b"x"),
        acl: Acl::open_unsafe(),
        mode,
        ttl_ms: 0,
    }
}

/// Proposes `op` at the next zxid on top of `pending`, without applying it.
fn propose(
    tree: &DataTree,
    pending: &mut PendingChanges,
    next: &mut Zxid,
    op: WriteOp,
) -> Result<(Zxid, TxnBody), ErrorCode> {
    let zxid = *next;
    let body = tree.prepare_outstanding(pending, zxid, &op, &context(SESSION))?;
    *next = zxid.next().unwrap();
    Ok((zxid, body))
}

fn apply(tree: &mut DataTree, pending: &mut PendingChanges, zxid: Zxid, body: TxnBody) {
    let outcome = tree.apply(&Txn { zxid, time_ms: 1_000, session: SESSION, body });
    assert!(outcome.result.is_ok(), "{outcome:?}");
    pending.applied_through(zxid);
}

#[test]
fn pipelined_writes_see_earlier_proposals() {
    let mut tree = DataTree::new();
    let mut pending = PendingChanges::new();
    let mut next = Zxid::new(1, 1);
    let (z1, b1) = propose(&tree, &mut pending, &mut next, create("/a", CreateMode::Persistent))
        .expect("first create");
    // Not applied yet, but a second create of /a must already fail...
    assert_eq!(
        propose(&tree, &mut pending, &mut next, create("/a", CreateMode::Persistent)).unwrap_err(),
        ErrorCode::NodeExists
    );
    // ...and a child of it must succeed, with the parent's new cversion.
    let (z2, b2) =
        propose(&tree, &mut pending, &mut next, create("/a/s-", CreateMode::PersistentSequential))
            .expect("child of a proposed node");
    let (z3, b3) =
        propose(&tree, &mut pending, &mut next, create("/a/s-", CreateMode::PersistentSequential))
            .expect("second sequential child");
    let TxnBody::Create { path, .. } = &b3 else { panic!("{b3:?}") };
    assert_eq!(path, "/a/s-0000000001");
    // setData with the version the pending create will give.
    let (z4, b4) = propose(
        &tree,
        &mut pending,
        &mut next,
        WriteOp::SetData { path: "/a".into(), data: Bytes::new(), version: 0 },
    )
    .expect("versioned set on a proposed node");
    assert_eq!(
        propose(
            &tree,
            &mut pending,
            &mut next,
            WriteOp::SetData { path: "/a".into(), data: Bytes::new(), version: 0 }
        )
        .unwrap_err(),
        ErrorCode::BadVersion
    );
    for (zxid, body) in [(z1, b1), (z2, b2), (z3, b3), (z4, b4)] {
        apply(&mut tree, &mut pending, zxid, body);
    }
    assert!(pending.is_empty(), "everything proposed was applied");
    assert_eq!(tree.stat("/a").unwrap().version, 1);
    assert_eq!(tree.stat("/a").unwrap().num_children, 2);
}

#[test]
fn an_entry_survives_until_its_last_change_is_applied() {
    let mut tree = DataTree::new();
    let mut pending = PendingChanges::new();
    let mut next = Zxid::new(1, 1);
    let (z1, b1) =
        propose(&tree, &mut pending, &mut next, create("/a", CreateMode::Persistent)).unwrap();
    let (z2, b2) =
        propose(&tree, &mut pending, &mut next, WriteOp::Delete { path: "/a".into(), version: -1 })
            .unwrap();
    apply(&mut tree, &mut pending, z1, b1);
    // /a exists in the tree now, but its pending deletion still counts.
    assert_eq!(
        propose(&tree, &mut pending, &mut next, WriteOp::Check { path: "/a".into(), version: -1 })
            .unwrap_err(),
        ErrorCode::NoNode
    );
    apply(&mut tree, &mut pending, z2, b2);
    assert!(pending.is_empty());
    assert!(tree.stat("/a").is_none());
}

#[test]
fn a_failed_multi_leaves_nothing_outstanding() {
    let tree = DataTree::new();
    let mut pending = PendingChanges::new();
    let ops = [
        create("/x", CreateMode::Persistent),
        WriteOp::Check { path: "/missing".into(), version: -1 },
    ];
    let failure = tree
        .prepare_multi_outstanding(&mut pending, Zxid::new(1, 1), &ops, &context(SESSION))
        .unwrap_err();
    assert_eq!(failure.results, vec![ErrorCode::Ok, ErrorCode::NoNode]);
    assert!(pending.is_empty());
    // /x was never proposed, so it can be now.
    tree.prepare_outstanding(
        &mut pending,
        Zxid::new(1, 1),
        &create("/x", CreateMode::Persistent),
        &context(SESSION),
    )
    .expect("/x is free");
}

#[test]
fn sessions_created_or_closed_by_proposals_count() {
    let mut tree = DataTree::new();
    let mut pending = PendingChanges::new();
    let mut next = Zxid::new(1, 1);
    let open = WriteOp::CreateSession { timeout_ms: 4_000, password: [1; 16] };
    let (z1, b1) = propose(&tree, &mut pending, &mut next, open.clone()).unwrap();
    assert_eq!(propose(&tree, &mut pending, &mut next, open).unwrap_err(), ErrorCode::BadArguments);
    let (z2, b2) = propose(&tree, &mut pending, &mut next, WriteOp::CloseSession)
        .expect("close a proposed session");
    assert_eq!(
        propose(&tree, &mut pending, &mut next, WriteOp::CloseSession).unwrap_err(),
        ErrorCode::SessionExpired
    );
    apply(&mut tree, &mut pending, z1, b1);
    apply(&mut tree, &mut pending, z2, b2);
    assert!(tree.session(SESSION).is_none());
    assert!(pending.is_empty());
}

#[test]
fn clear_forgets_everything() {
    let tree = DataTree::new();
    let mut pending = PendingChanges::new();
    let mut next = Zxid::new(1, 1);
    propose(&tree, &mut pending, &mut next, create("/a", CreateMode::Persistent)).unwrap();
    assert!(!pending.is_empty());
    pending.clear();
    assert!(pending.is_empty());
    propose(&tree, &mut pending, &mut next, create("/a", CreateMode::Persistent))
        .expect("/a is free again");
}
