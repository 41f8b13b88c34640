//! [`RedbSnapshotStore`]: snapshots in one redb database.
//!
//! Why redb here (and not for the log): snapshots are written rarely, must
//! never be seen half-written, and old ones must go away atomically. A redb
//! write transaction gives all of that. Snapshots are split into chunks so no
//! single value gets huge, and a checksum over the whole snapshot catches
//! damage that redb itself would not notice.
//!
//! A snapshot is committed [`SNAPSHOT_BYTES_PER_COMMIT`] at a time, its meta row
//! last: one commit of a whole 100 MB snapshot made one fsync that held the
//! disk for hundreds of milliseconds, and every txn-log fsync on that disk (the
//! write path's latency) waited behind it. Chunks without a meta row are a save
//! that never finished: invisible to readers, and deleted by the next save or open.

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{Result, SnapshotSink, SnapshotStore, StorageError};

/// Size of the pieces a snapshot is stored in.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1024 * 1024;

/// How much of a snapshot one durable commit writes: small enough that the
/// fsync of a commit never holds the disk for long, large enough that the
/// per-commit cost stays small beside the bytes written.
pub const SNAPSHOT_BYTES_PER_COMMIT: usize = 4 * SNAPSHOT_CHUNK_BYTES;

/// redb's page cache for the snapshot database. Snapshots are written once
/// and read only at start, so caching them buys nothing; redb's default (1 GiB)
/// would keep a copy of the last snapshot resident beside the tree itself.
pub const SNAPSHOT_DB_CACHE_BYTES: usize = 2 * 1024 * 1024;

/// (zxid, chunk index) -> chunk bytes.
const CHUNKS: TableDefinition<(i64, u32), &[u8]> = TableDefinition::new("snapshot_chunks");
/// zxid -> (total length, crc32c of the whole snapshot, chunk count).
const META: TableDefinition<i64, (u64, u32, u32)> = TableDefinition::new("snapshot_meta");

/// Snapshots stored in a redb database file.
#[derive(Debug)]
pub struct RedbSnapshotStore {
    db: Database,
}

impl RedbSnapshotStore {
    /// Opens the database at `path`, creating it (and its tables) if needed.
    pub fn open(path: &Path) -> Result<RedbSnapshotStore> {
        let db = Database::builder().set_cache_size(SNAPSHOT_DB_CACHE_BYTES).create(path)?;
        let store = RedbSnapshotStore { db };
        // Create the tables up front so readers never meet a missing table, and
        // drop what a save cut short left behind.
        store.write(remove_unfinished)?;
        Ok(store)
    }

    /// Runs `f` in one write transaction and commits it durably.
    fn write(
        &self,
        f: impl FnOnce(
            &mut redb::Table<i64, (u64, u32, u32)>,
            &mut redb::Table<(i64, u32), &[u8]>,
        ) -> Result<()>,
    ) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        // Immediate is redb's default; spelled out because `save` promises
        // durability on return and must not silently depend on a default.
        txn.set_durability(Durability::Immediate)?;
        {
            let mut meta = txn.open_table(META)?;
            let mut chunks = txn.open_table(CHUNKS)?;
            f(&mut meta, &mut chunks)?;
        }
        txn.commit()?;
        Ok(())
    }
}

/// Deletes the chunks of saves that never wrote their meta row.
fn remove_unfinished(
    meta: &mut redb::Table<i64, (u64, u32, u32)>,
    chunks: &mut redb::Table<(i64, u32), &[u8]>,
) -> Result<()> {
    let mut unfinished = Vec::new();
    let mut next = (i64::MIN, 0);
    // One range seek per stored zxid, not one step per chunk.
    while let Some(entry) = chunks.range(next..)?.next() {
        let zxid = entry?.0.value().0;
        if meta.get(zxid)?.is_none() {
            unfinished.push(zxid);
        }
        match zxid.checked_add(1) {
            Some(after) => next = (after, 0),
            None => break,
        }
    }
    for zxid in unfinished {
        chunks.retain_in((zxid, 0)..=(zxid, u32::MAX), |_, _| false)?;
    }
    Ok(())
}

/// Deletes the chunks of the snapshot at `zxid`, if it exists.
fn remove_snapshot(
    meta: &mut redb::Table<i64, (u64, u32, u32)>,
    chunks: &mut redb::Table<(i64, u32), &[u8]>,
    zxid: i64,
) -> Result<()> {
    let chunk_count = match meta.remove(zxid)? {
        Some(old) => old.value().2,
        None => return Ok(()),
    };
    for index in 0..chunk_count {
        chunks.remove((zxid, index))?;
    }
    Ok(())
}

