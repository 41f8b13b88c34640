//! Synchronization: each sync mode from the leader, applying it on the
//! learner, and the NewLeader quorum that establishes the leader.

use election_core::PeerState;

use super::*;

/// Leader 1 of {1,2,3}, log (1,1) (1,2) (1,3) (2,1), epochs {2,2}; learner 2
/// registered; returns the actions for learner 2's AckEpoch with `last`
/// (learner current epoch 1, so a longer log does not beat the leader).
fn sync_from_leader(last: Zxid) -> Vec<Action> {
    let mut leader =
        Peer::new(config(1, &[1, 2, 3], &[]), recovered(2, 2, &[(1, 1), (1, 2), (1, 3), (2, 1)]));
    leader.start_as(PeerState::Leading, id(1));
    let info = PeerMessage::FollowerInfo {
        accepted_epoch: 2,
        last_zxid: last,
        learner_type: LearnerType::Participant,
    };
    leader.handle_message(id(2), info);
    let mut actions =
        leader.handle_message(id(2), PeerMessage::AckEpoch { current_epoch: 1, last_zxid: last });
    assert_eq!(actions.remove(0), Action::PersistEpochs(Epochs { accepted: 3, current: 3 }));
    actions
}

#[test]
fn equal_last_zxid_gets_an_empty_diff() {
    assert_eq!(
        sync_from_leader(zxid(2, 1)),
        vec![
            send(2, PeerMessage::Diff { last_zxid: zxid(2, 1) }),
            send(2, PeerMessage::NewLeader { epoch: 3, zxid: zxid(2, 1) }),
        ]
    );
}

#[test]
fn a_learner_inside_the_window_gets_proposal_commit_pairs() {
    assert_eq!(
        sync_from_leader(zxid(1, 2)),
        vec![
            send(2, PeerMessage::Diff { last_zxid: zxid(1, 2) }),
            send(2, PeerMessage::Proposal(proposal(1, 3))),
            send(2, PeerMessage::Commit { zxid: zxid(1, 3) }),
            // Where the next epoch continues from, so a lost (1,3) shows.
            send(2, PeerMessage::Diff { last_zxid: zxid(1, 3) }),
            send(2, PeerMessage::Diff { last_zxid: zxid(2, 1) }),
            send(2, PeerMessage::Proposal(proposal(2, 1))),
            send(2, PeerMessage::Commit { zxid: zxid(2, 1) }),
            send(2, PeerMessage::NewLeader { epoch: 3, zxid: zxid(2, 1) }),
        ]
    );
}

#[test]
fn a_learner_ahead_of_the_leader_is_truncated_to_the_leader_last() {
    assert_eq!(
        sync_from_leader(zxid(2, 5)),
        vec![
            send(2, PeerMessage::Trunc { zxid: zxid(2, 1) }),
            send(2, PeerMessage::NewLeader { epoch: 3, zxid: zxid(2, 1) }),
        ]
    );
}

#[test]
fn a_divergent_learner_is_truncated_to_the_common_point_then_diffed() {
    assert_eq!(
        sync_from_leader(zxid(1, 9)),
        vec![
            send(2, PeerMessage::Trunc { zxid: zxid(1, 3) }),
            send(2, PeerMessage::Diff { last_zxid: zxid(1, 3) }),
            send(2, PeerMessage::Diff { last_zxid: zxid(2, 1) }),
            send(2, PeerMessage::Proposal(proposal(2, 1))),
            send(2, PeerMessage::Commit { zxid: zxid(2, 1) }),
            send(2, PeerMessage::NewLeader { epoch: 3, zxid: zxid(2, 1) }),
        ]
    );
}

#[test]
fn a_learner_older_than_the_window_gets_a_snapshot() {
    assert_eq!(
        sync_from_leader(zxid(0, 5)),
        vec![
            Action::SendSnapshot { to: id(2) },
            send(2, PeerMessage::NewLeader { epoch: 3, zxid: zxid(2, 1) }),
        ]
    );
}

