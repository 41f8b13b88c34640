//! Spans for ZAB rounds on the leader: one per proposal (from propose to
//! commit) and one per learner sync (from the first DIFF/TRUNC/SNAP to
//! UPTODATE).
//!
//! A span must outlive the call that opened it, so open spans are kept here
//! and dropped (which closes them) when their round ends. Spans are at debug
//! level: with no subscriber interested, `debug_span!` returns a disabled
//! span and nothing is stored, so the write path allocates nothing.

use std::collections::HashMap;

use broadcast::{PeerMessage, ServerId};
use datatree::TxnBody;
use proto::Zxid;
use tracing::Span;

/// Open ZAB-round spans of one member.
#[derive(Default)]
pub(super) struct ZabSpans {
    proposals: HashMap<Zxid, Span>,
    syncs: HashMap<ServerId, Span>,
}

impl ZabSpans {
    /// Leader: `zxid` was proposed.
    pub(super) fn proposed(&mut self, zxid: Zxid, body: &TxnBody) {
        let span = tracing::debug_span!("zab_proposal", zxid = zxid.0, txn_type = txn_type(body));
        if !span.is_disabled() {
            self.proposals.insert(zxid, span);
        }
    }

    /// `zxid` was committed and applied: its proposal round is over.
    pub(super) fn committed(&mut self, zxid: Zxid) {
        if !self.proposals.is_empty() {
            self.proposals.remove(&zxid);
        }
    }

    /// Leader: `message` is about to go to learner `to`; sync messages open
    /// or close that learner's sync round.
    pub(super) fn sending(&mut self, to: ServerId, message: &PeerMessage) {
        let kind = match message {
            PeerMessage::Diff { .. } => "diff",
            PeerMessage::Trunc { .. } => "trunc",
            PeerMessage::Snap { .. } => "snap",
            PeerMessage::UpToDate => {
                self.syncs.remove(&to);
                return;
            }
            _ => return,
        };
        self.sync_started(to, kind);
    }

    /// Leader: a sync round with `learner` begins (several sync messages may
    /// belong to one round; the first opens it).
    pub(super) fn sync_started(&mut self, learner: ServerId, kind: &'static str) {
        if self.syncs.contains_key(&learner) {
            return;
        }
        let span = tracing::debug_span!("zab_sync", learner = learner.0, sync = kind);
        if !span.is_disabled() {
            self.syncs.insert(learner, span);
        }
    }

    /// The member left its role: every open round ends unfinished.
    pub(super) fn clear(&mut self) {
        self.proposals.clear();
        self.syncs.clear();
    }
}

/// ZooKeeper's name for the txn type (as in its `TxnHeader` types).
fn txn_type(body: &TxnBody) -> &'static str {
    match body {
        TxnBody::CreateSession { .. } => "createSession",
        TxnBody::CloseSession => "closeSession",
        TxnBody::Create { .. } => "create",
        TxnBody::Delete { .. } => "delete",
        TxnBody::SetData { .. } => "setData",
        TxnBody::SetAcl { .. } => "setACL",
        TxnBody::Check { .. } => "check",
        TxnBody::Multi(ops) if ops.is_empty() => "sync",
        TxnBody::Multi(_) => "multi",
    }
}
