//! State every role shares: durable epochs, the log window and the three
//! log positions (durable, committed, applied) this server tracks.

use proto::Zxid;

use crate::history::History;
use crate::{Action, Epochs, PeerConfig, PeerMessage, Recovered, ServerId};

/// What a role handler asks of the peer after handling an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Flow {
    Stay,
    /// Leave the role and start a new election.
    StepDown,
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) config: PeerConfig,
    pub(crate) epochs: Epochs,
    pub(crate) history: History,
    /// Everything up to here is fsynced in this server's log.
    pub(crate) durable: Zxid,
    /// The highest zxid known committed.
    pub(crate) committed: Zxid,
    /// The driver's state machine reflects the log up to here.
    pub(crate) applied: Zxid,
    /// The newest snapshot the driver holds: a TRUNC below it cannot be
    /// carried out, only a reset.
    pub(crate) snapshot_floor: Zxid,
}

impl Node {
    pub(crate) fn new(config: PeerConfig, recovered: Recovered) -> Node {
        let history = History::recovered(
            recovered.last_logged_zxid,
            recovered.recent_proposals,
            config.committed_log_max,
        );
        let last = history.last();
        Node {
            config,
            epochs: recovered.epochs,
            history,
            // Recovery read the log from disk: all of it is durable and applied.
            durable: last,
            committed: Zxid::ZERO,
            applied: last,
            snapshot_floor: recovered.snapshot_zxid,
        }
    }

    pub(crate) fn me(&self) -> ServerId {
        self.config.election.me
    }

    pub(crate) fn is_voter(&self, id: ServerId) -> bool {
        self.config.election.quorum.voters.contains(&id)
    }

    pub(crate) fn is_observer(&self, id: ServerId) -> bool {
        self.config.election.quorum.observers.contains(&id)
    }

    pub(crate) fn is_quorum<'a>(&self, ids: impl IntoIterator<Item = &'a ServerId>) -> bool {
        self.config.election.quorum.is_quorum(ids)
    }

    /// Records an fsync completion; a report beyond the log (stale, or from
    /// before a truncation) only covers what is logged now.
    pub(crate) fn note_durable(&mut self, zxid: Zxid) {
        self.durable = self.durable.max(zxid.min(self.history.last()));
    }

    pub(crate) fn log_is_durable(&self) -> bool {
        self.durable >= self.history.last()
    }

    /// The driver fast-forwards on every return to election, so from then
    /// on its state machine holds the whole log.
    pub(crate) fn fast_forward(&mut self) {
        self.applied = self.history.last();
    }

    /// Notes `zxid` committed and lets the window drop what is committed
    /// and applied beyond its size (never what an `Apply` still needs).
    pub(crate) fn mark_committed(&mut self, zxid: Zxid) {
        self.committed = self.committed.max(zxid);
        self.history.trim(self.committed.min(self.applied));
    }
}

pub(crate) fn send(actions: &mut Vec<Action>, to: ServerId, message: PeerMessage) {
    actions.push(Action::Send { to, message });
}
