//! Exact-action tests for [`crate::Election`]: given these inputs, exactly
//! these actions come out, in this order.

use std::collections::BTreeSet;

use proto::Zxid;

use crate::{
    Election, ElectionAction, ElectionConfig, ElectionError, LearnerType, Notification, PeerState,
    QuorumConfig, ServerId, Vote,
};

const FINALIZE_WAIT_TICKS: u32 = 3;
/// Large enough that no re-send happens in tests that are not about timeouts.
const QUIET_TIMEOUT_TICKS: u32 = 1_000;

fn ids(raw: &[u64]) -> BTreeSet<ServerId> {
    raw.iter().copied().map(ServerId).collect()
}

fn config(me: u64, voters: &[u64], observers: &[u64]) -> ElectionConfig {
    let learner_type =
        if voters.contains(&me) { LearnerType::Participant } else { LearnerType::Observer };
    ElectionConfig {
        me: ServerId(me),
        learner_type,
        quorum: QuorumConfig { voters: ids(voters), observers: ids(observers) },
        finalize_wait_ticks: FINALIZE_WAIT_TICKS,
        notification_timeout_ticks_min: QUIET_TIMEOUT_TICKS,
        notification_timeout_ticks_max: QUIET_TIMEOUT_TICKS,
    }
}

/// Server `me` of voters 1, 2, 3 and observer 4.
fn three_voters_one_observer(me: u64) -> Election {
    Election::new(config(me, &[1, 2, 3], &[4]))
}

fn vote(leader: u64, zxid: i64, peer_epoch: u64) -> Vote {
    Vote { leader: ServerId(leader), zxid: Zxid(zxid), peer_epoch }
}

fn note(vote: Vote, round: u64, state: PeerState) -> Notification {
    Notification { vote, round, state }
}

fn looking(vote: Vote, round: u64) -> Notification {
    note(vote, round, PeerState::Looking)
}

fn sends(to: &[u64], notification: Notification) -> Vec<ElectionAction> {
    to.iter().map(|id| ElectionAction::Send { to: ServerId(*id), notification }).collect()
}

fn decided(state: PeerState, vote: Vote, round: u64) -> Vec<ElectionAction> {
    vec![ElectionAction::Decided { state, vote, round }]
}

fn tick_times(election: &mut Election, ticks: u32) -> Vec<ElectionAction> {
    (0..ticks).flat_map(|_| election.tick()).collect()
}

#[test]
fn start_looking_votes_for_itself_and_notifies_each_other_server_once() {
    let mut election = three_voters_one_observer(2);
    let actions = election.start_looking(Zxid(5), 1);
    assert_eq!(actions, sends(&[1, 3, 4], looking(vote(2, 5, 1), 1)));
    assert_eq!(election.state(), PeerState::Looking);
    assert_eq!(election.round(), 1);
    assert_eq!(election.current_vote(), vote(2, 5, 1));
}

#[test]
fn each_start_looking_opens_a_new_round() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    let actions = election.start_looking(Zxid(6), 1);
    assert_eq!(actions, sends(&[1, 3, 4], looking(vote(2, 6, 1), 2)));
}

#[test]
fn a_better_vote_in_the_same_round_is_adopted_and_rebroadcast() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    let actions = election.handle_notification(ServerId(1), looking(vote(1, 9, 1), 1));
    assert_eq!(actions, sends(&[1, 3, 4], looking(vote(1, 9, 1), 1)));
    assert_eq!(election.current_vote(), vote(1, 9, 1));
}

#[test]
fn a_worse_vote_in_the_same_round_changes_nothing() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    assert_eq!(election.handle_notification(ServerId(3), looking(vote(3, 4, 1), 1)), vec![]);
    assert_eq!(election.current_vote(), vote(2, 5, 1));
}

#[test]
fn a_lower_round_is_ignored_but_the_looker_is_told_my_round() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    election.start_looking(Zxid(5), 1);
    let actions = election.handle_notification(ServerId(3), looking(vote(3, 9, 9), 1));
    assert_eq!(actions, sends(&[3], looking(vote(2, 5, 1), 2)));
    assert_eq!(election.current_vote(), vote(2, 5, 1));
    assert_eq!(election.round(), 2);
}

