//! Synchronizing one learner with the leader's history
//! (`LearnerHandler.syncFollower` / `queueCommittedProposals`), and the
//! NewLeader quorum that establishes the leader.

use proto::Zxid;

use super::{Leader, Phase, Stage};
use crate::history::History;
use crate::node::{Node, send};
use crate::{Action, PeerMessage, ServerId};

/// How a learner whose log ends at some zxid is brought to the leader's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncMode {
    /// The learner's last zxid is in the window: send what follows it.
    Diff,
    /// The learner has txns the leader does not: drop everything above this
    /// zxid, then send what follows it.
    Trunc(Zxid),
    /// The learner is older than the window: send a snapshot.
    Snap,
}

pub(crate) fn sync_mode(history: &History, learner_last: Zxid) -> SyncMode {
    let leader_last = history.last();
    if learner_last == leader_last {
        return SyncMode::Diff;
    }
    if learner_last > leader_last {
        return SyncMode::Trunc(leader_last);
    }
    if history.contains(learner_last) {
        return SyncMode::Diff;
    }
    match history.floor(learner_last) {
        // Not in the leader's history: a txn of a dead epoch.
        Some(common) => SyncMode::Trunc(common),
        None => SyncMode::Snap,
    }
}

impl Leader {
    /// Sends `to` everything it lacks, then NewLeader; from here on it gets
    /// every proposal and commit.
    pub(super) fn sync_learner(
        &mut self,
        node: &mut Node,
        to: ServerId,
        actions: &mut Vec<Action>,
    ) {
        let Some(link) = self.links.get_mut(&to) else {
            return;
        };
        let Stage::EpochAcked { last_zxid } = link.stage else {
            return;
        };
        let Some(epoch) = self.new_epoch else {
            return;
        };
        let is_follower = link.is_follower();
        let history = &node.history;
        let leader_last = history.last();
        let sent_from = match sync_mode(history, last_zxid) {
            SyncMode::Diff => {
                send(actions, to, PeerMessage::Diff { last_zxid });
                last_zxid
            }
            SyncMode::Trunc(zxid) => {
                send(actions, to, PeerMessage::Trunc { zxid });
                zxid
            }
            SyncMode::Snap => {
                // The driver snapshots its state machine: everything applied.
                actions.push(Action::SendSnapshot { to });
                node.applied
            }
        };
        // Observers learn only committed txns (before establishment the
        // whole history is what the epoch commits); followers also get the
        // outstanding proposals, which they will ack.
        let serving = self.phase == Phase::Serving;
        let up_to = if is_follower || !serving { leader_last } else { node.committed };
        let mut previous = sent_from;
        for proposal in history.range(sent_from, up_to) {
            let zxid = proposal.zxid;
            if zxid.epoch() != previous.epoch() {
                // A learner cannot tell a lost end of an epoch from a real
                // epoch change: anchor the first txn of each epoch to the
                // zxid it follows, naming both.
                send(actions, to, PeerMessage::Diff { last_zxid: previous });
                send(actions, to, PeerMessage::Diff { last_zxid: zxid });
            }
            previous = zxid;
            send(actions, to, PeerMessage::Proposal(proposal));
            if zxid <= node.committed || !serving {
                // Before establishment the whole history is what the new
                // epoch commits.
                send(actions, to, PeerMessage::Commit { zxid });
            }
        }
        send(actions, to, PeerMessage::NewLeader { epoch, zxid: up_to });
        link.stage = Stage::Synced { target: up_to, acked: false };
    }

    /// A NewLeader ack from `from` (its log is durable up to the sync target).
    pub(super) fn on_newleader_ack(
        &mut self,
        node: &mut Node,
        from: ServerId,
        actions: &mut Vec<Action>,
    ) {
        let Some(link) = self.links.get_mut(&from) else {
            return;
        };
        if self.phase == Phase::Serving {
            link.stage = Stage::UpToDate;
            send(actions, from, PeerMessage::UpToDate);
            return;
        }
        link.stage = match link.stage {
            Stage::Synced { target, .. } => Stage::Synced { target, acked: true },
            other => other,
        };
        if link.is_follower() {
            self.newleader_ackers.insert(from);
        }
        self.try_establish(node, actions);
    }

    /// A quorum (this server included, its log durable) acked NewLeader:
    /// the history is committed and the synced learners may serve.
    pub(super) fn try_establish(&mut self, node: &mut Node, actions: &mut Vec<Action>) {
        let self_acked = self.newleader_ackers.contains(&node.me());
        if self.phase != Phase::Syncing || !self_acked || !node.is_quorum(&self.newleader_ackers) {
            return;
        }
        self.phase = Phase::Serving;
        self.ticks_since_ping = 0;
        node.mark_committed(node.history.last());
        for (&id, link) in self.links.iter_mut() {
            if let Stage::Synced { acked: true, .. } = link.stage {
                link.stage = Stage::UpToDate;
                // Quorum liveness counts from establishment on.
                link.last_heard = self.ticks;
                send(actions, id, PeerMessage::UpToDate);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::Proposal;

    fn window() -> History {
        // base (1,1), entries (1,2) (1,3) (3,1)
        let mut history = History::empty_at(Zxid::new(1, 1), 10);
        for (epoch, counter) in [(1, 2), (1, 3), (3, 1)] {
            history.append(Proposal { zxid: Zxid::new(epoch, counter), txn: Bytes::new() });
        }
        history
    }

    #[test]
    fn equal_last_zxid_is_an_empty_diff() {
        assert_eq!(sync_mode(&window(), Zxid::new(3, 1)), SyncMode::Diff);
    }

    #[test]
    fn known_zxid_in_the_window_is_a_diff_including_the_base() {
        assert_eq!(sync_mode(&window(), Zxid::new(1, 2)), SyncMode::Diff);
        assert_eq!(sync_mode(&window(), Zxid::new(1, 1)), SyncMode::Diff);
    }

    #[test]
    fn ahead_of_the_leader_truncates_to_the_leader_last() {
        assert_eq!(sync_mode(&window(), Zxid::new(3, 5)), SyncMode::Trunc(Zxid::new(3, 1)));
    }

    #[test]
    fn divergent_zxid_truncates_to_the_largest_common_point() {
        assert_eq!(sync_mode(&window(), Zxid::new(2, 4)), SyncMode::Trunc(Zxid::new(1, 3)));
    }

    #[test]
    fn older_than_the_window_or_empty_window_is_a_snapshot() {
        assert_eq!(sync_mode(&window(), Zxid::new(1, 0)), SyncMode::Snap);
        let empty = History::empty_at(Zxid::new(2, 2), 10);
        assert_eq!(sync_mode(&empty, Zxid::new(2, 1)), SyncMode::Snap);
    }
}
