//! The watch registry: which sessions want to hear about which paths.
//!
//! Per server, not replicated, never in snapshots. One-shot data watches
//! (getData, exists), one-shot child watches (getChildren), and the
//! persistent and persistent-recursive watches of addWatch. Triggering
//! follows ZooKeeper's `WatchManager`: one event per session per change,
//! however many of its watches match.

use std::collections::{BTreeSet, HashMap};

use proto::{ErrorCode, EventType, SessionId, WatcherType};

use crate::path;

/// Watches one session may hold; registering more fails with `ThrottledOp`
/// so a runaway client cannot grow the server's memory without bound.
pub const WATCHES_PER_SESSION_MAX: usize = 65_536;

/// A change a session asked to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub session: SessionId,
    pub event: EventType,
    pub path: String,
}

/// Paths a reconnecting client re-registers (ZooKeeper's setWatches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchSet {
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    pub persistent: Vec<String>,
    pub persistent_recursive: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Data,
    Child,
    Persistent,
    Recursive,
}

#[derive(Debug, Default)]
pub(crate) struct WatchRegistry {
    by_kind: HashMap<Kind, HashMap<String, BTreeSet<SessionId>>>,
    by_session: HashMap<SessionId, BTreeSet<(Kind, String)>>,
    total: usize,
}

impl WatchRegistry {
    pub fn add(&mut self, kind: Kind, path: &str, session: SessionId) -> Result<(), ErrorCode> {
        let mine = self.by_session.entry(session).or_default();
        if mine.contains(&(kind, path.to_string())) {
            return Ok(());
        }
        if mine.len() >= WATCHES_PER_SESSION_MAX {
            return Err(ErrorCode::ThrottledOp);
        }
        mine.insert((kind, path.to_string()));
        self.by_kind.entry(kind).or_default().entry(path.to_string()).or_default().insert(session);
        self.total += 1;
        Ok(())
    }

    pub fn contains(&self, kind: Kind, path: &str, session: SessionId) -> bool {
        self.by_kind
            .get(&kind)
            .and_then(|paths| paths.get(path))
            .is_some_and(|set| set.contains(&session))
    }

    pub fn remove(&mut self, kind: Kind, path: &str, session: SessionId) -> bool {
        let Some(sessions) = self.by_kind.get_mut(&kind).and_then(|paths| paths.get_mut(path))
        else {
            return false;
        };
        if !sessions.remove(&session) {
            return false;
        }
        if sessions.is_empty() {
            self.by_kind.get_mut(&kind).expect("present").remove(path);
        }
        if let Some(mine) = self.by_session.get_mut(&session) {
            mine.remove(&(kind, path.to_string()));
            if mine.is_empty() {
                self.by_session.remove(&session);
            }
        }
        self.total -= 1;
        true
    }

    pub fn remove_session(&mut self, session: SessionId) {
        for (kind, path) in self.by_session.remove(&session).unwrap_or_default() {
            if let Some(sessions) =
                self.by_kind.get_mut(&kind).and_then(|paths| paths.get_mut(&path))
            {
                sessions.remove(&session);
                if sessions.is_empty() {
                    self.by_kind.get_mut(&kind).expect("present").remove(&path);
                }
                self.total -= 1;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.total
    }

    /// Sessions holding at least one watch.
    pub fn watching_sessions(&self) -> usize {
        self.by_session.len()
    }

    /// Each watching session with the paths it watches (any kind), sorted.
    pub fn paths_by_session(&self) -> Vec<(SessionId, Vec<String>)> {
        let mut sessions: Vec<_> = self
            .by_session
            .iter()
            .map(|(session, watches)| {
                let paths: BTreeSet<&String> = watches.iter().map(|(_, path)| path).collect();
                (*session, paths.into_iter().cloned().collect())
            })
            .collect();
        sessions.sort_by_key(|(session, _)| session.0);
        sessions
    }

    /// Watched paths, counted once per watch kind (as ZooKeeper sums its
    /// data and child watch tables).
    pub fn watched_paths(&self) -> usize {
        self.by_kind.values().map(HashMap::len).sum()
    }

    /// Kinds a removeWatches/checkWatches of `watcher_type` covers.
    pub fn kinds_of(watcher_type: WatcherType) -> &'static [Kind] {
        match watcher_type {
            WatcherType::Data => &[Kind::Data],
            WatcherType::Children => &[Kind::Child],
            WatcherType::Persistent => &[Kind::Persistent],
            WatcherType::PersistentRecursive => &[Kind::Recursive],
            WatcherType::Any => &[Kind::Data, Kind::Child, Kind::Persistent, Kind::Recursive],
        }
    }

    /// Fires `event` on `path`: one-shot watches are consumed, persistent ones stay.
    pub fn trigger(&mut self, path: &str, event: EventType, out: &mut Vec<WatchEvent>) {
        if self.total == 0 {
            return;
        }
        let mut sessions = BTreeSet::new();
        let one_shot: &[Kind] = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => &[Kind::Data],
            EventType::NodeDeleted => &[Kind::Data, Kind::Child],
            EventType::NodeChildrenChanged => &[Kind::Child],
            _ => &[],
        };
        for kind in one_shot {
            if let Some(fired) = self.by_kind.get_mut(kind).and_then(|paths| paths.remove(path)) {
                for session in &fired {
                    if let Some(mine) = self.by_session.get_mut(session) {
                        mine.remove(&(*kind, path.to_string()));
                        if mine.is_empty() {
                            self.by_session.remove(session);
                        }
                    }
                    self.total -= 1;
                }
                sessions.extend(fired);
            }
        }
        if let Some(persistent) =
            self.by_kind.get(&Kind::Persistent).and_then(|paths| paths.get(path))
        {
            sessions.extend(persistent.iter().copied());
        }
        // Recursive watches never report child-list changes: they see the children themselves.
        if event != EventType::NodeChildrenChanged
            && let Some(recursive) =
                self.by_kind.get(&Kind::Recursive).filter(|paths| !paths.is_empty())
        {
            for watched in std::iter::once(path).chain(path::ancestors(path)) {
                if let Some(watchers) = recursive.get(watched) {
                    sessions.extend(watchers.iter().copied());
                }
            }
        }
        out.extend(sessions.into_iter().map(|session| WatchEvent {
            session,
            event,
            path: path.to_string(),
        }));
    }
}
