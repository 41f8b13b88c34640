//! The nouns every election message is made of: server ids, peer states,
//! votes and notifications.

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
