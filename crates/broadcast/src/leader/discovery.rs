//! Leader discovery: pick the new epoch from a quorum's FollowerInfo, then
//! collect a quorum of AckEpoch (`Leader.getEpochToPropose`,
//! `Leader.waitForEpochAck`).

use proto::Zxid;

use super::{Leader, Link, Phase, Stage};
use crate::EPOCH_MAX;
use crate::node::{Flow, Node, send};
use crate::{Action, LearnerType, PeerMessage, ServerId};

impl Leader {
    pub(super) fn on_follower_info(
        &mut self,
        node: &mut Node,
        from: ServerId,
        accepted_epoch: u64,
        actions: &mut Vec<Action>,
    ) -> Flow {
        if accepted_epoch > EPOCH_MAX {
            // No zxid can carry such an epoch: not a real promise.
            return Flow::Stay;
        }
        if self.new_epoch.is_some_and(|new_epoch| accepted_epoch > new_epoch) {
            // The learner promised a newer epoch than this one (another
            // attempt reached it): it can never join, so step down and let
            // the next election pick an epoch everyone can accept.
            return Flow::StepDown;
        }
        // The ensemble configuration, not the packet, says what the sender is.
        let learner_type = if node.is_voter(from) {
            LearnerType::Participant
        } else if node.is_observer(from) {
            LearnerType::Observer
        } else {
            return Flow::Stay;
        };
        if from == node.me() {
            return Flow::Stay;
        }
        // A (re)registering learner restarts its handshake from scratch.
        self.links.insert(
            from,
            Link {
                learner_type,
                stage: Stage::Discovering,
                last_heard: self.ticks,
                acked: Zxid::ZERO,
            },
        );
        self.epoch_ackers.remove(&from);
        self.newleader_ackers.remove(&from);
        for ackers in self.outstanding.values_mut() {
            ackers.remove(&from);
        }
        match self.new_epoch {
            Some(new_epoch) => send(actions, from, PeerMessage::LeaderInfo { new_epoch }),
            None => {
                if learner_type == LearnerType::Participant {
                    self.accepted_epochs.insert(from, accepted_epoch);
                } else {
                    // Observers do not make the quorum, but the new epoch
                    // must be one they can accept too.
                    self.observer_epoch_max = self.observer_epoch_max.max(accepted_epoch);
                }
                self.try_pick_epoch(node, actions);
            }
        }
        Flow::Stay
    }

    /// Once a quorum of voters reported, the new epoch is one past every
    /// epoch any of them accepted.
    pub(super) fn try_pick_epoch(&mut self, node: &mut Node, actions: &mut Vec<Action>) {
        if self.new_epoch.is_some() || !node.is_quorum(self.accepted_epochs.keys()) {
            return;
        }
        let highest = self.accepted_epochs.values().copied().max().unwrap_or(0);
        let highest = highest.max(self.observer_epoch_max);
        let new_epoch = highest.saturating_add(1);
        self.new_epoch = Some(new_epoch);
        self.phase = Phase::AwaitEpochAcks;
        node.epochs.accepted = new_epoch;
        actions.push(Action::PersistEpochs(node.epochs));
        for &id in self.links.keys() {
            send(actions, id, PeerMessage::LeaderInfo { new_epoch });
        }
        // The leader's own state summary trivially does not beat itself.
        self.epoch_ackers.insert(node.me());
        self.try_finish_epoch(node, actions);
    }

    pub(super) fn on_ack_epoch(
        &mut self,
        node: &mut Node,
        from: ServerId,
        current_epoch: u64,
        last_zxid: Zxid,
        actions: &mut Vec<Action>,
    ) -> Flow {
        let Some(link) = self.links.get_mut(&from) else {
            return Flow::Stay;
        };
        if self.new_epoch.is_none() || link.stage != Stage::Discovering {
            return Flow::Stay;
        }
        // A voter of the epoch quorum with a newer history proves this
        // server must not lead. Once the quorum vouched for the epoch, a
        // late learner is just synced (TRUNC drops its extra txns), as
        // `Leader.waitForEpochAck` returns at once after the election.
        if self.phase == Phase::AwaitEpochAcks && (current_epoch, last_zxid) > self.own_summary {
            return Flow::StepDown;
        }
        link.stage = Stage::EpochAcked { last_zxid };
        if link.learner_type == LearnerType::Participant {
            self.epoch_ackers.insert(from);
        }
        if self.phase == Phase::AwaitEpochAcks {
            self.try_finish_epoch(node, actions);
        } else {
            self.sync_learner(node, from, actions);
        }
        Flow::Stay
    }

    /// A quorum accepted the epoch: it becomes this server's current epoch
    /// and every learner that acked is synced.
    fn try_finish_epoch(&mut self, node: &mut Node, actions: &mut Vec<Action>) {
        if self.phase != Phase::AwaitEpochAcks || !node.is_quorum(&self.epoch_ackers) {
            return;
        }
        self.phase = Phase::Syncing;
        self.try_self_ack(node, actions);
        let acked: Vec<ServerId> = self
            .links
            .iter()
            .filter(|(_, link)| matches!(link.stage, Stage::EpochAcked { .. }))
            .map(|(&id, _)| id)
            .collect();
        for id in acked {
            self.sync_learner(node, id, actions);
        }
        self.try_establish(node, actions);
    }

    /// The leader's own NewLeader ack: once its log is durable, the new
    /// epoch becomes its current epoch (not before, as on learners: a crash
    /// must not leave it claiming the epoch with txns missing).
    pub(super) fn try_self_ack(&mut self, node: &mut Node, actions: &mut Vec<Action>) {
        let me = node.me();
        if self.phase != Phase::Syncing || self.newleader_ackers.contains(&me) {
            return;
        }
        let Some(new_epoch) = self.new_epoch else {
            return;
        };
        if node.log_is_durable() {
            node.epochs.current = new_epoch;
            actions.push(Action::PersistEpochs(node.epochs));
            self.newleader_ackers.insert(me);
        }
    }
}
