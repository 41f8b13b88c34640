//! [`Peer`]: fast leader election composed with ZAB. It owns the election,
//! starts the leader or learner role the election decides, and returns to
//! election whenever a role gives up.

use bytes::Bytes;
use election_core::{Election, ElectionAction, Notification, PeerState};
use proto::Zxid;

use crate::leader::Leader;
use crate::learner::Learner;
use crate::node::{Flow, Node};
use crate::{
    Action, Epochs, LearnerCounts, LearnerType, PeerConfig, PeerMessage, ProposeError, Recovered,
    Role, ServerId,
};

#[derive(Debug)]
enum RoleState {
    Looking,
    Leading(Leader),
    Learning(Learner),
}

/// The replication state machine of one server.
#[derive(Debug)]
pub struct Peer {
    node: Node,
    election: Election,
    state: RoleState,
    /// The role the driver was last told about through `RoleChanged`.
    reported: Role,
}

impl Peer {
    pub fn new(config: PeerConfig, recovered: Recovered) -> Peer {
        let election = Election::new(config.election.clone());
        Peer {
            node: Node::new(config, recovered),
            election,
            state: RoleState::Looking,
            reported: Role::Looking,
        }
    }

    pub fn config(&self) -> &PeerConfig {
        &self.node.config
    }

    /// Starts the first election.
    pub fn start(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        self.state = RoleState::Looking;
        self.start_looking(&mut actions);
        self.report_role(&mut actions);
        actions
    }

    pub fn handle_message(&mut self, from: ServerId, message: PeerMessage) -> Vec<Action> {
        let mut actions = Vec::new();
        if let PeerMessage::Election(notification) = message {
            if self.chosen_leader_is_not_leading(from, &notification) {
                self.follow(Flow::StepDown, &mut actions);
            }
            // Answered even while leading or following: lookers learn the leader this way.
            let decided = self.election.handle_notification(from, notification);
            self.run_election_actions(decided, &mut actions);
        } else if matches!(message, PeerMessage::FollowerInfo { .. })
            && !matches!(self.state, RoleState::Leading(_))
        {
            // Someone took this server for its leader (it decided before
            // the votes settled elsewhere). Saying whom this server follows
            // sends it back to election at once, instead of after the init
            // limit, as a ZooKeeper learner's connection to a server that
            // does not lead is refused.
            let notification = self.election.current_notification();
            actions.push(Action::Send { to: from, message: PeerMessage::Election(notification) });
        } else {
            let flow = match &mut self.state {
                RoleState::Looking => Flow::Stay,
                RoleState::Leading(leader) => {
                    leader.handle(&mut self.node, from, message, &mut actions)
                }
                RoleState::Learning(learner) => {
                    learner.handle(&mut self.node, from, message, &mut actions)
                }
            };
            self.follow(flow, &mut actions);
        }
        self.report_role(&mut actions);
        actions
    }

    pub fn tick(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        let election_actions = self.election.tick();
        self.run_election_actions(election_actions, &mut actions);
        let flow = match &mut self.state {
            RoleState::Looking => Flow::Stay,
            RoleState::Leading(leader) => leader.tick(&mut self.node, &mut actions),
            RoleState::Learning(learner) => learner.tick(&mut self.node, &mut actions),
        };
        self.follow(flow, &mut actions);
        self.report_role(&mut actions);
        actions
    }

    /// The driver's connection to `peer` broke (the peer closed it, or its
    /// process died). A learner whose leader that was returns to election at
    /// once, as a ZooKeeper follower does when its leader's socket fails,
    /// instead of waiting out the sync limit; anything else is unaffected
    /// (a leader counts its followers by what it hears within the limit).
    pub fn on_peer_lost(&mut self, peer: ServerId) -> Vec<Action> {
        let mut actions = Vec::new();
        let flow = match &self.state {
            RoleState::Learning(learner) if learner.leader() == peer => Flow::StepDown,
            _ => Flow::Stay,
        };
        self.follow(flow, &mut actions);
        self.report_role(&mut actions);
        actions
    }

    /// The driver has no connection to `peer` while this server is looking:
    /// the election stops waiting for that server's vote (see
    /// `Election::on_peer_unreachable`), so a failover does not sit out the
    /// whole finalize wait for the server that just died.
    pub fn on_peer_unreachable(&mut self, peer: ServerId) -> Vec<Action> {
        let mut actions = Vec::new();
        let decided = self.election.on_peer_unreachable(peer);
        self.run_election_actions(decided, &mut actions);
        self.report_role(&mut actions);
        actions
    }

    /// Everything appended up to and including `zxid` is durable. Reports
    /// are cumulative; a stale or repeated report is harmless.
    pub fn on_append_done(&mut self, zxid: Zxid) -> Vec<Action> {
        let mut actions = Vec::new();
        self.node.note_durable(zxid);
        match &mut self.state {
            RoleState::Looking => {}
            RoleState::Leading(leader) => leader.on_append_done(&mut self.node, &mut actions),
            RoleState::Learning(learner) => learner.on_append_done(&mut self.node, &mut actions),
        }
        self.report_role(&mut actions);
        actions
    }

    /// Leader only: assigns the next zxid to `txn` and broadcasts it. The txn
    /// is applied later, when an `Apply` carries it. After
    /// `Err(EpochExhausted)` the leader steps down at its next `tick`.
    pub fn propose(&mut self, txn: Bytes) -> Result<(Zxid, Vec<Action>), ProposeError> {
        match &mut self.state {
            RoleState::Leading(leader) => leader.propose(&mut self.node, txn),
            _ => Err(ProposeError::NotLeader),
        }
    }