#[test]
fn a_snapshot_is_followed_by_the_outstanding_proposals() {
    let mut config = config(1, &[1, 2, 3], &[]);
    config.committed_log_max = 1;
    let mut leader = serving_leader(config);
    let (first, _) = leader.propose(Bytes::from_static(b"a")).expect("serving");
    leader.on_append_done(first);
    leader.handle_message(id(2), PeerMessage::Ack { zxid: first });
    let (second, _) = leader.propose(Bytes::from_static(b"b")).expect("serving");
    let info = PeerMessage::FollowerInfo {
        accepted_epoch: 0,
        last_zxid: Zxid::ZERO,
        learner_type: LearnerType::Participant,
    };
    leader.handle_message(id(3), info);
    let actions = leader
        .handle_message(id(3), PeerMessage::AckEpoch { current_epoch: 0, last_zxid: Zxid::ZERO });
    assert_eq!(
        actions,
        vec![
            Action::SendSnapshot { to: id(3) },
            send(
                3,
                PeerMessage::Proposal(Proposal { zxid: second, txn: Bytes::from_static(b"b") })
            ),
            send(3, PeerMessage::NewLeader { epoch: 2, zxid: second }),
        ]
    );
}

#[test]
fn a_late_joiner_gets_outstanding_proposals_uncommitted_and_its_ack_counts() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[]));
    let (zxid_a, _) = leader.propose(Bytes::from_static(b"a")).expect("serving");
    leader.on_append_done(zxid_a);
    let info = PeerMessage::FollowerInfo {
        accepted_epoch: 1,
        last_zxid: zxid(1, 3),
        learner_type: LearnerType::Participant,
    };
    assert_eq!(
        leader.handle_message(id(3), info),
        vec![send(3, PeerMessage::LeaderInfo { new_epoch: 2 })]
    );
    let actions = leader
        .handle_message(id(3), PeerMessage::AckEpoch { current_epoch: 1, last_zxid: zxid(1, 3) });
    let a = Proposal { zxid: zxid_a, txn: Bytes::from_static(b"a") };
    assert_eq!(
        actions,
        vec![
            send(3, PeerMessage::Diff { last_zxid: zxid(1, 3) }),
            send(3, PeerMessage::Diff { last_zxid: zxid(1, 3) }),
            send(3, PeerMessage::Diff { last_zxid: zxid_a }),
            send(3, PeerMessage::Proposal(a.clone())),
            send(3, PeerMessage::NewLeader { epoch: 2, zxid: zxid_a }),
        ]
    );
    let actions = leader.handle_message(id(3), PeerMessage::Ack { zxid: zxid_a });
    assert_eq!(
        actions,
        vec![
            send(3, PeerMessage::UpToDate),
            send(2, PeerMessage::Commit { zxid: zxid_a }),
            send(3, PeerMessage::Commit { zxid: zxid_a }),
            Action::Apply(vec![a]),
        ]
    );
}

#[test]
fn the_leader_is_established_only_by_a_quorum_of_voter_newleader_acks() {
    let mut leader = Peer::new(config(1, &[1, 2, 3, 4, 5], &[6]), recovered(1, 1, &[(1, 1)]));
    leader.start_as(PeerState::Leading, id(1));
    for learner in [2, 3, 6] {
        let learner_type =
            if learner == 6 { LearnerType::Observer } else { LearnerType::Participant };
        let info =
            PeerMessage::FollowerInfo { accepted_epoch: 1, last_zxid: zxid(1, 1), learner_type };
        leader.handle_message(id(learner), info);
    }
    for learner in [2, 3, 6] {
        leader.handle_message(
            id(learner),
            PeerMessage::AckEpoch { current_epoch: 1, last_zxid: zxid(1, 1) },
        );
    }
    assert_eq!(leader.handle_message(id(6), PeerMessage::Ack { zxid: zxid(1, 1) }), vec![]);
    assert_eq!(leader.handle_message(id(2), PeerMessage::Ack { zxid: zxid(1, 1) }), vec![]);
    assert_eq!(leader.role(), Role::Leading { epoch: 2, serving: false });
    assert_eq!(leader.propose(Bytes::new()), Err(crate::ProposeError::NotLeader));
    let actions = leader.handle_message(id(3), PeerMessage::Ack { zxid: zxid(1, 1) });
    assert_eq!(
        actions,
        vec![
            send(2, PeerMessage::UpToDate),
            send(3, PeerMessage::UpToDate),
            send(6, PeerMessage::UpToDate),
            Action::RoleChanged(Role::Leading { epoch: 2, serving: true }),
        ]
    );
    assert_eq!(leader.last_committed(), zxid(1, 1));
    assert_eq!(leader.next_zxid(), Some(zxid(2, 1)));
}