#[test]
fn a_higher_round_is_joined_with_a_fresh_tally() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    // Server 3 agrees with me in round 1: a quorum, so the finalize wait starts.
    assert_eq!(election.handle_notification(ServerId(3), looking(vote(2, 5, 1), 1)), vec![]);
    // Round 4 from server 1, whose vote is worse than my own: I join round 4
    // with my own vote and tell everyone.
    let actions = election.handle_notification(ServerId(1), looking(vote(1, 0, 0), 4));
    assert_eq!(actions, sends(&[1, 3, 4], looking(vote(2, 5, 1), 4)));
    assert_eq!(election.round(), 4);
    // Server 3's round-1 agreement no longer counts: no decision.
    assert_eq!(tick_times(&mut election, FINALIZE_WAIT_TICKS * 2), vec![]);
    assert_eq!(election.state(), PeerState::Looking);
}

#[test]
fn a_higher_round_with_a_better_vote_adopts_that_vote() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    let actions = election.handle_notification(ServerId(3), looking(vote(3, 6, 1), 2));
    assert_eq!(actions, sends(&[1, 3, 4], looking(vote(3, 6, 1), 2)));
}

#[test]
fn a_quorum_decides_only_after_the_finalize_wait() {
    let mut election = three_voters_one_observer(3);
    election.start_looking(Zxid(9), 1);
    assert_eq!(election.handle_notification(ServerId(1), looking(vote(3, 9, 1), 1)), vec![]);
    assert_eq!(tick_times(&mut election, FINALIZE_WAIT_TICKS - 1), vec![]);
    assert_eq!(election.state(), PeerState::Looking);
    assert_eq!(election.tick(), decided(PeerState::Leading, vote(3, 9, 1), 1));
    assert_eq!(election.state(), PeerState::Leading);
    assert_eq!(election.tick(), vec![], "decides once");
}

#[test]
fn a_follower_decides_following_behind_the_quorum_vote() {
    let mut election = three_voters_one_observer(1);
    election.start_looking(Zxid(2), 1);
    election.handle_notification(ServerId(3), looking(vote(3, 9, 1), 1));
    assert_eq!(
        tick_times(&mut election, FINALIZE_WAIT_TICKS),
        decided(PeerState::Following, vote(3, 9, 1), 1)
    );
    assert_eq!(election.current_vote(), vote(3, 9, 1));
}

#[test]
fn a_finalize_wait_of_zero_decides_at_once() {
    let mut election =
        Election::new(ElectionConfig { finalize_wait_ticks: 0, ..config(3, &[1, 2, 3], &[]) });
    election.start_looking(Zxid(9), 1);
    let actions = election.handle_notification(ServerId(2), looking(vote(3, 9, 1), 1));
    assert_eq!(actions, decided(PeerState::Leading, vote(3, 9, 1), 1));
}

#[test]
fn a_better_vote_during_the_finalize_wait_cancels_it() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    election.handle_notification(ServerId(1), looking(vote(2, 5, 1), 1));
    assert_eq!(election.tick(), vec![]);
    let actions = election.handle_notification(ServerId(3), looking(vote(3, 6, 1), 1));
    assert_eq!(actions, sends(&[1, 3, 4], looking(vote(3, 6, 1), 1)));
    // The old wait would have ended here; the new one (for server 3, backed
    // by servers 2 and 3) started one tick later.
    assert_eq!(tick_times(&mut election, FINALIZE_WAIT_TICKS - 1), vec![]);
    assert_eq!(election.tick(), decided(PeerState::Following, vote(3, 6, 1), 1));
}

#[test]
fn a_worse_vote_during_the_finalize_wait_does_not_delay_it() {
    let mut election = three_voters_one_observer(3);
    election.start_looking(Zxid(9), 1);
    election.handle_notification(ServerId(1), looking(vote(3, 9, 1), 1));
    assert_eq!(election.tick(), vec![]);
    assert_eq!(election.handle_notification(ServerId(2), looking(vote(2, 1, 1), 1)), vec![]);
    assert_eq!(
        tick_times(&mut election, FINALIZE_WAIT_TICKS - 1),
        decided(PeerState::Leading, vote(3, 9, 1), 1)
    );
}

#[test]
fn the_notification_timeout_doubles_up_to_the_max() {
    let mut election = Election::new(ElectionConfig {
        notification_timeout_ticks_min: 2,
        notification_timeout_ticks_max: 8,
        ..config(2, &[1, 2, 3], &[4])
    });
    election.start_looking(Zxid(5), 1);
    let resend = sends(&[1, 3, 4], looking(vote(2, 5, 1), 1));
    let mut resent_at = Vec::new();
    for tick in 1..=30 {
        let actions = election.tick();
        if !actions.is_empty() {
            assert_eq!(actions, resend);
            resent_at.push(tick);
        }
    }
    // Waits of 2, 4, 8, then capped at 8.
    assert_eq!(resent_at, vec![2, 6, 14, 22, 30]);
}

