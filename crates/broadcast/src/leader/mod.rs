//! The leader side of ZAB: one [`Leader`] per leadership attempt, from
//! discovery (`discovery.rs`) through per-learner synchronization
//! (`sync.rs`) to broadcast and commit (`broadcast.rs`).

mod broadcast;
mod discovery;
mod sync;

use std::collections::{BTreeMap, BTreeSet};

use proto::Zxid;

use crate::node::{Flow, Node, send};
use crate::{Action, LearnerCounts, LearnerType, PeerMessage, ServerId};

/// Where the leadership attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Collecting FollowerInfo from a quorum to pick the new epoch.
    Discovery,
    /// The new epoch is sent; waiting for a quorum of AckEpoch.
    AwaitEpochAcks,
    /// Learners are being synced; waiting for a quorum of NewLeader acks.
    Syncing,
    /// Established: proposals may be broadcast.
    Serving,
}

/// How far one learner got with this leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// LeaderInfo sent (or owed once the epoch is known).
    Discovering,
    /// AckEpoch received, waiting for the epoch quorum before syncing.
    EpochAcked { last_zxid: Zxid },
    /// Sync sent up to `target`; proposals and commits are forwarded from now on.
    Synced { target: Zxid, acked: bool },
    /// UpToDate sent.
    UpToDate,
}

#[derive(Debug, Clone)]
struct Link {
    learner_type: LearnerType,
    stage: Stage,
    /// The leader's tick count when this learner was last heard from.
    last_heard: u64,
    /// The highest zxid this learner acked (acks are cumulative).
    acked: Zxid,
}

impl Link {
    fn forwarding(&self) -> bool {
        matches!(self.stage, Stage::Synced { .. } | Stage::UpToDate)
    }

    fn is_follower(&self) -> bool {
        self.learner_type == LearnerType::Participant
    }
}

#[derive(Debug)]
pub(crate) struct Leader {
    phase: Phase,
    /// The epoch being established; `None` until a quorum sent FollowerInfo.
    new_epoch: Option<u64>,
    /// The leader's (current epoch, last zxid) when it started: an acker
    /// with a newer history proves this server must not lead.
    own_summary: (u64, Zxid),
    /// Accepted epochs of the voters that sent FollowerInfo, this server included.
    accepted_epochs: BTreeMap<ServerId, u64>,
    /// The highest epoch an observer reported during discovery.
    observer_epoch_max: u64,
    epoch_ackers: BTreeSet<ServerId>,
    newleader_ackers: BTreeSet<ServerId>,
    links: BTreeMap<ServerId, Link>,
    /// Proposals of this epoch awaiting a quorum, with the voters that acked them.
    outstanding: BTreeMap<Zxid, BTreeSet<ServerId>>,
    /// The counter the next proposal gets.
    next_counter: u32,
    /// Set when a proposal found the counter exhausted: the next tick steps down.
    exhausted: bool,
    ticks: u64,
    ticks_since_ping: u32,
}

impl Leader {
    /// Starts discovery with this server's own FollowerInfo counted.
    pub(crate) fn start(node: &mut Node, actions: &mut Vec<Action>) -> Leader {
        let mut leader = Leader {
            phase: Phase::Discovery,
            new_epoch: None,
            own_summary: (node.epochs.current, node.history.last()),
            accepted_epochs: BTreeMap::from([(node.me(), node.epochs.accepted)]),
            observer_epoch_max: 0,
            epoch_ackers: BTreeSet::new(),
            newleader_ackers: BTreeSet::new(),
            links: BTreeMap::new(),
            outstanding: BTreeMap::new(),
            next_counter: 1,
            exhausted: false,
            ticks: 0,
            ticks_since_ping: 0,
        };
        leader.try_pick_epoch(node, actions);
        leader
    }

    /// The epoch this leader establishes, or the last established one while
    /// it is still being picked.
    pub(crate) fn epoch(&self, node: &Node) -> u64 {
        self.new_epoch.unwrap_or(node.epochs.current)
    }

    pub(crate) fn serving(&self) -> bool {
        self.phase == Phase::Serving
    }

    pub(crate) fn learner_counts(&self) -> LearnerCounts {
        let mut counts = LearnerCounts::default();
        for link in self.links.values() {
            match link.stage {
                Stage::UpToDate if link.is_follower() => counts.synced_followers += 1,
                Stage::UpToDate => {}
                _ => counts.pending_syncs += 1,
            }
        }
        counts
    }

    pub(crate) fn handle(
        &mut self,
        node: &mut Node,
        from: ServerId,
        message: PeerMessage,
        actions: &mut Vec<Action>,
    ) -> Flow {
        if let Some(link) = self.links.get_mut(&from) {
            link.last_heard = self.ticks;
        }
        match message {
            PeerMessage::FollowerInfo { accepted_epoch, .. } => {
                self.on_follower_info(node, from, accepted_epoch, actions)
            }
            PeerMessage::AckEpoch { current_epoch, last_zxid } => {
                self.on_ack_epoch(node, from, current_epoch, last_zxid, actions)
            }
            PeerMessage::Ack { zxid } => {
                self.on_ack(node, from, zxid, actions);
                Flow::Stay
            }
            // Liveness only: `last_heard` is already updated.
            PeerMessage::PingReply => Flow::Stay,
            // Leader-to-learner packets or election traffic: not for a leader.
            _ => Flow::Stay,
        }
    }

    pub(crate) fn tick(&mut self, node: &mut Node, actions: &mut Vec<Action>) -> Flow {
        self.ticks += 1;
        if self.exhausted {
            return Flow::StepDown;
        }
        if self.phase != Phase::Serving {
            let limit = u64::from(node.config.init_limit_ticks);
            return if self.ticks >= limit { Flow::StepDown } else { Flow::Stay };
        }
        if !self.has_live_quorum(node) {
            return Flow::StepDown;
        }
        self.ticks_since_ping += 1;
        if self.ticks_since_ping >= node.config.ping_interval_ticks {
            self.ticks_since_ping = 0;
            for (&id, link) in &self.links {
                if link.forwarding() {
                    send(actions, id, PeerMessage::Ping { committed: node.committed });
                }
            }
        }
        Flow::Stay
    }

    /// True while this server plus the voters heard within the sync limit
    /// form a quorum. A follower that is re-registering counts: it was just
    /// heard and will be synced again within a round trip, so it is no
    /// reason to abandon the epoch.
    fn has_live_quorum(&self, node: &Node) -> bool {
        let limit = u64::from(node.config.sync_limit_ticks);
        let me = node.me();
        let live = self
            .links
            .iter()
            .filter(|(_, link)| link.is_follower() && self.ticks - link.last_heard < limit)
            .map(|(id, _)| id);
        node.is_quorum(std::iter::once(&me).chain(live))
    }

    pub(crate) fn on_append_done(&mut self, node: &mut Node, actions: &mut Vec<Action>) {
        self.try_self_ack(node, actions);
        self.try_establish(node, actions);
        self.try_commit(node, actions);
    }
}
