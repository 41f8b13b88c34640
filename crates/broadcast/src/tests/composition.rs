//! The composed peer: election decisions start roles, election traffic is
//! wrapped and still answered while settled.

use election_core::{Notification, PeerState, Vote};

use super::*;

#[test]
fn a_single_voter_elects_itself_and_serves_in_a_new_epoch() {
    let mut peer = Peer::new(config(1, &[1], &[]), recovered(0, 0, &[]));
    // Alone, it needs no finalize wait: nobody else could send a better vote.
    let actions = peer.start();
    assert_eq!(
        actions,
        vec![
            Action::PersistEpochs(Epochs { accepted: 1, current: 0 }),
            Action::PersistEpochs(Epochs { accepted: 1, current: 1 }),
            Action::RoleChanged(Role::Leading { epoch: 1, serving: true }),
        ]
    );
    let (assigned, actions) = peer.propose(Bytes::from_static(b"a")).expect("serving");
    assert_eq!(assigned, zxid(1, 1));
    let a = Proposal { zxid: assigned, txn: Bytes::from_static(b"a") };
    assert_eq!(actions, vec![Action::Append(vec![a.clone()])]);
    assert_eq!(peer.on_append_done(assigned), vec![Action::Apply(vec![a])]);
    assert_eq!(peer.last_committed(), assigned);
}

#[test]
fn start_wraps_the_election_notifications() {
    let mut peer = Peer::new(config(2, &[1, 2, 3], &[]), recovered(4, 4, &[(4, 2)]));
    let actions = peer.start();
    let expected = Notification {
        vote: Vote { leader: id(2), zxid: zxid(4, 2), peer_epoch: 4 },
        round: 1,
        state: PeerState::Looking,
    };
    assert_eq!(
        actions,
        vec![send(1, PeerMessage::Election(expected)), send(3, PeerMessage::Election(expected))]
    );
    assert_eq!(peer.role(), Role::Looking);
}

#[test]
fn a_follower_answers_a_looking_server_with_its_settled_vote() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    let looking = Notification {
        vote: Vote { leader: id(3), zxid: Zxid::ZERO, peer_epoch: 0 },
        round: 7,
        state: PeerState::Looking,
    };
    let actions = follower.handle_message(id(3), PeerMessage::Election(looking));
    let [Action::Send { to, message: PeerMessage::Election(answer) }] = actions.as_slice() else {
        panic!("expected one election answer, got {actions:?}");
    };
    assert_eq!(*to, id(3));
    assert_eq!(answer.state, PeerState::Following);
    assert_eq!(answer.vote.leader, id(1));
    // Re-settled on the epoch the ensemble established, not the one voted on.
    assert_eq!(answer.vote.peer_epoch, 2);
    assert!(matches!(follower.role(), Role::Following { serving: true, .. }));
}

#[test]
fn zab_messages_while_looking_are_ignored() {
    let mut peer = Peer::new(config(2, &[1, 2, 3], &[]), recovered(1, 1, &[(1, 1)]));
    peer.start();
    assert_eq!(peer.handle_message(id(1), PeerMessage::LeaderInfo { new_epoch: 5 }), vec![]);
    assert_eq!(peer.handle_message(id(1), PeerMessage::Proposal(proposal(1, 2))), vec![]);
    assert_eq!(peer.last_logged(), zxid(1, 1));
    assert_eq!(peer.epochs(), Epochs { accepted: 1, current: 1 });
}

#[test]
fn stepping_down_fast_forwards_and_votes_with_the_whole_log() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 1)));
    let actions = follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 3)));
    assert_eq!(actions[0], Action::RoleChanged(Role::Looking));
    let Action::Send { message: PeerMessage::Election(vote), .. } = &actions[1] else {
        panic!("expected a new election round, got {actions:?}");
    };
    // The unapplied (2,1) is part of the history it now stands for.
    assert_eq!(vote.vote.zxid, zxid(2, 1));
    assert_eq!(vote.vote.peer_epoch, 2);
    assert_eq!(vote.state, PeerState::Looking);
}

#[test]
fn a_follower_that_loses_its_leaders_connection_looks_at_once() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    // Losing another follower changes nothing.
    assert_eq!(follower.on_peer_lost(id(3)), vec![]);
    let actions = follower.on_peer_lost(id(1));
    assert!(
        actions.contains(&Action::RoleChanged(Role::Looking)),
        "expected a return to election, got {actions:?}"
    );
    assert_eq!(follower.role(), Role::Looking);
}
