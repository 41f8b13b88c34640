//! The node's configuration: one explicit struct, passed in, never read from globals.

use std::net::SocketAddr;
use std::path::PathBuf;

/// ZooKeeper's default `tickTime`.
pub const TICK_MS_DEFAULT: u32 = 2_000;
/// ZooKeeper's `jute.maxbuffer` default: the largest frame a client may send.
pub const PACKET_BYTES_MAX_DEFAULT: usize = proto::frame::PACKET_BYTES_MAX_DEFAULT;
/// Concurrent client connections accepted before new ones are refused.
pub const CONNECTIONS_MAX_DEFAULT: usize = 4_096;
/// Requests one connection may have in flight before the server stops reading from it.
pub const OUTSTANDING_REQUESTS_PER_CONNECTION_MAX_DEFAULT: usize = 1_000;
/// Txns applied between two snapshots; bounds replay time at restart.
pub const SNAPSHOT_EVERY_TXNS_DEFAULT: u64 = 100_000;
/// Size at which the txn log starts a new segment; whole segments older than
/// the newest snapshot are deleted, so this bounds the log a restart replays.
pub const LOG_SEGMENT_BYTES_MAX_DEFAULT: u64 = storage::SEGMENT_BYTES_MAX_DEFAULT;
/// How often empty containers and idle TTL nodes are looked for.
pub const CONTAINER_CHECK_INTERVAL_MS_DEFAULT: u64 = 1_000;

/// A client that has not finished its TLS handshake by then is dropped, so
/// idle sockets cannot hold connection slots.
pub const TLS_HANDSHAKE_TIMEOUT_MS_DEFAULT: u64 = 10_000;

/// ZooKeeper's AdminServer port, for deployments that turn the admin port on.
/// `ServerConfig::new` leaves it off so nodes started side by side (tests,
/// embedded use) do not fight over one port.
pub const ADMIN_LISTEN_DEFAULT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 8080);

/// Everything a standalone node needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address of the ZooKeeper client port.
    pub client_listen: SocketAddr,
    /// Directory holding the txn log segments and the snapshot database.
    pub data_dir: PathBuf,
    /// The basic time unit: session timeouts are negotiated in multiples of it
    /// and expiry is checked at its granularity.
    pub tick_ms: u32,
    /// Smallest session timeout granted; `None` = 2 ticks, as ZooKeeper.
    pub session_timeout_ms_min: Option<u32>,
    /// Largest session timeout granted; `None` = 20 ticks, as ZooKeeper.
    pub session_timeout_ms_max: Option<u32>,
    pub connections_max: usize,
    pub outstanding_requests_per_connection_max: usize,
    /// Largest frame accepted from a client; a larger one closes that connection.
    pub packet_bytes_max: usize,
    /// Txns between snapshots (each member draws its own within ±50%).
    pub snapshot_every_txns: u64,
    /// Stretch the interval to the tree's znode count when the tree is
    /// bigger, so snapshots never write much more than the log does.
    pub snapshot_scales_with_tree: bool,
    pub log_segment_bytes_max: u64,
    pub container_check_interval_ms: u64,
    /// `None` = standalone; `Some` = a member of a replicated ensemble.
    pub ensemble: Option<EnsembleConfig>,
    /// `false` = no plaintext client port (only `secure_client_listen`).
    pub plaintext_client_port_enabled: bool,
    /// Four-letter words answered on the client ports; `"*"` = all known.
    /// `srvr` is always answered, as in ZooKeeper.
    pub four_letter_words: Vec<String>,
    /// Where the admin HTTP server (`/commands/*`, `/metrics`, `/healthz`,
    /// `/readyz`) listens; `None` = off. See [`ADMIN_LISTEN_DEFAULT`].
    pub admin_listen: Option<SocketAddr>,
    /// ZooKeeper's `secureClientPort`: the TLS client port; `None` = off.
    pub secure_client_listen: Option<SocketAddr>,
    /// PEM certificate chain for the TLS client port.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for the TLS client port.
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA bundle: when set, clients must present a certificate it signed (mTLS).
    pub tls_client_ca_file: Option<PathBuf>,
    pub tls_handshake_timeout_ms: u64,
}

