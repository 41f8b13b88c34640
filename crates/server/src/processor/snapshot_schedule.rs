//! When the next snapshot is due.
//!
//! Members of an ensemble apply the same txns, so a fixed "every N txns"
//! makes all of them snapshot at the same txn: each takes a burst of CPU and
//! disk, and all at once they stall the ensemble's writes together. As
//! ZooKeeper does with `snapCount`, each threshold is drawn at random around
//! the configured interval (here within ±50%, so the average stays at it).

pub(crate) struct SnapshotSchedule {
    every: u64,
    since: u64,
    due_at: u64,
}

impl SnapshotSchedule {
    /// `since`: txns already applied since the last snapshot (recovery's
    /// replay); `draw`: a uniform number in [0, 1) for the first threshold.
    pub(crate) fn new(every: u64, since: u64, draw: f64) -> SnapshotSchedule {
        SnapshotSchedule { every, since, due_at: threshold(every, draw) }
    }

    /// Counts one applied txn. True when a snapshot is due; the count then
    /// starts again towards a threshold drawn from `draw`.
    pub(crate) fn applied(&mut self, draw: impl FnOnce() -> f64) -> bool {
        self.since += 1;
        if self.since < self.due_at {
            return false;
        }
        self.since = 0;
        self.due_at = threshold(self.every, draw());
        true
    }

    /// After storage was rebuilt: `since` txns were replayed on the new snapshot.
    pub(crate) fn restart(&mut self, since: u64) {
        self.since = since;
    }
}

/// A threshold in [every - every/2, every + every/2], never below one txn.
fn threshold(every: u64, draw: f64) -> u64 {
    let spread = every / 2;
    let offset = (draw.clamp(0.0, 1.0) * (2 * spread + 1) as f64) as u64;
    (every - spread + offset.min(2 * spread)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txns_until_due(schedule: &mut SnapshotSchedule, draw: f64) -> u64 {
        (1..).find(|_| schedule.applied(|| draw)).expect("due eventually")
    }

    #[test]
    fn thresholds_span_half_to_one_and_a_half_intervals() {
        assert_eq!(threshold(100_000, 0.0), 50_000);
        assert_eq!(threshold(100_000, 0.5), 100_000);
        assert_eq!(threshold(100_000, 0.999_999_999), 150_000);
        assert_eq!(threshold(100_000, 1.0), 150_000, "a draw of 1 stays inside");
        assert_eq!(threshold(1, 0.0), 1);
        assert_eq!(threshold(1, 0.99), 1);
        assert_eq!(threshold(3, 0.0), 2);
        assert_eq!(threshold(3, 0.99), 4);
    }

    #[test]
    fn members_with_different_draws_snapshot_at_different_txns() {
        let mut low = SnapshotSchedule::new(1_000, 0, 0.1);
        let mut high = SnapshotSchedule::new(1_000, 0, 0.9);
        assert_ne!(txns_until_due(&mut low, 0.5), txns_until_due(&mut high, 0.5));
    }

    #[test]
    fn each_snapshot_draws_the_next_threshold_and_restarts_the_count() {
        let mut schedule = SnapshotSchedule::new(10, 0, 0.0);
        assert_eq!(txns_until_due(&mut schedule, 0.99), 5, "first threshold: 10 - 5");
        assert_eq!(txns_until_due(&mut schedule, 0.0), 15, "then the drawn one: 10 + 5");
        assert_eq!(txns_until_due(&mut schedule, 0.5), 5);
    }

    #[test]
    fn replayed_txns_count_towards_the_first_snapshot() {
        let mut schedule = SnapshotSchedule::new(10, 4, 0.5);
        assert_eq!(txns_until_due(&mut schedule, 0.5), 6);
        schedule.restart(9);
        assert!(schedule.applied(|| 0.5), "9 replayed + 1 reaches 10");
    }
}
