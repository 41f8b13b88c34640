//! Behaviour of the tree through its public API: prepare, apply, read,
//! with the ZooKeeper semantics clients depend on.

use bytes::Bytes;
use datatree::{
    AuthContext, DataTree, RequestContext, Txn, TxnBody, TxnResult, WatchSet, WriteOp, digest_id,
};
use proto::codes::perms;
use proto::{Acl, CreateMode, ErrorCode, EventType, Id, SessionId, Zxid};

const ALICE: SessionId = SessionId(0x11);
const BOB: SessionId = SessionId(0x22);

/// A tree plus the zxid/time bookkeeping a server would do.
struct Harness {
    tree: DataTree,
    now_ms: i64,
}

impl Harness {
    fn new() -> Self {
        let mut harness = Harness { tree: DataTree::new(), now_ms: 1_000 };
        for session in [ALICE, BOB] {
            harness
                .write(session, WriteOp::CreateSession { timeout_ms: 10_000, password: [7; 16] })
                .unwrap();
        }
        harness
    }

    fn context(&self, session: SessionId) -> RequestContext {
        RequestContext { session, auth: open_auth(), now_ms: self.now_ms }
    }

    fn commit(&mut self, session: SessionId, body: TxnBody) -> datatree::ApplyOutcome {
        let zxid = self.tree.last_zxid().next().unwrap();
        self.now_ms += 1;
        self.tree.apply(&Txn { zxid, time_ms: self.now_ms, session, body })
    }

    fn write(&mut self, session: SessionId, op: WriteOp) -> Result<TxnResult, ErrorCode> {
        let body = self.tree.prepare(&op, &self.context(session))?;
        self.commit(session, body).result
    }

    fn create(&mut self, path: &str, mode: CreateMode) -> Result<String, ErrorCode> {
        self.create_as(ALICE, path, mode)
    }

    fn create_as(
        &mut self,
        session: SessionId,
        path: &str,
        mode: CreateMode,
    ) -> Result<String, ErrorCode> {
        match self.write(session, create(path, mode))? {
            TxnResult::Created { path, .. } => Ok(path),
            other => panic!("create gave {other:?}"),
        }
    }
}

fn open_auth() -> AuthContext {
    AuthContext { ids: vec![Id::new("ip", "127.0.0.1")], is_super: false }
}

fn create(path: &str, mode: CreateMode) -> WriteOp {
    WriteOp::Create {
        path: path.into(),
        data: Bytes::from_static(b"v"),
        acl: Acl::open_unsafe(),
        mode,
        ttl_ms: 0,
    }
}

fn delete(path: &str) -> WriteOp {
    WriteOp::Delete { path: path.into(), version: -1 }
}

#[test]
fn an_empty_tree_counts_five_nodes_like_zookeeper() {
    let tree = DataTree::new();
    assert_eq!(tree.node_count(), 5);
    assert!(tree.stat("/zookeeper/config").is_some());
    assert!(tree.stat("/zookeeper/quota").is_some());
}

#[test]
fn sequential_suffix_counts_creates_but_reported_cversion_counts_deletes_too() {
    // The scenario of ZooKeeper 3.8 observed in the project notes.
    let mut h = Harness::new();
    h.create("/p", CreateMode::Persistent).unwrap();
    for expected in ["/p/n-0000000000", "/p/n-0000000001", "/p/n-0000000002"] {
        assert_eq!(h.create("/p/n-", CreateMode::PersistentSequential).unwrap(), expected);
    }
    h.create("/p/plain", CreateMode::Persistent).unwrap();
    h.write(ALICE, delete("/p/plain")).unwrap();
    assert_eq!(h.tree.stat("/p").unwrap().cversion, 5);
    assert_eq!(h.create("/p/n-", CreateMode::PersistentSequential).unwrap(), "/p/n-0000000004");
}