/// Whether a server votes or only learns (ZooKeeper's `participant` / `observer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRole {
    Participant,
    Observer,
}

/// One `server.N=host:peerPort:participant` line of the ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleMember {
    pub id: u64,
    /// `host:port` of the member's peer port; resolved at every connection
    /// attempt, so DNS names (a Kubernetes headless Service) work.
    pub peer_address: String,
    /// `host:port` clients use to reach the member (shown in `/zookeeper/config`).
    pub client_address: Option<String>,
    pub role: ServerRole,
}

/// Milliseconds per tick of the replication core (election, pings, limits).
pub const PEER_TICK_MS_DEFAULT: u64 = 10;

/// What a node needs to join an ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleConfig {
    /// This node's id: one of `members`.
    pub me: u64,
    pub members: Vec<EnsembleMember>,
    /// Where this node accepts connections from its peers.
    pub peer_listen: SocketAddr,
    /// When set, peers prove they know it before any message is accepted.
    pub secret: Option<String>,
    pub peer_tick_ms: u64,
    /// Txns a leader keeps in memory to catch a member up one by one (DIFF);
    /// a member further behind gets a snapshot (SNAP).
    pub sync_diff_txns_max: usize,
    /// When set, every peer connection is mutual TLS with these files.
    pub peer_tls: Option<PeerTlsFiles>,
}

/// PEM files for mutual TLS between members: each member presents `cert`
/// both when it dials and when it accepts, and trusts only certificates
/// chaining to `ca`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl EnsembleConfig {
    /// Member `me` of `members`, peers accepted on `peer_listen`, defaults
    /// for the rest (construct with this so new fields do not break callers).
    pub fn new(me: u64, members: Vec<EnsembleMember>, peer_listen: SocketAddr) -> EnsembleConfig {
        EnsembleConfig {
            me,
            members,
            peer_listen,
            secret: None,
            peer_tick_ms: PEER_TICK_MS_DEFAULT,
            sync_diff_txns_max: SYNC_DIFF_TXNS_MAX_DEFAULT,
            peer_tls: None,
        }
    }
}

/// Default of [`EnsembleConfig::sync_diff_txns_max`].
pub const SYNC_DIFF_TXNS_MAX_DEFAULT: usize = broadcast::COMMITTED_LOG_MAX_DEFAULT;

impl ServerConfig {
    /// Defaults for a node listening on `client_listen` with data under `data_dir`.
    pub fn new(client_listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            client_listen,
            data_dir: data_dir.into(),
            tick_ms: TICK_MS_DEFAULT,
            session_timeout_ms_min: None,
            session_timeout_ms_max: None,
            connections_max: CONNECTIONS_MAX_DEFAULT,
            outstanding_requests_per_connection_max:
                OUTSTANDING_REQUESTS_PER_CONNECTION_MAX_DEFAULT,
            packet_bytes_max: PACKET_BYTES_MAX_DEFAULT,
            snapshot_every_txns: SNAPSHOT_EVERY_TXNS_DEFAULT,
            snapshot_scales_with_tree: true,
            log_segment_bytes_max: LOG_SEGMENT_BYTES_MAX_DEFAULT,
            container_check_interval_ms: CONTAINER_CHECK_INTERVAL_MS_DEFAULT,
            ensemble: None,
            plaintext_client_port_enabled: true,
            four_letter_words: crate::four_letter::FOUR_LETTER_WORDS_DEFAULT
                .iter()
                .map(|word| word.to_string())
                .collect(),
            admin_listen: None,
            secure_client_listen: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            tls_handshake_timeout_ms: TLS_HANDSHAKE_TIMEOUT_MS_DEFAULT,
        }
    }

    pub fn session_timeout_ms_min(&self) -> u32 {
        self.session_timeout_ms_min.unwrap_or(2 * self.tick_ms)
    }

    pub fn session_timeout_ms_max(&self) -> u32 {
        self.session_timeout_ms_max.unwrap_or(20 * self.tick_ms)
    }

    /// How the txn log is opened, at startup and after each rebuild.
    pub fn log_options(&self) -> storage::LogOptions {
        storage::LogOptions {
            segment_bytes_max: self.log_segment_bytes_max,
            ..storage::LogOptions::default()
        }
    }
}
