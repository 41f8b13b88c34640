//! Exact-action unit tests of the ZAB phases, driving single peers by hand.
//! Roles are taken up through the `start_as` hook so each test starts right
//! at the phase it checks; the composed election is covered by the cluster tests.

mod broadcast;
mod composition;
mod discovery;
mod liveness;
mod sync;

use std::collections::BTreeSet;

use bytes::Bytes;
use election_core::PeerState;
use proto::Zxid;

use crate::{
    Action, ElectionConfig, Epochs, LearnerCounts, LearnerType, Peer, PeerConfig, PeerMessage,
    Proposal, QuorumConfig, Recovered, Role, ServerId,
};

pub(crate) fn id(n: u64) -> ServerId {
    ServerId(n)
}

pub(crate) fn zxid(epoch: u32, counter: u32) -> Zxid {
    Zxid::new(epoch, counter)
}

pub(crate) fn proposal(epoch: u32, counter: u32) -> Proposal {
    Proposal { zxid: zxid(epoch, counter), txn: Bytes::from(format!("txn {epoch}.{counter}")) }
}

pub(crate) fn send(to: u64, message: PeerMessage) -> Action {
    Action::Send { to: id(to), message }
}

/// Voters `voters`, observers `observers`, small limits so bounds are quick to reach.
pub(crate) fn config(me: u64, voters: &[u64], observers: &[u64]) -> PeerConfig {
    let quorum = QuorumConfig {
        voters: voters.iter().copied().map(ServerId).collect::<BTreeSet<_>>(),
        observers: observers.iter().copied().map(ServerId).collect::<BTreeSet<_>>(),
    };
    let learner_type =
        if voters.contains(&me) { LearnerType::Participant } else { LearnerType::Observer };
    let mut config = PeerConfig::new(ElectionConfig {
        me: id(me),
        learner_type,
        quorum,
        finalize_wait_ticks: 2,
        notification_timeout_ticks_min: 5,
        notification_timeout_ticks_max: 20,
    });
    config.ping_interval_ticks = 3;
    config.sync_limit_ticks = 6;
    config.init_limit_ticks = 20;
    config
}

/// A log of `(epoch, counter)` proposals with the given epochs.
pub(crate) fn recovered(accepted: u64, current: u64, log: &[(u32, u32)]) -> Recovered {
    let recent_proposals: Vec<Proposal> = log.iter().map(|&(e, c)| proposal(e, c)).collect();
    let last_logged_zxid = recent_proposals.last().map_or(Zxid::ZERO, |p| p.zxid);
    Recovered {
        epochs: Epochs { accepted, current },
        last_logged_zxid,
        recent_proposals,
        snapshot_zxid: Zxid::ZERO,
    }
}

pub(crate) fn starts_looking(actions: &[Action]) -> bool {
    actions.first() == Some(&Action::RoleChanged(Role::Looking))
}

/// Leader 1 of voters {1,2,3} and observer 4, log (1,1)..(1,3), epochs
/// {1,1}; follower 2 synced by an empty DIFF, so it serves in epoch 2.
pub(crate) fn serving_leader(config: PeerConfig) -> Peer {
    let mut leader = Peer::new(config, recovered(1, 1, &[(1, 1), (1, 2), (1, 3)]));
    leader.start_as(PeerState::Leading, id(1));
    let info = PeerMessage::FollowerInfo {
        accepted_epoch: 1,
        last_zxid: zxid(1, 3),
        learner_type: LearnerType::Participant,
    };
    leader.handle_message(id(2), info);
    leader.handle_message(id(2), PeerMessage::AckEpoch { current_epoch: 1, last_zxid: zxid(1, 3) });
    let actions = leader.handle_message(id(2), PeerMessage::Ack { zxid: zxid(1, 3) });
    assert_eq!(
        actions.last(),
        Some(&Action::RoleChanged(Role::Leading { epoch: 2, serving: true }))
    );
    leader
}

/// Brings observer 4 into a serving leader's broadcast through an empty DIFF.
pub(crate) fn add_observer(leader: &mut Peer) {
    let info = PeerMessage::FollowerInfo {
        accepted_epoch: 1,
        last_zxid: zxid(1, 3),
        learner_type: LearnerType::Observer,
    };
    leader.handle_message(id(4), info);
    leader.handle_message(id(4), PeerMessage::AckEpoch { current_epoch: 1, last_zxid: zxid(1, 3) });
    let actions = leader.handle_message(id(4), PeerMessage::Ack { zxid: zxid(1, 3) });
    assert_eq!(actions, vec![send(4, PeerMessage::UpToDate)]);
}

/// Follower 2 of voters {1,2,3}, log (1,1)..(1,2), epochs {1,1}, serving
/// leader 1 in epoch 2 after an empty DIFF.
pub(crate) fn serving_follower(config: PeerConfig) -> Peer {
    let mut follower = Peer::new(config, recovered(1, 1, &[(1, 1), (1, 2)]));
    follower.start_as(PeerState::Following, id(1));
    follower.handle_message(id(1), PeerMessage::LeaderInfo { new_epoch: 2 });
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 2) });
    follower.handle_message(id(1), PeerMessage::NewLeader { epoch: 2, zxid: zxid(1, 2) });
    let actions = follower.handle_message(id(1), PeerMessage::UpToDate);
    let serving = Role::Following { leader: id(1), epoch: 2, serving: true };
    assert_eq!(actions, vec![Action::RoleChanged(serving)]);
    follower
}
