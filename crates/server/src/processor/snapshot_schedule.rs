//! When the next snapshot is due.
//!
//! Members of an ensemble apply the same txns, so a fixed "every N txns"
//! makes all of them snapshot at the same txn: each takes a burst of CPU and
//! disk, and all at once they stall the ensemble's writes together. As
//! ZooKeeper does with `snapCount`, each threshold is drawn at random around
//! the configured interval (here within ±50%, so the average stays at it).

pub(crate) struct SnapshotSchedule {
    every: u64,
    /// Whether the interval grows with the tree, see [`interval`].
    scales_with_tree: bool,
    since: u64,
    /// This round's draw: the snapshot is due at `scale` x the interval.
    scale: f64,
    /// The count at which it is due: fixed for the round by the draw and
    /// the tree's size at the last snapshot (or at startup).
    due_at: u64,
}

impl SnapshotSchedule {
    /// `since`: txns already applied since the last snapshot (recovery's
    /// replay); `znodes`: the tree's size now; `draw`: a uniform number in
    /// [0, 1) for the first threshold.
    pub(crate) fn new(
        every: u64,
        scales_with_tree: bool,
        since: u64,
        znodes: u64,
        draw: f64,
    ) -> SnapshotSchedule {
        let mut schedule =
            SnapshotSchedule { every, scales_with_tree, since, scale: 0.0, due_at: 0 };
        schedule.start_round(znodes, draw);
        schedule
    }

    /// Counts one applied txn, with the tree now holding `znodes`. True when
    /// a snapshot is due; the count then starts again towards a threshold
    /// drawn from `draw`.
    pub(crate) fn applied(&mut self, znodes: u64, draw: impl FnOnce() -> f64) -> bool {
        self.since += 1;
        if self.since < self.due_at {
            return false;
        }
        self.since = 0;
        self.start_round(znodes, draw());
        true
    }

    /// After storage was rebuilt: `since` txns were replayed on the new
    /// snapshot, giving a tree of `znodes`. The round's draw stays.
    pub(crate) fn restart(&mut self, since: u64, znodes: u64) {
        self.since = since;
        self.set_due_at(znodes);
    }

    fn start_round(&mut self, znodes: u64, draw: f64) {
        self.scale = scale(draw);
        self.set_due_at(znodes);
    }

    fn set_due_at(&mut self, znodes: u64) {
        self.due_at = threshold(interval(self.every, self.scales_with_tree, znodes), self.scale);
    }
}

/// Txns between snapshots on average. A snapshot writes every znode, and a
/// txn's log record is about the size of one znode's snapshot record, so
/// snapshotting a big tree every `every` txns would write far more snapshot
/// than log: at 400,000 znodes, 100,000 txns of 150 bytes bring an 80 MB
/// snapshot. Waiting for at least as many txns as the tree had znodes at the
/// last snapshot keeps the snapshot bytes written at most about the log
/// bytes written, however big the tree, and a restart replays at most about
/// a snapshot's worth of log. (The size at the last snapshot, not the size
/// now: under creates alone the tree grows as fast as the count, which would
/// then never catch up.)
fn interval(every: u64, scales_with_tree: bool, znodes: u64) -> u64 {
    match scales_with_tree {
        true => every.max(znodes),
        false => every,
    }
}

/// The draw mapped to [0.5, 1.5]: thresholds spread within ±50% of the
/// interval, so the average stays at it.
fn scale(draw: f64) -> f64 {
    0.5 + draw.clamp(0.0, 1.0)
}

