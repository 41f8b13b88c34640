//! The limits a queue runs with. Every limit is a named constant or a field here, and
//! [`QueueConfig::validate`] rejects combinations that would break the packet-size bound.

use crate::error::QueueError;

/// Priorities run from 0 (served last) to `PRIORITY_LEVELS - 1` (served first).
pub const PRIORITY_LEVELS: u8 = 10;
/// Items per bucket by default: a bucket listing is then about 26 KB.
pub const ITEMS_PER_BUCKET_DEFAULT: u32 = 1_000;
/// The largest bucket allowed: a getChildren of a full bucket stays far below the
/// 1 MiB packet limit (see the test at the bound).
pub const ITEMS_PER_BUCKET_MAX: u32 = 10_000;
/// Bucket-index listings (a lane's children) must stay small too.
pub const BUCKETS_PER_LANE_MAX: u64 = 20_000;
/// Default size bound: live items plus dead letters.
pub const MAX_ITEMS_DEFAULT: u64 = 1_000_000;
/// Default number of claims an item gets before it becomes a dead letter.
pub const MAX_ATTEMPTS_DEFAULT: u32 = 5;
/// Largest JSON payload, serialized; leaves room in ZooKeeper's 1 MiB node limit.
pub const PAYLOAD_BYTES_MAX: usize = 256 * 1024;
/// Longest queue name and idempotency key.
pub const NAME_BYTES_MAX: usize = 128;
/// Longest visibility timeout a claim may ask for (12 hours).
pub const VISIBILITY_TIMEOUT_MS_MAX: u64 = 12 * 60 * 60 * 1000;
/// Longest delay an item may be enqueued or nacked with (7 days).
pub const DELAY_MS_MAX: u64 = 7 * 24 * 60 * 60 * 1000;
/// Longest long-poll a claim may ask for.
pub const CLAIM_WAIT_MS_MAX: u64 = 60_000;
/// Items one claim visits per lane by default before giving up on that lane: a head
/// of delayed or claimed items costs a read each, and this bounds a single claim's work.
pub const SCAN_ITEMS_PER_LANE_DEFAULT: usize = 1_000;
/// A claim lists the claims directory (to skip items in flight without reading them)
/// only while it holds at most this many entries; the listing stays far below the
/// packet limit (see the test at the bound).
pub const CLAIMS_LISTING_MAX: u64 = 10_000;
/// How many busy claims a waiting claimer watches for release.
pub const CLAIM_WATCHES_MAX: usize = 16;
/// A waiting claimer rescans at least this often, so visibility deadlines that pass
/// (no znode event marks them) are noticed.
pub const RESCAN_INTERVAL_MS: u64 = 1_000;
/// Where queues live by default.
pub const ROOT_DEFAULT: &str = "/herald/queues";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Parent znode of all queues.
    pub root: String,
    /// Size bound: live items plus dead letters. Enqueue beyond it fails with
    /// [`QueueError::QueueFull`].
    pub max_items: u64,
    /// Claims an item gets; when the last one ends without an ack it is dead-lettered.
    pub max_attempts: u32,
    /// Shard size; recorded in the queue's state when the queue is created and taken
    /// from there afterwards, so processes with different configs agree.
    pub items_per_bucket: u32,
    /// Items a claim visits per lane at most (see [`SCAN_ITEMS_PER_LANE_DEFAULT`]). A
    /// lane whose first `scan_items_per_lane` items are all delayed or claimed looks
    /// empty to that claim.
    pub scan_items_per_lane: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            root: ROOT_DEFAULT.to_string(),
            max_items: MAX_ITEMS_DEFAULT,
            max_attempts: MAX_ATTEMPTS_DEFAULT,
            items_per_bucket: ITEMS_PER_BUCKET_DEFAULT,
            scan_items_per_lane: SCAN_ITEMS_PER_LANE_DEFAULT,
        }
    }
}

