//! FileTxnLog behaviour that only a file-backed log has: reopening, torn
//! tails, corruption, and segment files.

use std::fs;
use std::path::{Path, PathBuf};

use storage::{FileTxnLog, LogOptions, RECORD_BYTES_MAX, StorageError, TxnLog};
use tempfile::TempDir;

/// File header plus len, crc, zxid in front of every payload.
const MAGIC_BYTES: u64 = 8;
const RECORD_HEADER_BYTES: usize = 16;

fn payload(zxid: i64) -> Vec<u8> {
    format!("payload for zxid {zxid} / {}", "x".repeat(zxid as usize % 13)).into_bytes()
}

fn records(zxids: impl IntoIterator<Item = i64>) -> Vec<(i64, Vec<u8>)> {
    zxids.into_iter().map(|z| (z, payload(z))).collect()
}

fn open(dir: &Path, segment_bytes_max: u64) -> FileTxnLog {
    FileTxnLog::open(dir, LogOptions { segment_bytes_max, preallocate_bytes: 0 }).expect("open")
}

fn write_synced(dir: &Path, segment_bytes_max: u64, zxids: impl IntoIterator<Item = i64>) {
    let mut log = open(dir, segment_bytes_max);
    for zxid in zxids {
        log.append(zxid, &payload(zxid)).expect("append");
    }
    log.sync().expect("sync");
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("log.")))
        .collect();
    files.sort();
    files
}

fn copy_dir(from: &Path) -> TempDir {
    let to = TempDir::new().expect("tempdir");
    for entry in fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        fs::copy(entry.path(), to.path().join(entry.file_name())).expect("copy");
    }
    to
}

const BIG: u64 = 1 << 30;

#[test]
fn reopen_after_sync_keeps_records() {
    let dir = TempDir::new().expect("tempdir");
    write_synced(dir.path(), BIG, 1..=25);
    let mut log = open(dir.path(), BIG);
    assert_eq!(log.last_zxid(), Some(25));
    assert_eq!(log.read_from(0).expect("read"), records(1..=25));
    log.append(26, &payload(26)).expect("append after reopen");
    log.sync().expect("sync");
    drop(log);
    assert_eq!(open(dir.path(), BIG).read_from(20).expect("read"), records(21..=26));
}

#[test]
fn segments_roll_at_the_size_limit_and_are_named_by_first_zxid() {
    let dir = TempDir::new().expect("tempdir");
    write_synced(dir.path(), 200, 1..=40);
    let files = segment_files(dir.path());
    assert!(files.len() > 5, "only {} segments", files.len());
    for file in &files {
        let len = fs::metadata(file).expect("metadata").len();
        // A segment may exceed the limit only if it holds a single record.
        let name = file.file_name().and_then(|n| n.to_str()).expect("name").to_string();
        let first = i64::from_str_radix(&name[4..], 16).expect("hex name");
        let single = MAGIC_BYTES + (RECORD_HEADER_BYTES + payload(first).len()) as u64;
        assert!(len <= 200 || len == single, "{name} is {len} bytes");
    }
    assert!(files[0].ends_with("log.0000000000000001"));
    assert_eq!(open(dir.path(), 200).read_from(i64::MIN).expect("read"), records(1..=40));
}

#[test]
fn purge_deletes_only_segments_wholly_at_or_below_the_zxid() {
    let dir = TempDir::new().expect("tempdir");
    write_synced(dir.path(), 200, 1..=40);
    let before = segment_files(dir.path()).len();
    let mut log = open(dir.path(), 200);
    log.purge_before(20).expect("purge");
    let after = segment_files(dir.path()).len();
    assert!(after < before, "purge removed nothing ({before} segments)");
    let left = log.read_from(i64::MIN).expect("read");
    let first = left[0].0;
    assert!(first <= 21 && first > 1, "first remaining zxid {first}");
    assert_eq!(left, records(first..=40));
    log.purge_before(i64::MAX).expect("purge all");
    assert_eq!(segment_files(dir.path()).len(), 1, "the active segment must stay");
    drop(log);
    assert_eq!(open(dir.path(), 200).last_zxid(), Some(40));
}

