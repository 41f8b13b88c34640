//! Reads and watch registration, with ZooKeeper's order of checks
//! (`FinalRequestProcessor`): bad path, then NoNode, then the ACL; a watch is
//! registered only when the read succeeds.

use proto::codes::perms;
use proto::{Acl, AddWatchMode, ErrorCode, EventType, Id, SessionId, Stat, WatcherType, Zxid};

use crate::acl::{self, AuthContext};
use crate::node::Node;
use crate::path;
use crate::tree::DataTree;
use crate::watches::{Kind, WatchEvent, WatchRegistry, WatchSet};

impl DataTree {
    fn readable(
        &self,
        path: &str,
        permission: i32,
        auth: &AuthContext,
    ) -> Result<&Node, ErrorCode> {
        let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
        acl::check(&node.acl, permission, auth)?;
        Ok(node)
    }

    fn watch(
        &mut self,
        kind: Kind,
        path: &str,
        watcher: Option<SessionId>,
    ) -> Result<(), ErrorCode> {
        match watcher {
            Some(session) => self.watches.add(kind, path, session),
            None => Ok(()),
        }
    }

    /// getData; `watcher` leaves a one-shot data watch. The data is copied
    /// out: a reply is encoded from it at once, and a clone of the node's
    /// `Bytes` would allocate a shared header the node then keeps for good.
    pub fn get_data(
        &mut self,
        path: &str,
        auth: &AuthContext,
        watcher: Option<SessionId>,
    ) -> Result<(Vec<u8>, Stat), ErrorCode> {
        let node = self.readable(path, perms::READ, auth)?;
        let result = (node.data.to_vec(), node.stat());
        self.watch(Kind::Data, path, watcher)?;
        Ok(result)
    }

