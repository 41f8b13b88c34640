//! Outstanding changes: what a replicating leader has proposed but not yet
//! applied (ZooKeeper's `outstandingChanges`).
//!
//! A leader prepares each write against the tree *and* these changes, so it
//! can pipeline: the next create of `/a` fails with NodeExists while the first
//! one is still waiting for its quorum. Each entry remembers the zxid of the
//! last change to it; once the tree has applied that zxid the entry says
//! nothing the tree does not, and is dropped.

use std::collections::{HashMap, VecDeque};

use proto::{SessionId, Zxid};

use crate::prepare::NodeView;

#[derive(Debug, Default)]
pub struct PendingChanges {
    /// `None` = deleted by an outstanding write.
    nodes: HashMap<String, (Option<NodeView>, Zxid)>,
    /// `true` = created, `false` = closed by an outstanding write.
    sessions: HashMap<SessionId, (bool, Zxid)>,
    /// What each zxid touched, oldest first, to drop entries in order.
    touched: VecDeque<(Zxid, Vec<String>, Vec<SessionId>)>,
}

impl PendingChanges {
    pub fn new() -> Self {
        PendingChanges::default()
    }

    /// Nodes and sessions with outstanding changes.
    pub fn len(&self) -> usize {
        self.nodes.len() + self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.sessions.is_empty()
    }

    /// The tree has applied every txn up to `zxid`: forget what they changed
    /// unless a later outstanding write changed it again.
    pub fn applied_through(&mut self, zxid: Zxid) {
        while let Some((oldest, _, _)) = self.touched.front() {
            if *oldest > zxid {
                break;
            }
            let (done, paths, sessions) = self.touched.pop_front().expect("front exists");
            for path in paths {
                if self.nodes.get(&path).is_some_and(|(_, last)| *last == done) {
                    self.nodes.remove(&path);
                }
            }
            for session in sessions {
                if self.sessions.get(&session).is_some_and(|(_, last)| *last == done) {
                    self.sessions.remove(&session);
                }
            }
        }
    }

    /// Forgets everything: the proposals will never be applied (the leader
    /// lost its quorum and the tree is being resynchronised).
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.sessions.clear();
        self.touched.clear();
    }

    pub(crate) fn node(&self, path: &str) -> Option<Option<&NodeView>> {
        self.nodes.get(path).map(|(node, _)| node.as_ref())
    }

    pub(crate) fn session(&self, session: SessionId) -> Option<bool> {
        self.sessions.get(&session).map(|(exists, _)| *exists)
    }

    pub(crate) fn record(
        &mut self,
        zxid: Zxid,
        nodes: HashMap<String, Option<NodeView>>,
        sessions: HashMap<SessionId, bool>,
    ) {
        debug_assert!(self.touched.back().is_none_or(|(last, _, _)| *last < zxid));
        if nodes.is_empty() && sessions.is_empty() {
            return;
        }
        let paths = nodes.keys().cloned().collect();
        let session_ids = sessions.keys().copied().collect();
        for (path, node) in nodes {
            self.nodes.insert(path, (node, zxid));
        }
        for (session, exists) in sessions {
            self.sessions.insert(session, (exists, zxid));
        }
        self.touched.push_back((zxid, paths, session_ids));
    }
}