#[test]
fn truncate_after_is_durable_and_removes_later_segments() {
    let dir = TempDir::new().expect("tempdir");
    write_synced(dir.path(), 200, 1..=40);
    let mut log = open(dir.path(), 200);
    log.truncate_after(17).expect("truncate");
    drop(log);
    let files = segment_files(dir.path());
    let mut log = open(dir.path(), 200);
    assert_eq!(log.read_from(i64::MIN).expect("read"), records(1..=17));
    assert_eq!(segment_files(dir.path()), files);
    log.append(18, b"other").expect("append");
    log.sync().expect("sync");
    drop(log);
    let mut expected = records(1..=17);
    expected.push((18, b"other".to_vec()));
    assert_eq!(open(dir.path(), 200).read_from(i64::MIN).expect("read"), expected);
}

/// The pristine log for the torn-tail tests: ten records in one segment.
fn ten_records() -> (TempDir, PathBuf, u64) {
    let dir = TempDir::new().expect("tempdir");
    write_synced(dir.path(), BIG, 1..=10);
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 1);
    let last_record_len = (RECORD_HEADER_BYTES + payload(10).len()) as u64;
    let file = files[0].clone();
    (dir, file, last_record_len)
}

/// Reopens a damaged copy and checks the last record is gone, the file holds
/// nothing but zeros after the good prefix, and zxid 10 can be appended again.
fn assert_recovers_nine(dir: &Path, good_len: u64, what: &str) {
    let mut log =
        FileTxnLog::open(dir, LogOptions { segment_bytes_max: BIG, preallocate_bytes: 0 })
            .unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
    assert_eq!(log.last_zxid(), Some(9), "{what}");
    assert_eq!(log.read_from(i64::MIN).expect("read"), records(1..=9), "{what}");
    // Cut back to the good records; a torn remnant that is all zeros may
    // stay, as free space the next append overwrites.
    let bytes = fs::read(&segment_files(dir)[0]).expect("read");
    assert!(bytes.len() as u64 >= good_len, "{what}: cut too far");
    assert!(bytes[good_len as usize..].iter().all(|&b| b == 0), "{what}: not truncated");
    log.append(10, &payload(10)).expect("re-append 10");
    log.sync().expect("sync");
    drop(log);
    assert_eq!(open(dir, BIG).read_from(i64::MIN).expect("read"), records(1..=10), "{what}");
}

#[test]
fn torn_tail_of_every_length_is_cut_back_to_the_last_good_record() {
    let (dir, file, last_len) = ten_records();
    let full = fs::metadata(&file).expect("metadata").len();
    let good_len = full - last_len;
    for cut in 1..=last_len {
        let copy = copy_dir(dir.path());
        let torn = copy.path().join(file.file_name().expect("name"));
        fs::OpenOptions::new().write(true).open(&torn).expect("open").set_len(full - cut).unwrap();
        assert_recovers_nine(copy.path(), good_len, &format!("cut {cut}"));
    }
}

#[test]
fn flipped_byte_anywhere_in_the_last_record_is_treated_as_torn() {
    let (dir, file, last_len) = ten_records();
    let pristine = fs::read(&file).expect("read");
    let good_len = pristine.len() as u64 - last_len;
    for offset in good_len as usize..pristine.len() {
        let copy = copy_dir(dir.path());
        let mut bytes = pristine.clone();
        bytes[offset] ^= 0x5a;
        fs::write(copy.path().join(file.file_name().expect("name")), &bytes).expect("write");
        assert_recovers_nine(copy.path(), good_len, &format!("flip at {offset}"));
    }
}

#[test]
fn garbage_length_at_tail_is_discarded_without_allocating_it() {
    let (dir, file, _) = ten_records();
    let good_len = fs::metadata(&file).expect("metadata").len();
    let mut bytes = fs::read(&file).expect("read");
    bytes.extend_from_slice(&[0xff; 4]);
    bytes.extend_from_slice(&[0xab; 20]);
    fs::write(&file, &bytes).expect("write");
    assert!(u32::MAX as usize > RECORD_BYTES_MAX);
    let log = open(dir.path(), BIG);
    assert_eq!(log.read_from(i64::MIN).expect("read"), records(1..=10));
    assert_eq!(fs::metadata(&file).expect("metadata").len(), good_len);
}

