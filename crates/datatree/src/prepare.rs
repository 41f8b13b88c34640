//! Prepare: validate a client's write against the tree and turn it into a
//! txn, in ZooKeeper's order of checks (`PrepRequestProcessor`), so every
//! error code matches what a ZooKeeper server answers.
//!
//! The ops of a multi are checked against a [`View`]: the tree plus the
//! changes of the multi's earlier ops, so `create /a; create /a/b` in one
//! multi works and `delete /a; check /a` fails the way it should. A
//! replicating leader also layers its [`PendingChanges`] (ZooKeeper's
//! `outstandingChanges`) under that view: writes proposed but not yet
//! committed, so it can prepare the next write before the last one commits.

use std::collections::HashMap;

use bytes::Bytes;
use proto::codes::perms;
use proto::{Acl, CreateMode, ErrorCode, SessionId, Zxid};

use crate::acl::{self, AuthContext};
use crate::acl_cache::SharedAcl;
use crate::node::{CONTAINER_OWNER, NodeKind, TTL_MS_MAX};
use crate::path;
use crate::pending::PendingChanges;
use crate::tree::{CONFIG_PATH, DataTree, QUOTA_PATH, ZOOKEEPER_PATH};
use crate::txn::TxnBody;

/// A write as a client asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// `ttl_ms` matters only for the TTL modes.
    Create {
        path: String,
        data: Bytes,
        acl: Vec<Acl>,
        mode: CreateMode,
        ttl_ms: i64,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Bytes,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    CreateSession {
        timeout_ms: i32,
        password: [u8; 16],
    },
    CloseSession,
    /// The server's own removal of an empty container or an expired TTL node.
    DeleteContainer {
        path: String,
    },
}

/// Who asks, and when (the clock is the caller's: the tree has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub session: SessionId,
    pub auth: AuthContext,
    pub now_ms: i64,
}

/// A multi that failed: one code per op, as ZooKeeper reports it (Ok before
/// the failing op, its error, RuntimeInconsistency after).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiFailure {
    pub results: Vec<ErrorCode>,
}

/// "Any version" in delete, setData, setACL and check.
const ANY_VERSION: i32 = -1;

/// What prepare needs to know of a node, live or pending in a multi.
#[derive(Debug, Clone)]
pub(crate) struct NodeView {
    acl: SharedAcl,
    version: i32,
    aversion: i32,
    /// Children ever created: the next sequential suffix.
    cversion: i32,
    children: usize,
    ephemeral_owner: i64,
}

/// The tree as seen by the ops of one multi: live nodes overlaid with the
/// pending changes of earlier ops (`None` = deleted by an earlier op).
struct View<'a> {
    tree: &'a DataTree,
    /// Proposed, uncommitted changes of earlier requests (leader only).
    outstanding: Option<&'a PendingChanges>,
    pending: HashMap<String, Option<NodeView>>,
    /// Sessions created (`true`) or closed (`false`) by this request.
    sessions: HashMap<SessionId, bool>,
}

impl<'a> View<'a> {
    fn new(tree: &'a DataTree, outstanding: Option<&'a PendingChanges>) -> Self {
        View { tree, outstanding, pending: HashMap::new(), sessions: HashMap::new() }
    }

    fn session_exists(&self, session: SessionId) -> bool {
        if let Some(exists) = self.sessions.get(&session) {
            return *exists;
        }
        if let Some(exists) = self.outstanding.and_then(|changes| changes.session(session)) {
            return exists;
        }
        self.tree.sessions.contains_key(&session)
    }

    fn get(&self, path: &str) -> Option<NodeView> {
        if let Some(pending) = self.pending.get(path) {
            return pending.clone();
        }
        if let Some(outstanding) = self.outstanding.and_then(|changes| changes.node(path)) {
            return outstanding.cloned();
        }
        self.tree.nodes.get(path).map(|node| NodeView {
            acl: node.acl.clone(),
            version: node.version,
            aversion: node.aversion,
            cversion: node.cversion,
            children: node.children.len(),
            ephemeral_owner: node.ephemeral_owner,
        })
    }

    fn set(&mut self, path: &str, node: Option<NodeView>) {
        self.pending.insert(path.to_string(), node);
    }

