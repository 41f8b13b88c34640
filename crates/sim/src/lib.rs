//! A deterministic simulator of a whole Herald ensemble: the real
//! `broadcast::Peer` and `datatree::DataTree` of 3 or 5 servers, driven over
//! a simulated network and simulated disks, with crashes, restarts,
//! partitions, lost fsyncs and seeded client workloads. Everything random
//! comes from one seed, so any failure replays from its seed.
//!
//! Module map:
//! - `rng`: the seeded generator; `fingerprint`: a stable hash;
//! - `network`: per-pair FIFO links with delay, loss, duplication, partitions;
//! - `disk`: durable prefix + unsynced tail, fsync delay, crash and torn writes;
//! - `wire`: sim-level messages and the byte layouts inside opaque fields;
//! - `node`: one server (Peer + DataTree + disk + client request flow);
//! - `workload`: seeded clients; `faults`: the fault schedule;
//! - `history`: client invocations and responses in logical time;
//! - `checker/`: one file per property, plus the linearizability checker;
//! - `cluster`: the step loop with the online checks;
//! - `violation`: what broke, and the command that replays it;
//! - this file: [`Options`], [`run`] and its [`Summary`].

pub mod checker;
pub mod cluster;
pub mod disk;
pub mod faults;
mod fingerprint;
pub mod history;
pub mod network;
pub mod node;
pub mod rng;
pub mod violation;
pub mod wire;
pub mod workload;

pub use broadcast::PlantedBug;
pub use violation::{Broken, Invariant, Violation, planted_bug_name};

use checker::linearizability::{self, Verdict};
use cluster::Cluster;
use disk::DiskConfig;
use faults::FaultConfig;
use history::Outcome;
use network::NetworkConfig;
use workload::WorkloadConfig;

/// Everything a run is configured by, besides its seed.
#[derive(Debug, Clone)]
pub struct Options {
    pub nodes: usize,
    /// Ticks with faults injected.
    pub fault_ticks: u64,
    /// Ticks after the faults stop during which clients keep working (the
    /// ensemble must acknowledge a write again within them).
    pub settle_ticks: u64,
    /// After clients stop: how long the ensemble may take to converge.
    pub quiesce_ticks_max: u64,
    /// Small, so that lagging servers are also synced by snapshot.
    pub committed_log_max: usize,
    pub network: NetworkConfig,
    pub disk: DiskConfig,
    pub faults: FaultConfig,
    pub workload: WorkloadConfig,
    pub planted_bug: Option<PlantedBug>,
    /// Check at each first commit that a quorum holds the txn durably. Off,
    /// only client-visible and end-state checks remain (to show those catch
    /// the planted bugs on their own).
    pub check_commit_quorum: bool,
    /// Print a trace of faults, roles, messages, client requests and the
    /// client history to stderr as the run goes.
    pub verbose: bool,
}

impl Options {
    /// The standard mix for `nodes` servers (3 or 5).
    pub fn standard(nodes: usize) -> Options {
        Options {
            nodes,
            fault_ticks: 400,
            settle_ticks: 200,
            quiesce_ticks_max: 600,
            committed_log_max: 20,
            network: NetworkConfig {
                delay_ticks_min: 1,
                delay_ticks_max: 3,
                loss_per_mille: 1,
                duplicate_per_mille: 5,
                // Above the followers' sync limit (15), so both ends notice.
                broken_link_ticks: 25,
            },
            disk: DiskConfig { fsync_ticks_min: 1, fsync_ticks_max: 4 },
            faults: FaultConfig {
                crash_per_mille: 8,
                restart_per_mille: 30,
                torn_write_per_mille: 300,
                partition_per_mille: 8,
                one_way_per_mille: 300,
                heal_per_mille: 25,
                drop_connection_per_mille: 10,
            },
            workload: WorkloadConfig {
                clients: nodes + 1,
                keys: 3,
                issue_per_mille: 300,
                request_timeout_ticks: 40,
            },
            planted_bug: None,
            check_commit_quorum: true,
            verbose: false,
        }
    }
}

