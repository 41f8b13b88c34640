//! The TOML shape of the configuration.
//!
//! `[server]` mirrors `server::ServerConfig` field for field: it is declared
//! through [`server_section!`], so a new `ServerConfig` field with a serde-able
//! type is one line there (the doc test then asks for it in the operations
//! page). `[ensemble]` is written out because it has keys `ServerConfig` does
//! not (`me_from_hostname`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use server::ServerConfig;
use server::config::{PEER_TICK_MS_DEFAULT, ServerRole};

use super::ConfigError;

/// Clients reach a deployed node on every interface, ZooKeeper's default port.
pub const CLIENT_LISTEN_DEFAULT: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 2181);
/// Relative, like `herald dev`'s: a container's configuration names a volume.
pub const DATA_DIR_DEFAULT: &str = "herald-data";
/// Peers connect on every interface, ZooKeeper's quorum port.
pub const PEER_LISTEN_DEFAULT: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 2888);

/// Top-level sections, for mapping `HERALD_<SECTION>_<KEY>` variables.
pub const SECTIONS: &[&str] = &["server", "ensemble"];

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    /// Absent = standalone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<EnsembleSection>,
}

/// Declares `ServerSection` with one line per key, each copied to and from the
/// `ServerConfig` field of the same name.
macro_rules! server_section {
    ($( $(#[$attribute:meta])* $name:ident : $type:ty ),* $(,)?) => {
        /// `[server]`: the node's own settings.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct ServerSection {
            $( $(#[$attribute])* pub $name: $type, )*
        }

        impl ServerSection {
            /// Every key of `[server]`, in declaration order.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($name)),*];

            pub fn from_server_config(config: &ServerConfig) -> Self {
                ServerSection { $( $name: config.$name.clone(), )* }
            }

            pub fn apply_to(&self, config: &mut ServerConfig) {
                $( config.$name = self.$name.clone(); )*
            }
        }
    };
}

server_section! {
    client_listen: SocketAddr,
    data_dir: PathBuf,
    tick_ms: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_timeout_ms_min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_timeout_ms_max: Option<u32>,
    connections_max: usize,
    outstanding_requests_per_connection_max: usize,
    packet_bytes_max: usize,
    snapshot_every_txns: u64,
    snapshot_scales_with_tree: bool,
    log_segment_bytes_max: u64,
    container_check_interval_ms: u64,
    plaintext_client_port_enabled: bool,
    four_letter_words: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_client_listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_client_ca_file: Option<PathBuf>,
    tls_handshake_timeout_ms: u64,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection::from_server_config(&ServerConfig::new(
            CLIENT_LISTEN_DEFAULT,
            DATA_DIR_DEFAULT,
        ))
    }
}

/// `[ensemble]`: membership of a replicated ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleSection {
    /// This node's id; exactly one of `me` and `me_from_hostname` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub me: Option<u64>,
    /// Take the id from the hostname's ordinal suffix: `herald-2` is id 3.
    #[serde(default, skip_serializing_if = "is_false")]
    pub me_from_hostname: bool,
    #[serde(default = "peer_listen_default")]
    pub peer_listen: SocketAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default = "peer_tick_ms_default")]
    pub peer_tick_ms: u64,
    /// Txns a leader keeps to catch a member up one by one; further behind, SNAP.
    #[serde(default = "sync_diff_txns_max_default")]
    pub sync_diff_txns_max: usize,
    /// Mutual TLS between members: this member's certificate (PEM)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_tls_cert_file: Option<PathBuf>,
    /// ...its private key (PEM)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_tls_key_file: Option<PathBuf>,
    /// ...and the CA every member's certificate must chain to. All three or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub members: Vec<MemberSection>,
}

/// Keys of `[ensemble]`, for the documentation check.
pub const ENSEMBLE_KEYS: &[&str] = &[
    "me",
    "me_from_hostname",
    "peer_listen",
    "secret",
    "peer_tick_ms",
    "sync_diff_txns_max",
    "peer_tls_cert_file",
    "peer_tls_key_file",
    "peer_tls_ca_file",
    "members",
];

/// One `[[ensemble.members]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSection {
    pub id: u64,
    /// `host:port` of the member's peer port; DNS names are resolved at each connection.
    pub peer_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_address: Option<String>,
    #[serde(default)]
    pub role: RoleName,
}

/// Keys of `[[ensemble.members]]`, for the documentation check.
pub const MEMBER_KEYS: &[&str] = &["id", "peer_address", "client_address", "role"];

/// `participant` (votes) or `observer` (only learns), as ZooKeeper spells them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    #[default]
    Participant,
    Observer,
}

impl From<RoleName> for ServerRole {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Participant => ServerRole::Participant,
            RoleName::Observer => ServerRole::Observer,
        }
    }
}

fn peer_listen_default() -> SocketAddr {
    PEER_LISTEN_DEFAULT
}

fn peer_tick_ms_default() -> u64 {
    PEER_TICK_MS_DEFAULT
}

fn sync_diff_txns_max_default() -> usize {
    server::config::SYNC_DIFF_TXNS_MAX_DEFAULT
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Every key as the operations page names it: `server.tick_ms`,
/// `ensemble.members[].peer_address`.
pub fn all_keys() -> Vec<String> {
    ServerSection::KEYS
        .iter()
        .map(|key| format!("server.{key}"))
        .chain(ENSEMBLE_KEYS.iter().map(|key| format!("ensemble.{key}")))
        .chain(MEMBER_KEYS.iter().map(|key| format!("ensemble.members[].{key}")))
        .collect()
}

/// Deserializes the merged table, naming the key of the first problem
/// (`ensemble.members[2].peer_address`), unknown keys included.
pub fn from_table(table: toml::Table) -> Result<FileConfig, ConfigError> {
    serde_path_to_error::deserialize(table).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().message().to_string();
        // The path already ends in the unknown key; say "key", not "field".
        if let Some(rest) = message.strip_prefix("unknown field `")
            && let Some((_unknown, expected)) = rest.split_once('`')
        {
            return ConfigError::invalid(path, format!("unknown key{expected}"));
        }
        let key = if path == "." { "(top level)".to_string() } else { path };
        ConfigError::invalid(key, message)
    })
}
