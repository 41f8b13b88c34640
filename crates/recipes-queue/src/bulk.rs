//! Loading many items at once: one multi per batch writes the state's compare-and-set,
//! every bucket the batch opens, and each item with its tally entry — the same layout
//! [`Queue::enqueue`] writes one item at a time, so claims, acks and statistics see no
//! difference. Bulk items take no delay and no idempotency key.

use serde_json::Value;
use zookeeper_client::Error as ZkError;

use crate::config::{PAYLOAD_BYTES_MAX, PRIORITY_LEVELS};
use crate::error::QueueError;
use crate::layout::ItemId;
use crate::queue::{Queue, multi_failure, persistent};
use crate::records::{ItemRecord, encode};

/// Most items one bulk call writes (one multi of up to two creates per item).
pub const BULK_ITEMS_MAX: usize = 1_000;
/// Most payload bytes one bulk call writes: the multi request stays well under the
/// 1 MiB packet limit after paths and framing are added.
pub const BULK_PAYLOAD_BYTES_MAX: usize = 512 * 1024;

impl Queue {
    /// Enqueues `payloads` in order at `priority`, all or none, in one multi; returns
    /// their ids in the same order.
    pub async fn enqueue_bulk(
        &self,
        priority: u8,
        payloads: &[Value],
    ) -> Result<Vec<ItemId>, QueueError> {
        if priority >= PRIORITY_LEVELS {
            return Err(QueueError::Invalid(format!("priority must be 0..{PRIORITY_LEVELS}")));
        }
        if payloads.is_empty() || payloads.len() > BULK_ITEMS_MAX {
            return Err(QueueError::Invalid(format!(
                "a bulk enqueue takes 1..={BULK_ITEMS_MAX} items, got {}",
                payloads.len()
            )));
        }
        let now_ms = self.clock.now_ms();
        let mut records = Vec::with_capacity(payloads.len());
        let mut total_bytes = 0usize;
        for payload in payloads {
            let bytes = serde_json::to_vec(payload).map(|b| b.len()).unwrap_or(usize::MAX);
            if bytes > PAYLOAD_BYTES_MAX {
                return Err(QueueError::Invalid(format!(
                    "payload is {bytes} bytes; the limit is {PAYLOAD_BYTES_MAX}"
                )));
            }
            total_bytes = total_bytes.saturating_add(bytes);
            records.push(encode(&ItemRecord {
                payload: payload.clone(),
                enqueued_at_ms: now_ms,
                visible_at_ms: now_ms,
                attempts: 0,
                claimed_until_ms: None,
                idempotency_key: None,
            }));
        }
        if total_bytes > BULK_PAYLOAD_BYTES_MAX {
            return Err(QueueError::Invalid(format!(
                "a bulk enqueue carries at most {BULK_PAYLOAD_BYTES_MAX} payload bytes, got {total_bytes}"
            )));
        }
        let count = payloads.len() as u64;
        loop {
            let (mut state, state_version) = self.read_state().await?;
            let live = self.count_children(&self.layout.tally()).await?;
            if live + state.dead + count > self.config.max_items {
                return Err(QueueError::QueueFull { limit: self.config.max_items });
            }
            let lane = usize::from(priority);
            let first = state.next_sequence[lane];
            state.next_sequence[lane] += count;
            let ids: Vec<ItemId> =
                (first..first + count).map(|sequence| ItemId { priority, sequence }).collect();

            let mut multi = self.client.new_multi_writer();
            multi.add_set_data(&self.layout.state(), &encode(&state), Some(state_version))?;
            for (id, record) in ids.iter().zip(&records) {
                if self.layout.opens_bucket(id.sequence) {
                    let index = self.layout.bucket_index(id.sequence);
                    multi.add_create(&self.layout.bucket(priority, index), b"", &persistent())?;
                }
                multi.add_create(&self.item_path(*id), record, &persistent())?;
                multi.add_create(&self.layout.tally_entry(*id), b"", &persistent())?;
            }
            match multi.commit().await.map_err(multi_failure) {
                Ok(_) => return Ok(ids),
                // Another writer moved the state: take the next sequence numbers.
                Err((Some(0), ZkError::BadVersion)) => continue,
                Err((_, error)) => return Err(error.into()),
            }
        }
    }
}