    /// The zxid the next `propose` will assign, if this peer is the serving leader.
    pub fn next_zxid(&self) -> Option<Zxid> {
        match &self.state {
            RoleState::Leading(leader) => leader.next_zxid(&self.node),
            _ => None,
        }
    }

    pub fn role(&self) -> Role {
        match &self.state {
            RoleState::Looking => Role::Looking,
            RoleState::Leading(leader) => {
                Role::Leading { epoch: leader.epoch(&self.node), serving: leader.serving() }
            }
            RoleState::Learning(learner) => learner.role(&self.node),
        }
    }

    /// Leader only: how many learners are synced and how many are syncing.
    pub fn learner_counts(&self) -> Option<LearnerCounts> {
        match &self.state {
            RoleState::Leading(leader) => Some(leader.learner_counts()),
            _ => None,
        }
    }

    /// The highest zxid known committed here.
    pub fn last_committed(&self) -> Zxid {
        self.node.committed
    }

    /// The newest zxid in this peer's log (durable or not).
    pub fn last_logged(&self) -> Zxid {
        self.node.history.last()
    }

    /// The election's view: the notification this server sends now (its
    /// vote, round and state), useful for status pages and debugging.
    pub fn election_notification(&self) -> election_core::Notification {
        self.election.current_notification()
    }

    /// The epochs as last handed to the driver in `PersistEpochs`.
    pub fn epochs(&self) -> Epochs {
        self.node.epochs
    }

    /// Whether `notification` from `from` shows that the leader this
    /// learner is still registering with settled on following another
    /// server. One still looking may yet decide to lead, so it is waited
    /// for; after registration the leader's own messages and the limits
    /// watch it.
    fn chosen_leader_is_not_leading(&self, from: ServerId, notification: &Notification) -> bool {
        let RoleState::Learning(learner) = &self.state else {
            return false;
        };
        let leads = notification.state == PeerState::Leading && notification.vote.leader == from;
        let settled = notification.state != PeerState::Looking;
        learner.leader() == from && learner.registering() && settled && !leads
    }

    fn follow(&mut self, flow: Flow, actions: &mut Vec<Action>) {
        if flow == Flow::StepDown {
            self.state = RoleState::Looking;
            self.start_looking(actions);
        }
    }

    /// Back to election: the driver fast-forwards its state machine on the
    /// `RoleChanged(Looking)`, then a new round starts with this history.
    fn start_looking(&mut self, actions: &mut Vec<Action>) {
        self.report_role(actions);
        self.node.fast_forward();
        let election_actions =
            self.election.start_looking(self.node.history.last(), self.node.epochs.current);
        self.run_election_actions(election_actions, actions);
    }

    fn run_election_actions(
        &mut self,
        election_actions: Vec<ElectionAction>,
        actions: &mut Vec<Action>,
    ) {
        for action in election_actions {
            match action {
                ElectionAction::Send { to, notification } => {
                    actions.push(Action::Send { to, message: PeerMessage::Election(notification) })
                }
                ElectionAction::Decided { state, vote, .. } => {
                    self.election.settle(state, vote);
                    self.enter(state, vote.leader, actions);
                }
            }
        }
    }

    /// Takes up the role the election decided.
    fn enter(&mut self, state: PeerState, leader: ServerId, actions: &mut Vec<Action>) {
        let me = self.node.me();
        self.state = match state {
            PeerState::Leading if leader == me => {
                RoleState::Leading(Leader::start(&mut self.node, actions))
            }
            PeerState::Following if leader != me => RoleState::Learning(Learner::start(
                &mut self.node,
                leader,
                LearnerType::Participant,
                actions,
            )),
            PeerState::Observing if leader != me => RoleState::Learning(Learner::start(
                &mut self.node,
                leader,
                LearnerType::Observer,
                actions,
            )),
            // A decision this server cannot take up: keep looking.
            _ => return,
        };
        self.report_role(actions);
    }

    /// Tells the driver about a role change since the last report.
    fn report_role(&mut self, actions: &mut Vec<Action>) {
        let role = self.role();
        if role != self.reported {
            self.reported = role;
            self.settle_established(role);
            actions.push(Action::RoleChanged(role));
        }
    }

    /// Once an ensemble serves, every member answers lookers with the same
    /// (leader, established epoch) vote. Members can have decided in
    /// different rounds with different epochs in their votes (a server that
    /// joined a leader which then re-won the next round); lookers join only
    /// on a quorum of matching out-of-election votes, so stale ones could
    /// keep them out of a running ensemble for good.
    fn settle_established(&mut self, role: Role) {
        let (state, leader, epoch) = match role {
            Role::Leading { epoch, serving: true } => (PeerState::Leading, self.node.me(), epoch),
            Role::Following { leader, epoch, serving: true } => {
                (PeerState::Following, leader, epoch)
            }
            Role::Observing { leader, epoch, serving: true } => {
                (PeerState::Observing, leader, epoch)
            }
            _ => return,
        };
        let vote =
            election_core::Vote { leader, peer_epoch: epoch, ..self.election.current_vote() };
        self.election.settle(state, vote);
    }

    /// Testing hook: takes up a role as if the election had decided it.
    #[cfg(test)]
    pub(crate) fn start_as(&mut self, state: PeerState, leader: ServerId) -> Vec<Action> {
        let mut actions = Vec::new();
        let vote = election_core::Vote {
            leader,
            zxid: self.node.history.last(),
            peer_epoch: self.node.epochs.current,
        };
        self.election.settle(state, vote);
        self.enter(state, leader, &mut actions);
        self.report_role(&mut actions);
        actions
    }
}
