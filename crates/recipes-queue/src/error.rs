//! What can go wrong, typed so a gateway can pick the HTTP status.

use crate::layout::ItemId;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum QueueError {
    /// The queue already holds its configured maximum (live items plus dead letters).
    /// Nothing was written; the caller may retry later (HTTP 429).
    #[error("queue is full: it holds its limit of {limit} items")]
    QueueFull { limit: u64 },
    /// The request itself is malformed (bad name, priority, payload size, receipt...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The claim behind a receipt is gone: acknowledged, expired and taken over, or its
    /// session ended. The item is (or will be) handed to another consumer.
    #[error("claim on item {item} is no longer held")]
    ClaimLost { item: ItemId },
    /// A znode holds data this library did not write or cannot read.
    #[error("corrupt queue data at {path}: {reason}")]
    Corrupt { path: String, reason: String },
    /// The ensemble refused or could not serve a request.
    #[error("zookeeper: {0}")]
    ZooKeeper(#[from] zookeeper_client::Error),
}

impl From<zookeeper_client::MultiWriteError> for QueueError {
    fn from(error: zookeeper_client::MultiWriteError) -> Self {
        QueueError::ZooKeeper(error.into())
    }
}
