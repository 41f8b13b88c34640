//! The learner side of ZAB, for followers and observers alike
//! (`Learner.registerWithLeader`, `Learner.syncWithLeader`, `Follower`,
//! `Observer`): register, sync, then log, ack and apply what the leader sends.

use proto::Zxid;

use crate::history::follows;
use crate::node::{Flow, Node, send};
use crate::{Action, EPOCH_MAX, LearnerType, PeerMessage, PlantedBug, Proposal, Role, ServerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// FollowerInfo sent; waiting for LeaderInfo.
    Discovery,
    /// Epoch accepted; receiving the sync (`synced` once Diff/Trunc/Snap arrived).
    Syncing {
        synced: bool,
    },
    /// NewLeader received; its ack waits until the log is durable up to `target`.
    AwaitingDurable {
        target: Zxid,
    },
    /// NewLeader acked; waiting for UpToDate.
    Acked,
    Serving,
}

#[derive(Debug)]
pub(crate) struct Learner {
    leader: ServerId,
    learner_type: LearnerType,
    phase: Phase,
    /// The epoch the leader announced (0 until LeaderInfo).
    epoch: u64,
    /// The highest zxid acked to the leader.
    acked: Zxid,
    /// Set by an anchor Diff: the next message may open a new epoch.
    anchored: bool,
    /// The highest zxid the leader said is committed; applied once serving.
    commit_noted: Zxid,
    ticks: u64,
    ticks_silent: u64,
    ticks_since_info: u32,
}

impl Learner {
    pub(crate) fn start(
        node: &mut Node,
        leader: ServerId,
        learner_type: LearnerType,
        actions: &mut Vec<Action>,
    ) -> Learner {
        let learner = Learner {
            leader,
            learner_type,
            phase: Phase::Discovery,
            epoch: 0,
            acked: Zxid::ZERO,
            commit_noted: Zxid::ZERO,
            anchored: false,
            ticks: 0,
            ticks_silent: 0,
            ticks_since_info: 0,
        };
        learner.send_info(node, actions);
        learner
    }

    fn send_info(&self, node: &Node, actions: &mut Vec<Action>) {
        let info = PeerMessage::FollowerInfo {
            accepted_epoch: node.epochs.accepted,
            last_zxid: node.history.last(),
            learner_type: self.learner_type,
        };
        send(actions, self.leader, info);
    }

    pub(crate) fn role(&self, node: &Node) -> Role {
        let leader = self.leader;
        let epoch = if self.epoch == 0 { node.epochs.accepted } else { self.epoch };
        let serving = self.phase == Phase::Serving;
        match self.learner_type {
            LearnerType::Participant => Role::Following { leader, epoch, serving },
            LearnerType::Observer => Role::Observing { leader, epoch, serving },
        }
    }

    pub(crate) fn tick(&mut self, node: &mut Node, actions: &mut Vec<Action>) -> Flow {
        self.ticks += 1;
        self.ticks_silent += 1;
        if self.phase == Phase::Serving {
            let limit = u64::from(node.config.sync_limit_ticks);
            return if self.ticks_silent >= limit { Flow::StepDown } else { Flow::Stay };
        }
        if self.ticks >= u64::from(node.config.init_limit_ticks) {
            return Flow::StepDown;
        }
        if self.phase == Phase::Discovery {
            self.ticks_since_info += 1;
            if self.ticks_since_info >= node.config.ping_interval_ticks {
                self.ticks_since_info = 0;
                self.send_info(node, actions);
            }
        }
        Flow::Stay
    }

