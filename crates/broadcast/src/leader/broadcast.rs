//! Broadcast: assigning zxids, counting acks, committing in zxid order
//! (`Leader.propose`, `Leader.processAck`, `Leader.tryToCommit`).

use std::ops::Bound;

use bytes::Bytes;
use proto::Zxid;

use super::{Leader, Phase, Stage};
use crate::node::{Node, send};
use crate::{Action, PeerMessage, PlantedBug, Proposal, ProposeError, ServerId};

impl Leader {
    /// The zxid the next proposal gets, if the counter is not exhausted.
    pub(crate) fn next_zxid(&self, node: &Node) -> Option<Zxid> {
        if self.phase != Phase::Serving || self.next_counter > node.config.zxid_counter_max {
            return None;
        }
        let epoch = u32::try_from(self.epoch(node)).ok()?;
        Some(Zxid::new(epoch, self.next_counter))
    }

    pub(crate) fn propose(
        &mut self,
        node: &mut Node,
        txn: Bytes,
    ) -> Result<(Zxid, Vec<Action>), ProposeError> {
        if self.phase != Phase::Serving {
            return Err(ProposeError::NotLeader);
        }
        let Some(zxid) = self.next_zxid(node) else {
            // Steps down at the next tick, so a new epoch starts.
            self.exhausted = true;
            return Err(ProposeError::EpochExhausted);
        };
        self.next_counter += 1;
        let proposal = Proposal { zxid, txn };
        node.history.append(proposal.clone());
        self.outstanding.insert(zxid, Default::default());
        let mut actions = vec![Action::Append(vec![proposal.clone()])];
        for (&id, link) in &self.links {
            if link.is_follower() && link.forwarding() {
                send(&mut actions, id, PeerMessage::Proposal(proposal.clone()));
            }
        }
        Ok((zxid, actions))
    }

    pub(super) fn on_ack(
        &mut self,
        node: &mut Node,
        from: ServerId,
        zxid: Zxid,
        actions: &mut Vec<Action>,
    ) {
        let Some(link) = self.links.get(&from) else {
            return;
        };
        if let Stage::Synced { target, acked: false } = link.stage
            && zxid >= target
        {
            self.on_newleader_ack(node, from, actions);
        }
        let Some(link) = self.links.get_mut(&from) else {
            return;
        };
        if !(link.is_follower() && link.forwarding()) || zxid <= link.acked {
            return;
        }
        // Acks are cumulative: the follower's log is durable up to `zxid`;
        // only what this ack adds is visited.
        let newly_acked = (Bound::Excluded(link.acked), Bound::Included(zxid));
        link.acked = zxid;
        for (_, ackers) in self.outstanding.range_mut(newly_acked) {
            ackers.insert(from);
        }
        self.try_commit(node, actions);
    }

    /// Commits outstanding proposals from the oldest on, stopping at the
    /// first one without a quorum: commits never skip ahead.
    pub(super) fn try_commit(&mut self, node: &mut Node, actions: &mut Vec<Action>) {
        let me = node.me();
        let mut committed = Vec::new();
        while let Some(entry) = self.outstanding.first_entry() {
            let zxid = *entry.key();
            let durable_here = node.durable >= zxid;
            // The leader's own copy counts once it is durable.
            let own = durable_here.then_some(&me);
            let acked = match node.config.planted_bug {
                Some(PlantedBug::CommitWithoutQuorum) => durable_here,
                _ => node.is_quorum(entry.get().iter().chain(own)),
            };
            if !acked {
                break;
            }
            entry.remove();
            committed.push(zxid);
        }
        let Some(&last) = committed.last() else {
            return;
        };
        let proposals = node.history.range(node.committed, last);
        for (&id, link) in &self.links {
            if !link.forwarding() {
                continue;
            }
            if link.is_follower() {
                // A follower commits everything up to the zxid it is told
                // (it has logged all of it, in order), so one message
                // covers the whole run: under load a quorum round commits
                // a group of proposals, and a Commit each would cost every
                // follower a message per write.
                send(actions, id, PeerMessage::Commit { zxid: last });
            } else {
                // Observers never saw the proposals: each goes out whole.
                for proposal in &proposals {
                    send(actions, id, PeerMessage::Inform(proposal.clone()));
                }
            }
        }
        node.applied = last;
        node.mark_committed(last);
        actions.push(Action::Apply(proposals));
    }
}
