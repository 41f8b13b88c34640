//! ZAB atomic broadcast, as ZooKeeper runs it (`Leader`, `LearnerHandler`,
//! `Follower`, `Observer`), composed with fast leader election into one
//! [`Peer`]: the whole replication brain of a node, with no sockets, no disk
//! and no clock. The driver (the server, or the simulator) feeds it inputs
//! and carries out the [`Action`]s it returns, strictly in order.
//!
//! API CONTRACT (shared with `server` and `sim`): the public types and
//! signatures in this file and [`Peer`]'s methods are what other crates code
//! against; a signature changes only together with its callers. Storage
//! traits (`TxnLog`, `SnapshotStore`) and their conformance suite live in
//! the `storage` crate; the driver owns them.
//!
//! Driver obligations, in short (details on [`Action`]):
//! - call [`Peer::start`] once, [`Peer::tick`] once per tick, and
//!   [`Peer::handle_message`] for each delivered message (one ordered stream
//!   per pair of servers; loss and duplication are survivable);
//! - carry out the returned actions strictly in order; `Append` may complete
//!   later: call [`Peer::on_append_done`] with the last zxid of each durable
//!   batch (cumulative, group commit is fine);
//! - [`Peer::propose`] only while the role is `Leading { serving: true }`.
//!
//! Module map:
//! - `peer`: [`Peer`], election + role switching and `RoleChanged` reports;
//! - `leader/`: discovery (new epoch), per-learner sync (DIFF/TRUNC/SNAP,
//!   NewLeader quorum), broadcast (zxids, acks, in-order commit), pings;
//! - `learner`: follower and observer (register, sync, ack, apply);
//! - `history`: the in-memory log window used for DIFF and for applying;
//! - `node`: state all roles share (epochs, durable/committed/applied zxids);
//! - `config`: `PeerConfig::validate` and [`ConfigError`].

mod config;
mod history;
mod leader;
mod learner;
mod node;
mod peer;

use bytes::Bytes;
pub use election_core::{
    ElectionConfig, LearnerType, Notification, PeerState, QuorumConfig, ServerId, Vote,
};
use proto::Zxid;
use serde::{Deserialize, Serialize};

pub use config::ConfigError;
pub use peer::Peer;

/// One txn as ZAB carries it: its zxid and the encoded state-machine txn,
/// opaque to this crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub zxid: Zxid,
    pub txn: Bytes,
}

/// A leader's view of its learners, for operators (`synced_followers`,
/// `pending_syncs`). Counts only learners this leader currently has a link to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LearnerCounts {
    /// Voting followers that finished sync (UpToDate sent): in the broadcast phase.
    pub synced_followers: u64,
    /// Learners (followers and observers) registered but not yet up to date.
    pub pending_syncs: u64,
}

/// The epochs ZAB keeps durable (ZooKeeper's `acceptedEpoch` and `currentEpoch` files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Epochs {
    /// The highest epoch this server promised (NEWEPOCH/LEADERINFO accepted).
    pub accepted: u64,
    /// The epoch of the last leader this server synced with (NEWLEADER acked).
    pub current: u64,
}

