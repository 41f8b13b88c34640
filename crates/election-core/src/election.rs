//! The election state machine of one server: ZooKeeper's `lookForLeader`
//! loop and `WorkerReceiver` replies, driven by notifications and ticks.

use proto::Zxid;

use std::collections::BTreeSet;

use crate::action::ElectionAction;
use crate::config::{ElectionConfig, ElectionError};
use crate::tally::VoteTally;
use crate::types::{LearnerType, Notification, PeerState, ServerId, Vote};
use crate::vote::{beats, initial_vote};

/// The election state machine of one server. It lives as long as the server:
/// while the server follows or leads, it still answers lookers with the
/// settled vote, as ZooKeeper's `WorkerReceiver` does.
#[derive(Debug)]
pub struct Election {
    config: ElectionConfig,
    /// `logicalclock`: the round this server is in (or decided in).
    round: u64,
    /// The vote this server started its current round with (its own).
    own_vote: Vote,
    phase: Phase,
    /// Servers the driver reported unreachable (a closed connection), until
    /// a notification from them arrives: nobody waits for their votes.
    unreachable: BTreeSet<ServerId>,
}

#[derive(Debug)]
enum Phase {
    /// Created, `start_looking` not called yet: nothing to say, nothing to count.
    NotStarted,
    Looking(Looking),
    /// Out of the election (following, leading or observing) behind `vote`.
    Settled {
        state: PeerState,
        vote: Vote,
    },
}

/// Everything that only exists while looking for a leader.
#[derive(Debug)]
struct Looking {
    /// The vote this server currently proposes (and sends).
    proposal: Vote,
    /// `recvset`: votes of this round, my own included when I vote.
    round_tally: VoteTally,
    /// `outofelection`: FOLLOWING/LEADING votes of any round, to join an
    /// ensemble that already has a leader.
    out_of_election: VoteTally,
    /// Ticks left before a quorum-backed proposal becomes the decision.
    finalize_ticks_left: Option<u32>,
    /// The current notification timeout; doubles on each expiry up to the max.
    notification_timeout_ticks: u32,
    ticks_since_notification: u32,
}

impl Election {
    pub fn new(config: ElectionConfig) -> Election {
        let own_vote = initial_vote(&config.quorum, config.me, Zxid::ZERO, 0);
        Election {
            config,
            round: 0,
            own_vote,
            phase: Phase::NotStarted,
            unreachable: BTreeSet::new(),
        }
    }

    pub fn config(&self) -> &ElectionConfig {
        &self.config
    }

    /// Begins a new round (LOOKING) with this server's own history: votes for
    /// itself (a participant) and notifies every other server.
    pub fn start_looking(&mut self, last_zxid: Zxid, current_epoch: u64) -> Vec<ElectionAction> {
        self.round = self.round.saturating_add(1);
        self.own_vote = initial_vote(&self.config.quorum, self.config.me, last_zxid, current_epoch);
        self.phase = Phase::Looking(Looking {
            proposal: self.own_vote,
            round_tally: VoteTally::default(),
            out_of_election: VoteTally::default(),
            finalize_ticks_left: None,
            notification_timeout_ticks: self.config.effective_timeout_min(),
            ticks_since_notification: 0,
        });
        let mut actions = Vec::new();
        self.proposal_changed(&mut actions);
        self.start_finalize_wait_on_quorum(&mut actions);
        actions
    }

    /// A notification from `from`.
    pub fn handle_notification(
        &mut self,
        from: ServerId,
        notification: Notification,
    ) -> Vec<ElectionAction> {
        let quorum = &self.config.quorum;
        // A stranger (or an echo of myself) has no say in this ensemble.
        if from == self.config.me || !quorum.is_member(from) {
            return Vec::new();
        }
        self.unreachable.remove(&from);
        let sender_looking = notification.state == PeerState::Looking;
        match self.phase {
            Phase::NotStarted => Vec::new(),
            Phase::Settled { .. } => {
                if sender_looking {
                    vec![self.notification_to(from)]
                } else {
                    Vec::new()
                }
            }
            Phase::Looking(_) if !quorum.is_voter(from) => {
                // Observers' votes never count. A voter still answers a
                // looking observer so it can learn the leader; an observer
                // does not answer it, since nobody counts what it says
                // (and two observers answering each other would never stop).
                if sender_looking && quorum.is_voter(self.config.me) {
                    vec![self.notification_to(from)]
                } else {
                    Vec::new()
                }
            }
            Phase::Looking(_) => self.handle_voter_notification(from, notification),
        }
    }

