//! Command-line arguments of `herald bench` and their validation.

use clap::{Args, ValueEnum};
use serde::Serialize;

/// Largest `--value-bytes`: ZooKeeper's default jute.maxbuffer is 1 MiB per packet.
pub const VALUE_BYTES_MAX: usize = 1024 * 1024;
/// Largest `--multi-ops`: ZooKeeper applies a multi as one txn, so it must fit one packet.
pub const MULTI_OPS_MAX: usize = 1_000;
/// Largest `--watchers`: each is a session (or an HTTP stream) of this one process.
pub const WATCHERS_MAX: usize = 10_000;
/// Largest `--connections` × `--window`: one task each.
pub const WORKERS_MAX: usize = 100_000;
/// Run time used when neither `--duration-secs` nor `--ops` is given.
pub const DURATION_SECS_DEFAULT: u64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Create new persistent nodes.
    Create,
    /// Overwrite existing nodes' data.
    SetData,
    /// Read existing nodes.
    GetData,
    /// exists() on existing nodes.
    Exists,
    /// `read_percent`% getData, the rest setData.
    Mixed,
    /// One multi of `--multi-ops` creates (or setData, see `--multi-kind`) per operation.
    Multi,
    /// Open a session, create an ephemeral node, close the session: one operation.
    EphemeralChurn,
    /// `--watchers` sessions watch one node that one writer sets; one operation per
    /// notification, latency from the setData being issued to the watcher being told.
    WatchFanout,
    /// REST: acquire (waiting) and release one of `--locks` locks.
    RestLock,
    /// REST: enqueue, claim and ack one item.
    RestQueue,
    /// REST: set one of `--keys` config keys.
    RestConfig,
    /// REST: `--watchers` SSE subscribers of one config key that one writer sets;
    /// latency from the write being issued to each subscriber seeing it.
    RestConfigStream,
    /// etcd's JSON gateway: lock (with a lease) and unlock one of `--locks` locks.
    EtcdLock,
}

/// Which protocol a workload speaks, and so which target flag it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    ZooKeeper,
    Rest,
    Etcd,
}

impl Workload {
    pub fn family(self) -> Family {
        match self {
            Workload::RestLock
            | Workload::RestQueue
            | Workload::RestConfig
            | Workload::RestConfigStream => Family::Rest,
            Workload::EtcdLock => Family::Etcd,
            _ => Family::ZooKeeper,
        }
    }

    /// The kebab-case name used on the command line and in the JSON summary.
    pub fn name(self) -> String {
        self.to_possible_value().map(|value| value.get_name().to_owned()).unwrap_or_default()
    }
}

/// What each multi of the `multi` workload holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MultiKind {
    /// Creates of new nodes.
    Create,
    /// setData on existing nodes (of `--keys`).
    SetData,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Comma-separated host:port list of the ZooKeeper-protocol servers to drive.
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub servers: String,
    /// Base URL of Herald's REST gateway (rest-* workloads).
    #[arg(long, default_value = "http://127.0.0.1:8181")]
    pub gateway: String,
    /// Base URL of etcd's JSON gateway (etcd-lock).
    #[arg(long, default_value = "http://127.0.0.1:2379")]
    pub etcd: String,
    #[arg(long, value_enum, default_value = "create")]
    pub workload: Workload,
    /// Sessions (TCP connections or HTTP clients) opened.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Requests in flight per connection (ZooKeeper: pipelined on the session; HTTP:
    /// that many workers per connection count).
    #[arg(long, default_value_t = 1)]
    pub window: usize,
    /// Measured run time in seconds (after setup); default 10 unless `--ops` is given.
    #[arg(long)]
    pub duration_secs: Option<u64>,
    /// Stop after this many successful operations in total (and after `--duration-secs`
    /// only if that is given too). Fan-out workloads run whole rounds of `--watchers`
    /// notifications, so they may stop up to `--watchers` - 1 short of it.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Bytes of data written per create/setData (and per REST payload).
    #[arg(long, default_value_t = 100)]
    pub value_bytes: usize,
    /// Nodes (or config keys) read or written by the keyed workloads.
    #[arg(long, default_value_t = 1_000)]
    pub keys: usize,
    /// Share of reads in the mixed workload, in percent.
    #[arg(long, default_value_t = 90)]
    pub read_percent: u32,
    /// Distinct lock names (rest-lock, etcd-lock): 1 = all workers contend on one lock;
    /// as many as workers = uncontended.
    #[arg(long, default_value_t = 1)]
    pub locks: usize,
    /// Watching sessions (watch-fanout) or SSE subscribers (rest-config-stream).
    #[arg(long, default_value_t = 16)]
    pub watchers: usize,
    /// Operations per multi (multi workload).
    #[arg(long, default_value_t = 4)]
    pub multi_ops: usize,
    /// What the multi workload's multis hold.
    #[arg(long, value_enum, default_value = "create")]
    pub multi_kind: MultiKind,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress display on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    #[error("--{flag} must be between {min} and {max}, got {value}")]
    OutOfRange { flag: &'static str, min: u64, max: u64, value: u64 },
    #[error("--connections × --window must be at most {WORKERS_MAX}, got {0}")]
    TooManyWorkers(u64),
}