#[test]
fn a_notification_restarts_the_timeout() {
    let mut election = Election::new(ElectionConfig {
        notification_timeout_ticks_min: 2,
        notification_timeout_ticks_max: 8,
        ..config(2, &[1, 2, 3], &[4])
    });
    election.start_looking(Zxid(5), 1);
    assert_eq!(election.tick(), vec![]);
    election.handle_notification(ServerId(1), looking(vote(1, 0, 0), 1));
    assert_eq!(election.tick(), vec![], "the notification restarted the wait");
    assert_eq!(election.tick(), sends(&[1, 3, 4], looking(vote(2, 5, 1), 1)));
}

#[test]
fn a_zero_timeout_min_is_raised_to_the_floor() {
    let mut election = Election::new(ElectionConfig {
        notification_timeout_ticks_min: 0,
        notification_timeout_ticks_max: 0,
        ..config(2, &[1, 2, 3], &[])
    });
    election.start_looking(Zxid(5), 1);
    // Floor of one tick, and a max below the min is raised to the min.
    for _ in 0..3 {
        assert_eq!(election.tick(), sends(&[1, 3], looking(vote(2, 5, 1), 1)));
    }
}

#[test]
fn a_settled_server_answers_a_looker_with_its_settled_vote() {
    let mut election = three_voters_one_observer(1);
    election.start_looking(Zxid(2), 1);
    election.handle_notification(ServerId(3), looking(vote(3, 9, 1), 1));
    tick_times(&mut election, FINALIZE_WAIT_TICKS);
    election.settle(PeerState::Following, vote(3, 9, 1));
    let actions = election.handle_notification(ServerId(2), looking(vote(2, 0, 0), 5));
    assert_eq!(actions, sends(&[2], note(vote(3, 9, 1), 1, PeerState::Following)));
    assert_eq!(election.round(), 1, "answering changes nothing");
    assert_eq!(
        election.handle_notification(ServerId(3), note(vote(3, 9, 1), 1, PeerState::Leading)),
        vec![]
    );
    assert_eq!(election.tick(), vec![]);
}

#[test]
fn a_restarted_looker_joins_an_established_leader_without_a_new_round() {
    let mut election = three_voters_one_observer(1);
    election.start_looking(Zxid(2), 1);
    // The ensemble settled in round 7, long before this server restarted.
    let following = note(vote(3, 40, 2), 7, PeerState::Following);
    assert_eq!(election.handle_notification(ServerId(2), following), vec![]);
    let leading = note(vote(3, 44, 2), 7, PeerState::Leading);
    assert_eq!(
        election.handle_notification(ServerId(3), leading),
        decided(PeerState::Following, vote(3, 44, 2), 7)
    );
    assert_eq!(election.round(), 7);
    assert_eq!(election.state(), PeerState::Following);
}

#[test]
fn followers_alone_do_not_make_a_leader() {
    let mut election = Election::new(config(1, &[1, 2, 3, 4, 5], &[]));
    election.start_looking(Zxid(2), 1);
    for follower in [2, 3, 4] {
        let following = note(vote(5, 40, 2), 7, PeerState::Following);
        assert_eq!(election.handle_notification(ServerId(follower), following), vec![]);
    }
    assert_eq!(election.state(), PeerState::Looking, "server 5 never said it leads");
}

#[test]
fn settled_votes_of_my_own_round_decide_with_the_round_tally() {
    let mut election = three_voters_one_observer(1);
    election.start_looking(Zxid(2), 1);
    assert_eq!(
        election.handle_notification(ServerId(3), note(vote(3, 9, 1), 1, PeerState::Leading)),
        vec![]
    );
    let actions =
        election.handle_notification(ServerId(2), note(vote(3, 9, 1), 1, PeerState::Following));
    assert_eq!(actions, decided(PeerState::Following, vote(3, 9, 1), 1));
}

#[test]
fn a_quorum_following_me_makes_me_lead_only_in_my_round() {
    let mut election = three_voters_one_observer(3);
    election.start_looking(Zxid(9), 1);
    let stale = note(vote(3, 9, 1), 5, PeerState::Following);
    assert_eq!(election.handle_notification(ServerId(1), stale), vec![]);
    assert_eq!(election.handle_notification(ServerId(2), stale), vec![]);
    let current = note(vote(3, 9, 1), 1, PeerState::Following);
    assert_eq!(
        election.handle_notification(ServerId(1), current),
        decided(PeerState::Leading, vote(3, 9, 1), 1)
    );
}

