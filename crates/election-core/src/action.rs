//! What the election asks its driver to do.

use crate::types::{Notification, PeerState, ServerId, Vote};

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectionAction {
    /// Deliver `notification` to server `to` (fire and forget; loss is fine).
    Send { to: ServerId, notification: Notification },
    /// The election is over for this peer: it is now `state` (Leading,
    /// Following or Observing) behind `vote.leader`.
    Decided { state: PeerState, vote: Vote, round: u64 },
}
