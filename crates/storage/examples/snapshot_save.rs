//! How long saving a snapshot of N MB takes on this disk, and how much of it is CPU:
//! the way the snapshot thread saves (pieces of `SNAPSHOT_BYTES_PER_COMMIT`, then keep
//! the newest two), three saves in a row into one store.
//!
//!     cargo run --release -p storage --example snapshot_save -- 48

use std::time::Instant;

use storage::{RedbSnapshotStore, SNAPSHOT_BYTES_PER_COMMIT, SnapshotStore};

/// User plus system CPU time of this process so far, in milliseconds.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are 14th and 15th.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 =
        fields.get(11..13).map_or(0.0, |t| t.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks * 10.0
}

fn main() {
    let megabytes: usize = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(48);
    let dir = tempfile::tempdir_in(".").expect("a temporary directory here");
    let mut store = RedbSnapshotStore::open(&dir.path().join("snapshots.redb")).expect("open");
    let piece: Vec<u8> = (0..SNAPSHOT_BYTES_PER_COMMIT).map(|i| (i * 7 % 251) as u8).collect();
    for zxid in 1..=3 {
        let (started, cpu) = (Instant::now(), cpu_ms());
        let mut sink = store.begin(zxid).expect("begin");
        for _ in 0..megabytes * (1 << 20) / piece.len() {
            sink.write(&piece).expect("write");
        }
        sink.finish().expect("finish");
        store.retain(2).expect("retain");
        println!(
            "save {zxid} of {megabytes} MB: {} ms, {:.0} ms CPU",
            started.elapsed().as_millis(),
            cpu_ms() - cpu
        );
    }
}
