//! Liveness: pings, and the sync-limit timeouts on both sides.

use super::*;

#[test]
fn the_leader_pings_synced_learners_every_ping_interval() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[]));
    assert_eq!(leader.tick(), vec![]);
    assert_eq!(leader.tick(), vec![]);
    assert_eq!(leader.tick(), vec![send(2, PeerMessage::Ping { committed: zxid(1, 3) })]);
}

#[test]
fn the_leader_steps_down_exactly_at_the_sync_limit_without_a_quorum_heard() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[]));
    for _ in 1..6 {
        assert!(!starts_looking(&leader.tick()));
    }
    let actions = leader.tick();
    assert!(starts_looking(&actions), "{actions:?}");
}

#[test]
fn ping_replies_keep_the_leader_in_charge() {
    let mut leader = serving_leader(config(1, &[1, 2, 3], &[]));
    for _ in 0..30 {
        assert!(!starts_looking(&leader.tick()));
        leader.handle_message(id(2), PeerMessage::PingReply);
    }
    assert_eq!(leader.role(), Role::Leading { epoch: 2, serving: true });
}

#[test]
fn a_follower_answers_pings_and_gives_up_exactly_at_the_sync_limit_of_silence() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    assert_eq!(
        follower.handle_message(id(1), PeerMessage::Ping { committed: Zxid::ZERO }),
        vec![send(1, PeerMessage::PingReply)]
    );
    for _ in 1..6 {
        assert!(!starts_looking(&follower.tick()));
    }
    let actions = follower.tick();
    assert!(starts_looking(&actions), "{actions:?}");
    assert_eq!(follower.role(), Role::Looking);
}

#[test]
fn a_follower_hearing_its_leader_stays() {
    let mut follower = serving_follower(config(2, &[1, 2, 3], &[]));
    for _ in 0..30 {
        assert!(!starts_looking(&follower.tick()));
        follower.handle_message(id(1), PeerMessage::Ping { committed: Zxid::ZERO });
    }
    assert!(matches!(follower.role(), Role::Following { serving: true, .. }));
}