    /// One tick of time: finalize waits and notification timeouts.
    pub fn tick(&mut self) -> Vec<ElectionAction> {
        let round = self.round;
        let Phase::Looking(looking) = &mut self.phase else {
            return Vec::new();
        };
        if let Some(ticks_left) = looking.finalize_ticks_left.as_mut() {
            *ticks_left = ticks_left.saturating_sub(1);
            if *ticks_left == 0 {
                let proposal = looking.proposal;
                return vec![self.decide(proposal, round)];
            }
        }
        // Re-sends go on during a finalize wait too (ZooKeeper blocks there):
        // a peer that lost my better vote hears it again before it decides.
        looking.ticks_since_notification = looking.ticks_since_notification.saturating_add(1);
        if looking.ticks_since_notification < looking.notification_timeout_ticks {
            return Vec::new();
        }
        looking.ticks_since_notification = 0;
        looking.notification_timeout_ticks = looking
            .notification_timeout_ticks
            .saturating_mul(2)
            .min(self.config.effective_timeout_max());
        self.send_to_all()
    }

    /// The server left the election as `state` behind `vote` (called by the
    /// driver after `Decided`, or when it joins an established leader).
    /// A request [`Election::try_settle`] refuses leaves the election unchanged.
    pub fn settle(&mut self, state: PeerState, vote: Vote) {
        // The refusal is reported by `try_settle`; this infallible form keeps
        // the driver's call simple, and changing nothing is the safe outcome.
        let _ = self.try_settle(state, vote);
    }

    /// [`Election::settle`], saying why a request makes no sense: settling
    /// as Looking, leading behind someone else's vote, or following myself.
    pub fn try_settle(&mut self, state: PeerState, vote: Vote) -> Result<(), ElectionError> {
        let me = self.config.me;
        match state {
            PeerState::Looking => return Err(ElectionError::SettleAsLooking),
            PeerState::Leading if vote.leader != me => {
                return Err(ElectionError::LeadingForAnotherServer { me, leader: vote.leader });
            }
            PeerState::Following | PeerState::Observing if vote.leader == me => {
                return Err(ElectionError::LearningFromMyself { me, state });
            }
            _ => {}
        }
        self.phase = Phase::Settled { state, vote };
        Ok(())
    }

    pub fn state(&self) -> PeerState {
        match self.phase {
            // A server starts out LOOKING, as a ZooKeeper peer does.
            Phase::NotStarted | Phase::Looking(_) => PeerState::Looking,
            Phase::Settled { state, .. } => state,
        }
    }

    pub fn round(&self) -> u64 {
        self.round
    }

    pub fn current_vote(&self) -> Vote {
        match &self.phase {
            Phase::NotStarted => self.own_vote,
            Phase::Looking(looking) => looking.proposal,
            Phase::Settled { vote, .. } => *vote,
        }
    }

    /// The notification this server sends right now.
    pub fn current_notification(&self) -> Notification {
        Notification { vote: self.current_vote(), round: self.round, state: self.state() }
    }

    /// A notification from a voter while I am looking.
    fn handle_voter_notification(
        &mut self,
        from: ServerId,
        notification: Notification,
    ) -> Vec<ElectionAction> {
        let mut actions = Vec::new();
        let quorum = &self.config.quorum;
        if let Phase::Looking(looking) = &mut self.phase {
            // Any notification from a voter shows the network is alive.
            looking.ticks_since_notification = 0;
        }
        // A voter behind me sees my round and catches up (WorkerReceiver).
        if notification.state == PeerState::Looking
            && notification.round < self.round
            && quorum.is_voter(self.config.me)
        {
            actions.push(self.notification_to(from));
        }
        // A vote for a server that cannot lead is not a vote at all.
        if !quorum.is_voter(notification.vote.leader) {
            return actions;
        }
        match notification.state {
            PeerState::Looking => self.handle_looking_vote(from, notification, &mut actions),
            // A voter that claims to observe is misconfigured; ZooKeeper ignores it too.
            PeerState::Observing => {}
            PeerState::Following | PeerState::Leading => {
                self.handle_out_of_election_vote(from, notification, &mut actions)
            }
        }
        actions
    }

    /// `lookForLeader`'s LOOKING case.
    fn handle_looking_vote(
        &mut self,
        from: ServerId,
        notification: Notification,
        actions: &mut Vec<ElectionAction>,
    ) {
        if notification.round < self.round {
            return;
        }
        let quorum = &self.config.quorum;
        let own_vote = self.own_vote;
        let Phase::Looking(looking) = &mut self.phase else {
            return;
        };
        if notification.round > self.round {
            // A newer round: everything counted so far is stale.
            self.round = notification.round;
            looking.round_tally.clear();
            looking.proposal = if beats(quorum, &notification.vote, &own_vote) {
                notification.vote
            } else {
                own_vote
            };
            looking.notification_timeout_ticks = self.config.effective_timeout_min();
            self.proposal_changed(actions);
        } else if beats(quorum, &notification.vote, &looking.proposal) {
            looking.proposal = notification.vote;
            self.proposal_changed(actions);
        }
        if let Phase::Looking(looking) = &mut self.phase {
            looking.round_tally.record(from, notification.vote, PeerState::Looking);
        }
        self.start_finalize_wait_on_quorum(actions);
    }

