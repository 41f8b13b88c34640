//! RedbSnapshotStore behaviour beyond the shared suite: persistence across
//! reopen, saves spread over several commits, and detection of damaged chunks.

use std::collections::BTreeMap;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use storage::{
    RedbSnapshotStore, SNAPSHOT_BYTES_PER_COMMIT, SNAPSHOT_CHUNK_BYTES, SnapshotStore, StorageError,
};
use tempfile::TempDir;

const CHUNKS: TableDefinition<(i64, u32), &[u8]> = TableDefinition::new("snapshot_chunks");

fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

#[test]
fn snapshots_survive_reopen() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("snap.redb");
    let big = bytes(SNAPSHOT_CHUNK_BYTES * 3 + 1);
    {
        let mut store = RedbSnapshotStore::open(&path).expect("open");
        store.save(100, b"old").expect("save");
        store.save(200, &big).expect("save");
    }
    let store = RedbSnapshotStore::open(&path).expect("reopen");
    assert_eq!(store.list().expect("list"), vec![100, 200]);
    assert_eq!(store.latest().expect("latest"), Some((200, big)));
}

#[test]
fn snapshots_spanning_several_commits_round_trip() {
    for size in [
        SNAPSHOT_BYTES_PER_COMMIT - 1,
        SNAPSHOT_BYTES_PER_COMMIT,
        SNAPSHOT_BYTES_PER_COMMIT + 1,
        2 * SNAPSHOT_BYTES_PER_COMMIT + SNAPSHOT_CHUNK_BYTES + 3,
    ] {
        let dir = TempDir::new().expect("tempdir");
        let path = dir.path().join("snap.redb");
        RedbSnapshotStore::open(&path).expect("open").save(9, &bytes(size)).expect("save");
        let chunks = size.div_ceil(SNAPSHOT_CHUNK_BYTES);
        assert_eq!(chunk_counts(&path), BTreeMap::from([(9, chunks)]), "{size} bytes");
        let store = RedbSnapshotStore::open(&path).expect("reopen");
        assert_eq!(store.latest().expect("latest"), Some((9, bytes(size))), "{size} bytes");
    }
}

/// A save that crashed after committing some of its chunks, before its meta row: the
/// snapshot before it is still the latest, and the next open deletes the orphans.
#[test]
fn a_save_cut_short_is_never_read_and_is_removed_on_open() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("snap.redb");
    let kept = bytes(SNAPSHOT_CHUNK_BYTES + 5);
    RedbSnapshotStore::open(&path).expect("open").save(100, &kept).expect("save");
    write_chunks_only(&path, 300, 2);
    assert_eq!(chunk_counts(&path), BTreeMap::from([(100, 2), (300, 2)]));
    let store = RedbSnapshotStore::open(&path).expect("reopen");
    assert_eq!(store.list().expect("list"), vec![100]);
    assert_eq!(store.latest().expect("latest"), Some((100, kept)));
    drop(store);
    assert_eq!(chunk_counts(&path), BTreeMap::from([(100, 2)]));
}

/// How many chunk rows each zxid has, read straight from the database file.
fn chunk_counts(path: &std::path::Path) -> BTreeMap<i64, usize> {
    let db = Database::open(path).expect("open db");
    let txn = db.begin_read().expect("begin");
    let table = txn.open_table(CHUNKS).expect("table");
    let mut counts = BTreeMap::new();
    for entry in table.iter().expect("iter") {
        *counts.entry(entry.expect("entry").0.value().0).or_default() += 1;
    }
    counts
}

/// Commits `count` chunks of snapshot `zxid` without its meta row.
fn write_chunks_only(path: &std::path::Path, zxid: i64, count: u32) {
    let db = Database::open(path).expect("open db");
    let txn = db.begin_write().expect("begin");
    {
        let mut table = txn.open_table(CHUNKS).expect("table");
        for index in 0..count {
            table.insert((zxid, index), [7u8; 16].as_slice()).expect("insert");
        }
    }
    txn.commit().expect("commit");
}

/// Rewrites chunk `index` of snapshot `zxid` directly in the database file.
fn tamper(path: &std::path::Path, zxid: i64, index: u32, edit: impl FnOnce(&mut Vec<u8>)) {
    let db = Database::open(path).expect("open db");
    let txn = db.begin_write().expect("begin");
    {
        let mut table = txn.open_table(CHUNKS).expect("table");
        let mut chunk = table.get((zxid, index)).expect("get").expect("chunk").value().to_vec();
        edit(&mut chunk);
        table.insert((zxid, index), chunk.as_slice()).expect("insert");
    }
    txn.commit().expect("commit");
}

fn latest_after_tamper(edit: impl FnOnce(&mut Vec<u8>)) -> StorageError {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("snap.redb");
    {
        let mut store = RedbSnapshotStore::open(&path).expect("open");
        store.save(7, &bytes(SNAPSHOT_CHUNK_BYTES + 500)).expect("save");
    }
    tamper(&path, 7, 1, edit);
    let store = RedbSnapshotStore::open(&path).expect("reopen");
    store.latest().expect_err("damaged snapshot must not load")
}

#[test]
fn flipped_byte_in_a_chunk_is_corruption() {
    let err = latest_after_tamper(|chunk| chunk[3] ^= 0x10);
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err:?}");
}

#[test]
fn shortened_chunk_is_corruption() {
    let err = latest_after_tamper(|chunk| chunk.truncate(10));
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err:?}");
}

/// A snapshot written in pieces of any size is stored as if it were saved whole; a sink
/// dropped before `finish` stores nothing, and what it committed goes on the next open.
#[test]
fn a_snapshot_written_in_pieces_is_the_one_saved_whole() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("snap.redb");
    let whole = bytes(2 * SNAPSHOT_BYTES_PER_COMMIT + 12_345);
    let chunks = whole.len().div_ceil(SNAPSHOT_CHUNK_BYTES);
    {
        let mut store = RedbSnapshotStore::open(&path).expect("open");
        store.save(1, &whole).expect("save");
        let mut sink = store.begin(2).expect("begin");
        for piece in whole.chunks(777_777) {
            sink.write(piece).expect("write");
        }
        sink.finish().expect("finish");
        assert_eq!(store.latest().expect("latest"), Some((2, whole.clone())));

        let mut abandoned = store.begin(3).expect("begin");
        abandoned.write(&whole[..SNAPSHOT_BYTES_PER_COMMIT + 1]).expect("write");
        drop(abandoned);
        assert_eq!(store.list().expect("list"), vec![1, 2]);
        assert_eq!(store.latest().expect("latest"), Some((2, whole.clone())));
    }
    let abandoned_chunks = SNAPSHOT_BYTES_PER_COMMIT / SNAPSHOT_CHUNK_BYTES;
    assert_eq!(
        chunk_counts(&path),
        BTreeMap::from([(1, chunks), (2, chunks), (3, abandoned_chunks)])
    );
    drop(RedbSnapshotStore::open(&path).expect("reopen"));
    assert_eq!(chunk_counts(&path), BTreeMap::from([(1, chunks), (2, chunks)]));
}
