//! Startup: open the node's storage and rebuild the tree from the newest
//! snapshot plus the txns logged after it.

use std::path::Path;

use datatree::{DataTree, Txn};
use proto::Record;
use storage::{FileTxnLog, LogOptions, RedbSnapshotStore, SnapshotStore, TxnLog};

/// Subdirectory of the data directory holding txn log segments.
pub const LOG_DIRECTORY: &str = "log";
/// File in the data directory holding snapshots and node metadata.
pub const SNAPSHOT_FILE: &str = "snapshots.redb";

/// A node's storage, opened, and the tree recovered from it.
pub(crate) struct Recovered {
    pub tree: DataTree,
    pub log: FileTxnLog,
    pub snapshots: RedbSnapshotStore,
    /// Txns replayed from the log on top of the snapshot.
    pub replayed_txns: u64,
    /// The newest snapshot's zxid (zero if none): the log cannot be cut below it.
    pub snapshot_zxid: proto::Zxid,
    /// The last replayed txns (at most `RECENT_TXNS_MAX`), oldest first: a
    /// new ensemble leader syncs lagging members from them.
    pub recent_txns: std::collections::VecDeque<(proto::Zxid, Vec<u8>)>,
}

/// Replayed txns kept for syncing ensemble members by DIFF.
pub const RECENT_TXNS_MAX: usize = broadcast::COMMITTED_LOG_MAX_DEFAULT;

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("cannot create data directory {path}: {source}")]
    DataDirectory { path: String, source: std::io::Error },
    #[error("storage: {0}")]
    Storage(#[from] storage::StorageError),
    #[error("snapshot at zxid {zxid:#x} is unreadable: {error}")]
    Snapshot { zxid: i64, error: proto::DecodeError },
    #[error("logged txn {zxid:#x} is unreadable: {error}")]
    Txn { zxid: i64, error: proto::DecodeError },
}

pub(crate) fn recover(
    data_dir: &Path,
    log_options: LogOptions,
) -> Result<Recovered, RecoveryError> {
    let log_dir = data_dir.join(LOG_DIRECTORY);
    std::fs::create_dir_all(&log_dir).map_err(|source| RecoveryError::DataDirectory {
        path: log_dir.display().to_string(),
        source,
    })?;
    let snapshots = RedbSnapshotStore::open(&data_dir.join(SNAPSHOT_FILE))?;
    let log = FileTxnLog::open(&log_dir, log_options)?;
    let mut snapshot_zxid = proto::Zxid::ZERO;
    let mut tree = match snapshots.latest()? {
        Some((zxid, bytes)) => {
            snapshot_zxid = proto::Zxid(zxid);
            DataTree::from_snapshot(&bytes)
                .map_err(|error| RecoveryError::Snapshot { zxid, error })?
        }
        None => DataTree::new(),
    };
    let mut replayed_txns = 0;
    let mut recent_txns = std::collections::VecDeque::new();
    for (zxid, payload) in log.read_from(tree.last_zxid().0)? {
        let txn = Txn::from_bytes(&payload).map_err(|error| RecoveryError::Txn { zxid, error })?;
        tree.apply(&txn);
        replayed_txns += 1;
        if recent_txns.len() == RECENT_TXNS_MAX {
            recent_txns.pop_front();
        }
        recent_txns.push_back((proto::Zxid(zxid), payload));
    }
    tracing::info!(
        last_zxid = %tree.last_zxid(),
        replayed_txns,
        nodes = tree.node_count(),
        sessions = tree.sessions().count(),
        "recovered"
    );
    Ok(Recovered { tree, log, snapshots, replayed_txns, snapshot_zxid, recent_txns })
}