    fn prepare(&mut self, op: &WriteOp, context: &RequestContext) -> Result<TxnBody, ErrorCode> {
        match op {
            WriteOp::Create { path, data, acl, mode, ttl_ms } => {
                self.create(path, data, acl, *mode, *ttl_ms, context)
            }
            WriteOp::Delete { path, version } => self.delete(path, *version, context),
            WriteOp::SetData { path, data, version } => {
                path::validate(path)?;
                let mut node = self.get(path).ok_or(ErrorCode::NoNode)?;
                acl::check(&node.acl, perms::WRITE, &context.auth)?;
                let version = next_version(node.version, *version)?;
                node.version = version;
                self.set(path, Some(node));
                Ok(TxnBody::SetData { path: path.clone(), data: data.clone(), version })
            }
            WriteOp::SetAcl { path, acl: requested, version } => {
                path::validate(path)?;
                let fixed = acl::fix_up(requested, &context.auth)?;
                let mut node = self.get(path).ok_or(ErrorCode::NoNode)?;
                acl::check(&node.acl, perms::ADMIN, &context.auth)?;
                let version = next_version(node.aversion, *version)?;
                node.aversion = version;
                node.acl = SharedAcl::new(&fixed);
                self.set(path, Some(node));
                Ok(TxnBody::SetAcl { path: path.clone(), acl: fixed, version })
            }
            WriteOp::Check { path, version } => {
                path::validate(path)?;
                let node = self.get(path).ok_or(ErrorCode::NoNode)?;
                acl::check(&node.acl, perms::READ, &context.auth)?;
                next_version(node.version, *version)?;
                Ok(TxnBody::Check { path: path.clone() })
            }
            WriteOp::CreateSession { timeout_ms, password } => {
                if self.session_exists(context.session) {
                    return Err(ErrorCode::BadArguments);
                }
                self.sessions.insert(context.session, true);
                Ok(TxnBody::CreateSession { timeout_ms: *timeout_ms, password: *password })
            }
            WriteOp::CloseSession => {
                if !self.session_exists(context.session) {
                    return Err(ErrorCode::SessionExpired);
                }
                self.sessions.insert(context.session, false);
                Ok(TxnBody::CloseSession)
            }
            WriteOp::DeleteContainer { path } => {
                let node = self.get(path).ok_or(ErrorCode::NoNode)?;
                if node.children > 0 {
                    return Err(ErrorCode::NotEmpty);
                }
                if !matches!(
                    NodeKind::of_owner(node.ephemeral_owner),
                    NodeKind::Container | NodeKind::Ttl { .. }
                ) {
                    return Err(ErrorCode::BadArguments);
                }
                self.remove(path);
                Ok(TxnBody::Delete { path: path.clone() })
            }
        }
    }

    fn create(
        &mut self,
        requested_path: &str,
        data: &Bytes,
        acl: &[Acl],
        mode: CreateMode,
        ttl_ms: i64,
        context: &RequestContext,
    ) -> Result<TxnBody, ErrorCode> {
        if mode.is_ttl() && !(1..=TTL_MS_MAX).contains(&ttl_ms) {
            return Err(ErrorCode::BadArguments);
        }
        // As ZooKeeper: only the parent is found here; the full path is
        // validated after the sequential suffix, so "/a//b" fails with NoNode.
        let parent_path = zookeeper_parent(requested_path)?;
        let fixed = acl::fix_up(acl, &context.auth)?;
        let mut parent = self.get(parent_path).ok_or(ErrorCode::NoNode)?;
        acl::check(&parent.acl, perms::CREATE, &context.auth)?;
        let path = if mode.is_sequential() {
            format!("{requested_path}{:010}", parent.cversion)
        } else {
            requested_path.to_string()
        };
        path::validate(&path)?;
        if self.get(&path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(NodeKind::of_owner(parent.ephemeral_owner), NodeKind::Ephemeral { .. }) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let ephemeral_owner = if mode.is_ephemeral() {
            context.session.0
        } else if mode.is_container() {
            CONTAINER_OWNER
        } else if mode.is_ttl() {
            NodeKind::ttl_owner(ttl_ms)
        } else {
            0
        };
        parent.cversion = parent.cversion.wrapping_add(1);
        parent.children += 1;
        self.set(parent_path, Some(parent));
        let acl = SharedAcl::new(&fixed);
        let created =
            NodeView { acl, version: 0, aversion: 0, cversion: 0, children: 0, ephemeral_owner };
        self.set(&path, Some(created));
        Ok(TxnBody::Create { path, data: data.clone(), acl: fixed, ephemeral_owner })
    }

    fn delete(
        &mut self,
        path: &str,
        version: i32,
        context: &RequestContext,
    ) -> Result<TxnBody, ErrorCode> {
        if [ZOOKEEPER_PATH, QUOTA_PATH, CONFIG_PATH, "/"].contains(&path) {
            return Err(ErrorCode::BadArguments);
        }
        let parent = self.get(zookeeper_parent(path)?).ok_or(ErrorCode::NoNode)?;
        acl::check(&parent.acl, perms::DELETE, &context.auth)?;
        let node = self.get(path).ok_or(ErrorCode::NoNode)?;
        next_version(node.version, version)?;
        if node.children > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        self.remove(path);
        Ok(TxnBody::Delete { path: path.to_string() })
    }

    fn remove(&mut self, path: &str) {
        let parent_path = path::parent(path);
        if let Some(mut parent) = self.get(parent_path) {
            parent.children = parent.children.saturating_sub(1);
            self.set(parent_path, Some(parent));
        }
        self.set(path, None);
    }
}

/// The parent ZooKeeper looks up before validating the whole path: the text
/// before the last '/' ("" being the root). Only a path without '/' or with
/// a NUL is refused outright.
fn zookeeper_parent(path: &str) -> Result<&str, ErrorCode> {
    match path.rfind('/') {
        Some(_) if path.contains('\0') => Err(ErrorCode::BadArguments),
        Some(0) => Ok("/"),
        Some(index) => Ok(&path[..index]),
        None => Err(ErrorCode::BadArguments),
    }
}

/// The version after a versioned write, or BadVersion when `expected` is set
/// and differs (ZooKeeper's `checkAndIncVersion`).
fn next_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != ANY_VERSION && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    // ZooKeeper skips -1 ("any version") when a version wraps around (ZOOKEEPER-4743).
    Ok(match current.wrapping_add(1) {
        ANY_VERSION => 0,
        next => next,
    })
}

