//! Broadcast: zxid assignment, acks, in-order commits, observers, gaps and
//! duplicates on followers, epoch exhaustion, and the planted bugs.

use election_core::PeerState;

use super::*;
use crate::{PlantedBug, ProposeError};

fn txn(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

fn proposed(zxid: Zxid, text: &'static str) -> Proposal {
    Proposal { zxid, txn: txn(text) }
}

#[test]
fn a_proposal_is_logged_and_sent_to_synced_followers_only() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[4]));
    add_observer(&mut leader);
    assert_eq!(leader.next_zxid(), Some(zxid(2, 1)));
    let (assigned, actions) = leader.propose(txn("a")).expect("serving");
    assert_eq!(assigned, zxid(2, 1));
    let a = proposed(assigned, "a");
    assert_eq!(actions, vec![Action::Append(vec![a.clone()]), send(2, PeerMessage::Proposal(a))]);
    assert_eq!(leader.next_zxid(), Some(zxid(2, 2)));
}

#[test]
fn a_commit_needs_a_quorum_including_the_leaders_own_fsync() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[4]));
    add_observer(&mut leader);
    let (assigned, _) = leader.propose(txn("a")).expect("serving");
    // The follower's ack alone is one voter of three.
    assert_eq!(leader.handle_message(id(2), PeerMessage::Ack { zxid: assigned }), vec![]);
    assert_eq!(leader.last_committed(), zxid(1, 3));
    let a = proposed(assigned, "a");
    assert_eq!(
        leader.on_append_done(assigned),
        vec![
            send(2, PeerMessage::Commit { zxid: assigned }),
            send(4, PeerMessage::Inform(a.clone())),
            Action::Apply(vec![a]),
        ]
    );
    assert_eq!(leader.last_committed(), assigned);
}

#[test]
fn commits_go_out_in_zxid_order_and_never_ahead_of_the_quorum() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[]));
    let (first, _) = leader.propose(txn("a")).expect("serving");
    let (second, _) = leader.propose(txn("b")).expect("serving");
    let (third, _) = leader.propose(txn("c")).expect("serving");
    assert_eq!(leader.on_append_done(third), vec![]);
    // A cumulative ack up to the second proposal commits the first two, in
    // order, with one Commit naming the last of them.
    assert_eq!(
        leader.handle_message(id(2), PeerMessage::Ack { zxid: second }),
        vec![
            send(2, PeerMessage::Commit { zxid: second }),
            Action::Apply(vec![proposed(first, "a"), proposed(second, "b")]),
        ]
    );
    assert_eq!(leader.last_committed(), second);
    assert_eq!(
        leader.handle_message(id(2), PeerMessage::Ack { zxid: third }),
        vec![
            send(2, PeerMessage::Commit { zxid: third }),
            Action::Apply(vec![proposed(third, "c")])
        ]
    );
}

#[test]
fn acks_from_unsynced_or_unknown_servers_do_not_count() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[]));
    let (assigned, _) = leader.propose(txn("a")).expect("serving");
    leader.on_append_done(assigned);
    assert_eq!(leader.handle_message(id(3), PeerMessage::Ack { zxid: assigned }), vec![]);
    assert_eq!(leader.handle_message(id(9), PeerMessage::Ack { zxid: assigned }), vec![]);
    assert_eq!(leader.last_committed(), zxid(1, 3));
}

#[test]
fn a_follower_acks_after_fsync_and_applies_on_commit() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    let a = proposal(2, 1);
    let b = proposal(2, 2);
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::Proposal(a.clone())),
        vec![Action::Append(vec![a.clone()])]
    );
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::Proposal(b.clone())),
        vec![Action::Append(vec![b.clone()])]
    );
    // One fsync covering both gives one cumulative ack.
    assert_eq!(
        follower.on_append_done(zxid(2, 2)),
        vec![send(1, PeerMessage::Ack { zxid: zxid(2, 2) })]
    );
    assert_eq!(follower.on_append_done(zxid(2, 2)), vec![]);
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::Commit { zxid: zxid(2, 2) }),
        vec![Action::Apply(vec![a, b])]
    );
    assert_eq!(follower.last_committed(), zxid(2, 2));
    // A duplicate commit changes nothing.
    assert_eq!(follower.handle_message(id(1), PeerMessage::Commit { zxid: zxid(2, 1) }), vec![]);
}

