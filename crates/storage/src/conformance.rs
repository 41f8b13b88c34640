//! Behavioural checks shared by every [`TxnLog`] and [`SnapshotStore`]
//! implementation, so the in-memory stores used by tests and the simulator
//! cannot drift from the durable ones. Each check panics on failure and asks
//! `make` for a fresh, empty store.

use crate::{RECORD_BYTES_MAX, SNAPSHOT_CHUNK_BYTES, SnapshotStore, StorageError, TxnLog};

/// Runs every txn log check. `make` must return an empty log each call.
pub fn txn_log_suite(make: &mut dyn FnMut() -> Box<dyn TxnLog>) {
    empty_log(make());
    append_and_read_from(make());
    rejects_out_of_order(make());
    rejects_oversized_payload(make());
    truncate_then_append(make());
    truncate_with_gaps(make());
    truncate_everything(make());
    purge_keeps_newer_records(make());
}

/// Runs every snapshot store check. `make` must return an empty store each call.
pub fn snapshot_store_suite(make: &mut dyn FnMut() -> Box<dyn SnapshotStore>) {
    empty_store(make());
    save_list_latest(make());
    large_and_empty_snapshots(make());
    overwrite_same_zxid(make());
    retain_keeps_newest(make());
}

/// A payload that differs per zxid and in length, including empty ones.
fn payload(zxid: i64) -> Vec<u8> {
    let len = (zxid.unsigned_abs() % 97) as usize;
    (0..len).map(|i| (zxid as u8).wrapping_mul(31).wrapping_add(i as u8)).collect()
}

fn records(zxids: impl IntoIterator<Item = i64>) -> Vec<(i64, Vec<u8>)> {
    zxids.into_iter().map(|z| (z, payload(z))).collect()
}

fn append_all(log: &mut dyn TxnLog, zxids: impl IntoIterator<Item = i64>) {
    for zxid in zxids {
        log.append(zxid, &payload(zxid)).expect("append");
    }
}

fn read(log: &dyn TxnLog, after: i64) -> Vec<(i64, Vec<u8>)> {
    log.read_from(after).expect("read_from")
}

fn empty_log(log: Box<dyn TxnLog>) {
    assert_eq!(log.last_zxid(), None);
    assert!(read(&*log, i64::MIN).is_empty());
}

fn append_and_read_from(mut log: Box<dyn TxnLog>) {
    append_all(&mut *log, 1..=20);
    assert_eq!(log.last_zxid(), Some(20));
    // Readable before and after sync.
    for synced in [false, true] {
        if synced {
            log.sync().expect("sync");
        }
        for after in [i64::MIN, -1, 0, 1, 7, 19, 20, 25] {
            let expected = records((after.max(0) + 1)..=20);
            assert_eq!(read(&*log, after), expected, "read_from({after}), synced {synced}");
        }
    }
}

fn rejects_out_of_order(mut log: Box<dyn TxnLog>) {
    append_all(&mut *log, [5]);
    for bad in [5, 3, i64::MIN] {
        match log.append(bad, b"x") {
            Err(StorageError::OutOfOrder { last: 5, zxid }) => assert_eq!(zxid, bad),
            other => panic!("append({bad}) after 5 gave {other:?}"),
        }
    }
    assert_eq!(log.last_zxid(), Some(5));
    assert_eq!(read(&*log, i64::MIN), records([5]));
    append_all(&mut *log, [6]);
    assert_eq!(read(&*log, i64::MIN), records([5, 6]));
}

fn rejects_oversized_payload(mut log: Box<dyn TxnLog>) {
    let huge = vec![0u8; RECORD_BYTES_MAX + 1];
    assert!(matches!(log.append(1, &huge), Err(StorageError::RecordTooLarge { .. })));
    assert_eq!(log.last_zxid(), None);
    append_all(&mut *log, [1]);
    assert_eq!(read(&*log, i64::MIN), records([1]));
}

fn truncate_then_append(mut log: Box<dyn TxnLog>) {
    append_all(&mut *log, 1..=30);
    log.sync().expect("sync");
    log.truncate_after(100).expect("truncate past the end");
    assert_eq!(read(&*log, i64::MIN), records(1..=30));
    log.truncate_after(12).expect("truncate");
    assert_eq!(log.last_zxid(), Some(12));
    assert_eq!(read(&*log, i64::MIN), records(1..=12));
    assert!(log.append(12, b"again").is_err(), "12 is still in the log");
    // A different history after the cut point replaces the old one.
    log.append(13, b"new thirteen").expect("append after truncate");
    append_all(&mut *log, 14..=16);
    log.sync().expect("sync");
    let mut expected = records(1..=12);
    expected.push((13, b"new thirteen".to_vec()));
    expected.extend(records(14..=16));
    assert_eq!(read(&*log, i64::MIN), expected);
    assert_eq!(read(&*log, 12), expected[12..].to_vec());
}