/// Follower 2 of {1,2,3} with `log`, past LeaderInfo{epoch 3}.
fn syncing_follower(log: &[(u32, u32)]) -> Peer {
    let mut follower = Peer::new(config(2, &[1, 2, 3], &[]), recovered(2, 2, log));
    follower.start_as(PeerState::Following, id(1));
    follower.handle_message(id(1), PeerMessage::LeaderInfo { new_epoch: 3 });
    follower
}

#[test]
fn a_follower_applies_a_diff_and_acks_newleader_once_durable() {
    let mut follower = syncing_follower(&[(1, 1)]);
    assert_eq!(follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) }), vec![]);
    // The anchor for the first txn of epoch 2.
    assert_eq!(follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) }), vec![]);
    assert_eq!(follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(2, 1) }), vec![]);
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 1))),
        vec![Action::Append(vec![proposal(2, 1)])]
    );
    // Noted, not applied: the leader is not established yet.
    assert_eq!(follower.handle_message(id(1), PeerMessage::Commit { zxid: zxid(2, 1) }), vec![]);
    // Neither the new current epoch nor the ack before the sync is durable.
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::NewLeader { epoch: 3, zxid: zxid(2, 1) }),
        vec![]
    );
    assert_eq!(follower.epochs(), Epochs { accepted: 3, current: 2 });
    assert_eq!(
        follower.on_append_done(zxid(2, 1)),
        vec![
            Action::PersistEpochs(Epochs { accepted: 3, current: 3 }),
            send(1, PeerMessage::Ack { zxid: zxid(2, 1) }),
        ]
    );
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::UpToDate),
        vec![
            Action::Apply(vec![proposal(2, 1)]),
            Action::RoleChanged(Role::Following { leader: id(1), epoch: 3, serving: true }),
        ]
    );
    assert_eq!(follower.last_committed(), zxid(2, 1));
}

#[test]
fn a_follower_truncates_on_trunc_and_acks_at_once_when_nothing_is_pending() {
    let mut follower = syncing_follower(&[(1, 1), (1, 2), (2, 1)]);
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::Trunc { zxid: zxid(1, 2) }),
        vec![Action::Truncate { zxid: zxid(1, 2) }]
    );
    assert_eq!(follower.last_logged(), zxid(1, 2));
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::NewLeader { epoch: 3, zxid: zxid(1, 2) }),
        vec![
            Action::PersistEpochs(Epochs { accepted: 3, current: 3 }),
            send(1, PeerMessage::Ack { zxid: zxid(1, 2) }),
        ]
    );
}

#[test]
fn a_follower_installs_a_snapshot() {
    let mut follower = syncing_follower(&[(1, 1)]);
    let snapshot = Bytes::from_static(b"state");
    assert_eq!(
        follower.handle_message(
            id(1),
            PeerMessage::Snap { zxid: zxid(2, 4), snapshot: snapshot.clone() }
        ),
        vec![Action::InstallSnapshot { zxid: zxid(2, 4), snapshot }]
    );
    assert_eq!(follower.last_logged(), zxid(2, 4));
    follower.handle_message(id(1), PeerMessage::NewLeader { epoch: 3, zxid: zxid(2, 4) });
    // Committed only once the leader is established.
    assert_eq!(follower.last_committed(), Zxid::ZERO);
    follower.handle_message(id(1), PeerMessage::UpToDate);
    assert_eq!(follower.last_committed(), zxid(2, 4));
}

#[test]
fn duplicate_sync_openers_are_ignored() {
    let mut follower = syncing_follower(&[(1, 1), (1, 2)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 2) });
    assert_eq!(follower.handle_message(id(1), PeerMessage::Trunc { zxid: zxid(1, 1) }), vec![]);
    assert_eq!(follower.last_logged(), zxid(1, 2));
}

#[test]
fn newleader_without_a_sync_or_after_a_lost_proposal_returns_to_election() {
    let mut follower = syncing_follower(&[(1, 1)]);
    let actions =
        follower.handle_message(id(1), PeerMessage::NewLeader { epoch: 3, zxid: zxid(1, 1) });
    assert!(starts_looking(&actions), "{actions:?}");

    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    follower.handle_message(id(1), PeerMessage::Proposal(proposal(1, 2)));
    // The Proposal for (1,3) was lost on the way.
    let actions =
        follower.handle_message(id(1), PeerMessage::NewLeader { epoch: 3, zxid: zxid(1, 3) });
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn newleader_of_a_stale_epoch_is_ignored() {
    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::NewLeader { epoch: 2, zxid: zxid(1, 1) }),
        vec![]
    );
    assert_eq!(follower.epochs(), Epochs { accepted: 3, current: 2 });
}