/// Everything a peer sends another peer: election notifications and ZAB's
/// quorum packets. The driver frames and delivers these; loss, delay and
/// duplication are survivable, reordering within one connection is not
/// expected (the driver uses one ordered stream per pair, as TCP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerMessage {
    Election(Notification),
    /// Learner → leader, discovery: "I accepted up to this epoch, my log ends here".
    FollowerInfo {
        accepted_epoch: u64,
        last_zxid: Zxid,
        learner_type: LearnerType,
    },
    /// Leader → learner: the new epoch (NEWEPOCH / LEADERINFO).
    LeaderInfo {
        new_epoch: u64,
    },
    /// Learner → leader: epoch accepted; carries the learner's current epoch and last zxid.
    AckEpoch {
        current_epoch: u64,
        last_zxid: Zxid,
    },
    /// Leader → learner, synchronization (DIFF): proposal/commit pairs
    /// follow, continuing right after `last_zxid` (the learner's last zxid).
    /// Later in the same sync, two Diffs anchor the first txn of each epoch:
    /// `Diff{the zxid before it}` then `Diff{its zxid}`, so a learner can
    /// tell a lost end of an epoch from an epoch change.
    Diff {
        last_zxid: Zxid,
    },
    /// Leader → learner: drop every logged txn above `zxid`, then proposals may follow.
    Trunc {
        zxid: Zxid,
    },
    /// Leader → learner: replace the whole state by this snapshot taken at `zxid`.
    Snap {
        zxid: Zxid,
        snapshot: Bytes,
    },
    /// Leader → learner: synchronization is sent; ack once it is durable.
    /// `zxid` is the last zxid the sync brings the learner to (ZooKeeper
    /// sends `epoch << 32` here): a learner whose log does not end there
    /// lost part of the sync and returns to election instead of acking.
    NewLeader {
        epoch: u64,
        zxid: Zxid,
    },
    /// Leader → learner: a quorum synced; start serving.
    UpToDate,
    Proposal(Proposal),
    /// Learner → leader: every proposal up to `zxid` is durable here (ACK after fsync).
    Ack {
        zxid: Zxid,
    },
    Commit {
        zxid: Zxid,
    },
    /// Leader → observer: a committed proposal (observers never ACK).
    Inform(Proposal),
    /// Leader → learner liveness; the learner answers with `PingReply`.
    Ping {
        committed: Zxid,
    },
    PingReply,
}

/// The role of this peer right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Looking,
    /// Following `leader`; `serving` once UPTODATE arrived.
    Following {
        leader: ServerId,
        epoch: u64,
        serving: bool,
    },
    /// Leading `epoch`; `serving` once a quorum acked NEWLEADER.
    Leading {
        epoch: u64,
        serving: bool,
    },
    Observing {
        leader: ServerId,
        epoch: u64,
        serving: bool,
    },
}

/// Timing and sizing, all in ticks of the driver's clock.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    pub election: ElectionConfig,
    /// Ticks between the leader's pings.
    pub ping_interval_ticks: u32,
    /// A leader that has not heard a quorum of synced followers for this long
    /// steps down; a follower that has not heard its leader for this long
    /// returns to election (ZooKeeper's `syncLimit`).
    pub sync_limit_ticks: u32,
    /// How long discovery and synchronization may take (`initLimit`).
    pub init_limit_ticks: u32,
    /// Ticks between a learner's FollowerInfo resends until its leader answers.
    /// Short, because the learner often decides its election a moment before
    /// the leader does, and the leader drops what reaches it while looking:
    /// the resend is what starts the new epoch after a failover.
    pub discovery_resend_ticks: u32,
    /// Committed proposals the leader keeps in memory to sync learners by
    /// DIFF; older gaps are synced by SNAP.
    pub committed_log_max: usize,
    /// The largest counter a zxid may carry before the epoch must change
    /// (`u32::MAX` outside tests, which lower it to reach exhaustion).
    pub zxid_counter_max: u32,
    /// Test-only: a deliberate protocol bug, so the simulator can prove its
    /// checkers catch it. Always `None` outside those tests.
    pub planted_bug: Option<PlantedBug>,
}

/// The largest epoch a zxid can carry (its high 32 bits); epochs above it
/// in peer messages are ignored.
pub const EPOCH_MAX: u64 = u32::MAX as u64;

/// Defaults (in driver ticks; the server uses 10 ms ticks).
pub const PING_INTERVAL_TICKS_DEFAULT: u32 = 10;
pub const SYNC_LIMIT_TICKS_DEFAULT: u32 = 50;
/// 10 s at the server's 10 ms tick (ZooKeeper's default is 20 s): a learner
/// synced by SNAP receives, decodes and durably installs the whole tree
/// within it, which takes seconds for hundreds of thousands of znodes.
pub const INIT_LIMIT_TICKS_DEFAULT: u32 = 1_000;
pub const DISCOVERY_RESEND_TICKS_DEFAULT: u32 = 1;
pub const COMMITTED_LOG_MAX_DEFAULT: usize = 10_000;

