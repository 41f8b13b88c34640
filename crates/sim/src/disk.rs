//! A simulated disk: the durable epochs, one snapshot and a txn log whose
//! tail is not yet synced. An fsync completes a random number of ticks after
//! it is requested (one at a time: later appends wait for the next one, as
//! group commit does). A crash keeps the synced prefix and a random part of
//! the unsynced tail, whose last surviving record may be torn (recovery
//! detects it by checksum and drops it).

use broadcast::{Epochs, Proposal};
use bytes::Bytes;
use proto::Zxid;

use crate::fingerprint::fingerprint;
use crate::rng::SimRng;

/// A committed txn as the checkers identify it: its zxid and payload fingerprint.
pub type TxnId = (Zxid, u64);

pub fn txn_id(proposal: &Proposal) -> TxnId {
    (proposal.zxid, fingerprint(&proposal.txn))
}

/// A state-machine snapshot: the serialized tree and the txns it reflects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub zxid: Zxid,
    pub tree: Bytes,
    pub history: Vec<TxnId>,
}

#[derive(Debug, Clone, Copy)]
struct PendingFsync {
    /// Log length made durable when this fsync completes.
    target_len: usize,
    done_at: u64,
}

/// Ticks an fsync takes, inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskConfig {
    pub fsync_ticks_min: u64,
    pub fsync_ticks_max: u64,
}

pub struct Disk {
    pub config: DiskConfig,
    pub epochs: Epochs,
    pub snapshot: Snapshot,
    log: Vec<Proposal>,
    durable_len: usize,
    fsync: Option<PendingFsync>,
}

impl Disk {
    pub fn new(config: DiskConfig, empty_tree: Bytes) -> Disk {
        Disk {
            config,
            epochs: Epochs::default(),
            snapshot: Snapshot { zxid: Zxid::ZERO, tree: empty_tree, history: Vec::new() },
            log: Vec::new(),
            durable_len: 0,
            fsync: None,
        }
    }

    pub fn log(&self) -> &[Proposal] {
        &self.log
    }

    pub fn last_logged(&self) -> Zxid {
        self.log.last().map_or(self.snapshot.zxid, |p| p.zxid)
    }

    pub fn append(&mut self, proposals: Vec<Proposal>, now: u64, rng: &mut SimRng) {
        self.log.extend(proposals);
        self.schedule_fsync(now, rng);
    }

    fn schedule_fsync(&mut self, now: u64, rng: &mut SimRng) {
        if self.fsync.is_none() && self.log.len() > self.durable_len {
            let ticks = rng.between(self.config.fsync_ticks_min, self.config.fsync_ticks_max);
            self.fsync = Some(PendingFsync { target_len: self.log.len(), done_at: now + ticks });
        }
    }

    /// Completes the pending fsync if it is due: returns the last zxid now durable.
    pub fn complete_fsync(&mut self, now: u64, rng: &mut SimRng) -> Option<Zxid> {
        let pending = self.fsync.filter(|f| f.done_at <= now)?;
        self.fsync = None;
        self.durable_len = self.durable_len.max(pending.target_len.min(self.log.len()));
        let last = self.log.get(pending.target_len.checked_sub(1)?).map(|p| p.zxid);
        self.schedule_fsync(now, rng);
        last
    }

    /// Drops every logged txn above `zxid` (a durable operation here).
    pub fn truncate(&mut self, zxid: Zxid) {
        self.log.retain(|p| p.zxid <= zxid);
        self.durable_len = self.durable_len.min(self.log.len());
        if let Some(fsync) = self.fsync.as_mut() {
            fsync.target_len = fsync.target_len.min(self.log.len());
            if fsync.target_len <= self.durable_len {
                self.fsync = None;
            }
        }
    }

    /// Replaces snapshot and log, durably.
    /// Drops every snapshot and the whole log (the epochs stay): the empty
    /// state at zxid zero.
    pub fn reset(&mut self, empty_tree: Bytes) {
        self.install_snapshot(Snapshot { zxid: Zxid::ZERO, tree: empty_tree, history: Vec::new() });
    }

    pub fn install_snapshot(&mut self, snapshot: Snapshot) {
        self.snapshot = snapshot;
        self.log.clear();
        self.durable_len = 0;
        self.fsync = None;
    }

