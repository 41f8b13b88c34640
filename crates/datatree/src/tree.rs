//! The tree's state and `apply`: the one place txns change it.
//!
//! Everything here is deterministic: the same txns applied to the same tree
//! give the same tree on every server, which is what replication relies on.
//! Validation happens earlier, in [`crate::prepare`]; `apply` trusts its txn.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use proto::{Acl, ErrorCode, EventType, SessionId, Stat, Zxid};

use crate::acl_cache::AclCache;
use crate::node::{Node, NodeKind};
use crate::path;
use crate::txn::{Txn, TxnBody};
use crate::watches::{WatchEvent, WatchRegistry};

/// The paths every tree starts with, as ZooKeeper's.
pub const ZOOKEEPER_PATH: &str = "/zookeeper";
pub const QUOTA_PATH: &str = "/zookeeper/quota";
pub const CONFIG_PATH: &str = "/zookeeper/config";

/// What the tree remembers of a session: enough to resume it after a
/// reconnect or a restart. Deadlines are the expiring server's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub timeout_ms: i32,
    pub password: [u8; 16],
}

/// What a txn did, for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnResult {
    Created { path: String, stat: Stat },
    Deleted,
    DataSet { stat: Stat },
    AclSet { stat: Stat },
    Checked,
    Multi(Vec<TxnResult>),
    SessionCreated,
    SessionClosed,
}

/// The result of applying one txn and the watch events it fired, in the
/// order ZooKeeper fires them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub result: Result<TxnResult, ErrorCode>,
    pub events: Vec<WatchEvent>,
}

#[derive(Debug)]
pub struct DataTree {
    /// Shared keys and shared nodes: a table slot is two pointers, so the
    /// table's spare capacity costs 24 bytes a slot rather than a whole node,
    /// and a snapshot view shares keys and nodes instead of copying them
    /// (changes go through `Arc::make_mut`, which copies a node only while a
    /// view holds it). A shared key costs 16 bytes more than a boxed one; the
    /// view of a 300,000-znode tree, taken on the request path, went from
    /// 62 ms (a copy of every path) to 23 ms (`examples/snapshot_pause.rs`).
    pub(crate) nodes: HashMap<Arc<str>, Arc<Node>>,
    pub(crate) ephemerals: HashMap<SessionId, BTreeSet<String>>,
    pub(crate) sessions: HashMap<SessionId, SessionInfo>,
    /// Containers and TTL nodes: candidates for `expired_nodes`.
    pub(crate) expirable: BTreeSet<String>,
    pub(crate) watches: WatchRegistry,
    pub(crate) last_zxid: Zxid,
    /// Sum of path and data lengths (ZooKeeper's `approximateDataSize`).
    pub(crate) data_size: u64,
    pub(crate) acl_cache: AclCache,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    /// An empty tree: the root, /zookeeper, /zookeeper/quota and /zookeeper/config.
    pub fn new() -> DataTree {
        let mut tree = DataTree {
            nodes: HashMap::new(),
            ephemerals: HashMap::new(),
            sessions: HashMap::new(),
            expirable: BTreeSet::new(),
            watches: WatchRegistry::default(),
            last_zxid: Zxid::ZERO,
            data_size: 0,
            acl_cache: AclCache::default(),
        };
        let open = tree.acl_cache.intern(&Acl::open_unsafe());
        tree.insert_node("/".to_string(), Node::new(Default::default(), open.clone(), 0, 0, 0));
        for system in [ZOOKEEPER_PATH, QUOTA_PATH, CONFIG_PATH] {
            tree.insert_node(
                system.to_string(),
                Node::new(Default::default(), open.clone(), 0, 0, 0),
            );
            let parent = tree
                .nodes
                .get_mut(path::parent(system))
                .map(Arc::make_mut)
                .expect("system parents exist");
            parent.children.insert(path::name(system));
        }
        // ZooKeeper builds these nodes outside any txn: their parents' stats stay zero.
        tree
    }

    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Nodes as ZooKeeper counts them (the root twice: 5 for an empty tree).
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    pub fn watch_count(&self) -> usize {
        self.watches.len()
    }

    /// (sessions watching, paths watched) for ZooKeeper's `wchs`.
    pub fn watch_summary(&self) -> (usize, usize) {
        (self.watches.watching_sessions(), self.watches.watched_paths())
    }