impl Options {
    /// Frequent crashes and slow fsyncs: many acknowledged-but-unsynced
    /// windows, so durability bugs show up in what clients see.
    pub fn crash_heavy(nodes: usize) -> Options {
        let mut options = Options::standard(nodes);
        options.disk.fsync_ticks_max = 15;
        options.faults.crash_per_mille = 20;
        // Slow fsyncs and one write in flight at the leader make a queue of
        // writes slow: clients wait longer before giving up.
        options.workload.request_timeout_ticks = 120;
        options
    }
}

/// What a passing run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub seed: u64,
    pub ticks: u64,
    pub operations: usize,
    pub acknowledged_writes: usize,
    pub commits: usize,
    pub epochs: usize,
    pub faults: usize,
    /// Paths whose linearizability search ran out of budget.
    pub inconclusive_paths: usize,
    /// A hash of the whole client history: equal for equal seeds.
    pub history_fingerprint: u64,
}

/// Runs one seeded history and checks every property.
pub fn run(seed: u64, options: &Options) -> Result<Summary, Box<Violation>> {
    let mut cluster: Option<Cluster> = None;
    let result = run_checked(seed, options, &mut cluster);
    let tick = cluster.as_ref().map_or(0, |c| c.now);
    result.map_err(|broken| {
        Box::new(Violation {
            seed,
            nodes: options.nodes,
            planted_bug: options.planted_bug,
            tick,
            broken,
        })
    })
}

fn run_checked(
    seed: u64,
    options: &Options,
    slot: &mut Option<Cluster>,
) -> Result<Summary, Broken> {
    let cluster = slot.insert(Cluster::new(seed, options)?);
    for _ in 0..options.fault_ticks {
        cluster.tick(true)?;
    }
    cluster.heal_all()?;
    let healed_at = cluster.history.events.len();
    for _ in 0..options.settle_ticks {
        cluster.tick(false)?;
    }
    cluster.clients_active = false;
    let mut waited = 0;
    while !(cluster.clients_idle() && cluster.converged()) {
        if waited == options.quiesce_ticks_max {
            if let Some(lost) = cluster.lost_commits() {
                return Err(lost);
            }
            return Err(Broken::new(
                Invariant::Convergence,
                format!(
                    "not converged {waited} ticks after the faults stopped: {}",
                    cluster.describe()
                ),
            ));
        }
        cluster.tick(false)?;
        waited += 1;
    }
    cluster.check_digests()?;
    cluster.check_ephemerals()?;
    if options.verbose {
        for (index, event) in cluster.history.events.iter().enumerate() {
            eprintln!("op {index}: {event:?}");
        }
    }
    let progressed = cluster.history.events[healed_at..]
        .iter()
        .any(|e| e.op.is_write() && matches!(e.outcome, Outcome::Returned { .. }));
    if !progressed {
        return Err(Broken::new(
            Invariant::Progress,
            format!(
                "no write was answered in the {} ticks after the faults stopped: {}",
                options.settle_ticks,
                cluster.describe()
            ),
        ));
    }
    checker::sessions::check(&cluster.history.events, &cluster.commits)?;
    checker::watches::check(&cluster.watch_logs(), &cluster.commits)?;
    let (verdict, inconclusive_paths) = linearizability::check(&cluster.history.events);
    if let Verdict::Violated(why) = verdict {
        return Err(Broken::new(Invariant::Linearizable, why));
    }
    Ok(Summary {
        seed,
        ticks: cluster.now,
        operations: cluster.history.events.len(),
        acknowledged_writes: cluster.history.acknowledged_writes(),
        commits: cluster.commits.order.len(),
        epochs: cluster.leaders.epochs(),
        faults: cluster.faults_injected,
        inconclusive_paths,
        history_fingerprint: cluster.history.fingerprint(),
    })
}