    /// `receivedFollowingNotification`/`receivedLeadingNotification`: a voter
    /// that is already out of the election tells me whom it follows.
    fn handle_out_of_election_vote(
        &mut self,
        from: ServerId,
        notification: Notification,
        actions: &mut Vec<ElectionAction>,
    ) {
        let me = self.config.me;
        let quorum = &self.config.quorum;
        let Notification { vote, round, state } = notification;
        let Phase::Looking(looking) = &mut self.phase else {
            return;
        };
        if round == self.round {
            looking.round_tally.record(from, vote, state);
            if looking.round_tally.has_quorum_for(quorum, &vote, state)
                && looking.round_tally.check_leader(vote.leader, me, true)
            {
                actions.push(self.decide(vote, round));
                return;
            }
        }
        // Kept across rounds, so a server that restarted (and so is in
        // another round) can still join a running ensemble (ZOOKEEPER-1732).
        looking.out_of_election.record(from, vote, state);
        if looking.out_of_election.has_quorum_for(quorum, &vote, state)
            && looking.out_of_election.check_leader(vote.leader, me, round == self.round)
        {
            actions.push(self.decide(vote, round));
        }
    }

    /// After my proposal (or round) changed: count it as my own vote, drop
    /// any pending decision (it was for the old proposal) and tell everyone.
    fn proposal_changed(&mut self, actions: &mut Vec<ElectionAction>) {
        let me = self.config.me;
        let my_vote_counts = self.config.quorum.is_voter(me);
        if let Phase::Looking(looking) = &mut self.phase {
            looking.finalize_ticks_left = None;
            looking.ticks_since_notification = 0;
            if my_vote_counts {
                looking.round_tally.record(me, looking.proposal, PeerState::Looking);
            }
        }
        actions.extend(self.send_to_all());
    }

    /// The driver lost its connection to `peer` (a crash, a partition): its
    /// vote is not waited for until it speaks again. Returns the decision if
    /// that was the last vote a running finalize wait could still get.
    pub fn on_peer_unreachable(&mut self, peer: ServerId) -> Vec<ElectionAction> {
        let mut actions = Vec::new();
        if peer != self.config.me && self.unreachable.insert(peer) {
            let round = self.round;
            if let Phase::Looking(looking) = &self.phase
                && looking.finalize_ticks_left.is_some()
                && self.no_better_vote_can_come(looking)
            {
                let proposal = looking.proposal;
                actions.push(self.decide(proposal, round));
            }
        }
        actions
    }

    /// Every voter that can still answer already sent my proposal. The wait
    /// is for a better vote, so it has nothing left to wait for. (The wait
    /// only ever served liveness: any quorum-backed decision is safe, since
    /// the quorum's votes guarantee the leader has its members' histories.)
    fn no_better_vote_can_come(&self, looking: &Looking) -> bool {
        let tally = &looking.round_tally;
        tally.has_quorum_for(&self.config.quorum, &looking.proposal, PeerState::Looking)
            && tally.all_reachable_voters_sent(
                &self.config.quorum,
                &looking.proposal,
                &self.unreachable,
            )
    }

    /// A quorum agrees with my proposal: wait `finalize_wait_ticks` for a
    /// better vote before deciding (at once when the wait is zero, or when
    /// every reachable voter already agrees). Only a change of proposal or
    /// round cancels the wait; other notifications are counted as usual and
    /// do not stretch it, so a chatty peer cannot hold a decision off forever.
    fn start_finalize_wait_on_quorum(&mut self, actions: &mut Vec<ElectionAction>) {
        let wait = self.config.finalize_wait_ticks;
        let round = self.round;
        let Phase::Looking(looking) = &self.phase else {
            return;
        };
        let waiting = looking.finalize_ticks_left.is_some();
        if !looking.round_tally.has_quorum_for(
            &self.config.quorum,
            &looking.proposal,
            PeerState::Looking,
        ) {
            return;
        }
        // The quorum is established just above: only the other half of
        // `no_better_vote_can_come` is left to ask.
        let decide_now = wait == 0
            || looking.round_tally.all_reachable_voters_sent(
                &self.config.quorum,
                &looking.proposal,
                &self.unreachable,
            );
        if waiting && !decide_now {
            return;
        }
        let Phase::Looking(looking) = &mut self.phase else {
            return;
        };
        if decide_now {
            let proposal = looking.proposal;
            actions.push(self.decide(proposal, round));
        } else {
            looking.finalize_ticks_left = Some(wait);
        }
    }

    /// Leaves the election behind `vote`, decided in `round`.
    fn decide(&mut self, vote: Vote, round: u64) -> ElectionAction {
        let state = if vote.leader == self.config.me {
            PeerState::Leading
        } else if self.config.learner_type == LearnerType::Observer {
            PeerState::Observing
        } else {
            PeerState::Following
        };
        self.round = round;
        self.phase = Phase::Settled { state, vote };
        ElectionAction::Decided { state, vote, round }
    }

    fn notification_to(&self, to: ServerId) -> ElectionAction {
        ElectionAction::Send { to, notification: self.current_notification() }
    }

    fn send_to_all(&self) -> Vec<ElectionAction> {
        self.config.quorum.others(self.config.me).map(|to| self.notification_to(to)).collect()
    }
}
