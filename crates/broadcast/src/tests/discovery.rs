//! Discovery: FollowerInfo → LeaderInfo → AckEpoch, on both sides.

use election_core::PeerState;

use super::*;

fn info(accepted_epoch: u64, last: Zxid) -> PeerMessage {
    PeerMessage::FollowerInfo {
        accepted_epoch,
        last_zxid: last,
        learner_type: LearnerType::Participant,
    }
}

#[test]
fn leader_picks_the_epoch_once_a_quorum_reported_and_persists_it_first() {
    let mut leader = Peer::new(config(1, &[1, 2, 3, 4, 5], &[]), recovered(3, 3, &[(3, 1)]));
    let actions = leader.start_as(PeerState::Leading, id(1));
    assert_eq!(actions, vec![Action::RoleChanged(Role::Leading { epoch: 3, serving: false })]);
    assert_eq!(leader.handle_message(id(2), info(2, zxid(2, 5))), vec![]);
    let actions = leader.handle_message(id(3), info(7, zxid(3, 1)));
    assert_eq!(
        actions,
        vec![
            Action::PersistEpochs(Epochs { accepted: 8, current: 3 }),
            send(2, PeerMessage::LeaderInfo { new_epoch: 8 }),
            send(3, PeerMessage::LeaderInfo { new_epoch: 8 }),
            Action::RoleChanged(Role::Leading { epoch: 8, serving: false }),
        ]
    );
    // A late joiner gets the settled epoch right away.
    assert_eq!(
        leader.handle_message(id(4), info(1, Zxid::ZERO)),
        vec![send(4, PeerMessage::LeaderInfo { new_epoch: 8 })]
    );
}

#[test]
fn leader_counts_its_own_accepted_epoch_and_ignores_strangers() {
    let mut leader = Peer::new(config(1, &[1, 2, 3], &[]), recovered(9, 4, &[]));
    leader.start_as(PeerState::Leading, id(1));
    assert_eq!(leader.handle_message(id(7), info(50, Zxid::ZERO)), vec![]);
    let actions = leader.handle_message(id(2), info(2, Zxid::ZERO));
    assert_eq!(actions[0], Action::PersistEpochs(Epochs { accepted: 10, current: 4 }));
}

#[test]
fn leader_establishes_the_epoch_after_a_quorum_of_epoch_acks_and_syncs_the_ackers() {
    let mut leader = Peer::new(config(1, &[1, 2, 3], &[]), recovered(1, 1, &[(1, 1)]));
    leader.start_as(PeerState::Leading, id(1));
    leader.handle_message(id(2), info(1, zxid(1, 1)));
    let actions = leader
        .handle_message(id(2), PeerMessage::AckEpoch { current_epoch: 1, last_zxid: zxid(1, 1) });
    assert_eq!(
        actions,
        vec![
            Action::PersistEpochs(Epochs { accepted: 2, current: 2 }),
            send(2, PeerMessage::Diff { last_zxid: zxid(1, 1) }),
            send(2, PeerMessage::NewLeader { epoch: 2, zxid: zxid(1, 1) }),
        ]
    );
    assert_eq!(leader.epochs(), Epochs { accepted: 2, current: 2 });
}

#[test]
fn leader_gives_up_when_an_acker_has_a_newer_history() {
    let mut leader = Peer::new(config(1, &[1, 2, 3, 4, 5], &[]), recovered(1, 1, &[(1, 1)]));
    leader.start_as(PeerState::Leading, id(1));
    leader.handle_message(id(2), info(1, zxid(1, 2)));
    leader.handle_message(id(3), info(1, zxid(1, 2)));
    let ahead = PeerMessage::AckEpoch { current_epoch: 1, last_zxid: zxid(1, 2) };
    let actions = leader.handle_message(id(2), ahead);
    assert!(starts_looking(&actions), "{actions:?}");
    assert_eq!(leader.role(), Role::Looking);
}

