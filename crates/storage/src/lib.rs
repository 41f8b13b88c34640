//! Durable storage for a Herald node.
//!
//! Two stores, each behind a small trait so the server (and a future
//! simulator) can swap in the in-memory versions:
//!
//! * [`TxnLog`]: the append-only transaction log, written on every proposal and
//!   fsynced before a write is acknowledged. [`FileTxnLog`] keeps it in plain
//!   segment files because an append + fdatasync is the cheapest durable write
//!   there is.
//! * [`SnapshotStore`]: periodic full snapshots of the data tree, written
//!   rarely and read once at startup. [`RedbSnapshotStore`] keeps them in a
//!   redb database so a half-written snapshot can never be observed.
//!
//! [`conformance`] holds the behavioural checks every implementation must pass.

pub mod conformance;
mod error;
mod log;
mod memory;
mod snapshot;

pub use error::StorageError;
pub use log::{
    FileTxnLog, LogOptions, PREALLOCATE_BYTES_DEFAULT, RECORD_BYTES_MAX, SEGMENT_BYTES_MAX_DEFAULT,
};
pub use memory::{MemorySnapshotStore, MemoryTxnLog};
pub use snapshot::{RedbSnapshotStore, SNAPSHOT_BYTES_PER_COMMIT, SNAPSHOT_CHUNK_BYTES};

/// Result of every storage operation.
pub type Result<T> = std::result::Result<T, StorageError>;

/// An ordered, durable log of transactions keyed by zxid.
pub trait TxnLog: Send {
    /// Appends one record. zxids strictly increase across calls; a zxid not
    /// above [`TxnLog::last_zxid`] is refused with [`StorageError::OutOfOrder`],
    /// a payload above [`RECORD_BYTES_MAX`] with [`StorageError::RecordTooLarge`].
    /// Not durable until [`TxnLog::sync`].
    fn append(&mut self, zxid: i64, payload: &[u8]) -> Result<()>;
    /// Makes every appended record durable (fsync / fdatasync).
    fn sync(&mut self) -> Result<()>;
    /// Every record with zxid > `after`, in order.
    fn read_from(&self, after: i64) -> Result<Vec<(i64, Vec<u8>)>>;
    /// Removes every record with zxid > `zxid` (for when a ZAB leader says
    /// TRUNC). Durable when it returns, as are the records it keeps.
    fn truncate_after(&mut self, zxid: i64) -> Result<()>;
    /// May delete records with zxid <= `zxid`, never one above it. The file
    /// log drops whole segments only, and always keeps the newest record so
    /// `last_zxid` survives.
    fn purge_before(&mut self, zxid: i64) -> Result<()>;
    /// Highest zxid in the log, if any.
    fn last_zxid(&self) -> Option<i64>;
}

/// One snapshot being saved (see [`SnapshotStore::begin`]).
pub trait SnapshotSink {
    /// Appends the next piece of the snapshot (any size).
    fn write(&mut self, piece: &[u8]) -> Result<()>;
    /// Stores the snapshot durably and makes it visible.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A set of full data-tree snapshots keyed by the zxid they include.
pub trait SnapshotStore: Send {
    /// Starts saving the snapshot at `zxid` from pieces written in order, so the whole
    /// snapshot need never be in memory at once. It is stored, durably, once
    /// [`SnapshotSink::finish`] returns; a sink dropped before that stores nothing.
    /// Saving an existing zxid replaces it.
    fn begin(&mut self, zxid: i64) -> Result<Box<dyn SnapshotSink + '_>>;
    /// Stores a snapshot given whole; durable when it returns.
    fn save(&mut self, zxid: i64, bytes: &[u8]) -> Result<()> {
        let mut sink = self.begin(zxid)?;
        sink.write(bytes)?;
        sink.finish()
    }
    /// The snapshot with the highest zxid, verified against its checksum.
    fn latest(&self) -> Result<Option<(i64, Vec<u8>)>>;
    /// Keeps the newest `count` snapshots, deletes the rest.
    fn retain(&mut self, count: usize) -> Result<()>;
    /// The zxids of the stored snapshots, ascending.
    fn list(&self) -> Result<Vec<i64>>;
}
