//! Does the plain segment-file log beat redb for the txn log workload?
//!
//! One iteration = 100 records of 200 bytes made durable together, which is
//! what a group commit under load looks like: FileTxnLog appends + one sync,
//! versus one redb write transaction with 100 inserts and a durable commit.

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
    targets = file_log, redb_log
}
criterion_main!(benches);
