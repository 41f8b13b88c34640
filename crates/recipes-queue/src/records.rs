//! The JSON kept in the queue's znodes, and its encoding.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::PRIORITY_LEVELS;
use crate::error::QueueError;

/// One item, stored as the data of its znode. Claiming rewrites it (attempts, deadline),
/// which also bumps the znode version that receipts carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub payload: Value,
    pub enqueued_at_ms: u64,
    /// Not claimable before this time (delay on enqueue, or nack delay).
    pub visible_at_ms: u64,
    /// Claims so far.
    pub attempts: u32,
    /// Set while a claim may be live: its visibility deadline. The claim znode decides
    /// whether the claim still exists (it vanishes with the claimer's session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// A dead letter: the item as it was, with where it came from and why it died.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterRecord {
    pub item: String,
    pub reason: String,
    pub dead_at_ms: u64,
    #[serde(flatten)]
    pub record: ItemRecord,
}

/// The queue's counters: one znode updated with compare-and-set by every enqueue and
/// dead-lettering (acks leave it alone, see `QueueLayout::tally`). It names items
/// without a sequential create, so an item and its idempotency key are written in one
/// multi, and serializes enqueues, which makes the size bound exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueState {
    /// Dead letters held.
    pub dead: u64,
    /// Next sequence number of each priority lane.
    pub next_sequence: Vec<u64>,
    pub next_dead_sequence: u64,
    /// Fixed when the queue is created.
    pub items_per_bucket: u32,
}

impl QueueState {
    pub fn new(items_per_bucket: u32) -> QueueState {
        QueueState {
            dead: 0,
            next_sequence: vec![0; usize::from(PRIORITY_LEVELS)],
            next_dead_sequence: 0,
            items_per_bucket,
        }
    }
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    serde_json::to_vec(value).expect("queue records serialize")
}

pub fn decode<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T, QueueError> {
    serde_json::from_slice(bytes)
        .map_err(|error| QueueError::Corrupt { path: path.to_string(), reason: error.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_reported_with_its_path() {
        let record = ItemRecord {
            payload: serde_json::json!({"job": 1}),
            enqueued_at_ms: 5,
            visible_at_ms: 6,
            attempts: 2,
            claimed_until_ms: Some(9),
            idempotency_key: None,
        };
        assert_eq!(decode::<ItemRecord>("/x", &encode(&record)).unwrap(), record);
        let dead =
            DeadLetterRecord { item: "p0-1".into(), reason: "r".into(), dead_at_ms: 3, record };
        assert_eq!(decode::<DeadLetterRecord>("/x", &encode(&dead)).unwrap(), dead);
        let error = decode::<QueueState>("/q/state", b"{").unwrap_err();
        assert!(matches!(error, QueueError::Corrupt { ref path, .. } if path == "/q/state"));
    }
}
