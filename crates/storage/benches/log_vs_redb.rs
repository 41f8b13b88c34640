//! Does the plain segment-file log beat redb for the txn log workload?
//!
//! One iteration = 100 records of 200 bytes made durable together, which is
//! what a group commit under load looks like: FileTxnLog appends + one sync,
//! versus one redb write transaction with 100 inserts and a durable commit.
//!
//! A second pair compares a small group commit (10 records) into a segment
//! preallocated with zeros against one grown by its appends: the fdatasync
//! of a growing file must also write the file's new size.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use redb::{Database, Durability, TableDefinition};
use storage::{FileTxnLog, LogOptions, TxnLog};
use tempfile::TempDir;

const RECORDS: i64 = 100;
const PAYLOAD_BYTES: usize = 200;
const LOG: TableDefinition<i64, &[u8]> = TableDefinition::new("txn_log");

fn file_log(c: &mut Criterion) {
    let dir = TempDir::new().expect("tempdir");
    let mut log = FileTxnLog::open(dir.path(), LogOptions::default()).expect("open");
    let payload = vec![0x42u8; PAYLOAD_BYTES];
    let mut zxid = 0i64;
    c.bench_function("file_txn_log: 100 x 200 B + sync", |b| {
        b.iter(|| {
            for _ in 0..RECORDS {
                zxid += 1;
                log.append(zxid, black_box(&payload)).expect("append");
            }
            log.sync().expect("sync");
        })
    });
}

const SMALL_BATCH: i64 = 10;

fn small_group_commit(c: &mut Criterion, name: &str, preallocate_bytes: u64) {
    let dir = TempDir::new().expect("tempdir");
    let options = LogOptions { preallocate_bytes, ..LogOptions::default() };
    let mut log = FileTxnLog::open(dir.path(), options).expect("open");
    let payload = vec![0x42u8; PAYLOAD_BYTES];
    let mut zxid = 0i64;
    c.bench_function(name, |b| {
        b.iter(|| {
            for _ in 0..SMALL_BATCH {
                zxid += 1;
                log.append(zxid, black_box(&payload)).expect("append");
            }
            log.sync().expect("sync");
        })
    });
}

fn preallocated_vs_grown(c: &mut Criterion) {
    small_group_commit(c, "file_txn_log: 10 x 200 B + sync, grown by appends", 0);
    let preallocated = storage::PREALLOCATE_BYTES_DEFAULT;
    small_group_commit(c, "file_txn_log: 10 x 200 B + sync, preallocated", preallocated);
}

fn redb_log(c: &mut Criterion) {
    let dir = TempDir::new().expect("tempdir");
    let db = Database::create(dir.path().join("log.redb")).expect("create");
    let payload = vec![0x42u8; PAYLOAD_BYTES];
    let mut zxid = 0i64;
    c.bench_function("redb table: 100 x 200 B + durable commit", |b| {
        b.iter(|| {
            let mut txn = db.begin_write().expect("begin");
            txn.set_durability(Durability::Immediate).expect("durability");
            {
                let mut table = txn.open_table(LOG).expect("table");
                for _ in 0..RECORDS {
                    zxid += 1;
                    table.insert(zxid, black_box(payload.as_slice())).expect("insert");
                }
            }
            txn.commit().expect("commit");
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = file_log, redb_log, preallocated_vs_grown
}
criterion_main!(benches);