#[test]
fn stat_fields_follow_each_change() {
    let mut h = Harness::new();
    let created = h.create("/a", CreateMode::Persistent).unwrap();
    let czxid = h.tree.last_zxid().0;
    let stat = h.tree.stat(&created).unwrap();
    assert_eq!(
        (stat.czxid, stat.mzxid, stat.pzxid, stat.version, stat.data_length),
        (czxid, czxid, czxid, 0, 1)
    );
    let TxnResult::DataSet { stat } = h
        .write(
            ALICE,
            WriteOp::SetData { path: "/a".into(), data: Bytes::from_static(b"four"), version: 0 },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((stat.version, stat.data_length, stat.czxid), (1, 4, czxid));
    assert_eq!(stat.mzxid, h.tree.last_zxid().0);
    assert!(stat.mtime > stat.ctime);
    assert_eq!(
        h.write(ALICE, WriteOp::SetData { path: "/a".into(), data: Bytes::new(), version: 0 }),
        Err(ErrorCode::BadVersion)
    );
    h.create("/a/child", CreateMode::Persistent).unwrap();
    let parent = h.tree.stat("/a").unwrap();
    assert_eq!((parent.num_children, parent.cversion, parent.pzxid), (1, 1, h.tree.last_zxid().0));
    assert_eq!(h.write(ALICE, delete("/a")), Err(ErrorCode::NotEmpty));
}

#[test]
fn create_errors_in_zookeepers_order() {
    let mut h = Harness::new();
    assert_eq!(h.create("no-slash", CreateMode::Persistent), Err(ErrorCode::BadArguments));
    assert_eq!(h.create("/missing/child", CreateMode::Persistent), Err(ErrorCode::NoNode));
    h.create("/a", CreateMode::Persistent).unwrap();
    // The parent is looked up before the path is validated, as in ZooKeeper.
    assert_eq!(h.create("/a/", CreateMode::Persistent), Err(ErrorCode::BadArguments));
    assert_eq!(h.create("/a//b", CreateMode::Persistent), Err(ErrorCode::NoNode));
    assert_eq!(h.create("/a", CreateMode::Persistent), Err(ErrorCode::NodeExists));
    h.create("/eph", CreateMode::Ephemeral).unwrap();
    assert_eq!(
        h.create("/eph/child", CreateMode::Persistent),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    let empty_acl = WriteOp::Create {
        path: "/b".into(),
        data: Bytes::new(),
        acl: vec![],
        mode: CreateMode::Persistent,
        ttl_ms: 0,
    };
    assert_eq!(h.write(ALICE, empty_acl), Err(ErrorCode::InvalidAcl));
    let bad_ttl = WriteOp::Create {
        path: "/t".into(),
        data: Bytes::new(),
        acl: Acl::open_unsafe(),
        mode: CreateMode::PersistentWithTtl,
        ttl_ms: 0,
    };
    assert_eq!(h.write(ALICE, bad_ttl), Err(ErrorCode::BadArguments));
    assert_eq!(h.write(ALICE, delete("/zookeeper")), Err(ErrorCode::BadArguments));
}

#[test]
fn acls_guard_every_operation() {
    let mut h = Harness::new();
    let alice_id = digest_id("alice:secret");
    let private = WriteOp::Create {
        path: "/private".into(),
        data: Bytes::from_static(b"x"),
        acl: vec![
            Acl { perms: perms::ALL, id: alice_id.clone() },
            Acl { perms: perms::READ, id: Id::anyone() },
        ],
        mode: CreateMode::Persistent,
        ttl_ms: 0,
    };
    h.write(ALICE, private).unwrap();
    let stranger = open_auth();
    let mut alice = open_auth();
    alice.ids.push(alice_id);
    // Anyone may read, only alice may write, create children or change the ACL.
    assert!(h.tree.get_data("/private", &stranger, None).is_ok());
    let set = WriteOp::SetData { path: "/private".into(), data: Bytes::new(), version: -1 };
    let as_stranger = RequestContext { session: BOB, auth: stranger.clone(), now_ms: 0 };
    let as_alice = RequestContext { session: ALICE, auth: alice.clone(), now_ms: 0 };
    assert_eq!(h.tree.prepare(&set, &as_stranger), Err(ErrorCode::NoAuth));
    assert!(h.tree.prepare(&set, &as_alice).is_ok());
    assert_eq!(
        h.tree.prepare(&create("/private/c", CreateMode::Persistent), &as_stranger),
        Err(ErrorCode::NoAuth)
    );
    // getACL with READ only hides the digest hash.
    let (acl, _) = h.tree.get_acl("/private", &stranger).unwrap();
    assert!(acl.iter().any(|entry| entry.id.id == "alice:x"));
    let (acl, _) = h.tree.get_acl("/private", &alice).unwrap();
    assert!(acl.iter().any(|entry| entry.id.id.starts_with("alice:") && entry.id.id != "alice:x"));
    // The `auth` scheme becomes the caller's identities.
    let auth_acl = WriteOp::Create {
        path: "/mine".into(),
        data: Bytes::new(),
        acl: vec![Acl { perms: perms::ALL, id: Id::new("auth", "") }],
        mode: CreateMode::Persistent,
        ttl_ms: 0,
    };
    let body = h.tree.prepare(&auth_acl, &as_alice).unwrap();
    h.commit(ALICE, body);
    assert_eq!(h.tree.get_data("/mine", &stranger, None), Err(ErrorCode::NoAuth));
    assert!(h.tree.get_data("/mine", &alice, None).is_ok());
}

#[test]
fn a_failed_multi_changes_nothing_and_reports_positions() {
    let mut h = Harness::new();
    h.create("/m", CreateMode::Persistent).unwrap();
    let before = h.tree.digest();
    let ops = vec![
        create("/m/a", CreateMode::Persistent),
        WriteOp::SetData { path: "/m".into(), data: Bytes::new(), version: 7 },
        delete("/m/a"),
    ];
    let failure = h.tree.prepare_multi(&ops, &h.context(ALICE)).unwrap_err();
    assert_eq!(
        failure.results,
        [ErrorCode::Ok, ErrorCode::BadVersion, ErrorCode::RuntimeInconsistency]
    );
    assert_eq!(h.tree.digest(), before);
}

#[test]
fn multi_ops_see_the_ops_before_them() {
    let mut h = Harness::new();
    let ops = vec![
        create("/x", CreateMode::Persistent),
        create("/x/y", CreateMode::Persistent),
        WriteOp::Check { path: "/x/y".into(), version: 0 },
        WriteOp::SetData { path: "/x".into(), data: Bytes::from_static(b"1"), version: 0 },
        WriteOp::SetData { path: "/x".into(), data: Bytes::from_static(b"2"), version: 1 },
    ];
    let body = h.tree.prepare_multi(&ops, &h.context(ALICE)).unwrap();
    let TxnResult::Multi(results) = h.commit(ALICE, body).result.unwrap() else { panic!() };
    assert_eq!(results.len(), 5);
    assert_eq!(h.tree.stat("/x").unwrap().version, 2);
    // Deleting then checking the same node inside one multi fails at the check.
    let ops = vec![delete("/x/y"), WriteOp::Check { path: "/x/y".into(), version: -1 }];
    let failure = h.tree.prepare_multi(&ops, &h.context(ALICE)).unwrap_err();
    assert_eq!(failure.results, [ErrorCode::Ok, ErrorCode::NoNode]);
}

#[test]
fn closing_a_session_removes_its_ephemerals_and_fires_watches() {
    let mut h = Harness::new();
    h.create_as(BOB, "/lock", CreateMode::Persistent).unwrap();
    let eph = h.create_as(BOB, "/lock/c-", CreateMode::EphemeralSequential).unwrap();
    assert_eq!(h.tree.get_ephemerals(BOB, "/"), std::slice::from_ref(&eph));
    h.tree.exists(&eph, &open_auth(), Some(ALICE)).unwrap();
    h.tree.get_children("/lock", &open_auth(), Some(ALICE)).unwrap();
    let body = h.tree.prepare(&WriteOp::CloseSession, &h.context(BOB)).unwrap();
    let outcome = h.commit(BOB, body);
    let events: Vec<_> = outcome
        .events
        .iter()
        .map(|event| (event.session, event.event, event.path.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            (ALICE, EventType::NodeDeleted, eph.as_str()),
            (ALICE, EventType::NodeChildrenChanged, "/lock")
        ]
    );
    assert!(h.tree.stat(&eph).is_none());
    assert!(h.tree.session(BOB).is_none());
    assert_eq!(h.tree.ephemerals_count(), 0);
    assert_eq!(
        h.tree.prepare(&WriteOp::CloseSession, &h.context(BOB)),
        Err(ErrorCode::SessionExpired)
    );
}

#[test]
fn one_shot_watches_fire_once_and_persistent_ones_keep_firing() {
    let mut h = Harness::new();
    h.create("/w", CreateMode::Persistent).unwrap();
    h.tree.get_data("/w", &open_auth(), Some(BOB)).unwrap();
    h.tree.add_watch("/", proto::AddWatchMode::PersistentRecursive, ALICE, &open_auth()).unwrap();
    let set = |h: &mut Harness| {
        let body = h
            .tree
            .prepare(
                &WriteOp::SetData { path: "/w".into(), data: Bytes::new(), version: -1 },
                &h.context(ALICE),
            )
            .unwrap();
        h.commit(ALICE, body).events
    };
    let first = set(&mut h);
    assert_eq!(first.iter().map(|e| e.session).collect::<Vec<_>>(), [ALICE, BOB]);
    let second = set(&mut h);
    assert_eq!(second.iter().map(|e| e.session).collect::<Vec<_>>(), [ALICE]);
    // Recursive watches see a child's creation as NodeCreated, never NodeChildrenChanged.
    let body = h.tree.prepare(&create("/w/c", CreateMode::Persistent), &h.context(ALICE)).unwrap();
    let events = h.commit(ALICE, body).events;
    assert_eq!(events.iter().map(|e| e.event).collect::<Vec<_>>(), [EventType::NodeCreated]);
    assert_eq!(h.tree.remove_watches("/", proto::WatcherType::PersistentRecursive, ALICE), Ok(()));
    assert_eq!(
        h.tree.check_watches("/", proto::WatcherType::Any, ALICE),
        Err(ErrorCode::NoWatcher)
    );
}

#[test]
fn set_watches_reports_what_a_reconnecting_client_missed() {
    let mut h = Harness::new();
    h.create("/seen", CreateMode::Persistent).unwrap();
    h.create("/quiet", CreateMode::Persistent).unwrap();
    let relative = h.tree.last_zxid();
    h.create("/appeared", CreateMode::Persistent).unwrap();
    h.write(ALICE, WriteOp::SetData { path: "/seen".into(), data: Bytes::new(), version: -1 })
        .unwrap();
    let watches = WatchSet {
        data: vec!["/seen".into(), "/gone".into(), "/quiet".into()],
        exist: vec!["/appeared".into(), "/still-missing".into()],
        ..Default::default()
    };
    let missed = h.tree.set_watches(BOB, relative, &watches);
    let missed: Vec<_> = missed.iter().map(|e| (e.event, e.path.as_str())).collect();
    assert_eq!(
        missed,
        [
            (EventType::NodeDataChanged, "/seen"),
            (EventType::NodeDeleted, "/gone"),
            (EventType::NodeCreated, "/appeared"),
        ]
    );
    // The others are registered and fire later.
    assert_eq!(h.tree.check_watches("/quiet", proto::WatcherType::Data, BOB), Ok(()));
    assert_eq!(h.tree.check_watches("/still-missing", proto::WatcherType::Data, BOB), Ok(()));
}

#[test]
fn containers_and_ttl_nodes_expire_only_when_they_should() {
    let mut h = Harness::new();
    h.create("/c", CreateMode::Container).unwrap();
    assert!(h.tree.expired_nodes(h.now_ms).is_empty(), "a container that never had a child stays");
    h.create("/c/child", CreateMode::Persistent).unwrap();
    assert!(h.tree.expired_nodes(h.now_ms).is_empty());
    h.write(ALICE, delete("/c/child")).unwrap();
    assert_eq!(h.tree.expired_nodes(h.now_ms), ["/c"]);
    let ttl = WriteOp::Create {
        path: "/t".into(),
        data: Bytes::new(),
        acl: Acl::open_unsafe(),
        mode: CreateMode::PersistentWithTtl,
        ttl_ms: 500,
    };
    h.write(ALICE, ttl).unwrap();
    let created = h.tree.stat("/t").unwrap().mtime;
    assert!(!h.tree.expired_nodes(created + 500).contains(&"/t".to_string()));
    assert!(h.tree.expired_nodes(created + 501).contains(&"/t".to_string()));
    let body = h
        .tree
        .prepare(&WriteOp::DeleteContainer { path: "/c".into() }, &h.context(SessionId(0)))
        .unwrap();
    h.commit(SessionId(0), body);
    assert!(h.tree.stat("/c").is_none());
}

#[test]
fn snapshots_restore_an_identical_tree() {
    let mut h = Harness::new();
    h.create("/a", CreateMode::Persistent).unwrap();
    h.create("/a/b-", CreateMode::PersistentSequential).unwrap();
    h.create_as(BOB, "/a/e", CreateMode::Ephemeral).unwrap();
    h.create("/c", CreateMode::Container).unwrap();
    h.write(ALICE, delete("/a/b-0000000000")).unwrap();
    let bytes = h.tree.serialize_snapshot();
    let restored = DataTree::from_snapshot(&bytes).unwrap();
    assert_eq!(restored.digest(), h.tree.digest());
    assert_eq!(restored.last_zxid(), h.tree.last_zxid());
    assert_eq!(restored.get_ephemerals(BOB, "/"), ["/a/e"]);
    assert_eq!(restored.stat("/a"), h.tree.stat("/a"));
    assert_eq!(restored.session(ALICE), h.tree.session(ALICE));
    assert_eq!(restored.approximate_data_size(), h.tree.approximate_data_size());
    // Truncated or damaged bytes are refused, never half-loaded.
    assert!(DataTree::from_snapshot(&bytes[..bytes.len() - 1]).is_err());
    let mut wrong_magic = bytes.clone();
    wrong_magic[0] ^= 1;
    assert!(DataTree::from_snapshot(&wrong_magic).is_err());
}

#[test]
fn txns_survive_their_encoding() {
    use proto::Record;
    let h = Harness::new();
    let op = create("/enc", CreateMode::Ephemeral);
    let body = h.tree.prepare(&op, &h.context(ALICE)).unwrap();
    let txn = Txn { zxid: Zxid(42), time_ms: 7, session: ALICE, body };
    assert_eq!(Txn::from_bytes(&txn.to_bytes()).unwrap(), txn);
}
