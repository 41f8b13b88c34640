//! Fast leader election, as ZooKeeper's `FastLeaderElection` runs it, with no
//! sockets and no clock: the driver feeds [`Election`] notifications and
//! ticks and carries out the [`ElectionAction`]s it returns, in order.
//!
//! API CONTRACT (shared with `broadcast`): the public types and signatures in
//! this file are what other crates code against. Bodies marked `todo!()` are
//! filled in by the election-core work; the signatures change only together
//! with their callers.

use std::collections::BTreeSet;

use proto::Zxid;
use serde::{Deserialize, Serialize};

/// A server's id in the ensemble (`myid`, `server.N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServerId(pub u64);

impl std::fmt::Display for ServerId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// Where a peer stands, as carried in every notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PeerState {
    Looking,
    Following,
    Leading,
    Observing,
}

/// Whether a server votes (participant) or only learns (observer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LearnerType {
    Participant,
    Observer,
}

/// A proposed leader and the history it would lead with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Vote {
    pub leader: ServerId,
    /// The proposed leader's last logged zxid.
    pub zxid: Zxid,
    /// The proposed leader's current (accepted, established) epoch.
    pub peer_epoch: u64,
}

/// One election message: the sender's vote, round and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Notification {
    pub vote: Vote,
    /// The sender's election round (`electionEpoch` / `logicalclock`).
    pub round: u64,
    pub state: PeerState,
}

/// Voters and observers of the ensemble; quorums are majorities of voters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConfig {
    pub voters: BTreeSet<ServerId>,
    pub observers: BTreeSet<ServerId>,
}

impl QuorumConfig {
    /// True when `acknowledgers` contains a strict majority of the voters
    /// (non-voters in the set are ignored).
    pub fn is_quorum<'a>(&self, acknowledgers: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let voting = acknowledgers.into_iter().filter(|id| self.voters.contains(id)).count();
        voting * 2 > self.voters.len()
    }

    /// Every server but `me`, voters and observers.
    pub fn others(&self, me: ServerId) -> impl Iterator<Item = ServerId> + '_ {
        self.voters.iter().chain(self.observers.iter()).copied().filter(move |id| *id != me)
    }
}

/// Everything an election needs to know, in ticks (the driver picks the tick length).
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub me: ServerId,
    pub learner_type: LearnerType,
    pub quorum: QuorumConfig,
    /// How long a quorum-backed decision waits for a better vote (`finalizeWait`).
    pub finalize_wait_ticks: u32,
    /// First wait for notifications before all are sent again; doubles up to the max.
    pub notification_timeout_ticks_min: u32,
    pub notification_timeout_ticks_max: u32,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectionAction {
    /// Deliver `notification` to server `to` (fire and forget; loss is fine).
    Send { to: ServerId, notification: Notification },
    /// The election is over for this peer: it is now `state` (Leading,
    /// Following or Observing) behind `vote.leader`.
    Decided { state: PeerState, vote: Vote, round: u64 },
}

/// The election state machine of one server. It lives as long as the server:
/// while the server follows or leads, it still answers lookers with the
/// settled vote, as ZooKeeper's `WorkerReceiver` does.
#[derive(Debug)]
pub struct Election {
    config: ElectionConfig,
}

impl Election {
    pub fn new(config: ElectionConfig) -> Election {
        Election { config }
    }

    pub fn config(&self) -> &ElectionConfig {
        &self.config
    }

    /// Begins a new round (LOOKING) with this server's own history: votes for
    /// itself (a participant) and notifies every other server.
    pub fn start_looking(&mut self, last_zxid: Zxid, current_epoch: u64) -> Vec<ElectionAction> {
        let _ = (last_zxid, current_epoch);
        todo!()
    }

    /// A notification from `from`.
    pub fn handle_notification(
        &mut self,
        from: ServerId,
        notification: Notification,
    ) -> Vec<ElectionAction> {
        let _ = (from, notification);
        todo!()
    }

    /// One tick of time: finalize waits and notification timeouts.
    pub fn tick(&mut self) -> Vec<ElectionAction> {
        todo!()
    }

    /// The server left the election as `state` behind `vote` (called by the
    /// driver after `Decided`, or when it joins an established leader).
    pub fn settle(&mut self, state: PeerState, vote: Vote) {
        let _ = (state, vote);
        todo!()
    }

    pub fn state(&self) -> PeerState {
        todo!()
    }

    pub fn round(&self) -> u64 {
        todo!()
    }

    pub fn current_vote(&self) -> Vote {
        todo!()
    }
}

/// ZooKeeper's `totalOrderPredicate`: true when `new` beats `current`, by
/// (peer epoch, zxid, leader id), in that order.
pub fn total_order_predicate(new: &Vote, current: &Vote) -> bool {
    let _ = (new, current);
    todo!()
}