impl DataTree {
    /// Validates one write into the txn that performs it.
    pub fn prepare(&self, op: &WriteOp, context: &RequestContext) -> Result<TxnBody, ErrorCode> {
        View::new(self, None).prepare(op, context)
    }

    /// Validates a multi: every op sees the effects of the ops before it; the
    /// first failure fails the whole multi and nothing is applied.
    pub fn prepare_multi(
        &self,
        ops: &[WriteOp],
        context: &RequestContext,
    ) -> Result<TxnBody, MultiFailure> {
        View::new(self, None).prepare_multi(ops, context)
    }

    /// As [`DataTree::prepare`], seeing `outstanding` changes on top of the
    /// tree; on success the write's own changes join them under `zxid`, the
    /// zxid its txn will be proposed with.
    pub fn prepare_outstanding(
        &self,
        outstanding: &mut PendingChanges,
        zxid: Zxid,
        op: &WriteOp,
        context: &RequestContext,
    ) -> Result<TxnBody, ErrorCode> {
        let mut view = View::new(self, Some(outstanding));
        let body = view.prepare(op, context)?;
        let (nodes, sessions) = (view.pending, view.sessions);
        outstanding.record(zxid, nodes, sessions);
        Ok(body)
    }

    /// As [`DataTree::prepare_multi`], on top of `outstanding` changes.
    pub fn prepare_multi_outstanding(
        &self,
        outstanding: &mut PendingChanges,
        zxid: Zxid,
        ops: &[WriteOp],
        context: &RequestContext,
    ) -> Result<TxnBody, MultiFailure> {
        let mut view = View::new(self, Some(outstanding));
        let body = view.prepare_multi(ops, context)?;
        let (nodes, sessions) = (view.pending, view.sessions);
        outstanding.record(zxid, nodes, sessions);
        Ok(body)
    }
}

impl View<'_> {
    fn prepare_multi(
        &mut self,
        ops: &[WriteOp],
        context: &RequestContext,
    ) -> Result<TxnBody, MultiFailure> {
        let mut bodies = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            let allowed = matches!(
                op,
                WriteOp::Create { .. }
                    | WriteOp::Delete { .. }
                    | WriteOp::SetData { .. }
                    | WriteOp::Check { .. }
            );
            let prepared =
                if allowed { self.prepare(op, context) } else { Err(ErrorCode::BadArguments) };
            match prepared {
                Ok(body) => bodies.push(body),
                Err(code) => {
                    let mut results = vec![ErrorCode::Ok; index];
                    results.push(code);
                    results.resize(ops.len(), ErrorCode::RuntimeInconsistency);
                    return Err(MultiFailure { results });
                }
            }
        }
        Ok(TxnBody::Multi(bodies))
    }
}
