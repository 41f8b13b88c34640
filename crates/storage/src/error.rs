//! The one error type of the crate. Callers treat every storage error as
//! fatal (a node that cannot persist must stop acknowledging writes), so the
//! variants exist for diagnosis, not for recovery logic.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The operating system refused a read, write, fsync, create or delete.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// redb reported an error; kept as text because redb has many error types.
    #[error("redb error: {0}")]
    Redb(String),
    /// Data on disk fails validation somewhere a torn write cannot explain.
    #[error("corrupt storage: {what}")]
    Corrupt {
        /// What was found, and where.
        what: String,
    },
    /// An append whose zxid does not exceed the last logged zxid; accepting it
    /// would break the log's ordering, which replay relies on.
    #[error("zxid {zxid:#x} is not above the last logged zxid {last:#x}")]
    OutOfOrder {
        /// Highest zxid already in the log.
        last: i64,
        /// The rejected zxid.
        zxid: i64,
    },
    /// A payload above [`crate::RECORD_BYTES_MAX`]; reading would refuse it too.
    #[error("record of {len} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge {
        /// Payload size that was offered.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl StorageError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        StorageError::Corrupt { what: what.into() }
    }
}

/// redb splits its errors by operation; all of them mean the same to us.
macro_rules! from_redb {
    ($($ty:ty),* $(,)?) => {
        $(impl From<$ty> for StorageError {
            fn from(error: $ty) -> Self {
                StorageError::Redb(error.to_string())
            }
        })*
    };
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
);