    /// Each watching session with its watched paths, for ZooKeeper's `wchc`.
    pub fn watches_by_session(&self) -> Vec<(SessionId, Vec<String>)> {
        self.watches.paths_by_session()
    }

    pub fn ephemerals_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    pub fn sessions(&self) -> impl Iterator<Item = (SessionId, &SessionInfo)> {
        self.sessions.iter().map(|(id, info)| (*id, info))
    }

    pub fn session(&self, session: SessionId) -> Option<&SessionInfo> {
        self.sessions.get(&session)
    }

    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.nodes.get(path).map(|node| node.stat())
    }

    /// Containers whose last child has gone and TTL nodes without children
    /// unchanged for longer than their TTL, as ZooKeeper's `ContainerManager`.
    pub fn expired_nodes(&self, now_ms: i64) -> Vec<String> {
        self.expirable
            .iter()
            .filter(|path| {
                let Some(node) = self.nodes.get(path.as_str()) else { return false };
                node.children.is_empty()
                    && match node.kind() {
                        NodeKind::Container => node.cversion > 0,
                        NodeKind::Ttl { ttl_ms } => now_ms - node.mtime > ttl_ms,
                        _ => false,
                    }
            })
            .cloned()
            .collect()
    }

    /// Applies a txn prepared against this tree (or logged by one that was).
    pub fn apply(&mut self, txn: &Txn) -> ApplyOutcome {
        let mut events = Vec::new();
        let result = self.apply_body(txn, &txn.body, &mut events);
        self.last_zxid = self.last_zxid.max(txn.zxid);
        ApplyOutcome { result, events }
    }

    fn apply_body(
        &mut self,
        txn: &Txn,
        body: &TxnBody,
        events: &mut Vec<WatchEvent>,
    ) -> Result<TxnResult, ErrorCode> {
        let zxid = txn.zxid.0;
        match body {
            TxnBody::CreateSession { timeout_ms, password } => {
                self.sessions.insert(
                    txn.session,
                    SessionInfo { timeout_ms: *timeout_ms, password: *password },
                );
                Ok(TxnResult::SessionCreated)
            }
            TxnBody::CloseSession => {
                self.sessions.remove(&txn.session);
                for path in self.ephemerals.remove(&txn.session).unwrap_or_default() {
                    self.delete_node(&path, zxid, events)?;
                }
                Ok(TxnResult::SessionClosed)
            }
            TxnBody::Create { path, data, acl, ephemeral_owner } => {
                let parent_path = path::parent(path);
                let parent =
                    self.nodes.get_mut(parent_path).map(Arc::make_mut).ok_or(ErrorCode::NoNode)?;
                if !parent.children.insert(path::name(path)) {
                    return Err(ErrorCode::NodeExists);
                }
                parent.cversion = parent.cversion.wrapping_add(1);
                parent.pzxid = zxid;
                let node = Node::new(
                    Box::from(&data[..]),
                    self.acl_cache.intern(acl),
                    zxid,
                    txn.time_ms,
                    *ephemeral_owner,
                );
                let stat = node.stat();
                self.insert_node(path.clone(), node);
                self.watches.trigger(path, EventType::NodeCreated, events);
                self.watches.trigger(parent_path, EventType::NodeChildrenChanged, events);
                Ok(TxnResult::Created { path: path.clone(), stat })
            }
            TxnBody::Delete { path } => {
                self.delete_node(path, zxid, events)?;
                Ok(TxnResult::Deleted)
            }
            TxnBody::SetData { path, data, version } => {
                let node = self
                    .nodes
                    .get_mut(path.as_str())
                    .map(Arc::make_mut)
                    .ok_or(ErrorCode::NoNode)?;
                self.data_size = self.data_size + data.len() as u64 - node.data.len() as u64;
                node.data = Box::from(&data[..]);
                node.version = *version;
                node.mzxid = zxid;
                node.mtime = txn.time_ms;
                let stat = node.stat();
                self.watches.trigger(path, EventType::NodeDataChanged, events);
                Ok(TxnResult::DataSet { stat })
            }
            TxnBody::SetAcl { path, acl, version } => {
                let node = self
                    .nodes
                    .get_mut(path.as_str())
                    .map(Arc::make_mut)
                    .ok_or(ErrorCode::NoNode)?;
                node.acl = self.acl_cache.intern(acl);
                node.aversion = *version;
                Ok(TxnResult::AclSet { stat: node.stat() })
            }
            TxnBody::Check { path } => {
                self.nodes.get(path.as_str()).ok_or(ErrorCode::NoNode)?;
                Ok(TxnResult::Checked)
            }
            TxnBody::Multi(bodies) => {
                let mut results = Vec::with_capacity(bodies.len());
                for body in bodies {
                    results.push(self.apply_body(txn, body, events)?);
                }
                Ok(TxnResult::Multi(results))
            }
        }
    }

    /// Adds `node` at `path`; gives back the map's key for it, shared.
    pub(crate) fn insert_node(&mut self, path: String, node: Node) -> Arc<str> {
        self.data_size += (path.len() + node.data.len()) as u64;
        match node.kind() {
            NodeKind::Ephemeral { session } => {
                self.ephemerals.entry(SessionId(session)).or_default().insert(path.clone());
            }
            NodeKind::Container | NodeKind::Ttl { .. } => {
                self.expirable.insert(path.clone());
            }
            NodeKind::Persistent => {}
        }
        let key: Arc<str> = Arc::from(path);
        self.nodes.insert(key.clone(), Arc::new(node));
        key
    }

    fn delete_node(
        &mut self,
        path: &str,
        zxid: i64,
        events: &mut Vec<WatchEvent>,
    ) -> Result<(), ErrorCode> {
        if path == "/" {
            return Err(ErrorCode::BadArguments);
        }
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        self.data_size -= (path.len() + node.data.len()) as u64;
        match node.kind() {
            NodeKind::Ephemeral { session } => {
                let session = SessionId(session);
                if let Some(owned) = self.ephemerals.get_mut(&session) {
                    owned.remove(path);
                    if owned.is_empty() {
                        self.ephemerals.remove(&session);
                    }
                }
            }
            NodeKind::Container | NodeKind::Ttl { .. } => {
                self.expirable.remove(path);
            }
            NodeKind::Persistent => {}
        }
        let parent_path = path::parent(path);
        if let Some(parent) = self.nodes.get_mut(parent_path).map(Arc::make_mut) {
            parent.children.remove(path::name(path));
            // Deletes move pzxid but not the stored cversion (see `Node::cversion`).
            parent.pzxid = zxid;
        }
        self.watches.trigger(path, EventType::NodeDeleted, events);
        self.watches.trigger(parent_path, EventType::NodeChildrenChanged, events);
        Ok(())
    }

    /// A digest of the replicated state (nodes with their stats and ACLs, and
    /// sessions), equal on two servers exactly when their trees are equal.
    pub fn digest(&self) -> u64 {
        use sha1::{Digest, Sha1};
        let mut hasher = Sha1::new();
        let mut paths: Vec<&str> = self.nodes.keys().map(|path| &**path).collect();
        paths.sort();
        for path in paths {
            let node = &self.nodes[path];
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update((node.data.len() as u64).to_be_bytes());
            hasher.update(&node.data);
            let stat = node.stat();
            for value in
                [stat.czxid, stat.mzxid, stat.ctime, stat.mtime, node.ephemeral_owner, stat.pzxid]
            {
                hasher.update(value.to_be_bytes());
            }
            for value in [stat.version, stat.cversion, stat.aversion, stat.num_children] {
                hasher.update(value.to_be_bytes());
            }
            for entry in node.acl.iter() {
                hasher.update(entry.perms.to_be_bytes());
                hasher.update(entry.id.scheme.as_bytes());
                hasher.update([0]);
                hasher.update(entry.id.id.as_bytes());
                hasher.update([0]);
            }
        }
        let mut sessions: Vec<_> = self.sessions.iter().collect();
        sessions.sort_by_key(|(id, _)| **id);
        for (id, info) in sessions {
            hasher.update(id.0.to_be_bytes());
            hasher.update(info.timeout_ms.to_be_bytes());
            hasher.update(info.password);
        }
        hasher.update(self.last_zxid.0.to_be_bytes());
        let hash = hasher.finalize();
        u64::from_be_bytes(hash[..8].try_into().expect("sha1 is 20 bytes"))
    }
}
