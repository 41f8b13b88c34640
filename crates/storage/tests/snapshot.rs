//! RedbSnapshotStore behaviour beyond the shared suite: persistence across
//! reopen and detection of damaged chunks.

use redb::{Database, ReadableTable, TableDefinition};
use storage::{RedbSnapshotStore, SNAPSHOT_CHUNK_BYTES, SnapshotStore, StorageError};
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