#[test]
fn zeroed_tail_is_free_space_that_the_next_append_overwrites() {
    let (dir, file, _) = ten_records();
    let mut bytes = fs::read(&file).expect("read");
    bytes.extend_from_slice(&[0; 4096]);
    fs::write(&file, &bytes).expect("write");
    let mut log = open(dir.path(), BIG);
    assert_eq!(log.read_from(i64::MIN).expect("read"), records(1..=10));
    log.append(11, &payload(11)).expect("append");
    log.sync().expect("sync");
    drop(log);
    assert_eq!(open(dir.path(), BIG).read_from(i64::MIN).expect("read"), records(1..=11));
}

/// A log that grows its segment in steps of `STEP` zeroed bytes.
const STEP: u64 = 4096;

fn open_preallocated(dir: &Path, segment_bytes_max: u64) -> FileTxnLog {
    FileTxnLog::open(dir, LogOptions { segment_bytes_max, preallocate_bytes: STEP }).expect("open")
}

fn append_synced(log: &mut FileTxnLog, zxids: impl IntoIterator<Item = i64>) {
    for zxid in zxids {
        log.append(zxid, &payload(zxid)).expect("append");
    }
    log.sync().expect("sync");
}

/// Where the records of `zxids` end in a segment that holds them alone.
fn records_end(zxids: std::ops::RangeInclusive<i64>) -> u64 {
    MAGIC_BYTES + zxids.map(|z| (RECORD_HEADER_BYTES + payload(z).len()) as u64).sum::<u64>()
}

fn only_segment(dir: &Path) -> PathBuf {
    let files = segment_files(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn a_preallocated_segment_is_zeroed_ahead_of_its_records_and_reopens_where_they_end() {
    let dir = TempDir::new().expect("tempdir");
    let mut log = open_preallocated(dir.path(), BIG);
    append_synced(&mut log, 1..=10);
    let records_len = records_end(1..=10);
    let file = only_segment(dir.path());
    let len = fs::metadata(&file).expect("metadata").len();
    assert_eq!(len % STEP, 0, "grown in whole steps: {len}");
    assert!(len >= records_len + STEP / 2, "at least half a step ahead: {len} for {records_len}");
    drop(log);

    let mut log = open_preallocated(dir.path(), BIG);
    assert_eq!(log.last_zxid(), Some(10));
    // Enough to cross several steps, so the file is grown while in use.
    for zxid in 11..=400 {
        log.append(zxid, &payload(zxid)).expect("append");
        if zxid % 7 == 0 {
            log.sync().expect("sync");
        }
    }
    assert_eq!(log.read_from(i64::MIN).expect("read"), records(1..=400), "before sync");
    log.sync().expect("sync");
    drop(log);
    assert_eq!(
        open_preallocated(dir.path(), BIG).read_from(395).expect("read"),
        records(396..=400)
    );
    assert_eq!(fs::metadata(&file).expect("metadata").len() % STEP, 0);
}

#[test]
fn a_record_torn_inside_preallocated_space_is_cut_back() {
    let dir = TempDir::new().expect("tempdir");
    append_synced(&mut open_preallocated(dir.path(), BIG), 1..=10);
    let file = only_segment(dir.path());
    let end = records_end(1..=10);
    // The last record's final bytes never reached the disk: zeros instead.
    let mut bytes = fs::read(&file).expect("read");
    bytes[end as usize - 3..end as usize].fill(0);
    fs::write(&file, &bytes).expect("write");

    let mut log = open_preallocated(dir.path(), BIG);
    assert_eq!(log.last_zxid(), Some(9));
    assert_eq!(log.read_from(i64::MIN).expect("read"), records(1..=9));
    log.append(10, &payload(10)).expect("re-append 10");
    log.append(11, &payload(11)).expect("append 11");
    log.sync().expect("sync");
    drop(log);
    assert_eq!(
        open_preallocated(dir.path(), BIG).read_from(i64::MIN).expect("read"),
        records(1..=11)
    );
}

#[test]
fn a_rolled_segment_gives_back_its_preallocated_space() {
    let dir = TempDir::new().expect("tempdir");
    let segment_bytes_max = 3 * STEP;
    let mut log = open_preallocated(dir.path(), segment_bytes_max);
    for zxid in 1..=1_000 {
        log.append(zxid, &payload(zxid)).expect("append");
        log.sync().expect("sync");
    }
    drop(log);
    let files = segment_files(dir.path());
    assert!(files.len() >= 3, "{files:?}");
    for file in &files[..files.len() - 1] {
        let bytes = fs::read(file).expect("read");
        assert!(bytes.len() as u64 <= segment_bytes_max, "{}", bytes.len());
        assert_ne!(bytes.last(), Some(&0), "{}: zeros left after its records", file.display());
    }
    let last_len = fs::metadata(&files[files.len() - 1]).expect("metadata").len();
    assert!(last_len <= segment_bytes_max, "preallocation stops at the segment size: {last_len}");
    let log = open_preallocated(dir.path(), segment_bytes_max);
    assert_eq!(log.read_from(i64::MIN).expect("read"), records(1..=1_000));
}

#[test]
fn truncating_a_preallocated_segment_keeps_appends_in_order() {
    let dir = TempDir::new().expect("tempdir");
    let mut log = open_preallocated(dir.path(), BIG);
    append_synced(&mut log, 1..=50);
    log.truncate_after(20).expect("truncate");
    log.append(21, b"after the cut").expect("append");
    log.sync().expect("sync");
    drop(log);
    let mut expected = records(1..=20);
    expected.push((21, b"after the cut".to_vec()));
    assert_eq!(open_preallocated(dir.path(), BIG).read_from(i64::MIN).expect("read"), expected);
}

fn corrupt_first_segment(damage: impl Fn(&mut Vec<u8>)) -> StorageError {
    let dir = TempDir::new().expect("tempdir");
    write_synced(dir.path(), 200, 1..=40);
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    let mut bytes = fs::read(&files[0]).expect("read");
    damage(&mut bytes);
    fs::write(&files[0], &bytes).expect("write");
    FileTxnLog::open(dir.path(), LogOptions { segment_bytes_max: 200, preallocate_bytes: 0 })
        .expect_err("corruption in a non-last segment must refuse to open")
}

#[test]
fn flipped_byte_in_a_non_last_segment_refuses_to_open() {
    let err = corrupt_first_segment(|bytes| {
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
    });
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err:?}");
}

#[test]
fn truncated_non_last_segment_refuses_to_open() {
    let err = corrupt_first_segment(|bytes| {
        bytes.truncate(bytes.len() - 3);
    });
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err:?}");
}

