//! Seeded clients: each owns a session, talks to one server at a time, has
//! at most one request outstanding (so its order is its issue order), and
//! picks operations over a small key space so that they conflict:
//! create, setData (blind and conditional), multi(check, setData), delete,
//! getData, sync followed by getData, ephemeral creates and session closes.

use std::collections::BTreeMap;

use broadcast::ServerId;
use proto::{SessionId, Zxid};

use crate::history::{ClientId, Op};
use crate::rng::SimRng;
use crate::wire::{ClientWrite, RequestTag};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadConfig {
    pub clients: usize,
    /// Znodes `/k0 .. /k{keys-1}`, all children of the root.
    pub keys: usize,
    /// Chance per tick that an idle client issues its next request.
    pub issue_per_mille: u32,
    /// A client gives up on a request (and its server) after this long.
    pub request_timeout_ticks: u64,
}

/// What a client learned about its watches, in order (for the watch checker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchRecord {
    /// A data watch on `path` left by a read of the state at `zxid`.
    Registered { path: String, zxid: Zxid },
    /// The watch on `path` fired, triggered by the txn at `zxid`.
    Fired { path: String, zxid: Zxid },
    /// A response showed the state at `zxid`.
    Saw { zxid: Zxid },
    /// The client moved to another server: its watches are gone.
    Reset,
}

/// What a client waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Awaiting {
    Session,
    /// A write; `index` is its history event.
    Write {
        index: usize,
    },
    /// A session-scoped write outside the checked register model:
    /// an ephemeral create or a session close.
    SessionWrite {
        write: ClientWrite,
    },
    /// The sync of a sync-then-read on `path`.
    SyncRead {
        index: usize,
        path: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outstanding {
    pub tag: RequestTag,
    pub server: ServerId,
    pub deadline: u64,
    pub awaiting: Awaiting,
}

/// The next thing a client does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Write { write: ClientWrite, op: Op },
    Read { path: String },
    SyncRead { path: String },
    SessionWrite { write: ClientWrite },
}

pub struct Client {
    pub id: ClientId,
    pub session: SessionId,
    pub server: Option<ServerId>,
    pub session_created: bool,
    pub outstanding: Option<Outstanding>,
    /// The newest zxid this client saw: a server behind it may not serve it.
    pub last_zxid_seen: Zxid,
    next_seq: u64,
    next_data: u64,
    /// Sessions this client opened so far (a closed one is replaced).
    generation: i64,
    ephemerals_created: u64,
    /// Paths with a data watch pending on the current server.
    watching: std::collections::BTreeSet<String>,
    pub watch_log: Vec<WatchRecord>,
    /// The version last seen per path, for conditional writes.
    versions: BTreeMap<String, i32>,
}

impl Client {
    pub fn new(id: ClientId) -> Client {
        Client {
            id,
            session: Self::session_id(id, 0),
            server: None,
            session_created: false,
            outstanding: None,
            last_zxid_seen: Zxid::ZERO,
            next_seq: 0,
            next_data: 0,
            generation: 0,
            ephemerals_created: 0,
            watching: Default::default(),
            watch_log: Vec::new(),
            versions: BTreeMap::new(),
        }
    }

    fn session_id(id: ClientId, generation: i64) -> SessionId {
        SessionId(0x1000 + (generation << 16) + i64::from(id))
    }

    /// The session was closed: the next request opens a new one.
    pub fn session_closed(&mut self) {
        self.generation += 1;
        self.session = Self::session_id(self.id, self.generation);
        self.session_created = false;
        // A session's watches end with it.
        self.reset_watches();
    }

    pub fn next_tag(&mut self) -> RequestTag {
        self.next_seq += 1;
        RequestTag { client: self.id, seq: self.next_seq }
    }

    /// A fresh data id, unique across clients.
    fn next_data(&mut self) -> u64 {
        self.next_data += 1;
        (u64::from(self.id) << 32) | self.next_data
    }

    pub fn saw_version(&mut self, path: &str, version: Option<i32>) {
        match version {
            Some(version) => self.versions.insert(path.to_string(), version),
            None => self.versions.remove(path),
        };
    }

    pub fn saw_zxid(&mut self, zxid: Zxid) {
        self.last_zxid_seen = self.last_zxid_seen.max(zxid);
        self.watch_log.push(WatchRecord::Saw { zxid });
    }

    /// A read on `path` at `zxid` left a watch (unless one is pending already).
    pub fn watch_registered(&mut self, path: &str, zxid: Zxid) {
        if self.watching.insert(path.to_string()) {
            self.watch_log.push(WatchRecord::Registered { path: path.to_string(), zxid });
        }
    }

    pub fn watch_fired(&mut self, path: &str, zxid: Zxid) {
        if self.watching.remove(path) {
            self.watch_log.push(WatchRecord::Fired { path: path.to_string(), zxid });
        }
    }

    /// Connected to a new server: watches left elsewhere no longer count.
    pub fn reset_watches(&mut self) {
        self.watching.clear();
        self.watch_log.push(WatchRecord::Reset);
    }

    pub fn plan(&mut self, config: &WorkloadConfig, rng: &mut SimRng) -> Plan {
        let path = format!("/k{}", rng.below(config.keys as u64));
        let expected = self.versions.get(&path).copied().unwrap_or(0);
        match rng.below(100) {
            0..15 => {
                let data = self.next_data();
                Plan::Write {
                    write: ClientWrite::Create { path: path.clone(), data },
                    op: Op::Create { path, data },
                }
            }
            15..30 => {
                let data = self.next_data();
                Plan::Write {
                    write: ClientWrite::SetData { path: path.clone(), data, version: -1 },
                    op: Op::Set { path, data, expected: None },
                }
            }
            30..37 => {
                let data = self.next_data();
                Plan::Write {
                    write: ClientWrite::SetData { path: path.clone(), data, version: expected },
                    op: Op::Set { path, data, expected: Some(expected) },
                }
            }
            37..45 => {
                let data = self.next_data();
                Plan::Write {
                    write: ClientWrite::CheckAndSet { path: path.clone(), data, version: expected },
                    op: Op::Set { path, data, expected: Some(expected) },
                }
            }
            45..55 => {
                let (version, expected) =
                    if rng.chance(500) { (expected, Some(expected)) } else { (-1, None) };
                Plan::Write {
                    write: ClientWrite::Delete { path: path.clone(), version },
                    op: Op::Delete { path, expected },
                }
            }
            55..80 => Plan::Read { path },
            80..84 => {
                self.ephemerals_created += 1;
                let path = format!("/e{}-{}", self.id, self.ephemerals_created);
                Plan::SessionWrite { write: ClientWrite::CreateEphemeral { path } }
            }
            84..86 => Plan::SessionWrite { write: ClientWrite::CloseSession },
            _ => Plan::SyncRead { path },
        }
    }
}
