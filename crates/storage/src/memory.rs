//! In-memory [`TxnLog`] and [`SnapshotStore`]: the same behaviour as the
//! durable stores with none of the I/O, for tests and a future simulator.

use std::collections::BTreeMap;

use crate::{RECORD_BYTES_MAX, Result, SnapshotSink, SnapshotStore, StorageError, TxnLog};

/// A txn log held in a `Vec`. `sync` is a no-op: memory is all there is.
#[derive(Debug, Default, Clone)]
pub struct MemoryTxnLog {
    records: Vec<(i64, Vec<u8>)>,
}

impl TxnLog for MemoryTxnLog {
    fn append(&mut self, zxid: i64, payload: &[u8]) -> Result<()> {
        if payload.len() > RECORD_BYTES_MAX {
            return Err(StorageError::RecordTooLarge { len: payload.len(), max: RECORD_BYTES_MAX });
        }
        if let Some(last) = self.last_zxid()
            && zxid <= last
        {
            return Err(StorageError::OutOfOrder { last, zxid });
        }
        self.records.push((zxid, payload.to_vec()));
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn read_from(&self, after: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        let start = self.records.partition_point(|(zxid, _)| *zxid <= after);
        Ok(self.records[start..].to_vec())
    }

    fn truncate_after(&mut self, zxid: i64) -> Result<()> {
        let keep = self.records.partition_point(|(z, _)| *z <= zxid);
        self.records.truncate(keep);
        Ok(())
    }

    /// Drops records <= `zxid` but always keeps the newest one, as the file
    /// log keeps its active segment: `last_zxid` must survive a purge, or a
    /// later append could reuse an old zxid.
    fn purge_before(&mut self, zxid: i64) -> Result<()> {
        let purgeable = self.records.partition_point(|(z, _)| *z <= zxid);
        let purge = purgeable.min(self.records.len().saturating_sub(1));
        self.records.drain(..purge);
        Ok(())
    }

    fn last_zxid(&self) -> Option<i64> {
        self.records.last().map(|(zxid, _)| *zxid)
    }
}

/// Snapshots held in a `BTreeMap` keyed by zxid.
#[derive(Debug, Default, Clone)]
pub struct MemorySnapshotStore {
    snapshots: BTreeMap<i64, Vec<u8>>,
}

/// Gathers the pieces; the snapshot is stored on `finish`.
struct MemorySink<'a> {
    store: &'a mut MemorySnapshotStore,
    zxid: i64,
    bytes: Vec<u8>,
}

impl SnapshotSink for MemorySink<'_> {
    fn write(&mut self, piece: &[u8]) -> Result<()> {
        self.bytes.extend_from_slice(piece);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let MemorySink { store, zxid, bytes } = *self;
        store.snapshots.insert(zxid, bytes);
        Ok(())
    }
}

impl SnapshotStore for MemorySnapshotStore {
    fn begin(&mut self, zxid: i64) -> Result<Box<dyn SnapshotSink + '_>> {
        Ok(Box::new(MemorySink { store: self, zxid, bytes: Vec::new() }))
    }

    fn latest(&self) -> Result<Option<(i64, Vec<u8>)>> {
        Ok(self.snapshots.last_key_value().map(|(zxid, bytes)| (*zxid, bytes.clone())))
    }

    fn retain(&mut self, count: usize) -> Result<()> {
        while self.snapshots.len() > count {
            self.snapshots.pop_first();
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<i64>> {
        Ok(self.snapshots.keys().copied().collect())
    }
}