    pub(crate) fn handle(
        &mut self,
        node: &mut Node,
        from: ServerId,
        message: PeerMessage,
        actions: &mut Vec<Action>,
    ) -> Flow {
        if from != self.leader {
            return Flow::Stay;
        }
        self.ticks_silent = 0;
        // An anchor covers only the message right after it.
        let anchored = std::mem::take(&mut self.anchored);
        if self.phase == Phase::Discovery {
            return match message {
                PeerMessage::LeaderInfo { new_epoch } => {
                    self.on_leader_info(node, new_epoch, actions)
                }
                // Left over from an earlier leadership of the same server.
                _ => Flow::Stay,
            };
        }
        match message {
            PeerMessage::Diff { last_zxid } => self.on_diff(node, last_zxid),
            PeerMessage::Trunc { zxid } => {
                if self.open_sync() {
                    node.history.truncate(zxid);
                    node.durable = node.durable.min(node.history.last());
                    // The driver rebuilds its state from snapshot + remaining log.
                    node.fast_forward();
                    actions.push(Action::Truncate { zxid });
                }
                Flow::Stay
            }
            PeerMessage::Snap { zxid, snapshot } => {
                if self.open_sync() {
                    node.history.reset(zxid);
                    node.durable = zxid;
                    node.applied = zxid;
                    node.mark_committed(zxid);
                    actions.push(Action::InstallSnapshot { zxid, snapshot });
                }
                Flow::Stay
            }
            PeerMessage::Proposal(proposal) => self.on_proposal(node, proposal, anchored, actions),
            PeerMessage::Commit { zxid } => self.on_commit(node, zxid, actions),
            PeerMessage::Inform(proposal) => self.on_inform(node, proposal, actions),
            PeerMessage::NewLeader { epoch, zxid } => {
                self.on_new_leader(node, epoch, zxid, actions)
            }
            PeerMessage::UpToDate => {
                if self.phase == Phase::Acked {
                    self.phase = Phase::Serving;
                    self.apply_noted(node, actions);
                }
                Flow::Stay
            }
            PeerMessage::Ping { .. } => {
                send(actions, self.leader, PeerMessage::PingReply);
                Flow::Stay
            }
            _ => Flow::Stay,
        }
    }

    fn on_leader_info(
        &mut self,
        node: &mut Node,
        new_epoch: u64,
        actions: &mut Vec<Action>,
    ) -> Flow {
        if new_epoch > EPOCH_MAX {
            return Flow::Stay;
        }
        if new_epoch < node.epochs.accepted {
            // This server already promised a newer leader.
            return Flow::StepDown;
        }
        if new_epoch > node.epochs.accepted {
            node.epochs.accepted = new_epoch;
            actions.push(Action::PersistEpochs(node.epochs));
        }
        self.epoch = new_epoch;
        self.phase = Phase::Syncing { synced: false };
        let ack = PeerMessage::AckEpoch {
            current_epoch: node.epochs.current,
            last_zxid: node.history.last(),
        };
        send(actions, self.leader, ack);
        Flow::Stay
    }

    /// Diff/Trunc/Snap opens the sync exactly once; a later copy is a
    /// duplicate and is ignored.
    fn open_sync(&mut self) -> bool {
        let opens = self.phase == (Phase::Syncing { synced: false });
        if opens {
            self.phase = Phase::Syncing { synced: true };
        }
        opens
    }

    /// Diff opens the sync (at this learner's last zxid), or later in the
    /// sync anchors the proposal right after it, the first of an epoch, to
    /// the zxid it follows; the log must end exactly there.
    fn on_diff(&mut self, node: &Node, last_zxid: Zxid) -> Flow {
        let last = node.history.last();
        match self.phase {
            Phase::Syncing { synced: false } => {
                if last_zxid != last {
                    return Flow::StepDown;
                }
                self.open_sync();
                Flow::Stay
            }
            Phase::Syncing { synced: true } => {
                if last_zxid == last {
                    self.anchored = true;
                    Flow::Stay
                } else if last_zxid < last && node.history.contains(last_zxid) {
                    // A late duplicate of an earlier anchor.
                    Flow::Stay
                } else {
                    // The proposals before this anchor did not all arrive.
                    Flow::StepDown
                }
            }
            _ => Flow::Stay,
        }
    }

    /// Proposals are accepted once the sync opened; a duplicate is ignored,
    /// anything else out of sequence means messages were lost.
    fn on_proposal(
        &mut self,
        node: &mut Node,
        proposal: Proposal,
        anchored: bool,
        actions: &mut Vec<Action>,
    ) -> Flow {
        if self.phase == (Phase::Syncing { synced: false }) {
            return Flow::StepDown;
        }
        let last = node.history.last();
        let zxid = proposal.zxid;
        if zxid <= last {
            return if node.history.contains(zxid) { Flow::Stay } else { Flow::StepDown };
        }
        if !self.may_follow(last, zxid, anchored) {
            return Flow::StepDown;
        }
        node.history.append(proposal.clone());
        actions.push(Action::Append(vec![proposal]));
        let acks_now = node.config.planted_bug == Some(PlantedBug::AckBeforeFsync);
        if acks_now && self.acks_proposals() && zxid > self.acked {
            self.acked = zxid;
            send(actions, self.leader, PeerMessage::Ack { zxid });
        }
        Flow::Stay
    }