fn within(flag: &'static str, value: u64, min: u64, max: u64) -> Result<(), ArgsError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ArgsError::OutOfRange { flag, min, max, value })
    }
}

impl BenchArgs {
    /// Checks every bound before anything connects.
    pub fn validate(&self) -> Result<(), ArgsError> {
        let unbounded = u64::MAX;
        within("connections", self.connections as u64, 1, WORKERS_MAX as u64)?;
        within("window", self.window as u64, 1, WORKERS_MAX as u64)?;
        let workers = (self.connections as u64).saturating_mul(self.window as u64);
        if workers > WORKERS_MAX as u64 {
            return Err(ArgsError::TooManyWorkers(workers));
        }
        within("value-bytes", self.value_bytes as u64, 0, VALUE_BYTES_MAX as u64)?;
        within("keys", self.keys as u64, 1, unbounded)?;
        within("read-percent", u64::from(self.read_percent), 0, 100)?;
        within("locks", self.locks as u64, 1, unbounded)?;
        within("watchers", self.watchers as u64, 1, WATCHERS_MAX as u64)?;
        within("multi-ops", self.multi_ops as u64, 1, MULTI_OPS_MAX as u64)?;
        if let Some(ops) = self.ops {
            within("ops", ops, 1, unbounded)?;
        }
        if let Some(secs) = self.duration_secs {
            within("duration-secs", secs, 1, unbounded)?;
        }
        Ok(())
    }

    /// Concurrent workers: `connections × window`.
    pub fn workers(&self) -> usize {
        self.connections * self.window
    }

    /// The time limit: the one given, else the default unless an ops budget stops the run.
    pub fn time_limit_secs(&self) -> Option<u64> {
        match (self.duration_secs, self.ops) {
            (Some(secs), _) => Some(secs),
            (None, Some(_)) => None,
            (None, None) => Some(DURATION_SECS_DEFAULT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(flags: &[&str]) -> BenchArgs {
        Cli::try_parse_from(std::iter::once("bench").chain(flags.iter().copied()))
            .expect("flags parse")
            .args
    }

    #[test]
    fn workload_names_are_kebab_case() {
        assert_eq!(parse(&["--workload", "ephemeral-churn"]).workload, Workload::EphemeralChurn);
        assert_eq!(Workload::RestConfigStream.name(), "rest-config-stream");
        assert_eq!(Workload::EtcdLock.name(), "etcd-lock");
        assert_eq!(serde_json::to_string(&Workload::WatchFanout).unwrap(), "\"watch-fanout\"");
    }

    #[test]
    fn an_ops_budget_lifts_the_default_time_limit() {
        assert_eq!(parse(&[]).time_limit_secs(), Some(DURATION_SECS_DEFAULT));
        assert_eq!(parse(&["--ops", "5"]).time_limit_secs(), None);
        assert_eq!(parse(&["--ops", "5", "--duration-secs", "2"]).time_limit_secs(), Some(2));
    }

    #[test]
    fn bounds_are_checked_at_their_limits() {
        let ok = |flags: &[&str]| parse(flags).validate();
        assert!(ok(&["--multi-ops", &MULTI_OPS_MAX.to_string()]).is_ok());
        assert!(ok(&["--multi-ops", &(MULTI_OPS_MAX + 1).to_string()]).is_err());
        assert!(ok(&["--multi-ops", "0"]).is_err());
        assert!(ok(&["--watchers", &WATCHERS_MAX.to_string()]).is_ok());
        assert!(ok(&["--watchers", &(WATCHERS_MAX + 1).to_string()]).is_err());
        assert!(ok(&["--value-bytes", &VALUE_BYTES_MAX.to_string()]).is_ok());
        assert!(ok(&["--value-bytes", &(VALUE_BYTES_MAX + 1).to_string()]).is_err());
        assert!(ok(&["--read-percent", "100"]).is_ok());
        assert!(ok(&["--read-percent", "101"]).is_err());
        assert!(ok(&["--connections", "0"]).is_err());
        assert!(ok(&["--locks", "0"]).is_err());
        assert!(ok(&["--ops", "0"]).is_err());
        let workers = WORKERS_MAX.to_string();
        assert!(ok(&["--connections", &workers, "--window", "1"]).is_ok());
        assert_eq!(
            ok(&["--connections", &workers, "--window", "2"]),
            Err(ArgsError::TooManyWorkers(2 * WORKERS_MAX as u64))
        );
    }
}
