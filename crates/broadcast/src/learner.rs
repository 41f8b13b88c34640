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
    /// NewLeader received; the new current epoch and the ack wait until the
    /// log is durable up to `target`.
    AwaitingDurable {
        target: Zxid,
    },
    /// NewLeader acked; waiting for UpToDate.
    Acked,
    Serving,
}

/// The epoch-change anchor in the sync stream (see `on_diff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Anchor {
    #[default]
    None,
    /// Diff{previous} matched this log's end.
    Previous,
    /// ... and Diff{next} named the txn that may open a new epoch.
    Next(Zxid),
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
    /// Where the last message left the sync stream's epoch-change anchor;
    /// an anchor covers only the message right after it.
    anchor: Anchor,
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
            anchor: Anchor::None,
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

    /// The server this learner follows.
    pub(crate) fn leader(&self) -> ServerId {
        self.leader
    }

    /// True until the leader answered the FollowerInfo with LeaderInfo.
    pub(crate) fn registering(&self) -> bool {
        self.phase == Phase::Discovery
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
            if self.ticks_since_info >= node.config.discovery_resend_ticks.max(1) {
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
        let anchor = std::mem::take(&mut self.anchor);
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
            PeerMessage::Diff { last_zxid } => self.on_diff(node, last_zxid, anchor),
            PeerMessage::Trunc { zxid } => {
                if self.open_sync() {
                    if zxid < node.snapshot_floor {
                        return self.reset_below_snapshot(node, zxid, actions);
                    }
                    node.history.truncate(zxid);
                    node.durable = node.durable.min(node.history.last());
                    node.committed = node.committed.min(node.history.last());
                    // The driver rebuilds its state from snapshot + remaining log.
                    node.fast_forward();
                    actions.push(Action::Truncate { zxid });
                }
                Flow::Stay
            }
            PeerMessage::Snap { zxid, snapshot } => {
                if self.open_sync() {
                    node.snapshot_floor = zxid;
                    node.history.reset(zxid);
                    node.durable = zxid;
                    node.applied = zxid;
                    node.committed = node.committed.min(zxid);
                    // The snapshot is the leader's committed (or, for a new
                    // leader, about to be committed) state.
                    self.commit_noted = self.commit_noted.max(zxid);
                    actions.push(Action::InstallSnapshot { zxid, snapshot });
                }
                Flow::Stay
            }
            PeerMessage::Proposal(proposal) => {
                let anchored = anchor == Anchor::Next(proposal.zxid);
                self.on_proposal(node, proposal, anchored, actions)
            }
            PeerMessage::Commit { zxid } => self.on_commit(node, zxid, actions),
            PeerMessage::Inform(proposal) => self.on_inform(node, proposal, actions),
            PeerMessage::NewLeader { epoch, zxid } => {
                self.on_new_leader(node, epoch, zxid, actions)
            }
            PeerMessage::UpToDate => {
                if self.phase == Phase::Acked {
                    // The leader is established: the synced history is committed.
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
    /// TRUNC to `zxid`, below the snapshot this member holds (installed
    /// from a leader whose epoch never got established, so it carries txns
    /// that were never committed). The snapshot cannot be cut into: the
    /// member drops everything. At zxid zero that is exactly the truncation
    /// and the sync goes on; otherwise it lacks the txns up to `zxid`, so it
    /// registers again from zero and the leader sends a snapshot.
    fn reset_below_snapshot(
        &mut self,
        node: &mut Node,
        zxid: Zxid,
        actions: &mut Vec<Action>,
    ) -> Flow {
        node.history.reset(Zxid::ZERO);
        node.durable = Zxid::ZERO;
        node.applied = Zxid::ZERO;
        node.committed = Zxid::ZERO;
        node.snapshot_floor = Zxid::ZERO;
        actions.push(Action::Reset);
        if zxid == Zxid::ZERO { Flow::Stay } else { Flow::StepDown }
    }

    fn open_sync(&mut self) -> bool {
        let opens = self.phase == (Phase::Syncing { synced: false });
        if opens {
            self.phase = Phase::Syncing { synced: true };
        }
        opens
    }

    /// Diff opens the sync at this learner's last zxid. Later in the sync
    /// two Diffs anchor the first txn of an epoch: Diff{previous} (this
    /// log must end exactly there), then Diff{that txn's zxid}; only the
    /// message right after them may be that txn.
    fn on_diff(&mut self, node: &Node, zxid: Zxid, anchor: Anchor) -> Flow {
        let last = node.history.last();
        match self.phase {
            Phase::Syncing { synced: false } => {
                if zxid != last {
                    return Flow::StepDown;
                }
                self.open_sync();
                Flow::Stay
            }
            Phase::Syncing { synced: true } => {
                let starts_epoch = zxid.epoch() > last.epoch() && zxid.counter() == 1;
                if zxid == last {
                    self.anchor = Anchor::Previous;
                    Flow::Stay
                } else if starts_epoch && matches!(anchor, Anchor::Previous | Anchor::Next(_)) {
                    // (A repeated Diff{next} is a duplicate and keeps the anchor.)
                    if anchor == Anchor::Previous || anchor == Anchor::Next(zxid) {
                        self.anchor = Anchor::Next(zxid);
                        Flow::Stay
                    } else {
                        Flow::StepDown
                    }
                } else if zxid < last && node.history.contains(zxid) {
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
    /// counters show it; a new epoch may start only with the txn the
    /// leader anchored in the sync stream (`anchored`), or, after NewLeader
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
        if up_to > node.applied {
            let proposals = node.history.range(node.applied, up_to);
            node.applied = up_to;
            actions.push(Action::Apply(proposals));
        }
        node.mark_committed(up_to);
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
            // The current epoch moves only once the synced txns are durable:
            // a crash in between must not leave a server claiming the new
            // epoch with a log missing txns of it (ZOOKEEPER-4643).
            node.epochs.current = self.epoch;
            actions.push(Action::PersistEpochs(node.epochs));
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