    /// True when `next` is the txn right after `last`. Within an epoch the
    /// counters show it; a new epoch may start only right after the
    /// leader's anchor in the sync stream (`anchored`), or, after NewLeader
    /// (whose zxid proved the log complete), with the first txn of the
    /// leader's epoch.
    fn may_follow(&self, last: Zxid, next: Zxid, anchored: bool) -> bool {
        if next.epoch() == last.epoch() {
            return follows(last, next);
        }
        let allowed = match self.phase {
            Phase::Syncing { .. } => anchored,
            _ => u64::from(next.epoch()) == self.epoch,
        };
        allowed && follows(last, next)
    }

    /// Followers ack proposals once NewLeader is acked; observers never do.
    fn acks_proposals(&self) -> bool {
        self.learner_type == LearnerType::Participant
            && matches!(self.phase, Phase::Acked | Phase::Serving)
    }

    /// Applies committed proposals once serving. Before UpToDate the commit
    /// is only noted: the leader is not established yet, so what it sent
    /// may still be undone (ZooKeeper's `packetsCommitted`, applied at
    /// UPTODATE).
    fn on_commit(&mut self, node: &mut Node, zxid: Zxid, actions: &mut Vec<Action>) -> Flow {
        if self.phase == (Phase::Syncing { synced: false }) {
            return Flow::StepDown;
        }
        if zxid <= node.applied {
            return Flow::Stay;
        }
        if !node.history.contains(zxid) {
            // Committing a txn this server never logged: it missed a proposal.
            return Flow::StepDown;
        }
        self.commit_noted = self.commit_noted.max(zxid);
        if self.phase == Phase::Serving {
            self.apply_noted(node, actions);
        }
        Flow::Stay
    }

    fn apply_noted(&mut self, node: &mut Node, actions: &mut Vec<Action>) {
        let up_to = self.commit_noted;
        if up_to <= node.applied {
            return;
        }
        let proposals = node.history.range(node.applied, up_to);
        node.applied = up_to;
        node.mark_committed(up_to);
        actions.push(Action::Apply(proposals));
    }

    fn on_inform(
        &mut self,
        node: &mut Node,
        proposal: Proposal,
        actions: &mut Vec<Action>,
    ) -> Flow {
        if self.learner_type != LearnerType::Observer {
            return Flow::Stay;
        }
        if matches!(self.phase, Phase::Syncing { .. }) {
            // Informs follow NewLeader on the stream: it was lost.
            return Flow::StepDown;
        }
        let zxid = proposal.zxid;
        if zxid <= node.applied {
            return Flow::Stay;
        }
        if zxid > node.history.last() {
            if !self.may_follow(node.history.last(), zxid, false) {
                return Flow::StepDown;
            }
            node.history.append(proposal.clone());
            actions.push(Action::Append(vec![proposal]));
        }
        self.on_commit(node, zxid, actions)
    }

    fn on_new_leader(
        &mut self,
        node: &mut Node,
        epoch: u64,
        zxid: Zxid,
        actions: &mut Vec<Action>,
    ) -> Flow {
        if epoch != self.epoch {
            return Flow::Stay;
        }
        if matches!(self.phase, Phase::AwaitingDurable { .. } | Phase::Acked | Phase::Serving) {
            // A duplicate: the ack follows (or followed) durability anyway.
            return Flow::Stay;
        }
        if self.phase != (Phase::Syncing { synced: true }) || node.history.last() != zxid {
            // No sync opened, or part of it was lost.
            return Flow::StepDown;
        }
        node.epochs.current = epoch;
        actions.push(Action::PersistEpochs(node.epochs));
        self.phase = Phase::AwaitingDurable { target: zxid };
        self.ack_if_durable(node, actions);
        Flow::Stay
    }

    pub(crate) fn on_append_done(&mut self, node: &mut Node, actions: &mut Vec<Action>) {
        self.ack_if_durable(node, actions);
    }

    /// Sends the NewLeader ack, then cumulative proposal acks, as the log
    /// becomes durable.
    fn ack_if_durable(&mut self, node: &mut Node, actions: &mut Vec<Action>) {
        if let Phase::AwaitingDurable { target } = self.phase {
            if node.durable < target {
                return;
            }
            self.phase = Phase::Acked;
            self.acked = target;
            send(actions, self.leader, PeerMessage::Ack { zxid: target });
        }
        if self.acks_proposals() && node.durable > self.acked {
            self.acked = node.durable;
            send(actions, self.leader, PeerMessage::Ack { zxid: node.durable });
        }
    }
}