impl QueueConfig {
    pub fn validate(&self) -> Result<(), QueueError> {
        let invalid = |reason: String| Err(QueueError::Invalid(reason));
        if !self.root.starts_with('/') || self.root.ends_with('/') {
            return invalid(format!(
                "root {:?} must start with '/' and not end with one",
                self.root
            ));
        }
        if self.items_per_bucket == 0 || self.items_per_bucket > ITEMS_PER_BUCKET_MAX {
            return invalid(format!("items_per_bucket must be 1..={ITEMS_PER_BUCKET_MAX}"));
        }
        if self.scan_items_per_lane == 0 {
            return invalid("scan_items_per_lane must be at least 1".to_string());
        }
        if self.max_attempts == 0 {
            return invalid("max_attempts must be at least 1".to_string());
        }
        if self.max_items == 0
            || self.max_items.div_ceil(u64::from(self.items_per_bucket)) > BUCKETS_PER_LANE_MAX
        {
            return invalid(format!(
                "max_items must be at least 1 and need at most {BUCKETS_PER_LANE_MAX} buckets per lane"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ZooKeeper's default jute.maxbuffer and Herald's packet limit.
    const PACKET_BYTES: usize = 1024 * 1024;

    #[test]
    fn a_full_bucket_listing_stays_well_under_the_packet_limit() {
        // getChildren reply: header, count, then per child a 4-byte length and the name.
        let name = crate::layout::item_name(u64::MAX);
        let reply_bytes = 16 + 4 + ITEMS_PER_BUCKET_MAX as usize * (4 + name.len());
        assert!(reply_bytes * 2 < PACKET_BYTES, "{reply_bytes}");
        let bucket = crate::layout::bucket_name(u64::MAX);
        let index_bytes = 16 + 4 + BUCKETS_PER_LANE_MAX as usize * (4 + bucket.len());
        assert!(index_bytes * 2 < PACKET_BYTES, "{index_bytes}");
    }

    #[test]
    fn a_full_claims_listing_stays_well_under_the_packet_limit() {
        let longest = crate::layout::ItemId { priority: PRIORITY_LEVELS - 1, sequence: u64::MAX };
        let reply_bytes = 16 + 4 + CLAIMS_LISTING_MAX as usize * (4 + longest.to_string().len());
        assert!(reply_bytes * 2 < PACKET_BYTES, "{reply_bytes}");
    }

    #[test]
    fn bucket_size_is_accepted_at_the_bound_and_rejected_past_it() {
        let mut config =
            QueueConfig { items_per_bucket: ITEMS_PER_BUCKET_MAX, ..QueueConfig::default() };
        assert!(config.validate().is_ok());
        config.items_per_bucket = ITEMS_PER_BUCKET_MAX + 1;
        assert!(matches!(config.validate(), Err(QueueError::Invalid(_))));
        config.items_per_bucket = 0;
        assert!(config.validate().is_err());
    }

    #[test]
    fn bucket_count_per_lane_is_bounded() {
        let at_bound = QueueConfig {
            items_per_bucket: 1,
            max_items: BUCKETS_PER_LANE_MAX,
            ..QueueConfig::default()
        };
        assert!(at_bound.validate().is_ok());
        let past = QueueConfig { max_items: BUCKETS_PER_LANE_MAX + 1, ..at_bound.clone() };
        assert!(past.validate().is_err());
    }

    #[test]
    fn roots_and_attempts_are_checked() {
        assert!(
            QueueConfig { root: "herald".into(), ..QueueConfig::default() }.validate().is_err()
        );
        assert!(
            QueueConfig { root: "/herald/".into(), ..QueueConfig::default() }.validate().is_err()
        );
        assert!(QueueConfig { max_attempts: 0, ..QueueConfig::default() }.validate().is_err());
        let no_scan = QueueConfig { scan_items_per_lane: 0, ..QueueConfig::default() };
        assert!(no_scan.validate().is_err());
        assert!(QueueConfig::default().validate().is_ok());
    }
}
