//! Counting votes: who said what, whether a quorum agrees on a vote, and
//! ZooKeeper's `checkLeader` guard.

use std::collections::{BTreeMap, BTreeSet};

use crate::quorum::QuorumConfig;
use crate::types::{PeerState, ServerId, Vote};

/// The latest vote heard from each server, with the state it was sent in.
/// One entry per server, so the size is bounded by the ensemble.
#[derive(Debug, Default, Clone)]
pub(crate) struct VoteTally {
    votes: BTreeMap<ServerId, (Vote, PeerState)>,
}

impl VoteTally {
    pub(crate) fn record(&mut self, from: ServerId, vote: Vote, state: PeerState) {
        self.votes.insert(from, (vote, state));
    }

    pub(crate) fn clear(&mut self) {
        self.votes.clear();
    }

    /// True when a quorum of voters agrees with `vote` sent in `state`.
    pub(crate) fn has_quorum_for(
        &self,
        quorum: &QuorumConfig,
        vote: &Vote,
        state: PeerState,
    ) -> bool {
        let agreeing = self
            .votes
            .iter()
            .filter(|(_, (recorded, recorded_state))| {
                same_vote(recorded, *recorded_state, vote, state)
            })
            .map(|(id, _)| id);
        quorum.is_quorum(agreeing)
    }

    /// True when every voter not in `unreachable` sent exactly `vote` while
    /// looking: no better vote can still arrive from a server that can answer.
    pub(crate) fn all_reachable_voters_sent(
        &self,
        quorum: &QuorumConfig,
        vote: &Vote,
        unreachable: &BTreeSet<ServerId>,
    ) -> bool {
        quorum.voters.iter().filter(|voter| !unreachable.contains(voter)).all(|voter| {
            matches!(self.votes.get(voter), Some((recorded, PeerState::Looking)) if recorded == vote)
        })
    }

    /// ZooKeeper's `checkLeader`: before following `leader`, the leader must
    /// itself have said it is LEADING; before leading, the votes must come
    /// from my own round. This keeps a quorum of stale FOLLOWING votes from
    /// re-electing a leader that has crashed.
    pub(crate) fn check_leader(
        &self,
        leader: ServerId,
        me: ServerId,
        votes_are_from_my_round: bool,
    ) -> bool {
        if leader == me {
            votes_are_from_my_round
        } else {
            matches!(self.votes.get(&leader), Some((_, PeerState::Leading)))
        }
    }
}

/// ZooKeeper's `Vote.equals`: votes cast while looking must match exactly;
/// votes of servers out of the election match on leader and epoch only,
/// because their zxids can legitimately differ once the ensemble has moved on
/// (a leader and epoch pair names one established ensemble).
fn same_vote(
    recorded: &Vote,
    recorded_state: PeerState,
    wanted: &Vote,
    wanted_state: PeerState,
) -> bool {
    if recorded_state == PeerState::Looking || wanted_state == PeerState::Looking {
        recorded == wanted
    } else {
        recorded.leader == wanted.leader && recorded.peer_epoch == wanted.peer_epoch
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proto::Zxid;

    use super::*;

    fn vote(leader: u64, zxid: i64, peer_epoch: u64) -> Vote {
        Vote { leader: ServerId(leader), zxid: Zxid(zxid), peer_epoch }
    }

    fn quorum() -> QuorumConfig {
        QuorumConfig {
            voters: [1, 2, 3].into_iter().map(ServerId).collect(),
            observers: BTreeSet::from([ServerId(4)]),
        }
    }

    #[test]
    fn looking_votes_must_match_exactly() {
        let mut tally = VoteTally::default();
        tally.record(ServerId(1), vote(3, 10, 1), PeerState::Looking);
        tally.record(ServerId(2), vote(3, 11, 1), PeerState::Looking);
        assert!(!tally.has_quorum_for(&quorum(), &vote(3, 10, 1), PeerState::Looking));
        tally.record(ServerId(2), vote(3, 10, 1), PeerState::Looking);
        assert!(tally.has_quorum_for(&quorum(), &vote(3, 10, 1), PeerState::Looking));
    }

    #[test]
    fn settled_votes_match_on_leader_and_epoch() {
        let mut tally = VoteTally::default();
        tally.record(ServerId(1), vote(3, 10, 1), PeerState::Following);
        tally.record(ServerId(3), vote(3, 12, 1), PeerState::Leading);
        assert!(tally.has_quorum_for(&quorum(), &vote(3, 99, 1), PeerState::Following));
        assert!(!tally.has_quorum_for(&quorum(), &vote(3, 12, 2), PeerState::Following));
    }

    #[test]
    fn observer_votes_never_count() {
        let mut tally = VoteTally::default();
        tally.record(ServerId(1), vote(3, 10, 1), PeerState::Looking);
        tally.record(ServerId(4), vote(3, 10, 1), PeerState::Looking);
        assert!(!tally.has_quorum_for(&quorum(), &vote(3, 10, 1), PeerState::Looking));
    }

    #[test]
    fn check_leader_needs_the_leader_to_say_leading() {
        let mut tally = VoteTally::default();
        tally.record(ServerId(3), vote(3, 10, 1), PeerState::Following);
        assert!(!tally.check_leader(ServerId(3), ServerId(1), true));
        tally.record(ServerId(3), vote(3, 10, 1), PeerState::Leading);
        assert!(tally.check_leader(ServerId(3), ServerId(1), false));
        assert!(!tally.check_leader(ServerId(2), ServerId(1), true), "2 never spoke");
        assert!(tally.check_leader(ServerId(1), ServerId(1), true));
        assert!(!tally.check_leader(ServerId(1), ServerId(1), false));
    }
}
