//! What can go wrong, typed so a gateway can pick the HTTP status.

use crate::plan::Expected;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no key {key:?} in namespace {namespace:?}")]
    NotFound { namespace: String, key: String },
    /// Compare-and-set failed: the key is not at the expected version (HTTP 409/412).
    #[error("expected {expected}, but the key is at {}", current.map_or("no version (absent)".to_string(), |v| format!("version {v}")))]
    Conflict { expected: Expected, current: Option<i32> },
    /// The value does not satisfy the namespace's JSON Schema.
    #[error("value violates the namespace schema: {0}")]
    SchemaViolation(String),
    /// The schema given for a namespace is not a valid JSON Schema.
    #[error("invalid JSON Schema: {0}")]
    InvalidSchema(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A stream asked for a version that has left the history window: delivering the
    /// next one would skip versions, so the stream stops instead (HTTP 410).
    #[error("version {requested} is no longer in the history (oldest kept: {oldest:?})")]
    HistoryTrimmed { requested: i32, oldest: Option<i32> },
    #[error("corrupt config data at {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("zookeeper: {0}")]
    ZooKeeper(#[from] zookeeper_client::Error),
}
