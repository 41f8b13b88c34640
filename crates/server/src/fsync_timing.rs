//! A txn log wrapper that times each fsync into the node's stats
//! (ZooKeeper's `fsynctime`), leaving the durability thread unaware of metrics.

use std::sync::Arc;
use std::time::Instant;

use storage::TxnLog;

use crate::stats::ServerStats;

pub(crate) struct TimedLog<L> {
    pub(crate) inner: L,
    pub(crate) stats: Arc<ServerStats>,
}

impl<L: TxnLog> TxnLog for TimedLog<L> {
    fn append(&mut self, zxid: i64, payload: &[u8]) -> storage::Result<()> {
        self.inner.append(zxid, payload)
    }

    fn sync(&mut self) -> storage::Result<()> {
        let started = Instant::now();
        let result = self.inner.sync();
        self.stats.record_fsync(started.elapsed());
        result
    }

    fn read_from(&self, after: i64) -> storage::Result<Vec<(i64, Vec<u8>)>> {
        self.inner.read_from(after)
    }

    fn truncate_after(&mut self, zxid: i64) -> storage::Result<()> {
        self.inner.truncate_after(zxid)
    }

    fn purge_before(&mut self, zxid: i64) -> storage::Result<()> {
        self.inner.purge_before(zxid)
    }

    fn last_zxid(&self) -> Option<i64> {
        self.inner.last_zxid()
    }
}