#[test]
fn empty_or_header_only_last_segment_is_fine() {
    for contents in [&b""[..], b"HRLD", b"HRLDLOG1"] {
        let dir = TempDir::new().expect("tempdir");
        write_synced(dir.path(), BIG, 1..=5);
        // A segment created for zxid 6 whose first record never reached disk.
        fs::write(dir.path().join("log.0000000000000006"), contents).expect("write");
        let mut log = open(dir.path(), BIG);
        assert_eq!(log.last_zxid(), Some(5));
        assert_eq!(log.read_from(i64::MIN).expect("read"), records(1..=5));
        log.append(7, &payload(7)).expect("append");
        log.sync().expect("sync");
        drop(log);
        let mut expected = records(1..=5);
        expected.extend(records([7]));
        assert_eq!(open(dir.path(), BIG).read_from(i64::MIN).expect("read"), expected);
    }
}

#[test]
fn empty_directory_and_lone_empty_segment_open_as_empty_logs() {
    let dir = TempDir::new().expect("tempdir");
    assert_eq!(open(dir.path(), BIG).last_zxid(), None);
    fs::write(dir.path().join("log.0000000000000001"), b"HRLDLOG1").expect("write");
    let mut log = open(dir.path(), BIG);
    assert_eq!(log.last_zxid(), None);
    log.append(1, b"one").expect("append");
    assert_eq!(log.read_from(0).expect("read"), vec![(1, b"one".to_vec())]);
}

#[test]
fn foreign_file_header_is_corruption() {
    let dir = TempDir::new().expect("tempdir");
    fs::write(dir.path().join("log.0000000000000001"), b"NOTALOG!xxxxxxxxxxxxxxxx").unwrap();
    let err = FileTxnLog::open(dir.path(), LogOptions::default()).expect_err("bad magic");
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err:?}");
}

#[test]
fn unsynced_appends_are_readable_before_sync() {
    let dir = TempDir::new().expect("tempdir");
    let mut log = open(dir.path(), 200);
    for zxid in 1..=30 {
        log.append(zxid, &payload(zxid)).expect("append");
    }
    assert_eq!(log.read_from(10).expect("read"), records(11..=30));
}
