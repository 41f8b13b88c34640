//! Putting items in: size bound, idempotency key and bucket creation in one multi with
//! the state's compare-and-set, so an item is either fully in or not at all.

use serde_json::Value;
use zookeeper_client::Error as ZkError;

use crate::config::{DELAY_MS_MAX, PAYLOAD_BYTES_MAX, PRIORITY_LEVELS};
use crate::error::QueueError;
use crate::layout::{ItemId, validate_name};
use crate::queue::{Queue, multi_failure, persistent};
use crate::records::{ItemRecord, encode};

#[derive(Debug, Clone, PartialEq)]
pub struct EnqueueRequest {
    pub payload: Value,
    /// 0 (served last) to `PRIORITY_LEVELS - 1` (served first).
    pub priority: u8,
    /// Not claimable until this long after enqueue.
    pub delay_ms: u64,
    /// While the item it created is in the queue (claimed or not), a second enqueue with
    /// the same key returns that item instead of adding one. Ack and dead-lettering
    /// release the key, so keys are bounded by the queue's size bound.
    pub idempotency_key: Option<String>,
}

impl EnqueueRequest {
    pub fn new(payload: Value) -> EnqueueRequest {
        EnqueueRequest { payload, priority: 0, delay_ms: 0, idempotency_key: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub id: ItemId,
    /// True when the idempotency key had been used: `id` is the earlier item.
    pub duplicate: bool,
}

impl Queue {
    pub async fn enqueue(&self, request: EnqueueRequest) -> Result<Enqueued, QueueError> {
        if request.priority >= PRIORITY_LEVELS {
            return Err(QueueError::Invalid(format!("priority must be 0..{PRIORITY_LEVELS}")));
        }
        if request.delay_ms > DELAY_MS_MAX {
            return Err(QueueError::Invalid(format!("delay_ms must be at most {DELAY_MS_MAX}")));
        }
        if let Some(key) = &request.idempotency_key {
            validate_name("idempotency key", key)?;
        }
        let payload_bytes =
            serde_json::to_vec(&request.payload).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
        if payload_bytes > PAYLOAD_BYTES_MAX {
            return Err(QueueError::Invalid(format!(
                "payload is {payload_bytes} bytes; the limit is {PAYLOAD_BYTES_MAX}"
            )));
        }
        let now_ms = self.clock.now_ms();
        let record = ItemRecord {
            payload: request.payload,
            enqueued_at_ms: now_ms,
            visible_at_ms: now_ms.saturating_add(request.delay_ms),
            attempts: 0,
            claimed_until_ms: None,
            idempotency_key: request.idempotency_key.clone(),
        };
        let record_bytes = encode(&record);
        loop {
            if let Some(key) = &request.idempotency_key
                && let Some(existing) = self.item_for_key(key).await?
            {
                return Ok(Enqueued { id: existing, duplicate: true });
            }
            // State first: any enqueue after this read changes the state's version and
            // fails our compare-and-set, so the live count read next can only have
            // shrunk (acks) by the time we commit.
            let (mut state, state_version) = self.read_state().await?;
            let live = self.count_children(&self.layout.tally()).await?;
            if live + state.dead >= self.config.max_items {
                return Err(QueueError::QueueFull { limit: self.config.max_items });
            }
            let lane = usize::from(request.priority);
            let id = ItemId { priority: request.priority, sequence: state.next_sequence[lane] };
            state.next_sequence[lane] += 1;

            let mut multi = self.client.new_multi_writer();
            multi.add_set_data(&self.layout.state(), &encode(&state), Some(state_version))?;
            if self.layout.opens_bucket(id.sequence) {
                let bucket = self.layout.bucket(id.priority, self.layout.bucket_index(id.sequence));
                multi.add_create(&bucket, b"", &persistent())?;
            }
            multi.add_create(&self.item_path(id), &record_bytes, &persistent())?;
            multi.add_create(&self.layout.tally_entry(id), b"", &persistent())?;
            let key_op = 3 + usize::from(self.layout.opens_bucket(id.sequence));
            if let Some(key) = &request.idempotency_key {
                multi.add_create(
                    &self.layout.key(key),
                    id.to_string().as_bytes(),
                    &persistent(),
                )?;
            }
            match multi.commit().await.map_err(multi_failure) {
                Ok(_) => return Ok(Enqueued { id, duplicate: false }),
                // Another writer moved the state, or took the key first: look again.
                Err((Some(0), ZkError::BadVersion)) => continue,
                Err((Some(index), ZkError::NodeExists)) if index == key_op => continue,
                Err((_, error)) => return Err(error.into()),
            }
        }
    }

    async fn item_for_key(&self, key: &str) -> Result<Option<ItemId>, QueueError> {
        let path = self.layout.key(key);
        match self.client.get_data(&path).await {
            Ok((bytes, _)) => {
                let text = String::from_utf8_lossy(&bytes);
                let id = text
                    .parse()
                    .map_err(|_| QueueError::Corrupt { path, reason: format!("{text:?}") })?;
                Ok(Some(id))
            }
            Err(ZkError::NoNode) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}
