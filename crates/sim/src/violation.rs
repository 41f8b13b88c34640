//! What a checker reports when a property breaks, and the seeded,
//! replayable form a run returns.

use std::fmt;

use broadcast::PlantedBug;

/// The properties the simulator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    /// At most one leader establishes itself in each epoch.
    OneLeaderPerEpoch,
    /// Every server's committed txns are a prefix of one total order.
    CommitsFormOneOrder,
    /// A txn is first committed only once a quorum holds it durably.
    CommitNeedsDurableQuorum,
    /// A server applies (as committed) only txns in its own log: applied ≤ logged.
    AppliedWithinLog,
    /// Zxids strictly increase in each server's log and applied state.
    ZxidsIncrease,
    /// Every acknowledged write is in the final committed order.
    AcknowledgedWriteKept,
    /// A session's writes commit in the order it issued them.
    SessionFifo,
    /// A plain read shows a committed state no older than what its session saw.
    ReadsSequentiallyConsistent,
    /// Writes and sync-then-read are linearizable.
    Linearizable,
    /// A watch fires before its client sees any state newer than the change
    /// that triggered it, once, and only for a change after it was left.
    WatchesInOrder,
    /// An ephemeral lives exactly as long as its session.
    EphemeralsFollowSessions,
    /// After the faults stop, every server reaches the same tree.
    Convergence,
    /// After the faults stop, the ensemble acknowledges writes again.
    Progress,
    /// The peer asked for something the driver contract rules out.
    DriverContract,
}

/// A broken invariant, before it is tied to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub invariant: Invariant,
    pub detail: String,
}

impl Broken {
    pub fn new(invariant: Invariant, detail: impl Into<String>) -> Broken {
        Broken { invariant, detail: detail.into() }
    }
}

/// A failed run: what broke, when, and how to replay it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Violation {
    pub seed: u64,
    pub nodes: usize,
    pub planted_bug: Option<PlantedBug>,
    pub tick: u64,
    pub broken: Broken,
}

/// The CLI spelling of a planted bug.
pub fn planted_bug_name(bug: PlantedBug) -> &'static str {
    match bug {
        PlantedBug::AckBeforeFsync => "ack-before-fsync",
        PlantedBug::CommitWithoutQuorum => "commit-without-quorum",
    }
}

impl Violation {
    /// The one-line command that replays this run.
    pub fn replay_command(&self) -> String {
        let bug = self
            .planted_bug
            .map_or_else(String::new, |b| format!(" --planted-bug {}", planted_bug_name(b)));
        format!(
            "cargo run -p sim --release -- --seed {} --nodes {}{bug} --verbose",
            self.seed, self.nodes
        )
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} ({} nodes): {:?} broken at tick {}: {}\nreplay: {}",
            self.seed,
            self.nodes,
            self.broken.invariant,
            self.tick,
            self.broken.detail,
            self.replay_command()
        )
    }
}
