//! A point-in-time view of the node for the operator commands: read from
//! [`ServerStats`] and the configuration once, then rendered as ZooKeeper's
//! four-letter-word text ([`crate::four_letter`]) or AdminServer JSON
//! ([`crate::admin`]), so both surfaces always say the same thing.

use std::path::Path;
use std::sync::atomic::Ordering;

use crate::config::ServerConfig;
use crate::stats::{Mode, ServerStats};

/// The ZooKeeper release whose operator surface Herald reproduces.
pub const ZOOKEEPER_COMPATIBLE_VERSION: &str = "3.8.0";

/// What `srvr`, `mntr` and friends print as the version.
pub fn version() -> String {
    format!(
        "{ZOOKEEPER_COMPATIBLE_VERSION}-herald-{}, built on herald {}",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION")
    )
}

/// One client connection as `cons` and `stat` list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
    pub peer: String,
    pub secure: bool,
    pub queued: i64,
    pub received: u64,
    pub sent: u64,
    /// 0 before the handshake.
    pub session: i64,
    pub established_ms: u64,
}

#[derive(Debug, Clone)]
pub struct NodeStatus {
    pub mode: Mode,
    pub ready: bool,
    pub server_id: u64,
    pub latency_min_ms: u64,
    pub latency_avg_ms: f64,
    pub latency_max_ms: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub outstanding_requests: u64,
    pub last_zxid: i64,
    pub znode_count: u64,
    pub watch_count: u64,
    pub watching_sessions: u64,
    pub watched_paths: u64,
    pub ephemerals_count: u64,
    pub approximate_data_size: u64,
    pub global_sessions: u64,
    pub uptime_ms: u64,
    pub connections_rejected: u64,
    pub quorum_size: u64,
    pub synced_followers: u64,
    pub pending_syncs: u64,
    pub fsync: DurationView,
    pub election: DurationView,
    pub connections: Vec<ConnectionView>,
    /// Session id → watched paths; asked of the processor only for `wchc`.
    pub session_watches: Option<Vec<(i64, Vec<String>)>>,
}

/// min / avg / max / count / sum of a duration series, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationView {
    pub min_ms: u64,
    pub avg_ms: f64,
    pub max_ms: u64,
    pub count: u64,
    pub sum_ms: u64,
}

impl DurationView {
    fn of(stats: &crate::stats::DurationStats) -> DurationView {
        DurationView {
            min_ms: stats.min_ms(),
            avg_ms: stats.avg_ms(),
            max_ms: stats.max_ms(),
            count: stats.count(),
            sum_ms: stats.sum_ms(),
        }
    }
}

impl NodeStatus {
    pub fn read(stats: &ServerStats, config: &ServerConfig) -> NodeStatus {
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        let mut connections: Vec<ConnectionView> = stats
            .connections()
            .iter()
            .map(|connection| ConnectionView {
                peer: connection.peer.to_string(),
                secure: connection.secure,
                queued: connection.outstanding.load(Ordering::Relaxed).max(0),
                received: load(&connection.packets_received),
                sent: load(&connection.packets_sent),
                session: connection.session.load(Ordering::Relaxed),
                established_ms: connection.established_ms,
            })
            .collect();
        connections.sort_by_key(|connection| connection.established_ms);
        NodeStatus {
            mode: stats.mode(),
            ready: stats.is_ready(),
            server_id: config.ensemble.as_ref().map(|ensemble| ensemble.me).unwrap_or(0),
            latency_min_ms: stats.latency.min_ms(),
            latency_avg_ms: stats.latency.avg_ms(),
            latency_max_ms: stats.latency.max_ms(),
            packets_received: load(&stats.packets_received),
            packets_sent: load(&stats.packets_sent),
            outstanding_requests: stats.outstanding_requests.load(Ordering::Relaxed).max(0) as u64,
            last_zxid: stats.tree.last_zxid.load(Ordering::Relaxed),
            znode_count: load(&stats.tree.znode_count),
            watch_count: load(&stats.tree.watch_count),
            watching_sessions: load(&stats.tree.watching_sessions),
            watched_paths: load(&stats.tree.watched_paths),
            ephemerals_count: load(&stats.tree.ephemerals_count),
            approximate_data_size: load(&stats.tree.approximate_data_size),
            global_sessions: load(&stats.tree.global_sessions),
            uptime_ms: stats.uptime().as_millis() as u64,
            connections_rejected: load(&stats.connections_rejected),
            quorum_size: load(&stats.quorum_size),
            synced_followers: load(&stats.synced_followers),
            pending_syncs: load(&stats.pending_syncs),
            fsync: DurationView::of(&stats.fsync),
            election: DurationView::of(&stats.election),
            connections,
            session_watches: None,
        }
    }
}

/// Bytes under `dir`, recursively (what `dirs` reports); 0 if unreadable.
pub fn directory_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => directory_bytes(&entry.path()),
            Ok(metadata) => metadata.len(),
            Err(_) => 0,
        })
        .sum()
}

/// (open, maximum) file descriptors of this process, where the OS says
/// (Linux `/proc`); `mntr` prints them as ZooKeeper does on Unix.
pub fn file_descriptors() -> Option<(u64, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let max = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some((open, max))
}

/// The process environment as `envi` lists it (ZooKeeper's keys where they apply).
pub fn environment() -> Vec<(String, String)> {
    let variable = |name: &str| std::env::var(name).unwrap_or_else(|_| "<NA>".to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| variable("HOSTNAME"));
    let os_version = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|release| release.trim().to_string())
        .unwrap_or_else(|_| "<NA>".to_string());
    let current_dir = std::env::current_dir()
        .map(|dir| dir.display().to_string())
        .unwrap_or_else(|_| "<NA>".to_string());
    vec![
        ("zookeeper.version".to_string(), version()),
        ("host.name".to_string(), host),
        ("herald.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("os.name".to_string(), std::env::consts::OS.to_string()),
        ("os.arch".to_string(), std::env::consts::ARCH.to_string()),
        ("os.version".to_string(), os_version),
        ("user.name".to_string(), variable("USER")),
        ("user.home".to_string(), variable("HOME")),
        ("user.dir".to_string(), current_dir),
        (
            "os.cpus".to_string(),
            std::thread::available_parallelism().map_or(1, usize::from).to_string(),
        ),
        (
            "herald.worker_threads".to_string(),
            tokio::runtime::Handle::try_current().map_or_else(
                |_| "<NA>".to_string(),
                |runtime| runtime.metrics().num_workers().to_string(),
            ),
        ),
    ]
}

/// A float as Java's `Double.toString` prints the values ZooKeeper shows
/// (always a decimal point: `0.0`, `1.5`).
pub fn java_double(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_with_a_decimal_point_as_java_does() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(12.0), "12.0");
        assert_eq!(java_double(0.25), "0.25");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn file_descriptor_counts_come_from_proc() {
        let (open, max) = file_descriptors().expect("linux has /proc");
        // stdin, stdout and stderr at least, and never above the limit.
        assert!(open >= 3 && open <= max, "{open} of {max}");
    }

    #[test]
    fn directory_bytes_sums_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        assert_eq!(directory_bytes(dir.path()), 15);
        assert_eq!(directory_bytes(&dir.path().join("missing")), 0);
    }
}