#[test]
fn a_late_learner_with_a_longer_log_is_truncated_not_refused() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[]));
    let info = PeerMessage::FollowerInfo {
        accepted_epoch: 1,
        last_zxid: zxid(1, 5),
        learner_type: LearnerType::Participant,
    };
    leader.handle_message(id(3), info);
    let actions = leader
        .handle_message(id(3), PeerMessage::AckEpoch { current_epoch: 1, last_zxid: zxid(1, 5) });
    assert_eq!(
        actions,
        vec![
            send(3, PeerMessage::Trunc { zxid: zxid(1, 3) }),
            send(3, PeerMessage::NewLeader { epoch: 2, zxid: zxid(1, 3) }),
        ]
    );
    assert_eq!(leader.role(), Role::Leading { epoch: 2, serving: true });
}

#[test]
fn a_duplicate_newleader_is_ignored() {
    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    let newleader = PeerMessage::NewLeader { epoch: 3, zxid: zxid(1, 1) };
    assert_eq!(follower.handle_message(id(1), newleader.clone()).len(), 2);
    assert_eq!(follower.handle_message(id(1), newleader), vec![]);
    assert!(matches!(follower.role(), Role::Following { epoch: 3, .. }));
}

#[test]
fn a_diff_that_does_not_start_at_the_learners_last_zxid_returns_to_election() {
    let mut follower = syncing_follower(&[(1, 1), (1, 2)]);
    let actions = follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn a_lost_end_of_an_epoch_in_the_sync_is_caught_by_the_next_anchor() {
    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    follower.handle_message(id(1), PeerMessage::Proposal(proposal(1, 2)));
    // Proposal (1,3) was lost; the anchor before epoch 2 names it.
    let actions = follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 3) });
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn a_new_epoch_without_an_anchor_in_the_sync_returns_to_election() {
    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    follower.handle_message(id(1), PeerMessage::Proposal(proposal(1, 2)));
    // The anchor Diff{(1,2)} (or more) was lost before the epoch-2 txn.
    let actions = follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 1)));
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn an_anchored_epoch_change_in_the_sync_is_accepted() {
    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    follower.handle_message(id(1), PeerMessage::Proposal(proposal(1, 2)));
    assert_eq!(follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 2) }), vec![]);
    assert_eq!(follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(2, 1) }), vec![]);
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 1))),
        vec![Action::Append(vec![proposal(2, 1)])]
    );
}

