//! Znode paths and identifiers. Pure string work, so it is tested without a server.
//!
//! Item names are zero-padded sequence numbers so that a sorted listing is FIFO order;
//! the bucket of an item follows from its sequence number, so no lookup is needed to
//! place or find one.

use std::fmt;
use std::str::FromStr;

use crate::config::{NAME_BYTES_MAX, PRIORITY_LEVELS};
use crate::error::QueueError;

/// An item: its priority lane and its sequence number within that lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId {
    pub priority: u8,
    pub sequence: u64,
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}-{}", self.priority, self.sequence)
    }
}

impl FromStr for ItemId {
    type Err = QueueError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            QueueError::Invalid(format!(
                "{text:?} is not an item id (expected p<priority>-<sequence>)"
            ))
        };
        let (priority, sequence) =
            text.strip_prefix('p').and_then(|rest| rest.split_once('-')).ok_or_else(bad)?;
        let priority: u8 = priority.parse().map_err(|_| bad())?;
        let sequence: u64 = sequence.parse().map_err(|_| bad())?;
        if priority >= PRIORITY_LEVELS {
            return Err(bad());
        }
        Ok(ItemId { priority, sequence })
    }
}

/// Proof of a claim: the item and the znode version its claim left it at. Any later
/// claim changes that version, so a stale receipt cannot settle someone else's claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub item: ItemId,
    pub version: i32,
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.item, self.version)
    }
}

impl FromStr for Receipt {
    type Err = QueueError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            QueueError::Invalid(format!(
                "{text:?} is not a receipt (expected p<priority>-<sequence>.<version>)"
            ))
        };
        let (item, version) = text.split_once('.').ok_or_else(bad)?;
        Ok(Receipt { item: item.parse()?, version: version.parse().map_err(|_| bad())? })
    }
}

pub fn item_name(sequence: u64) -> String {
    format!("i-{sequence:020}")
}

pub fn bucket_name(index: u64) -> String {
    format!("b-{index:020}")
}

/// Parses `i-000…42` back to 42.
pub fn parse_item_name(name: &str) -> Option<u64> {
    name.strip_prefix("i-")?.parse().ok()
}

/// Parses `b-000…7` back to 7.
pub fn parse_bucket_name(name: &str) -> Option<u64> {
    name.strip_prefix("b-")?.parse().ok()
}

/// Queue names and idempotency keys become single znode names: a conservative charset,
/// and never `.` or `..`.
pub fn validate_name(kind: &str, name: &str) -> Result<(), QueueError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if name.is_empty()
        || name.len() > NAME_BYTES_MAX
        || !name.chars().all(allowed)
        || name == "."
        || name == ".."
    {
        return Err(QueueError::Invalid(format!(
            "{kind} must be 1..={NAME_BYTES_MAX} characters of [A-Za-z0-9-_.:], not '.' or '..'"
        )));
    }
    Ok(())
}

/// Every path of one queue.
#[derive(Debug, Clone)]
pub struct QueueLayout {
    pub base: String,
    items_per_bucket: u64,
}

impl QueueLayout {
    pub fn new(root: &str, name: &str, items_per_bucket: u32) -> QueueLayout {
        QueueLayout {
            base: format!("{root}/{name}"),
            items_per_bucket: u64::from(items_per_bucket.max(1)),
        }
    }

    pub fn items_per_bucket(&self) -> u64 {
        self.items_per_bucket
    }

    pub fn state(&self) -> String {
        format!("{}/state", self.base)
    }

    pub fn lanes(&self) -> String {
        format!("{}/lanes", self.base)
    }

    pub fn lane(&self, priority: u8) -> String {
        format!("{}/lanes/p{priority}", self.base)
    }

    pub fn bucket_index(&self, sequence: u64) -> u64 {
        sequence / self.items_per_bucket
    }

    /// Whether `sequence` is the first of its bucket: its enqueue creates the bucket.
    pub fn opens_bucket(&self, sequence: u64) -> bool {
        sequence.is_multiple_of(self.items_per_bucket)
    }

