//! JSON shapes shared by several route modules: znode data, stat, create modes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zookeeper_client::{CreateMode, Stat};

use crate::error::ApiError;

/// How `data` is encoded in a request or response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// UTF-8 text (responses fall back to base64 for bytes that are not UTF-8).
    #[default]
    Utf8,
    Base64,
}

/// Decodes request data.
pub fn decode_data(data: Option<&str>, encoding: Encoding) -> Result<Vec<u8>, ApiError> {
    let Some(data) = data else { return Ok(Vec::new()) };
    match encoding {
        Encoding::Utf8 => Ok(data.as_bytes().to_vec()),
        Encoding::Base64 => STANDARD
            .decode(data)
            .map_err(|error| ApiError::bad_request(format!("data is not valid base64: {error}"))),
    }
}

/// Encodes response data as asked, falling back to base64 for non-UTF-8 bytes.
pub fn encode_data(data: Vec<u8>, wanted: Encoding) -> (String, Encoding) {
    match wanted {
        Encoding::Utf8 => match String::from_utf8(data) {
            Ok(text) => (text, Encoding::Utf8),
            Err(error) => (STANDARD.encode(error.into_bytes()), Encoding::Base64),
        },
        Encoding::Base64 => (STANDARD.encode(data), Encoding::Base64),
    }
}

/// A znode's stat, as ZooKeeper reports it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StatView {
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    /// Creation time, ms since the Unix epoch (server clock).
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    /// Session id owning this ephemeral node, 0 otherwise.
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
}

impl From<Stat> for StatView {
    fn from(stat: Stat) -> StatView {
        StatView {
            czxid: stat.czxid,
            mzxid: stat.mzxid,
            pzxid: stat.pzxid,
            ctime: stat.ctime,
            mtime: stat.mtime,
            version: stat.version,
            cversion: stat.cversion,
            aversion: stat.aversion,
            ephemeral_owner: stat.ephemeral_owner,
            data_length: stat.data_length,
            num_children: stat.num_children,
        }
    }
}

/// Node type on create.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeMode {
    #[default]
    Persistent,
    PersistentSequential,
    /// Needs a `lease`: the node lives as long as the lease.
    Ephemeral,
    EphemeralSequential,
    /// Deleted by the server once its last child is gone.
    Container,
}

impl NodeMode {
    pub fn is_ephemeral(self) -> bool {
        matches!(self, NodeMode::Ephemeral | NodeMode::EphemeralSequential)
    }

    pub fn create_mode(self) -> CreateMode {
        match self {
            NodeMode::Persistent => CreateMode::Persistent,
            NodeMode::PersistentSequential => CreateMode::PersistentSequential,
            NodeMode::Ephemeral => CreateMode::Ephemeral,
            NodeMode::EphemeralSequential => CreateMode::EphemeralSequential,
            NodeMode::Container => CreateMode::Container,
        }
    }
}

/// Turns the wildcard capture (`a/b`) into a znode path (`/a/b`).
pub fn znode_path(captured: &str) -> String {
    let trimmed = captured.trim_end_matches('/');
    if trimmed.is_empty() { "/".to_owned() } else { format!("/{trimmed}") }
}

/// One Server-Sent Event as a stream delivers it: its name and its `data` line (JSON text:
/// a `WatchEvent` for watches, a `LeaderView` or `null` for election observers).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}