impl PeerConfig {
    /// The defaults above around `election`; construct with this and
    /// override fields, so new fields do not break callers.
    pub fn new(election: ElectionConfig) -> PeerConfig {
        PeerConfig {
            election,
            ping_interval_ticks: PING_INTERVAL_TICKS_DEFAULT,
            sync_limit_ticks: SYNC_LIMIT_TICKS_DEFAULT,
            init_limit_ticks: INIT_LIMIT_TICKS_DEFAULT,
            discovery_resend_ticks: DISCOVERY_RESEND_TICKS_DEFAULT,
            committed_log_max: COMMITTED_LOG_MAX_DEFAULT,
            zxid_counter_max: u32::MAX,
            planted_bug: None,
        }
    }
}

/// Deliberate bugs the simulator's planted-bug tests switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedBug {
    /// Followers ACK a proposal when they receive it, before it is durable.
    AckBeforeFsync,
    /// The leader commits a proposal as soon as its own copy is durable,
    /// without waiting for a quorum.
    CommitWithoutQuorum,
}

/// What this peer recovered from its disk at start.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    pub epochs: Epochs,
    /// The newest logged zxid (snapshot zxid if the log is empty).
    pub last_logged_zxid: Zxid,
    /// The most recent logged proposals, oldest first (at most
    /// `committed_log_max`), so a new leader can sync learners by DIFF.
    pub recent_proposals: Vec<Proposal>,
    /// The zxid of the newest snapshot on disk (zero if none): the log
    /// cannot be cut back below it.
    pub snapshot_zxid: Zxid,
}

/// What the driver must do, in order. Each action completes before the next
/// runs, except `Append`, whose fsync completion is reported later through
/// [`Peer::on_append_done`].
///
/// The driver's state machine is always "snapshot + a prefix of the log":
/// - at start it has applied its whole log (recovery replays it), so
///   `Recovered::last_logged_zxid` is also the last applied zxid;
/// - `Apply` carries only proposals appended since (never one already in
///   the recovered log);
/// - on `RoleChanged(Role::Looking)` the driver fast-forwards: it applies
///   every logged txn not yet applied (ZooKeeper's `fastForwardDataBase`), so
///   its state again equals snapshot + whole log; a later `Truncate` or
///   `InstallSnapshot` corrects it if the new leader's history differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        to: ServerId,
        message: PeerMessage,
    },
    /// Make these epochs durable (fsync) before carrying out the next action.
    PersistEpochs(Epochs),
    /// Append to the txn log, in order, after everything appended before;
    /// report durability with `on_append_done` (group commit is fine).
    Append(Vec<Proposal>),
    /// Remove every logged txn above `zxid`; the state machine must be rebuilt
    /// from the snapshot and the remaining log before the next `Apply`.
    Truncate {
        zxid: Zxid,
    },
    /// Replace the state machine and the log with this snapshot.
    InstallSnapshot {
        zxid: Zxid,
        snapshot: Bytes,
    },
    /// Discard the state machine, every snapshot and the whole log (the
    /// epochs stay): the member starts again from the empty state at zxid
    /// zero, before the next action. A new leader cut the history back below
    /// a snapshot this member installed from a leader that never got
    /// established, and a snapshot cannot be cut into.
    Reset,
    /// Send learner `to` a `PeerMessage::Snap` of the state machine as of the
    /// last applied (= committed) zxid, before any later `Send` to `to`.
    SendSnapshot {
        to: ServerId,
    },
    /// These proposals are committed: apply them to the state machine, in order.
    Apply(Vec<Proposal>),
    /// The role changed (a driver closes client sessions while not serving).
    RoleChanged(Role),
}

/// Why a proposal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposeError {
    /// Not the serving leader.
    NotLeader,
    /// The epoch's zxid counter is exhausted; the leader steps down so that a
    /// new epoch starts.
    EpochExhausted,
}

#[cfg(test)]
mod tests;