/// The txn count at which a snapshot is due, never below one txn.
fn threshold(interval: u64, scale: f64) -> u64 {
    ((interval as f64 * scale) as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree too small to stretch any interval used here.
    const SMALL_TREE: u64 = 1;

    fn txns_until_due(schedule: &mut SnapshotSchedule, znodes: u64, draw: f64) -> u64 {
        (1..).find(|_| schedule.applied(znodes, || draw)).expect("due eventually")
    }

    #[test]
    fn thresholds_span_half_to_one_and_a_half_intervals() {
        assert_eq!(threshold(100_000, scale(0.0)), 50_000);
        assert_eq!(threshold(100_000, scale(0.5)), 100_000);
        assert_eq!(threshold(100_000, scale(0.999_999_999)), 149_999);
        assert_eq!(threshold(100_000, scale(1.0)), 150_000, "a draw of 1 stays inside");
        assert_eq!(threshold(1, scale(0.0)), 1);
        assert_eq!(threshold(1, scale(0.99)), 1);
        assert_eq!(threshold(3, scale(0.99)), 4);
    }

    #[test]
    fn members_with_different_draws_snapshot_at_different_txns() {
        let mut low = SnapshotSchedule::new(1_000, true, 0, SMALL_TREE, 0.1);
        let mut high = SnapshotSchedule::new(1_000, true, 0, SMALL_TREE, 0.9);
        assert_ne!(
            txns_until_due(&mut low, SMALL_TREE, 0.5),
            txns_until_due(&mut high, SMALL_TREE, 0.5)
        );
    }

    #[test]
    fn each_snapshot_draws_the_next_threshold_and_restarts_the_count() {
        let mut schedule = SnapshotSchedule::new(10, true, 0, SMALL_TREE, 0.0);
        assert_eq!(txns_until_due(&mut schedule, SMALL_TREE, 0.99), 5, "first threshold: 10 / 2");
        assert_eq!(txns_until_due(&mut schedule, SMALL_TREE, 0.0), 14, "then the drawn one");
        assert_eq!(txns_until_due(&mut schedule, SMALL_TREE, 0.5), 5);
    }

    #[test]
    fn replayed_txns_count_towards_the_first_snapshot() {
        let mut schedule = SnapshotSchedule::new(10, true, 4, SMALL_TREE, 0.5);
        assert_eq!(txns_until_due(&mut schedule, SMALL_TREE, 0.5), 6);
        schedule.restart(9, SMALL_TREE);
        assert!(schedule.applied(SMALL_TREE, || 0.5), "9 replayed + 1 reaches 10");
    }

    #[test]
    fn a_tree_bigger_than_the_interval_stretches_it_to_one_txn_per_znode() {
        let mut scaled = SnapshotSchedule::new(1_000, true, 0, 4_000, 0.5);
        assert_eq!(txns_until_due(&mut scaled, 999, 0.5), 4_000, "the tree at startup counts");
        assert_eq!(txns_until_due(&mut scaled, 999, 0.5), 1_000, "smaller at that snapshot");
        let mut fixed = SnapshotSchedule::new(1_000, false, 0, 4_000, 0.5);
        assert_eq!(txns_until_due(&mut fixed, 4_000, 0.5), 1_000, "not scaled: every 1,000");
    }

    #[test]
    fn a_tree_growing_by_one_znode_per_txn_is_still_snapshotted() {
        // Creates alone: the interval is the tree at the last snapshot, so
        // each round takes as many txns as the tree then had.
        let mut schedule = SnapshotSchedule::new(1_000, true, 0, 2_000, 0.5);
        let mut znodes = 2_000;
        let mut rounds = Vec::new();
        for _ in 0..3 {
            let due = (1..)
                .find(|_| {
                    znodes += 1;
                    schedule.applied(znodes, || 0.5)
                })
                .expect("due");
            rounds.push(due);
        }
        assert_eq!(rounds, vec![2_000, 4_000, 8_000]);
    }

    #[test]
    fn after_a_rebuild_the_new_tree_sets_the_interval() {
        let mut schedule = SnapshotSchedule::new(1_000, true, 0, SMALL_TREE, 0.5);
        schedule.restart(0, 3_000);
        assert_eq!(txns_until_due(&mut schedule, 3_000, 0.5), 3_000);
    }
}