#[test]
fn learner_registers_and_resends_its_info_every_discovery_resend_interval() {
    let mut config = config(2, &[1, 2, 3], &[]);
    config.discovery_resend_ticks = 3;
    let mut learner = Peer::new(config, recovered(4, 3, &[(3, 7)]));
    let actions = learner.start_as(PeerState::Following, id(1));
    let registration = send(1, info(4, zxid(3, 7)));
    assert_eq!(
        actions,
        vec![
            registration.clone(),
            Action::RoleChanged(Role::Following { leader: id(1), epoch: 4, serving: false })
        ]
    );
    for _ in 1..3 {
        assert_eq!(learner.tick(), vec![]);
    }
    assert_eq!(learner.tick(), vec![registration.clone()]);
    // Until the leader answers: again after the same interval.
    for _ in 1..3 {
        assert_eq!(learner.tick(), vec![]);
    }
    assert_eq!(learner.tick(), vec![registration]);
}

#[test]
fn learner_accepts_a_newer_epoch_durably_before_acking_it() {
    let mut learner = Peer::new(config(2, &[1, 2, 3], &[]), recovered(4, 3, &[(3, 7)]));
    learner.start_as(PeerState::Following, id(1));
    let actions = learner.handle_message(id(1), PeerMessage::LeaderInfo { new_epoch: 5 });
    assert_eq!(
        actions,
        vec![
            Action::PersistEpochs(Epochs { accepted: 5, current: 3 }),
            send(1, PeerMessage::AckEpoch { current_epoch: 3, last_zxid: zxid(3, 7) }),
            Action::RoleChanged(Role::Following { leader: id(1), epoch: 5, serving: false }),
        ]
    );
}

#[test]
fn learner_acks_an_equal_epoch_without_persisting() {
    let mut learner = Peer::new(config(2, &[1, 2, 3], &[]), recovered(4, 3, &[(3, 7)]));
    learner.start_as(PeerState::Following, id(1));
    let actions = learner.handle_message(id(1), PeerMessage::LeaderInfo { new_epoch: 4 });
    assert_eq!(
        actions,
        vec![send(1, PeerMessage::AckEpoch { current_epoch: 3, last_zxid: zxid(3, 7) })]
    );
}

#[test]
fn learner_rejects_an_epoch_older_than_its_promise() {
    let mut learner = Peer::new(config(2, &[1, 2, 3], &[]), recovered(4, 3, &[(3, 7)]));
    learner.start_as(PeerState::Following, id(1));
    let actions = learner.handle_message(id(1), PeerMessage::LeaderInfo { new_epoch: 3 });
    assert!(starts_looking(&actions), "{actions:?}");
    assert_eq!(learner.epochs(), Epochs { accepted: 4, current: 3 });
}

#[test]
fn learner_ignores_everything_but_leader_info_during_discovery_and_other_servers_always() {
    let mut learner = Peer::new(config(2, &[1, 2, 3], &[]), recovered(4, 3, &[(3, 7)]));
    learner.start_as(PeerState::Following, id(1));
    assert_eq!(learner.handle_message(id(1), PeerMessage::Proposal(proposal(4, 1))), vec![]);
    assert_eq!(learner.handle_message(id(1), PeerMessage::Commit { zxid: zxid(3, 7) }), vec![]);
    assert_eq!(learner.handle_message(id(3), PeerMessage::LeaderInfo { new_epoch: 9 }), vec![]);
    assert_eq!(learner.last_logged(), zxid(3, 7));
}

#[test]
fn learner_gives_up_on_discovery_exactly_at_the_init_limit() {
    let mut learner = Peer::new(config(2, &[1, 2, 3], &[]), recovered(0, 0, &[]));
    learner.start_as(PeerState::Following, id(1));
    for _ in 1..20 {
        let actions = learner.tick();
        assert!(!starts_looking(&actions));
    }
    assert!(starts_looking(&learner.tick()));
}

#[test]
fn leader_gives_up_establishing_exactly_at_the_init_limit() {
    let mut leader = Peer::new(config(1, &[1, 2, 3], &[]), recovered(0, 0, &[]));
    leader.start_as(PeerState::Leading, id(1));
    for _ in 1..20 {
        assert!(!starts_looking(&leader.tick()));
    }
    assert!(starts_looking(&leader.tick()));
}