    /// Whether no future sequence can land in bucket `index` once `next_sequence` is next.
    pub fn bucket_is_closed(&self, index: u64, next_sequence: u64) -> bool {
        next_sequence >= (index + 1).saturating_mul(self.items_per_bucket)
    }

    pub fn bucket(&self, priority: u8, index: u64) -> String {
        format!("{}/{}", self.lane(priority), bucket_name(index))
    }

    pub fn item(&self, id: ItemId) -> String {
        format!(
            "{}/{}",
            self.bucket(id.priority, self.bucket_index(id.sequence)),
            item_name(id.sequence)
        )
    }

    pub fn claims(&self) -> String {
        format!("{}/claims", self.base)
    }

    pub fn claim(&self, id: ItemId) -> String {
        format!("{}/claims/{id}", self.base)
    }

    pub fn dead(&self) -> String {
        format!("{}/dead", self.base)
    }

    pub fn dead_bucket(&self, index: u64) -> String {
        format!("{}/dead/{}", self.base, bucket_name(index))
    }

    pub fn dead_item(&self, sequence: u64) -> String {
        format!("{}/{}", self.dead_bucket(self.bucket_index(sequence)), item_name(sequence))
    }

    /// One empty child per live item, created and deleted in the same multis as the
    /// item. Its `numChildren` is the live count, kept by the ensemble without a
    /// compare-and-set, so acks do not contend on the state node. Never listed.
    pub fn tally(&self) -> String {
        format!("{}/tally", self.base)
    }

    pub fn tally_entry(&self, id: ItemId) -> String {
        format!("{}/tally/{id}", self.base)
    }

    pub fn keys(&self) -> String {
        format!("{}/keys", self.base)
    }

    pub fn key(&self, key: &str) -> String {
        format!("{}/keys/{key}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_and_receipts_round_trip_and_reject_garbage() {
        let id = ItemId { priority: 9, sequence: 1234 };
        assert_eq!(id.to_string().parse::<ItemId>().unwrap(), id);
        let receipt = Receipt { item: id, version: 3 };
        assert_eq!(receipt.to_string(), "p9-1234.3");
        assert_eq!(receipt.to_string().parse::<Receipt>().unwrap(), receipt);
        for bad in ["", "p10-1", "p1", "q1-2", "p1-x", "p-1-2"] {
            assert!(bad.parse::<ItemId>().is_err(), "{bad}");
        }
        for bad in ["p1-2", "p1-2.x", ".3"] {
            assert!(bad.parse::<Receipt>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_sort_in_sequence_order_and_parse_back() {
        let mut names: Vec<String> = [10u64, 9, 100, 0].iter().map(|&s| item_name(s)).collect();
        names.sort();
        let order: Vec<u64> = names.iter().map(|n| parse_item_name(n).unwrap()).collect();
        assert_eq!(order, [0, 9, 10, 100]);
        assert_eq!(parse_bucket_name(&bucket_name(77)), Some(77));
        assert_eq!(parse_item_name("b-1"), None);
    }

    #[test]
    fn items_land_in_buckets_by_sequence() {
        let layout = QueueLayout::new("/herald/queues", "jobs", 4);
        let id = ItemId { priority: 2, sequence: 9 };
        assert_eq!(
            layout.item(id),
            format!("/herald/queues/jobs/lanes/p2/{}/{}", bucket_name(2), item_name(9))
        );
        assert!(layout.opens_bucket(8) && !layout.opens_bucket(9));
        assert!(!layout.bucket_is_closed(2, 11) && layout.bucket_is_closed(2, 12));
    }

    #[test]
    fn names_are_checked_at_the_length_bound() {
        assert!(validate_name("key", &"k".repeat(NAME_BYTES_MAX)).is_ok());
        assert!(validate_name("key", &"k".repeat(NAME_BYTES_MAX + 1)).is_err());
        for bad in ["", ".", "..", "a/b", "a b", "é"] {
            assert!(validate_name("key", bad).is_err(), "{bad}");
        }
    }
}