#[test]
fn a_duplicate_proposal_is_ignored() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 1)));
    assert_eq!(follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 1))), vec![]);
    assert_eq!(follower.last_logged(), zxid(2, 1));
}

#[test]
fn a_proposal_gap_returns_the_follower_to_election() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 1)));
    let actions = follower.handle_message(id(1), PeerMessage::Proposal(proposal(2, 3)));
    assert!(starts_looking(&actions), "{actions:?}");
    assert_eq!(follower.last_logged(), zxid(2, 1));
}

#[test]
fn a_commit_for_a_txn_never_logged_returns_the_follower_to_election() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    let actions = follower.handle_message(id(1), PeerMessage::Commit { zxid: zxid(2, 1) });
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn messages_from_a_server_that_is_not_the_leader_are_ignored() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    assert_eq!(follower.handle_message(id(3), PeerMessage::Proposal(proposal(2, 1))), vec![]);
    assert_eq!(follower.handle_message(id(3), PeerMessage::Ping { committed: Zxid::ZERO }), vec![]);
    assert_eq!(follower.last_logged(), zxid(1, 2));
}

#[test]
fn an_observer_logs_and_applies_informs_and_never_acks() {
    let mut observer = Peer::new(config(4, &[1, 2, 3], &[4]), recovered(1, 1, &[(1, 1)]));
    observer.start_as(PeerState::Observing, id(1));
    observer.handle_message(id(1), PeerMessage::LeaderInfo { new_epoch: 2 });
    observer.handle_message(id(1), PeerMessage::Diff { last_zxid: zxid(1, 1) });
    observer.handle_message(id(1), PeerMessage::NewLeader { epoch: 2, zxid: zxid(1, 1) });
    let serving = Role::Observing { leader: id(1), epoch: 2, serving: true };
    assert_eq!(
        observer.handle_message(id(1), PeerMessage::UpToDate),
        vec![Action::RoleChanged(serving)]
    );
    let a = proposal(2, 1);
    assert_eq!(
        observer.handle_message(id(1), PeerMessage::Inform(a.clone())),
        vec![Action::Append(vec![a.clone()]), Action::Apply(vec![a])]
    );
    assert_eq!(observer.on_append_done(zxid(2, 1)), vec![]);
    let actions = observer.handle_message(id(1), PeerMessage::Inform(proposal(2, 3)));
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn the_zxid_counter_is_exhausted_exactly_past_its_max_and_the_leader_steps_down() {
    let mut config = config(1, &[1, 2, 3], &[]);
    config.zxid_counter_max = 2;
    let mut leader = serving_leader(config);
    assert_eq!(leader.propose(txn("a")).map(|(zxid, _)| zxid), Ok(zxid(2, 1)));
    assert_eq!(leader.propose(txn("b")).map(|(zxid, _)| zxid), Ok(zxid(2, 2)));
    assert_eq!(leader.next_zxid(), None);
    assert_eq!(leader.propose(txn("c")), Err(ProposeError::EpochExhausted));
    assert!(starts_looking(&leader.tick()));
    assert_eq!(leader.propose(txn("c")), Err(ProposeError::NotLeader));
}

#[test]
fn only_a_serving_leader_proposes() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    assert_eq!(follower.propose(txn("a")), Err(ProposeError::NotLeader));
    assert_eq!(follower.next_zxid(), None);
}

#[test]
fn planted_ack_before_fsync_acks_on_arrival() {
    let mut config = config(2, &[1, 2, 3], &[]);
    config.planted_bug = Some(PlantedBug::AckBeforeFsync);
    let mut follower = serving_follower(config);
    let a = proposal(2, 1);
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::Proposal(a.clone())),
        vec![Action::Append(vec![a]), send(1, PeerMessage::Ack { zxid: zxid(2, 1) })]
    );
    // Commits are unaffected.
    assert_eq!(follower.on_append_done(zxid(2, 1)), vec![]);
}

#[test]
fn planted_commit_without_quorum_commits_on_the_leaders_own_fsync() {
    let mut config = config(1, &[1, 2, 3], &[]);
    config.planted_bug = Some(PlantedBug::CommitWithoutQuorum);
    let mut leader = serving_leader(config);
    let (assigned, _) = leader.propose(txn("a")).expect("serving");
    assert_eq!(
        leader.on_append_done(assigned),
        vec![
            send(2, PeerMessage::Commit { zxid: assigned }),
            Action::Apply(vec![proposed(assigned, "a")])
        ]
    );
}