#[test]
fn observer_votes_are_never_counted() {
    let mut election = three_voters_one_observer(1);
    election.start_looking(Zxid(2), 1);
    // The observer agrees with me: I answer it, but its vote does not count.
    let actions = election.handle_notification(ServerId(4), looking(vote(1, 2, 1), 1));
    assert_eq!(actions, sends(&[4], looking(vote(1, 2, 1), 1)));
    assert_eq!(tick_times(&mut election, FINALIZE_WAIT_TICKS * 2), vec![]);
    assert_eq!(election.state(), PeerState::Looking);
}

#[test]
fn an_observer_votes_for_nobody_and_observes_once_voters_agree() {
    let mut observer = three_voters_one_observer(4);
    let placeholder = vote(4, i64::MIN, 0);
    assert_eq!(observer.start_looking(Zxid(99), 9), sends(&[1, 2, 3], looking(placeholder, 1)));
    // Even the lowest real vote beats the placeholder.
    let actions = observer.handle_notification(ServerId(1), looking(vote(1, 0, 0), 1));
    assert_eq!(actions, sends(&[1, 2, 3], looking(vote(1, 0, 0), 1)));
    // One voter is not a quorum: the observer's own vote does not count.
    assert_eq!(tick_times(&mut observer, FINALIZE_WAIT_TICKS * 2), vec![]);
    assert_eq!(observer.handle_notification(ServerId(2), looking(vote(1, 0, 0), 1)), vec![]);
    assert_eq!(
        tick_times(&mut observer, FINALIZE_WAIT_TICKS),
        decided(PeerState::Observing, vote(1, 0, 0), 1)
    );
}

#[test]
fn an_observer_does_not_answer_other_observers_or_lagging_voters() {
    let mut observer = Election::new(config(4, &[1, 2, 3], &[4, 5]));
    observer.start_looking(Zxid(0), 0);
    observer.start_looking(Zxid(0), 0);
    assert_eq!(observer.handle_notification(ServerId(5), looking(vote(5, i64::MIN, 0), 1)), vec![]);
    assert_eq!(observer.handle_notification(ServerId(1), looking(vote(1, 0, 0), 1)), vec![]);
}

#[test]
fn notifications_from_unknown_servers_or_myself_are_ignored() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    assert_eq!(election.handle_notification(ServerId(9), looking(vote(9, 99, 9), 7)), vec![]);
    assert_eq!(election.handle_notification(ServerId(2), looking(vote(3, 99, 9), 7)), vec![]);
    assert_eq!(election.round(), 1);
    assert_eq!(election.current_vote(), vote(2, 5, 1));
}

#[test]
fn a_vote_for_a_non_voter_is_ignored() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    assert_eq!(election.handle_notification(ServerId(1), looking(vote(4, 99, 9), 1)), vec![]);
    assert_eq!(election.handle_notification(ServerId(1), looking(vote(9, 99, 9), 3)), vec![]);
    assert_eq!(election.current_vote(), vote(2, 5, 1));
    assert_eq!(election.round(), 1);
}

#[test]
fn a_single_voter_elects_itself_at_once() {
    let mut election = Election::new(config(1, &[1], &[2]));
    let mut expected = sends(&[2], looking(vote(1, 3, 1), 1));
    expected.extend(decided(PeerState::Leading, vote(1, 3, 1), 1));
    assert_eq!(election.start_looking(Zxid(3), 1), expected);
}

#[test]
fn a_vote_from_every_voter_decides_without_the_finalize_wait() {
    let mut election = three_voters_one_observer(3);
    election.start_looking(Zxid(9), 1);
    assert_eq!(election.handle_notification(ServerId(1), looking(vote(3, 9, 1), 1)), vec![]);
    assert_eq!(
        election.handle_notification(ServerId(2), looking(vote(3, 9, 1), 1)),
        decided(PeerState::Leading, vote(3, 9, 1), 1)
    );
}

#[test]
fn an_unreachable_voter_ends_the_finalize_wait_early() {
    let mut election = three_voters_one_observer(1);
    election.start_looking(Zxid(2), 1);
    election.handle_notification(ServerId(2), looking(vote(2, 9, 1), 1));
    assert_eq!(election.tick(), vec![], "a quorum, but server 3 could still answer");
    assert_eq!(
        election.on_peer_unreachable(ServerId(3)),
        decided(PeerState::Following, vote(2, 9, 1), 1)
    );
    assert_eq!(election.on_peer_unreachable(ServerId(3)), vec![], "decides once");
}