    /// The process dies: keep the synced prefix and a random part of the
    /// unsynced tail; with `torn`, the last kept unsynced record is half
    /// written and recovery discards it. Returns how many records were lost.
    pub fn crash(&mut self, rng: &mut SimRng, torn: bool) -> usize {
        let unsynced = (self.log.len() - self.durable_len) as u64;
        let mut keep = self.durable_len + rng.below(unsynced + 1) as usize;
        if torn && keep > self.durable_len {
            keep -= 1;
        }
        let lost = self.log.len() - keep;
        self.log.truncate(keep);
        self.durable_len = keep;
        self.fsync = None;
        lost
    }

    /// True when this txn survives any crash: in the synced log or the snapshot.
    pub fn durably_holds(&self, id: TxnId) -> bool {
        self.log[..self.durable_len].iter().any(|p| txn_id(p) == id)
            || self.snapshot.history.contains(&id)
    }

    pub fn durable_len(&self) -> usize {
        self.durable_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(counter: u32) -> Proposal {
        Proposal { zxid: Zxid::new(1, counter), txn: Bytes::from(vec![counter as u8]) }
    }

    fn disk() -> Disk {
        Disk::new(DiskConfig { fsync_ticks_min: 2, fsync_ticks_max: 2 }, Bytes::new())
    }

    #[test]
    fn fsync_completes_after_its_delay_and_then_covers_later_appends() {
        let mut rng = SimRng::new(1);
        let mut disk = disk();
        disk.append(vec![proposal(1), proposal(2)], 0, &mut rng);
        assert_eq!(disk.complete_fsync(1, &mut rng), None);
        disk.append(vec![proposal(3)], 1, &mut rng);
        assert_eq!(disk.complete_fsync(2, &mut rng), Some(Zxid::new(1, 2)));
        assert_eq!(disk.durable_len(), 2);
        assert_eq!(disk.complete_fsync(3, &mut rng), None);
        assert_eq!(disk.complete_fsync(4, &mut rng), Some(Zxid::new(1, 3)));
        assert_eq!(disk.durable_len(), 3);
    }

    #[test]
    fn crash_never_loses_synced_records_and_may_lose_unsynced_ones() {
        let mut lost_counts = std::collections::BTreeSet::new();
        for seed in 0..30 {
            let mut rng = SimRng::new(seed);
            let mut disk = disk();
            disk.append(vec![proposal(1)], 0, &mut rng);
            disk.complete_fsync(2, &mut rng);
            disk.append(vec![proposal(2), proposal(3)], 2, &mut rng);
            let lost = disk.crash(&mut rng, false);
            assert!(disk.durably_holds(txn_id(&proposal(1))));
            assert_eq!(disk.log().len(), 3 - lost);
            lost_counts.insert(lost);
        }
        assert_eq!(lost_counts.into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn torn_crash_always_loses_at_least_one_unsynced_record() {
        for seed in 0..30 {
            let mut rng = SimRng::new(seed);
            let mut disk = disk();
            disk.append(vec![proposal(1), proposal(2)], 0, &mut rng);
            assert!(disk.crash(&mut rng, true) >= 1);
            assert_eq!(disk.complete_fsync(100, &mut rng), None, "no fsync survives a crash");
        }
    }

    #[test]
    fn truncate_below_a_pending_fsync_cancels_it() {
        let mut rng = SimRng::new(2);
        let mut disk = disk();
        disk.append(vec![proposal(1), proposal(2)], 0, &mut rng);
        disk.truncate(Zxid::ZERO);
        assert_eq!(disk.complete_fsync(10, &mut rng), None);
        assert_eq!(disk.last_logged(), Zxid::ZERO);
    }

    #[test]
    fn snapshot_install_replaces_log_and_is_durable() {
        let mut rng = SimRng::new(3);
        let mut disk = disk();
        disk.append(vec![proposal(1)], 0, &mut rng);
        let id = txn_id(&proposal(7));
        disk.install_snapshot(Snapshot {
            zxid: Zxid::new(1, 7),
            tree: Bytes::new(),
            history: vec![id],
        });
        assert!(disk.log().is_empty());
        assert_eq!(disk.last_logged(), Zxid::new(1, 7));
        disk.crash(&mut rng, true);
        assert!(disk.durably_holds(id));
    }
}
