//! Errors of the lock recipes.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LockError {
    /// The wait ran out (or was 0) before the lock was granted; nothing is left behind.
    #[error("not acquired within the wait")]
    NotAcquired,
    /// The token does not name a contender of this lock (released, lease lost, or never
    /// granted).
    #[error("fencing token {0} does not name a current contender")]
    UnknownToken(i64),
    /// The token names a contender that does not hold the lock (any more): a stale holder.
    #[error("fencing token {0} does not hold the lock")]
    NotHolder(i64),
    /// The contender exists but belongs to another session.
    #[error("fencing token {0} belongs to another lease")]
    NotOwner(i64),
    /// Our contender node vanished while waiting: the session (lease) ended.
    #[error("the contender node vanished: the lease ended")]
    ContenderLost,
    #[error("wait of {wait_ms} ms exceeds the bound of {wait_ms_max} ms")]
    WaitTooLong { wait_ms: u64, wait_ms_max: u64 },
    #[error("lock-delay of {lock_delay_ms} ms exceeds the bound of {max} ms")]
    LockDelayTooLong { lock_delay_ms: u64, max: u64 },
    #[error("invalid name {0:?}: 1 to 128 characters of [A-Za-z0-9._-]")]
    BadName(String),
    #[error("permits must be between 1 and {max}, got {got}")]
    BadPermits { got: u32, max: u32 },
    /// The lock is configured for a different kind of use (for example a guarded write with
    /// a read-lock token).
    #[error("{0}")]
    WrongKind(&'static str),
    /// The guarded write's own operation failed (for example a version mismatch on the
    /// target znode); the lock check itself passed.
    #[error("the guarded write failed: {0}")]
    WriteFailed(zookeeper_client::Error),
    #[error(transparent)]
    ZooKeeper(#[from] zookeeper_client::Error),
}
