//! Every store implementation against the shared behavioural suite.

use storage::conformance::{snapshot_store_suite, txn_log_suite};
use storage::{
    FileTxnLog, LogOptions, MemorySnapshotStore, MemoryTxnLog, RedbSnapshotStore, SnapshotStore,
    TxnLog,
};
use tempfile::TempDir;

/// Runs the log suite on file logs in fresh directories kept alive to the end.
fn file_log_suite(options: LogOptions) {
    let mut dirs = Vec::new();
    txn_log_suite(&mut || {
        let dir = TempDir::new().expect("tempdir");
        let log = FileTxnLog::open(dir.path(), options).expect("open");
        dirs.push(dir);
        Box::new(log) as Box<dyn TxnLog>
    });
}

#[test]
fn file_txn_log_default_segments() {
    file_log_suite(LogOptions::default());
}

#[test]
fn file_txn_log_tiny_segments() {
    file_log_suite(LogOptions { segment_bytes_max: 200, preallocate_bytes: 0 });
    file_log_suite(LogOptions { segment_bytes_max: 2_000, preallocate_bytes: 256 });
}

#[test]
fn memory_txn_log() {
    txn_log_suite(&mut || Box::new(MemoryTxnLog::default()) as Box<dyn TxnLog>);
}

#[test]
fn redb_snapshot_store() {
    let mut dirs = Vec::new();
    snapshot_store_suite(&mut || {
        let dir = TempDir::new().expect("tempdir");
        let store = RedbSnapshotStore::open(&dir.path().join("snap.redb")).expect("open");
        dirs.push(dir);
        Box::new(store) as Box<dyn SnapshotStore>
    });
}

#[test]
fn memory_snapshot_store() {
    snapshot_store_suite(&mut || {
        Box::new(MemorySnapshotStore::default()) as Box<dyn SnapshotStore>
    });
}