    /// exists: READ on an existing node. `Ok(None)` when the node is missing;
    /// a watch is left either way (it then fires on creation).
    pub fn exists(
        &mut self,
        path: &str,
        auth: &AuthContext,
        watcher: Option<SessionId>,
    ) -> Result<Option<Stat>, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let stat = match self.nodes.get(path) {
            Some(node) => {
                acl::check(&node.acl, perms::READ, auth)?;
                Some(node.stat())
            }
            None => None,
        };
        self.watch(Kind::Data, path, watcher)?;
        Ok(stat)
    }

    /// getChildren / getChildren2; `watcher` leaves a one-shot child watch.
    pub fn get_children(
        &mut self,
        path: &str,
        auth: &AuthContext,
        watcher: Option<SessionId>,
    ) -> Result<(Vec<String>, Stat), ErrorCode> {
        let node = self.readable(path, perms::READ, auth)?;
        let result = (node.children.iter().map(str::to_owned).collect(), node.stat());
        self.watch(Kind::Child, path, watcher)?;
        Ok(result)
    }

    /// getACL: READ or ADMIN. Without ADMIN the digest hashes are masked, as
    /// ZooKeeper does, so READ alone does not leak crackable hashes.
    pub fn get_acl(&self, path: &str, auth: &AuthContext) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let node = self.readable(path, perms::READ | perms::ADMIN, auth)?;
        let mut list = node.acl.to_vec();
        if acl::check(&node.acl, perms::ADMIN, auth).is_err() {
            for entry in &mut list {
                if entry.id.scheme == "digest" {
                    let user = entry.id.id.split(':').next().unwrap_or_default();
                    entry.id = Id::new("digest", format!("{user}:x"));
                }
            }
        }
        Ok((list, node.stat()))
    }

    /// check outside a multi: the node's data version is `version` (-1: any).
    pub fn check_version(
        &self,
        path: &str,
        version: i32,
        auth: &AuthContext,
    ) -> Result<(), ErrorCode> {
        let node = self.readable(path, perms::READ, auth)?;
        if version != -1 && version != node.version {
            return Err(ErrorCode::BadVersion);
        }
        Ok(())
    }

    /// The session's ephemerals whose path starts with `prefix`, sorted.
    pub fn get_ephemerals(&self, session: SessionId, prefix: &str) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|owned| owned.iter().filter(|path| path.starts_with(prefix)).cloned().collect())
            .unwrap_or_default()
    }

    /// Number of descendants of `path` (not counting itself).
    pub fn get_all_children_number(
        &self,
        path: &str,
        auth: &AuthContext,
    ) -> Result<i32, ErrorCode> {
        let node = self.readable(path, perms::READ, auth)?;
        let mut total = 0i64;
        let mut pending: Vec<String> =
            node.children.iter().map(|name| path::join(path, name)).collect();
        while let Some(child) = pending.pop() {
            total += 1;
            if let Some(node) = self.nodes.get(child.as_str()) {
                pending.extend(node.children.iter().map(|name| path::join(&child, name)));
            }
        }
        Ok(total.min(i32::MAX as i64) as i32)
    }

    /// addWatch: a persistent or persistent-recursive watch; the node need not exist.
    pub fn add_watch(
        &mut self,
        path: &str,
        mode: AddWatchMode,
        session: SessionId,
        _auth: &AuthContext,
    ) -> Result<(), ErrorCode> {
        let kind = match mode {
            AddWatchMode::Persistent => Kind::Persistent,
            AddWatchMode::PersistentRecursive => Kind::Recursive,
        };
        self.watches.add(kind, path, session)
    }

    /// removeWatches: NoWatcher when the session has no such watch.
    pub fn remove_watches(
        &mut self,
        path: &str,
        watcher_type: WatcherType,
        session: SessionId,
    ) -> Result<(), ErrorCode> {
        let mut removed = false;
        for kind in WatchRegistry::kinds_of(watcher_type) {
            removed |= self.watches.remove(*kind, path, session);
        }
        if removed { Ok(()) } else { Err(ErrorCode::NoWatcher) }
    }

    /// checkWatches: NoWatcher when the session has no such watch.
    pub fn check_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
        session: SessionId,
    ) -> Result<(), ErrorCode> {
        let found = WatchRegistry::kinds_of(watcher_type)
            .iter()
            .any(|kind| self.watches.contains(*kind, path, session));
        if found { Ok(()) } else { Err(ErrorCode::NoWatcher) }
    }

    /// Re-registers a reconnecting client's watches, firing at once the
    /// events it missed since `relative_zxid` (ZooKeeper's `setWatches`).
    pub fn set_watches(
        &mut self,
        session: SessionId,
        relative_zxid: Zxid,
        watches: &WatchSet,
    ) -> Vec<WatchEvent> {
        let mut missed = Vec::new();
        let fire = |missed: &mut Vec<WatchEvent>, event: EventType, path: &str| {
            missed.push(WatchEvent { session, event, path: path.to_string() });
        };
        let relative = relative_zxid.0;
        for path in &watches.data {
            match self.nodes.get(path.as_str()) {
                None => fire(&mut missed, EventType::NodeDeleted, path),
                Some(node) if node.mzxid > relative => {
                    fire(&mut missed, EventType::NodeDataChanged, path)
                }
                Some(_) => {
                    let _ = self.watches.add(Kind::Data, path, session);
                }
            }
        }
        for path in &watches.exist {
            if self.nodes.contains_key(path.as_str()) {
                fire(&mut missed, EventType::NodeCreated, path);
            } else {
                let _ = self.watches.add(Kind::Data, path, session);
            }
        }
        for path in &watches.child {
            match self.nodes.get(path.as_str()) {
                None => fire(&mut missed, EventType::NodeDeleted, path),
                Some(node) if node.pzxid > relative => {
                    fire(&mut missed, EventType::NodeChildrenChanged, path)
                }
                Some(_) => {
                    let _ = self.watches.add(Kind::Child, path, session);
                }
            }
        }
        for path in &watches.persistent {
            let _ = self.watches.add(Kind::Persistent, path, session);
        }
        for path in &watches.persistent_recursive {
            let _ = self.watches.add(Kind::Recursive, path, session);
        }
        missed
    }

    /// Forgets every watch of a session (its connection is gone).
    pub fn remove_session_watches(&mut self, session: SessionId) {
        self.watches.remove_session(session);
    }
}
