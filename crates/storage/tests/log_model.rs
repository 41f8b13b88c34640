//! Property test: FileTxnLog behaves exactly like MemoryTxnLog under random
//! appends, syncs, truncations and reopens.

use proptest::prelude::*;
use storage::{FileTxnLog, LogOptions, MemoryTxnLog, TxnLog};
use tempfile::TempDir;

#[derive(Debug, Clone)]
enum Op {
    /// Append at last_zxid + gap with a payload of this length and fill byte.
    Append {
        gap: i64,
        len: usize,
        fill: u8,
    },
    Sync,
    /// Truncate after last_zxid - back (may cut everything).
    Truncate {
        back: i64,
    },
    /// Sync, close and reopen the file log.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1i64..4, 0usize..300, any::<u8>())
            .prop_map(|(gap, len, fill)| Op::Append { gap, len, fill }),
        1 => Just(Op::Sync),
        1 => (0i64..40).prop_map(|back| Op::Truncate { back }),
        1 => Just(Op::Reopen),
    ]
}

fn check(ops: Vec<Op>, segment_bytes_max: u64) {
    let dir = TempDir::new().expect("tempdir");
    // Preallocation in small steps, so growing, reopening and truncating
    // a segment with free space at its end happen often.
    let options = LogOptions { segment_bytes_max, preallocate_bytes: 256 };
    let mut file = FileTxnLog::open(dir.path(), options).expect("open");
    let mut model = MemoryTxnLog::default();
    for op in ops {
        match op {
            Op::Append { gap, len, fill } => {
                let zxid = model.last_zxid().unwrap_or(0) + gap;
                let payload = vec![fill; len];
                file.append(zxid, &payload).expect("file append");
                model.append(zxid, &payload).expect("model append");
            }
            Op::Sync => file.sync().expect("sync"),
            Op::Truncate { back } => {
                let zxid = model.last_zxid().unwrap_or(0) - back;
                file.truncate_after(zxid).expect("file truncate");
                model.truncate_after(zxid).expect("model truncate");
            }
            Op::Reopen => {
                file.sync().expect("sync");
                drop(file);
                file = FileTxnLog::open(dir.path(), options).expect("reopen");
            }
        }
        assert_eq!(file.last_zxid(), model.last_zxid());
    }
    let expected = model.read_from(i64::MIN).expect("model read");
    assert_eq!(file.read_from(i64::MIN).expect("file read"), expected);
    file.sync().expect("sync");
    drop(file);
    let reopened = FileTxnLog::open(dir.path(), options).expect("final reopen");
    assert_eq!(reopened.read_from(i64::MIN).expect("reopened read"), expected);
    assert_eq!(reopened.last_zxid(), model.last_zxid());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn file_log_matches_memory_log_small_segments(ops in prop::collection::vec(op(), 0..80)) {
        check(ops, 400);
    }

    #[test]
    fn file_log_matches_memory_log_default_segments(ops in prop::collection::vec(op(), 0..80)) {
        check(ops, LogOptions::default().segment_bytes_max);
    }
}
