//! Whole elections over a simulated network: every server starts looking at
//! once, messages arrive in a seeded random order, some are duplicated, and
//! some of the first wave are lost (the notification-timeout re-sends make up
//! for them). Every server must decide, all behind the same leader, and that
//! leader must be the voter with the best (peer epoch, zxid, id).

use std::collections::BTreeMap;

use election_core::{
    Election, ElectionAction, ElectionConfig, LearnerType, Notification, PeerState, QuorumConfig,
    ServerId, Vote, total_order_predicate,
};
use proptest::prelude::*;
use proto::Zxid;

/// Ticks after which a run that has not converged counts as stuck.
const TICKS_MAX: u32 = 10_000;
/// Deliveries in one quiet-down after which the network counts as storming.
const DELIVERIES_PER_QUIET_DOWN_MAX: u32 = 1_000_000;

/// SplitMix64: a tiny seeded generator, so a failing seed replays exactly.
struct SeededRng(u64);

impl SeededRng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn chance_percent(&mut self, percent: u32) -> bool {
        self.next() % 100 < u64::from(percent)
    }
}

/// One server's starting point.
#[derive(Debug, Clone, Copy)]
struct History {
    last_zxid: Zxid,
    current_epoch: u64,
    /// Elections this server went through before, so rounds differ.
    earlier_rounds: u32,
}

#[derive(Debug, Clone)]
struct Scenario {
    voter_histories: Vec<History>,
    observer_history: Option<History>,
    finalize_wait_ticks: u32,
    notification_timeout_ticks_min: u32,
    notification_timeout_ticks_max: u32,
    first_wave_loss_percent: u32,
    duplicate_percent: u32,
    seed: u64,
}

struct Network {
    elections: BTreeMap<ServerId, Election>,
    histories: BTreeMap<ServerId, History>,
    in_flight: Vec<(ServerId, ServerId, Notification)>,
    decisions: BTreeMap<ServerId, (PeerState, Vote, u64)>,
    rng: SeededRng,
}

impl Network {
    fn carry_out(&mut self, from: ServerId, actions: Vec<ElectionAction>) {
        for action in actions {
            match action {
                ElectionAction::Send { to, notification } => {
                    self.in_flight.push((from, to, notification))
                }
                ElectionAction::Decided { state, vote, round } => {
                    let earlier = self.decisions.insert(from, (state, vote, round));
                    assert_eq!(earlier, None, "server {from} decided twice");
                    self.elections.get_mut(&from).expect("known server").settle(state, vote);
                }
            }
        }
    }

    /// `id` goes through its earlier rounds, then starts looking for real.
    fn start(&mut self, id: ServerId) {
        let history = self.histories[&id];
        let election = self.elections.get_mut(&id).expect("known server");
        for _ in 0..history.earlier_rounds {
            election.start_looking(history.last_zxid, history.current_epoch);
        }
        let actions = election.start_looking(history.last_zxid, history.current_epoch);
        self.carry_out(id, actions);
    }

    /// `id` crashes and comes back: a fresh election state, looking again.
    fn restart(&mut self, id: ServerId) {
        let config = self.elections[&id].config().clone();
        self.elections.insert(id, Election::new(config));
        self.decisions.remove(&id);
        self.start(id);
    }

    /// Ticks every server, delivering everything in flight (no loss) after
    /// each tick, until every server has decided.
    fn tick_until_all_decided(&mut self, duplicate_percent: u32) {
        let mut ticks = 0;
        while self.decisions.len() < self.elections.len() {
            ticks += 1;
            assert!(
                ticks <= TICKS_MAX,
                "no convergence after {TICKS_MAX} ticks: {:?}",
                self.decisions
            );
            let ids: Vec<ServerId> = self.elections.keys().copied().collect();
            for id in ids {
                let actions = self.elections.get_mut(&id).expect("known server").tick();
                self.carry_out(id, actions);
            }
            self.quiet_down(0, duplicate_percent);
        }
    }