#[test]
fn the_opening_diff_does_not_anchor_a_new_epoch() {
    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    // Proposal (1,2), its commit and the anchor before epoch 2 were all lost.
    let actions = follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 1)));
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn an_anchor_covers_only_the_message_right_after_it() {
    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(2, 1) });
    follower.handle_message(id(1), PeerMessage::Ping { committed: Zxid::ZERO });
    let actions = follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 1)));
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn an_anchor_admits_only_the_txn_it_names() {
    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(2, 1) });
    // (2,1), its commit and NewLeader were lost; the leader's first
    // broadcast txn of epoch 3 must not slip in behind the anchor.
    let actions = follower.handle_message(id(1), PeerMessage::Proposal(proposal(3, 1)));
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn a_next_anchor_without_its_previous_returns_to_election() {
    let mut follower = syncing_follower(&[(1, 1)]);
    follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    follower.handle_message(id(1), PeerMessage::Proposal(proposal(1, 2)));
    // Diff{(1,2)} was lost.
    let actions = follower.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(2, 1) });
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn the_leader_takes_the_new_epoch_and_establishes_only_once_its_own_log_is_durable() {
    let mut leader = Peer::new(config(1, &[1, 2, 3], &[]), recovered(1, 1, &[(1, 1)]));
    // As a follower it appended (1,2) but the fsync has not completed yet.
    leader.start_as(PeerState::Following, id(9));
    leader.handle_message(id(9), PeerMessage::LeaderInfo { new_epoch: 1 });
    leader.handle_message(id(9), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    leader.handle_message(id(9), PeerMessage::Proposal(proposal(1, 2)));
    leader.start_as(PeerState::Leading, id(1));
    let info = PeerMessage::FollowerInfo {
        accepted_epoch: 1,
        last_zxid: zxid(1, 2),
        learner_type: LearnerType::Participant,
    };
    leader.handle_message(id(2), info);
    let actions = leader
        .handle_message(id(2), PeerMessage::AckEpoch { current_epoch: 1, last_zxid: zxid(1, 2) });
    assert_eq!(
        actions,
        vec![
            send(2, PeerMessage::Diff { last_zxid: zxid(1, 2) }),
            send(2, PeerMessage::NewLeader { epoch: 2, zxid: zxid(1, 2) }),
        ]
    );
    assert_eq!(leader.epochs(), Epochs { accepted: 2, current: 1 });
    assert_eq!(leader.handle_message(id(2), PeerMessage::Ack { zxid: zxid(1, 2) }), vec![]);
    assert_eq!(
        leader.on_append_done(zxid(1, 2)),
        vec![
            Action::PersistEpochs(Epochs { accepted: 2, current: 2 }),
            send(2, PeerMessage::UpToDate),
            Action::RoleChanged(Role::Leading { epoch: 2, serving: true }),
        ]
    );
}

#[test]
fn a_trunc_below_an_installed_snapshot_resets_the_learner() {
    // The learner installed a snapshot at 2:1 from a leader that then died
    // before it was established; the new leader's history ends at 0.
    let mut learner = Peer::new(
        config(2, &[1, 2, 3], &[]),
        Recovered {
            epochs: Epochs { accepted: 2, current: 1 },
            last_logged_zxid: zxid(2, 1),
            recent_proposals: Vec::new(),
            snapshot_zxid: zxid(2, 1),
        },
    );
    learner.start_as(PeerState::Following, id(3));
    learner.handle_message(id(3), PeerMessage::LeaderInfo { new_epoch: 3 });
    let actions = learner.handle_message(id(3), PeerMessage::Trunc { zxid: Zxid::ZERO });
    assert_eq!(actions, vec![Action::Reset], "no Truncate into the snapshot");
    assert_eq!(learner.last_logged(), Zxid::ZERO);
}

#[test]
fn a_trunc_above_zero_below_the_snapshot_resets_and_registers_again() {
    let mut learner = Peer::new(
        config(2, &[1, 2, 3], &[]),
        Recovered {
            epochs: Epochs { accepted: 2, current: 1 },
            last_logged_zxid: zxid(2, 1),
            recent_proposals: Vec::new(),
            snapshot_zxid: zxid(2, 1),
        },
    );
    learner.start_as(PeerState::Following, id(3));
    learner.handle_message(id(3), PeerMessage::LeaderInfo { new_epoch: 3 });
    let actions = learner.handle_message(id(3), PeerMessage::Trunc { zxid: zxid(1, 4) });
    assert_eq!(actions.first(), Some(&Action::Reset));
    assert!(
        actions.contains(&Action::RoleChanged(Role::Looking)),
        "it lacks the txns up to 1:4 and must register again: {actions:?}"
    );
}

#[test]
fn learner_counts_follow_sync_progress_and_leave_observers_out_of_synced_followers() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[4]));
    let counts = |peer: &Peer| peer.learner_counts().expect("a leader");
    assert_eq!(counts(&leader), LearnerCounts { synced_followers: 1, pending_syncs: 0 });

    let info = PeerMessage::FollowerInfo {
        accepted_epoch: 1,
        last_zxid: zxid(1, 3),
        learner_type: LearnerType::Observer,
    };
    leader.handle_message(id(4), info);
    leader.handle_message(id(4), PeerMessage::AckEpoch { current_epoch: 1, last_zxid: zxid(1, 3) });
    assert_eq!(counts(&leader), LearnerCounts { synced_followers: 1, pending_syncs: 1 });
    leader.handle_message(id(4), PeerMessage::Ack { zxid: zxid(1, 3) });
    assert_eq!(counts(&leader), LearnerCounts { synced_followers: 1, pending_syncs: 0 });

    let follower = serving_follower(config(2, &[1, 2, 3], &[]));
    assert_eq!(follower.learner_counts(), None);
}
