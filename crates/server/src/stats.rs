//! The node's live counters, shared by every task as one `Arc<ServerStats>`.
//!
//! Connections, the processor and the durability thread bump atomics at a
//! handful of points; the four-letter words, the admin commands and the
//! OpenTelemetry instruments (see [`crate::metrics`]) only read them, so
//! nothing here sits on a request's path longer than an atomic add.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::metrics::Metrics;

/// What this node is doing in its ensemble, as ZooKeeper's `server_state` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    Leader,
    Follower,
    Observer,
    /// Electing a leader: not serving clients.
    Looking,
}

impl Mode {
    /// ZooKeeper's spelling, as printed by `srvr` and `mntr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
            Mode::Looking => "looking",
        }
    }

    pub const ALL: [Mode; 5] =
        [Mode::Standalone, Mode::Leader, Mode::Follower, Mode::Observer, Mode::Looking];

    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(code: u8) -> Mode {
        Mode::ALL.get(code as usize).copied().unwrap_or(Mode::Looking)
    }
}

/// Running min / max / sum / count of a duration, in microseconds.
#[derive(Debug)]
pub struct DurationStats {
    min_us: AtomicU64,
    max_us: AtomicU64,
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Default for DurationStats {
    fn default() -> Self {
        DurationStats {
            min_us: AtomicU64::new(u64::MAX),
            max_us: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl DurationStats {
    fn record(&self, elapsed: Duration) {
        let us = elapsed.as_micros().min(u64::MAX as u128) as u64;
        self.min_us.fetch_min(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Whole milliseconds, as ZooKeeper reports min latency (0 before any sample).
    pub fn min_ms(&self) -> u64 {
        match self.min_us.load(Ordering::Relaxed) {
            u64::MAX => 0,
            us => us / 1_000,
        }
    }

    pub fn max_ms(&self) -> u64 {
        self.max_us.load(Ordering::Relaxed) / 1_000
    }

    pub fn avg_ms(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            count => self.sum_us.load(Ordering::Relaxed) as f64 / count as f64 / 1_000.0,
        }
    }

    pub fn sum_ms(&self) -> u64 {
        self.sum_us.load(Ordering::Relaxed) / 1_000
    }
}

/// One live client connection, as `cons` lists it.
#[derive(Debug)]
pub struct ConnectionStats {
    pub peer: SocketAddr,
    /// Came in on the TLS port.
    pub secure: bool,
    /// Wall-clock milliseconds when it was accepted.
    pub established_ms: u64,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub outstanding: AtomicI64,
    /// 0 until the handshake attached a session.
    pub session: AtomicI64,
}

/// Keeps a connection listed while alive; dropping it unlists the connection.
pub struct ConnectionRegistration {
    stats: Arc<ServerStats>,
    id: u64,
    pub connection: Arc<ConnectionStats>,
}

impl ConnectionRegistration {
    pub(crate) fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// The counters for the connection's writer task.
    pub(crate) fn clone_handle(&self) -> ConnectionCounters {
        ConnectionCounters { stats: self.stats.clone(), connection: self.connection.clone() }
    }

    pub(crate) fn packet_received(&self) {
        self.stats.packets_received.fetch_add(1, Ordering::Relaxed);
        self.connection.packets_received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn request_started(&self) {
        self.stats.outstanding_requests.fetch_add(1, Ordering::Relaxed);
        self.connection.outstanding.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for ConnectionRegistration {
    fn drop(&mut self) {
        // Requests that die with their connection are no longer outstanding.
        let unanswered = self.connection.outstanding.swap(0, Ordering::Relaxed);
        self.stats.outstanding_requests.fetch_sub(unanswered, Ordering::Relaxed);
        self.stats.connections.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

/// What a connection's writer updates as replies leave.
pub(crate) struct ConnectionCounters {
    stats: Arc<ServerStats>,
    connection: Arc<ConnectionStats>,
}

impl ConnectionCounters {
    pub(crate) fn packet_sent(&self) {
        self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
        self.connection.packets_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A request's reply was written `latency` after it arrived.
    pub(crate) fn request_answered(&self, latency: Option<Duration>) {
        // Never below zero: the registration may already have written it off.
        if self
            .connection
            .outstanding
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n > 0).then(|| n - 1))
            .is_ok()
        {
            self.stats.outstanding_requests.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(latency) = latency {
            self.stats.record_latency(latency);
        }
    }
}

/// Counts the data tree publishes after each batch the processor handles.
#[derive(Debug, Default)]
pub struct TreeStats {
    pub znode_count: AtomicU64,
    pub watch_count: AtomicU64,
    pub watching_sessions: AtomicU64,
    pub watched_paths: AtomicU64,
    pub ephemerals_count: AtomicU64,
    pub approximate_data_size: AtomicU64,
    pub global_sessions: AtomicU64,
    pub last_zxid: AtomicI64,
}

pub struct ServerStats {
    started: Instant,
    mode: AtomicU8,
    /// Set once the client listeners accept connections.
    serving: AtomicBool,
    pub quorum_size: AtomicU64,
    pub synced_followers: AtomicU64,
    pub pending_syncs: AtomicU64,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub outstanding_requests: AtomicI64,
    pub connections_rejected: AtomicU64,
    pub latency: DurationStats,
    pub fsync: DurationStats,
    pub election: DurationStats,
    pub tree: TreeStats,
    connections: Mutex<BTreeMap<u64, Arc<ConnectionStats>>>,
    metrics: Metrics,
}

impl std::fmt::Debug for ServerStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStats").field("mode", &self.mode()).finish_non_exhaustive()
    }
}

impl ServerStats {
    /// Fresh counters in `Looking` mode, with their OpenTelemetry instruments.
    pub fn new() -> Arc<ServerStats> {
        Arc::new_cyclic(|weak| ServerStats {
            started: Instant::now(),
            mode: AtomicU8::new(Mode::Looking.code()),
            serving: AtomicBool::new(false),
            quorum_size: AtomicU64::new(0),
            synced_followers: AtomicU64::new(0),
            pending_syncs: AtomicU64::new(0),
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            outstanding_requests: AtomicI64::new(0),
            connections_rejected: AtomicU64::new(0),
            latency: DurationStats::default(),
            fsync: DurationStats::default(),
            election: DurationStats::default(),
            tree: TreeStats::default(),
            connections: Mutex::new(BTreeMap::new()),
            metrics: Metrics::new(weak.clone()),
        })
    }

    pub fn mode(&self) -> Mode {
        Mode::from_code(self.mode.load(Ordering::Relaxed))
    }

    /// Set by whoever decides the node's role (standalone start, election, sync).
    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode.code(), Ordering::Relaxed);
    }

    pub fn set_synced_followers(&self, followers: u64) {
        self.synced_followers.store(followers, Ordering::Relaxed);
    }

    pub fn set_quorum_size(&self, voters: u64) {
        self.quorum_size.store(voters, Ordering::Relaxed);
    }

    pub fn set_pending_syncs(&self, syncs: u64) {
        self.pending_syncs.store(syncs, Ordering::Relaxed);
    }

    pub(crate) fn set_serving(&self) {
        self.serving.store(true, Ordering::Relaxed);
    }

    /// Ready for clients: listening, and either standalone or in a synced quorum.
    pub fn is_ready(&self) -> bool {
        self.serving.load(Ordering::Relaxed) && self.mode() != Mode::Looking
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn record_election(&self, elapsed: Duration) {
        self.election.record(elapsed);
        self.metrics.election_time_ms.record(elapsed.as_secs_f64() * 1_000.0, &[]);
    }

    pub(crate) fn record_fsync(&self, elapsed: Duration) {
        self.fsync.record(elapsed);
        self.metrics.fsync_time_ms.record(elapsed.as_secs_f64() * 1_000.0, &[]);
    }

    pub(crate) fn record_latency(&self, elapsed: Duration) {
        self.latency.record(elapsed);
        self.metrics.request_latency_ms.record(elapsed.as_secs_f64() * 1_000.0, &[]);
    }

    /// Publishes the tree's counts; the processor calls it after each batch.
    pub(crate) fn observe_tree(&self, tree: &datatree::DataTree, live_sessions: usize) {
        let store =
            |counter: &AtomicU64, value: usize| counter.store(value as u64, Ordering::Relaxed);
        let (watching_sessions, watched_paths) = tree.watch_summary();
        store(&self.tree.znode_count, tree.node_count());
        store(&self.tree.watch_count, tree.watch_count());
        store(&self.tree.watching_sessions, watching_sessions);
        store(&self.tree.watched_paths, watched_paths);
        store(&self.tree.ephemerals_count, tree.ephemerals_count());
        store(&self.tree.global_sessions, live_sessions);
        self.tree.approximate_data_size.store(tree.approximate_data_size(), Ordering::Relaxed);
        self.tree.last_zxid.store(tree.last_zxid().0, Ordering::Relaxed);
    }

    /// Lists a new connection until the returned registration is dropped.
    pub(crate) fn connection_opened(
        self: &Arc<Self>,
        id: u64,
        peer: SocketAddr,
        secure: bool,
    ) -> ConnectionRegistration {
        let connection = Arc::new(ConnectionStats {
            peer,
            secure,
            established_ms: wall_clock_ms(),
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            outstanding: AtomicI64::new(0),
            session: AtomicI64::new(0),
        });
        self.connections.lock().unwrap_or_else(|p| p.into_inner()).insert(id, connection.clone());
        ConnectionRegistration { stats: self.clone(), id, connection }
    }

    /// Records which session a connection carries (for `cons`).
    pub(crate) fn connection_session(&self, id: u64, session: i64) {
        if let Some(connection) =
            self.connections.lock().unwrap_or_else(|p| p.into_inner()).get(&id)
        {
            connection.session.store(session, Ordering::Relaxed);
        }
    }

    pub fn connections(&self) -> Vec<Arc<ConnectionStats>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    pub fn alive_connections(&self) -> u64 {
        self.connections.lock().unwrap_or_else(|p| p.into_inner()).len() as u64
    }

    /// The node's metrics in Prometheus text exposition format.
    pub fn prometheus_text(&self) -> String {
        self.metrics.prometheus_text()
    }
}

pub(crate) fn wall_clock_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|e| e.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_stats_report_whole_milliseconds_and_a_fractional_average() {
        let stats = DurationStats::default();
        assert_eq!((stats.min_ms(), stats.max_ms(), stats.avg_ms()), (0, 0, 0.0));
        stats.record(Duration::from_micros(1_500));
        stats.record(Duration::from_micros(4_500));
        assert_eq!(stats.min_ms(), 1);
        assert_eq!(stats.max_ms(), 4);
        assert_eq!(stats.avg_ms(), 3.0);
        assert_eq!(stats.count(), 2);
    }

    #[test]
    fn readiness_follows_the_mode_once_serving() {
        let stats = ServerStats::new();
        stats.set_mode(Mode::Standalone);
        assert!(!stats.is_ready(), "not ready before the listener serves");
        stats.set_serving();
        assert!(stats.is_ready());
        stats.set_mode(Mode::Looking);
        assert!(!stats.is_ready(), "an electing node is not ready");
        stats.set_mode(Mode::Follower);
        assert!(stats.is_ready());
    }

    #[test]
    fn a_dropped_registration_unlists_its_connection() {
        let stats = ServerStats::new();
        let peer = "127.0.0.1:1".parse().unwrap();
        let first = stats.connection_opened(1, peer, false);
        let _second = stats.connection_opened(2, peer, true);
        stats.connection_session(1, 0x42);
        assert_eq!(stats.alive_connections(), 2);
        assert_eq!(first.connection.session.load(Ordering::Relaxed), 0x42);
        drop(first);
        assert_eq!(stats.alive_connections(), 1);
        assert!(stats.connections()[0].secure);
    }
}
