//! The client-visible history: every operation's invocation and response,
//! stamped with a logical clock that orders all events of a run (the
//! simulator is single-threaded, so this order is real time).

use proto::Zxid;

use crate::fingerprint::fingerprint;
use crate::wire::RequestTag;

pub type ClientId = u32;

/// An operation on one znode, in the terms of the register-with-version model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create {
        path: String,
        data: u64,
    },
    /// `expected` is the version a conditional setData (or multi
    /// check+setData) requires; `None` is "any version".
    Set {
        path: String,
        data: u64,
        expected: Option<i32>,
    },
    Delete {
        path: String,
        expected: Option<i32>,
    },
    /// `synced`: the read followed a `sync` issued in the same operation,
    /// so it must be linearizable; plain reads only sequentially consistent.
    Read {
        path: String,
        synced: bool,
    },
}

impl Op {
    pub fn path(&self) -> &str {
        match self {
            Op::Create { path, .. }
            | Op::Set { path, .. }
            | Op::Delete { path, .. }
            | Op::Read { path, .. } => path,
        }
    }

    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Read { .. })
    }
}

/// What the server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    Created,
    NodeExists,
    /// setData succeeded; the node's new data version.
    SetOk {
        version: i32,
    },
    Deleted,
    NoNode,
    BadVersion,
    /// A read: the data id and version, or no node.
    Value(Option<(u64, i32)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    /// Answered; `zxid` is the txn's zxid for a write, the server's applied
    /// zxid for a read.
    Returned {
        at: u64,
        output: Output,
        zxid: Zxid,
    },
    /// A write whose fate the client never learned (timeout, lost connection):
    /// it may or may not have taken effect.
    Unknown,
    /// Refused before it reached the ensemble: it cannot have taken effect.
    NoEffect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub client: ClientId,
    /// The replicated request that carries a write (none for reads).
    pub tag: Option<RequestTag>,
    pub op: Op,
    pub call: u64,
    pub outcome: Outcome,
}

#[derive(Debug, Default)]
pub struct History {
    pub events: Vec<Event>,
    clock: u64,
}

impl History {
    fn now(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Records an invocation; the index identifies it for the response.
    pub fn invoke(&mut self, client: ClientId, tag: Option<RequestTag>, op: Op) -> usize {
        let call = self.now();
        self.events.push(Event { client, tag, op, call, outcome: Outcome::Pending });
        self.events.len() - 1
    }

    pub fn respond(&mut self, index: usize, output: Output, zxid: Zxid) {
        let at = self.now();
        self.events[index].outcome = Outcome::Returned { at, output, zxid };
    }

    /// The client gave up; reads that were never answered simply did not happen.
    pub fn give_up(&mut self, index: usize) {
        let event = &mut self.events[index];
        event.outcome = if event.op.is_write() { Outcome::Unknown } else { Outcome::NoEffect };
    }

    pub fn refused(&mut self, index: usize) {
        self.events[index].outcome = Outcome::NoEffect;
    }

    /// A stable hash of the whole history, for determinism checks.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(format!("{:?}", self.events).as_bytes())
    }

    pub fn acknowledged_writes(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.op.is_write() && matches!(e.outcome, Outcome::Returned { .. }))
            .count()
    }
}