/// Commits a snapshot [`SNAPSHOT_BYTES_PER_COMMIT`] at a time as its pieces arrive; the
/// meta row goes with the last commit, in `finish`.
struct RedbSink<'a> {
    store: &'a RedbSnapshotStore,
    zxid: i64,
    /// Bytes not committed yet: less than one commit's worth between writes.
    pending: Vec<u8>,
    next_chunk: u32,
    total_len: u64,
    crc: u32,
    /// The first commit also deletes an older save of this zxid and unfinished saves.
    started: bool,
}

impl RedbSink<'_> {
    /// Commits `pending[from..from + len]` as the next chunks (whole chunks unless
    /// `last`), with the meta row when `last`.
    fn commit(&mut self, from: usize, len: usize, last: bool) -> Result<()> {
        let (zxid, first, start) = (self.zxid, !self.started, self.next_chunk);
        let next_chunk = start + len.div_ceil(SNAPSHOT_CHUNK_BYTES) as u32;
        let meta_row = (self.total_len, self.crc, next_chunk);
        let part = &self.pending[from..from + len];
        self.store.write(|meta, chunks| {
            if first {
                remove_snapshot(meta, chunks, zxid)?;
                remove_unfinished(meta, chunks)?;
            }
            for (index, chunk) in (start..).zip(part.chunks(SNAPSHOT_CHUNK_BYTES)) {
                chunks.insert((zxid, index), chunk)?;
            }
            // The meta row makes the snapshot visible, so it comes with the last part.
            if last {
                meta.insert(zxid, meta_row)?;
            }
            Ok(())
        })?;
        self.started = true;
        self.next_chunk = next_chunk;
        Ok(())
    }
}

impl SnapshotSink for RedbSink<'_> {
    fn write(&mut self, piece: &[u8]) -> Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, piece);
        self.total_len += piece.len() as u64;
        self.pending.extend_from_slice(piece);
        // One commit per SNAPSHOT_BYTES_PER_COMMIT, however large the piece.
        let mut committed = 0;
        while self.pending.len() - committed >= SNAPSHOT_BYTES_PER_COMMIT {
            self.commit(committed, SNAPSHOT_BYTES_PER_COMMIT, false)?;
            committed += SNAPSHOT_BYTES_PER_COMMIT;
        }
        self.pending.drain(..committed);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let len = self.pending.len();
        self.commit(0, len, true)
    }
}

impl SnapshotStore for RedbSnapshotStore {
    fn begin(&mut self, zxid: i64) -> Result<Box<dyn SnapshotSink + '_>> {
        Ok(Box::new(RedbSink {
            store: self,
            zxid,
            pending: Vec::with_capacity(SNAPSHOT_BYTES_PER_COMMIT),
            next_chunk: 0,
            total_len: 0,
            crc: 0,
            started: false,
        }))
    }

    fn latest(&self) -> Result<Option<(i64, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let Some((zxid, info)) = meta.last()? else {
            return Ok(None);
        };
        let zxid = zxid.value();
        let (total_len, crc, chunk_count) = info.value();
        let chunks = txn.open_table(CHUNKS)?;
        // No capacity hint from `total_len`: it is unverified until the end.
        let mut bytes = Vec::new();
        let mut seen: u32 = 0;
        for entry in chunks.range((zxid, 0)..=(zxid, u32::MAX))? {
            let (key, chunk) = entry?;
            if key.value().1 != seen {
                return Err(corrupt(zxid, format!("chunk {} missing", seen)));
            }
            bytes.extend_from_slice(chunk.value());
            seen += 1;
        }
        if seen != chunk_count {
            return Err(corrupt(zxid, format!("{seen} chunks, expected {chunk_count}")));
        }
        if bytes.len() as u64 != total_len {
            return Err(corrupt(zxid, format!("{} bytes, expected {total_len}", bytes.len())));
        }
        if crc32c::crc32c(&bytes) != crc {
            return Err(corrupt(zxid, "checksum mismatch".to_string()));
        }
        Ok(Some((zxid, bytes)))
    }

    fn retain(&mut self, count: usize) -> Result<()> {
        let zxids = self.list()?;
        let doomed = zxids.len().saturating_sub(count);
        if doomed == 0 {
            return Ok(());
        }
        self.write(|meta, chunks| {
            for &zxid in &zxids[..doomed] {
                remove_snapshot(meta, chunks, zxid)?;
            }
            Ok(())
        })
    }

    fn list(&self) -> Result<Vec<i64>> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let mut zxids = Vec::new();
        for entry in meta.iter()? {
            zxids.push(entry?.0.value());
        }
        Ok(zxids)
    }
}

fn corrupt(zxid: i64, what: String) -> StorageError {
    StorageError::corrupt(format!("snapshot {zxid:#x}: {what}"))
}