    /// Delivers messages in random order until none is in flight.
    fn quiet_down(&mut self, loss_percent: u32, duplicate_percent: u32) {
        let mut deliveries = 0;
        while !self.in_flight.is_empty() {
            deliveries += 1;
            assert!(deliveries < DELIVERIES_PER_QUIET_DOWN_MAX, "the network never quiets down");
            let index = self.rng.below(self.in_flight.len());
            let (from, to, notification) = self.in_flight.swap_remove(index);
            if self.rng.chance_percent(loss_percent) {
                continue;
            }
            if self.rng.chance_percent(duplicate_percent) {
                self.in_flight.push((from, to, notification));
            }
            let actions = self
                .elections
                .get_mut(&to)
                .expect("sent to a known server")
                .handle_notification(from, notification);
            self.carry_out(to, actions);
        }
    }
}

/// Starts every server of `scenario` looking at once and runs the network
/// until all have decided; returns it with the vote that must win.
fn run(scenario: &Scenario) -> (Network, Vote) {
    let voters: Vec<ServerId> = (1..=scenario.voter_histories.len() as u64).map(ServerId).collect();
    let observer = scenario.observer_history.map(|_| ServerId(voters.len() as u64 + 1));
    let quorum = QuorumConfig {
        voters: voters.iter().copied().collect(),
        observers: observer.into_iter().collect(),
    };
    let mut histories: Vec<(ServerId, LearnerType, History)> = voters
        .iter()
        .zip(&scenario.voter_histories)
        .map(|(id, history)| (*id, LearnerType::Participant, *history))
        .collect();
    if let (Some(id), Some(history)) = (observer, scenario.observer_history) {
        histories.push((id, LearnerType::Observer, history));
    }

    let mut network = Network {
        elections: BTreeMap::new(),
        histories: BTreeMap::new(),
        in_flight: Vec::new(),
        decisions: BTreeMap::new(),
        rng: SeededRng(scenario.seed),
    };
    for (id, learner_type, history) in &histories {
        let config = ElectionConfig {
            me: *id,
            learner_type: *learner_type,
            quorum: quorum.clone(),
            finalize_wait_ticks: scenario.finalize_wait_ticks,
            notification_timeout_ticks_min: scenario.notification_timeout_ticks_min,
            notification_timeout_ticks_max: scenario.notification_timeout_ticks_max,
        };
        assert_eq!(config.validate(), Ok(()));
        network.elections.insert(*id, Election::new(config));
        network.histories.insert(*id, *history);
    }
    for (id, _, _) in &histories {
        network.start(*id);
    }
    network.quiet_down(scenario.first_wave_loss_percent, scenario.duplicate_percent);
    network.tick_until_all_decided(scenario.duplicate_percent);

    let best = voters
        .iter()
        .zip(&scenario.voter_histories)
        .map(|(id, history)| Vote {
            leader: *id,
            zxid: history.last_zxid,
            peer_epoch: history.current_epoch,
        })
        .reduce(|best, vote| if total_order_predicate(&vote, &best) { vote } else { best })
        .expect("at least one voter");
    (network, best)
}

fn history() -> impl Strategy<Value = History> {
    (0u64..3, 0u32..3, 0u32..3, 0u32..3).prop_map(
        |(current_epoch, zxid_epoch, counter, earlier_rounds)| History {
            last_zxid: Zxid::new(zxid_epoch, counter),
            current_epoch,
            earlier_rounds,
        },
    )
}

fn scenario(voters: usize) -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(history(), voters),
        proptest::option::of(history()),
        1u32..4,
        1u32..5,
        1u32..5,
        0u32..50,
        0u32..30,
        any::<u64>(),
    )
        .prop_map(
            |(
                voter_histories,
                observer_history,
                timeout_min,
                timeout_growth,
                wait_margin,
                loss,
                duplicate,
                seed,
            )| {
                Scenario {
                    voter_histories,
                    observer_history,
                    // Every looker re-sends once the first wave is over and
                    // nothing arrives for `timeout_min` ticks; a finalize wait
                    // longer than that lets those re-sends reach everyone
                    // before anyone decides on what the lost messages hid.
                    finalize_wait_ticks: timeout_min + wait_margin,
                    notification_timeout_ticks_min: timeout_min,
                    notification_timeout_ticks_max: timeout_min * timeout_growth,
                    first_wave_loss_percent: loss,
                    duplicate_percent: duplicate,
                    seed,
                }
            },
        )
}