fn truncate_with_gaps(mut log: Box<dyn TxnLog>) {
    append_all(&mut *log, [10, 20, 30, 40]);
    log.truncate_after(25).expect("truncate between records");
    assert_eq!(log.last_zxid(), Some(20));
    assert_eq!(read(&*log, i64::MIN), records([10, 20]));
    append_all(&mut *log, [21]);
    assert_eq!(read(&*log, 15), records([20, 21]));
}

fn truncate_everything(mut log: Box<dyn TxnLog>) {
    append_all(&mut *log, 5..=15);
    log.truncate_after(4).expect("truncate all");
    assert_eq!(log.last_zxid(), None);
    assert!(read(&*log, i64::MIN).is_empty());
    append_all(&mut *log, [1, 2]);
    assert_eq!(read(&*log, i64::MIN), records([1, 2]));
}

fn purge_keeps_newer_records(mut log: Box<dyn TxnLog>) {
    append_all(&mut *log, 1..=50);
    log.sync().expect("sync");
    log.purge_before(25).expect("purge");
    assert_eq!(read(&*log, 25), records(26..=50));
    // Whatever was purged, what remains is a contiguous suffix of the log.
    let left = read(&*log, i64::MIN);
    let first = left.first().map_or(51, |(zxid, _)| *zxid);
    assert!(first <= 26, "purge_before(25) removed records above 25");
    assert_eq!(left, records(first..=50));
    assert_eq!(log.last_zxid(), Some(50));
    // Purging past the end must keep last_zxid so zxids are never reused.
    log.purge_before(i64::MAX).expect("purge all");
    assert_eq!(log.last_zxid(), Some(50));
    assert!(log.append(50, b"reuse").is_err());
    append_all(&mut *log, [51]);
    assert_eq!(read(&*log, 50), records([51]));
}

fn snapshot_bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add((i % 251) as u8)).collect()
}

fn empty_store(store: Box<dyn SnapshotStore>) {
    assert_eq!(store.latest().expect("latest"), None);
    assert!(store.list().expect("list").is_empty());
}

fn save_list_latest(mut store: Box<dyn SnapshotStore>) {
    store.save(10, b"ten").expect("save");
    store.save(30, b"thirty").expect("save");
    store.save(20, b"twenty").expect("save");
    assert_eq!(store.list().expect("list"), vec![10, 20, 30]);
    // Latest means highest zxid, not most recently saved.
    assert_eq!(store.latest().expect("latest"), Some((30, b"thirty".to_vec())));
}

fn large_and_empty_snapshots(mut store: Box<dyn SnapshotStore>) {
    let big = snapshot_bytes(7, 2 * SNAPSHOT_CHUNK_BYTES + 12_345);
    store.save(1, &big).expect("save big");
    assert_eq!(store.latest().expect("latest"), Some((1, big)));
    let exact = snapshot_bytes(9, SNAPSHOT_CHUNK_BYTES);
    store.save(2, &exact).expect("save one chunk");
    assert_eq!(store.latest().expect("latest"), Some((2, exact)));
    store.save(3, b"").expect("save empty");
    assert_eq!(store.latest().expect("latest"), Some((3, Vec::new())));
}

fn overwrite_same_zxid(mut store: Box<dyn SnapshotStore>) {
    store.save(5, &snapshot_bytes(1, SNAPSHOT_CHUNK_BYTES + 10)).expect("save");
    store.save(5, b"short").expect("overwrite");
    assert_eq!(store.list().expect("list"), vec![5]);
    assert_eq!(store.latest().expect("latest"), Some((5, b"short".to_vec())));
}

fn retain_keeps_newest(mut store: Box<dyn SnapshotStore>) {
    for zxid in [40, 10, 30, 20] {
        store.save(zxid, &snapshot_bytes(zxid as u8, 100)).expect("save");
    }
    store.retain(5).expect("retain more than stored");
    assert_eq!(store.list().expect("list"), vec![10, 20, 30, 40]);
    store.retain(2).expect("retain");
    assert_eq!(store.list().expect("list"), vec![30, 40]);
    assert_eq!(store.latest().expect("latest"), Some((40, snapshot_bytes(40, 100))));
    store.save(50, b"fifty").expect("save after retain");
    store.retain(1).expect("retain");
    assert_eq!(store.list().expect("list"), vec![50]);
    store.retain(0).expect("retain none");
    assert!(store.list().expect("list").is_empty());
    assert_eq!(store.latest().expect("latest"), None);
}
