//! How votes are ordered: ZooKeeper's `totalOrderPredicate`, plus the
//! membership rule the election adds on top of it.

use proto::Zxid;

use crate::quorum::QuorumConfig;
use crate::types::{ServerId, Vote};

/// ZooKeeper's `totalOrderPredicate`: true when `new` beats `current`, by
/// (peer epoch, zxid, leader id), in that order.
///
/// This is the pure ordering; ZooKeeper also refuses any vote for a server
/// with quorum weight 0 (a non-voter), which the election applies on top
/// (see [`beats`]).
pub fn total_order_predicate(new: &Vote, current: &Vote) -> bool {
    (new.peer_epoch, new.zxid, new.leader) > (current.peer_epoch, current.zxid, current.leader)
}

/// The election's ordering: a vote for a non-voter never wins, and every
/// vote for a voter beats a vote for a non-voter (an observer's own
/// placeholder vote), whatever their histories.
pub(crate) fn beats(quorum: &QuorumConfig, new: &Vote, current: &Vote) -> bool {
    if !quorum.is_voter(new.leader) {
        return false;
    }
    if !quorum.is_voter(current.leader) {
        return true;
    }
    total_order_predicate(new, current)
}

/// The vote a server starts a round with: itself and its history if it
/// votes; otherwise a placeholder naming itself with the lowest possible
/// history, which any vote for a voter beats and which is never counted.
pub(crate) fn initial_vote(
    quorum: &QuorumConfig,
    me: ServerId,
    last_zxid: Zxid,
    current_epoch: u64,
) -> Vote {
    if quorum.is_voter(me) {
        Vote { leader: me, zxid: last_zxid, peer_epoch: current_epoch }
    } else {
        Vote { leader: me, zxid: Zxid(i64::MIN), peer_epoch: 0 }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

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
    fn peer_epoch_outranks_zxid_which_outranks_id() {
        assert!(total_order_predicate(&vote(1, 0, 2), &vote(3, 100, 1)));
        assert!(total_order_predicate(&vote(1, 101, 1), &vote(3, 100, 1)));
        assert!(total_order_predicate(&vote(3, 100, 1), &vote(2, 100, 1)));
        assert!(!total_order_predicate(&vote(2, 100, 1), &vote(2, 100, 1)));
    }

    #[test]
    fn a_vote_for_a_non_voter_never_wins_and_always_loses() {
        let placeholder = initial_vote(&quorum(), ServerId(4), Zxid(500), 9);
        assert_eq!(placeholder, vote(4, i64::MIN, 0));
        assert!(!beats(&quorum(), &vote(4, 900, 9), &vote(1, 0, 0)));
        assert!(!beats(&quorum(), &vote(7, 900, 9), &vote(1, 0, 0)));
        assert!(beats(&quorum(), &vote(1, i64::MIN, 0), &placeholder));
    }

    #[test]
    fn a_voter_starts_with_its_own_history() {
        assert_eq!(initial_vote(&quorum(), ServerId(2), Zxid(77), 3), vote(2, 77, 3));
    }

    fn any_vote() -> impl Strategy<Value = Vote> {
        (0u64..4, -2i64..4, 0u64..4).prop_map(|(leader, zxid, epoch)| vote(leader, zxid, epoch))
    }

    proptest! {
        #[test]
        fn total_order_predicate_is_a_strict_total_order(a in any_vote(), b in any_vote(), c in any_vote()) {
            prop_assert!(!total_order_predicate(&a, &a), "irreflexive");
            prop_assert!(!(total_order_predicate(&a, &b) && total_order_predicate(&b, &a)), "antisymmetric");
            if total_order_predicate(&a, &b) && total_order_predicate(&b, &c) {
                prop_assert!(total_order_predicate(&a, &c), "transitive");
            }
            if a != b {
                prop_assert!(total_order_predicate(&a, &b) || total_order_predicate(&b, &a), "total");
            }
        }
    }
}