fn check_agreement(scenario: &Scenario) -> Result<(), TestCaseError> {
    let (network, best) = run(scenario);
    let decisions = network.decisions;
    let servers = scenario.voter_histories.len() + usize::from(scenario.observer_history.is_some());
    prop_assert_eq!(decisions.len(), servers, "every server decides");
    for (id, (state, vote, _round)) in &decisions {
        prop_assert_eq!(*vote, best, "server {} decided behind the best voter", id);
        let expected_state = if *id == best.leader {
            PeerState::Leading
        } else if id.0 as usize > scenario.voter_histories.len() {
            PeerState::Observing
        } else {
            PeerState::Following
        };
        prop_assert_eq!(*state, expected_state, "server {}", id);
    }
    let leaders = decisions.values().filter(|(state, _, _)| *state == PeerState::Leading).count();
    prop_assert_eq!(leaders, 1, "exactly one leader");
    Ok(())
}

/// After the ensemble settles, one server other than the leader restarts:
/// it must rejoin behind the same leader and nobody else may move.
fn check_restarted_server_rejoins(scenario: &Scenario, pick: usize) -> Result<(), TestCaseError> {
    let (mut network, best) = run(scenario);
    let before: Vec<(ServerId, PeerState, Vote, u64)> = network
        .elections
        .iter()
        .map(|(id, election)| (*id, election.state(), election.current_vote(), election.round()))
        .collect();
    let candidates: Vec<ServerId> =
        network.elections.keys().copied().filter(|id| *id != best.leader).collect();
    let restarted = candidates[pick % candidates.len()];
    let decided_before = network.decisions[&restarted];

    network.restart(restarted);
    network.quiet_down(0, scenario.duplicate_percent);
    network.tick_until_all_decided(scenario.duplicate_percent);

    let (state, vote, _round) = network.decisions[&restarted];
    prop_assert_eq!(state, decided_before.0);
    prop_assert_eq!(vote.leader, best.leader);
    for (id, state, vote, round) in before {
        if id == restarted {
            continue;
        }
        let election = &network.elections[&id];
        prop_assert_eq!(
            (election.state(), election.current_vote(), election.round()),
            (state, vote, round)
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn a_restarted_server_rejoins_the_same_leader(scenario in scenario(3), pick in any::<usize>()) {
        check_restarted_server_rejoins(&scenario, pick)?;
    }

    #[test]
    fn three_voters_agree_on_the_best_voter(scenario in scenario(3)) {
        check_agreement(&scenario)?;
    }

    #[test]
    fn five_voters_agree_on_the_best_voter(scenario in scenario(5)) {
        check_agreement(&scenario)?;
    }
}

#[test]
fn a_lone_voter_with_an_observer_leads() {
    let scenario = Scenario {
        voter_histories: vec![History {
            last_zxid: Zxid::new(1, 1),
            current_epoch: 1,
            earlier_rounds: 0,
        }],
        observer_history: Some(History {
            last_zxid: Zxid::new(9, 9),
            current_epoch: 9,
            earlier_rounds: 2,
        }),
        finalize_wait_ticks: 2,
        notification_timeout_ticks_min: 1,
        notification_timeout_ticks_max: 4,
        first_wave_loss_percent: 0,
        duplicate_percent: 0,
        seed: 7,
    };
    let (network, best) = run(&scenario);
    let decisions = network.decisions;
    assert_eq!(best.leader, ServerId(1));
    assert_eq!(decisions[&ServerId(1)].0, PeerState::Leading);
    assert_eq!(
        decisions[&ServerId(2)],
        (PeerState::Observing, best, 1),
        "the observer joins round 1"
    );
}