#[test]
fn a_voter_that_speaks_again_is_waited_for_again() {
    let mut election = three_voters_one_observer(1);
    election.start_looking(Zxid(2), 1);
    assert_eq!(election.on_peer_unreachable(ServerId(3)), vec![]);
    // Server 3 is back, with a worse vote than the quorum's.
    election.handle_notification(ServerId(3), looking(vote(3, 1, 1), 1));
    election.handle_notification(ServerId(2), looking(vote(2, 9, 1), 1));
    assert_eq!(election.state(), PeerState::Looking, "server 3's vote differs: the wait runs");
    assert_eq!(tick_times(&mut election, FINALIZE_WAIT_TICKS - 1), vec![]);
    assert_eq!(election.tick(), decided(PeerState::Following, vote(2, 9, 1), 1));
}

#[test]
fn nothing_happens_before_the_first_start_looking() {
    let mut election = three_voters_one_observer(2);
    assert_eq!(election.state(), PeerState::Looking);
    assert_eq!(election.round(), 0);
    assert_eq!(election.handle_notification(ServerId(1), looking(vote(1, 9, 9), 1)), vec![]);
    assert_eq!(tick_times(&mut election, 5), vec![]);
}

#[test]
fn settle_refuses_requests_that_make_no_sense() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    assert_eq!(
        election.try_settle(PeerState::Looking, vote(2, 5, 1)),
        Err(ElectionError::SettleAsLooking)
    );
    assert_eq!(
        election.try_settle(PeerState::Leading, vote(3, 5, 1)),
        Err(ElectionError::LeadingForAnotherServer { me: ServerId(2), leader: ServerId(3) })
    );
    assert_eq!(
        election.try_settle(PeerState::Following, vote(2, 5, 1)),
        Err(ElectionError::LearningFromMyself { me: ServerId(2), state: PeerState::Following })
    );
    election.settle(PeerState::Looking, vote(2, 5, 1));
    assert_eq!(election.state(), PeerState::Looking, "a refused settle changes nothing");
    assert_eq!(election.try_settle(PeerState::Leading, vote(2, 5, 1)), Ok(()));
    assert_eq!(election.state(), PeerState::Leading);
    assert_eq!(election.current_vote(), vote(2, 5, 1));
}

#[test]
fn a_settled_server_looks_again_in_a_new_round() {
    let mut election = three_voters_one_observer(2);
    election.start_looking(Zxid(5), 1);
    election.settle(PeerState::Following, vote(3, 5, 1));
    let actions = election.start_looking(Zxid(7), 1);
    assert_eq!(actions, sends(&[1, 3, 4], looking(vote(2, 7, 1), 2)));
}

#[test]
fn validate_reports_each_misconfiguration() {
    assert_eq!(config(1, &[1, 2, 3], &[4]).validate(), Ok(()));
    assert_eq!(config(1, &[], &[1]).validate(), Err(ElectionError::NoVoters));
    assert_eq!(
        config(1, &[1, 2], &[2]).validate(),
        Err(ElectionError::VoterAndObserver(ServerId(2)))
    );
    assert_eq!(config(7, &[1, 2, 3], &[]).validate(), Err(ElectionError::NotAMember(ServerId(7))));
    let observer_as_participant =
        ElectionConfig { learner_type: LearnerType::Participant, ..config(4, &[1, 2, 3], &[4]) };
    assert_eq!(
        observer_as_participant.validate(),
        Err(ElectionError::LearnerTypeMismatch {
            me: ServerId(4),
            learner_type: LearnerType::Participant,
            listed_as_voter: false
        })
    );
    let at_floor = ElectionConfig {
        notification_timeout_ticks_min: crate::NOTIFICATION_TIMEOUT_TICKS_FLOOR,
        notification_timeout_ticks_max: crate::NOTIFICATION_TIMEOUT_TICKS_FLOOR,
        ..config(1, &[1], &[])
    };
    assert_eq!(at_floor.validate(), Ok(()));
    let below_floor = ElectionConfig { notification_timeout_ticks_min: 0, ..at_floor.clone() };
    assert_eq!(below_floor.validate(), Err(ElectionError::NotificationTimeoutTooSmall { min: 0 }));
    let max_below_min = ElectionConfig {
        notification_timeout_ticks_min: 4,
        notification_timeout_ticks_max: 3,
        ..at_floor
    };
    assert_eq!(
        max_below_min.validate(),
        Err(ElectionError::NotificationTimeoutMaxBelowMin { min: 4, max: 3 })
    );
}