#[test]
fn an_observers_accepted_epoch_raises_the_new_epoch_without_counting_for_quorum() {
    let mut leader = Peer::new(config(1, &[1, 2, 3], &[4]), recovered(1, 1, &[]));
    leader.start_as(PeerState::Leading, id(1));
    let observer_info = PeerMessage::FollowerInfo {
        accepted_epoch: 9,
        last_zxid: Zxid::ZERO,
        learner_type: LearnerType::Observer,
    };
    assert_eq!(leader.handle_message(id(4), observer_info), vec![]);
    let actions = leader.handle_message(id(2), info(1, Zxid::ZERO));
    assert_eq!(actions[0], Action::PersistEpochs(Epochs { accepted: 10, current: 1 }));
}

#[test]
fn a_late_learner_that_promised_a_newer_epoch_makes_the_leader_step_down() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[]));
    // Accepting the leader's own epoch is fine...
    assert_eq!(
        leader.handle_message(id(3), info(2, zxid(1, 3))),
        vec![send(3, PeerMessage::LeaderInfo { new_epoch: 2 })]
    );
    // ...but a learner that promised epoch 3 could never join epoch 2.
    let actions = leader.handle_message(id(3), info(3, zxid(1, 3)));
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn epochs_no_zxid_can_carry_are_ignored() {
    let mut leader = Peer::new(config(1, &[1, 2, 3], &[]), recovered(1, 1, &[]));
    leader.start_as(PeerState::Leading, id(1));
    assert_eq!(leader.handle_message(id(2), info(crate::EPOCH_MAX + 1, Zxid::ZERO)), vec![]);
    assert_eq!(leader.handle_message(id(2), info(crate::EPOCH_MAX, Zxid::ZERO)).len(), 3);

    let mut learner = Peer::new(config(2, &[1, 2, 3], &[]), recovered(1, 1, &[]));
    learner.start_as(PeerState::Following, id(1));
    let too_big = PeerMessage::LeaderInfo { new_epoch: crate::EPOCH_MAX + 1 };
    assert_eq!(learner.handle_message(id(1), too_big), vec![]);
    assert_eq!(learner.epochs(), Epochs { accepted: 1, current: 1 });
}

/// A notification as `sender` sends it while in `state` with a vote for `leader`.
fn notification_from(state: PeerState, leader: u64) -> PeerMessage {
    PeerMessage::Election(election_core::Notification {
        vote: election_core::Vote { leader: id(leader), zxid: Zxid::ZERO, peer_epoch: 0 },
        round: 1,
        state,
    })
}

#[test]
fn a_follower_answers_followerinfo_with_whom_it_follows() {
    let mut follower = Peer::new(config(2, &[1, 2, 3], &[]), recovered(0, 0, &[]));
    follower.start_as(PeerState::Following, id(3));
    let actions = follower.handle_message(id(1), info(0, Zxid::ZERO));
    let [Action::Send { to, message: PeerMessage::Election(told) }] = actions.as_slice() else {
        panic!("expected one election notification, got {actions:?}");
    };
    assert_eq!((*to, told.state, told.vote.leader), (id(1), PeerState::Following, id(3)));
}

/// Server 1, registering with server 2 as its leader.
fn registering_with_2() -> Peer {
    let mut learner = Peer::new(config(1, &[1, 2, 3], &[]), recovered(0, 0, &[]));
    learner.start_as(PeerState::Following, id(2));
    learner
}

const STILL_REGISTERING: Role = Role::Following { leader: ServerId(2), epoch: 0, serving: false };

#[test]
fn a_registering_learner_whose_leader_follows_another_returns_to_election_at_once() {
    let mut learner = registering_with_2();
    // Still looking: it may yet decide to lead, so the learner waits (and,
    // as any non-looking server, answers a looker with its vote).
    let actions = learner.handle_message(id(2), notification_from(PeerState::Looking, 2));
    assert!(!starts_looking(&actions), "{actions:?}");
    assert_eq!(learner.role(), STILL_REGISTERING);
    // Settled on following 3: not this learner's leader after all.
    let actions = learner.handle_message(id(2), notification_from(PeerState::Following, 3));
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn a_learner_keeps_a_leader_that_says_it_leads() {
    let mut learner = registering_with_2();
    let actions = learner.handle_message(id(2), notification_from(PeerState::Leading, 2));
    assert!(!starts_looking(&actions), "{actions:?}");
    assert_eq!(learner.role(), STILL_REGISTERING);
}
