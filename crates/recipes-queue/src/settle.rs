//! Ending or changing a claim: ack (the item is done), nack (back to the queue, maybe
//! delayed, or to the dead letters after its last attempt), extend (a later deadline).
//! Every step checks the item's version against the receipt, so only the current
//! claim can settle it.

use zookeeper_client::{Error as ZkError, MultiWriteResult};

use crate::config::{DELAY_MS_MAX, VISIBILITY_TIMEOUT_MS_MAX};
use crate::error::QueueError;
use crate::layout::{ItemId, Receipt};
use crate::queue::{Queue, multi_failure, persistent};
use crate::records::{DeadLetterRecord, ItemRecord, decode, encode};

/// A claim after [`Queue::extend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extended {
    /// Replaces the receipt the claim had.
    pub receipt: Receipt,
    pub claimed_until_ms: u64,
}

/// Where a nacked item went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NackOutcome {
    Requeued,
    DeadLettered,
}

impl Queue {
    /// Removes the item for good: claim, item, tally entry and idempotency key deleted
    /// in one multi. The item is read first for its key: keys live as long as their
    /// item, which keeps them bounded by the queue's size bound.
    pub async fn ack(&self, receipt: Receipt) -> Result<(), QueueError> {
        let record = self.load_claimed(receipt).await?;
        let mut multi = self.client.new_multi_writer();
        multi.add_delete(&self.layout.claim(receipt.item), None)?;
        multi.add_delete(&self.item_path(receipt.item), Some(receipt.version))?;
        multi.add_delete(&self.layout.tally_entry(receipt.item), None)?;
        if let Some(key) = &record.idempotency_key {
            multi.add_delete(&self.layout.key(key), None)?;
        }
        match multi.commit().await.map_err(multi_failure) {
            Ok(_) => Ok(()),
            Err((Some(_), ZkError::BadVersion | ZkError::NoNode)) => {
                Err(QueueError::ClaimLost { item: receipt.item })
            }
            Err((_, error)) => Err(error.into()),
        }
    }

    /// Gives the item back, claimable again after `delay_ms`; after its last attempt it
    /// becomes a dead letter instead.
    pub async fn nack(&self, receipt: Receipt, delay_ms: u64) -> Result<NackOutcome, QueueError> {
        if delay_ms > DELAY_MS_MAX {
            return Err(QueueError::Invalid(format!("delay_ms must be at most {DELAY_MS_MAX}")));
        }
        let mut record = self.load_claimed(receipt).await?;
        if record.attempts >= self.config.max_attempts {
            return match self
                .move_to_dead(
                    receipt.item,
                    &record,
                    receipt.version,
                    true,
                    "nacked on its last attempt",
                )
                .await?
            {
                true => Ok(NackOutcome::DeadLettered),
                false => Err(QueueError::ClaimLost { item: receipt.item }),
            };
        }
        record.visible_at_ms = self.clock.now_ms().saturating_add(delay_ms);
        record.claimed_until_ms = None;
        let mut multi = self.client.new_multi_writer();
        multi.add_set_data(
            &self.item_path(receipt.item),
            &encode(&record),
            Some(receipt.version),
        )?;
        multi.add_delete(&self.layout.claim(receipt.item), None)?;
        match multi.commit().await.map_err(multi_failure) {
            Ok(_) => Ok(NackOutcome::Requeued),
            Err((Some(_), ZkError::BadVersion | ZkError::NoNode)) => {
                Err(QueueError::ClaimLost { item: receipt.item })
            }
            Err((_, error)) => Err(error.into()),
        }
    }

    /// Moves the claim's deadline to `visibility_timeout_ms` from now. Returns the new
    /// receipt (the item's version changes; the old one stops working) and deadline.
    pub async fn extend(
        &self,
        receipt: Receipt,
        visibility_timeout_ms: u64,
    ) -> Result<Extended, QueueError> {
        if visibility_timeout_ms == 0 || visibility_timeout_ms > VISIBILITY_TIMEOUT_MS_MAX {
            return Err(QueueError::Invalid(format!(
                "visibility_timeout_ms must be 1..={VISIBILITY_TIMEOUT_MS_MAX}"
            )));
        }
        let mut record = self.load_claimed(receipt).await?;
        let claimed_until_ms = self.clock.now_ms().saturating_add(visibility_timeout_ms);
        record.claimed_until_ms = Some(claimed_until_ms);
        let mut multi = self.client.new_multi_writer();
        multi.add_set_data(
            &self.item_path(receipt.item),
            &encode(&record),
            Some(receipt.version),
        )?;
        // The claim znode is never rewritten, so version 0 means "still there".
        multi.add_check_version(&self.layout.claim(receipt.item), 0)?;
        match multi.commit().await.map_err(multi_failure) {
            Ok(results) => match results.first() {
                Some(MultiWriteResult::SetData { stat }) => Ok(Extended {
                    receipt: Receipt { item: receipt.item, version: stat.version },
                    claimed_until_ms,
                }),
                _ => Err(QueueError::ZooKeeper(ZkError::UnexpectedError(
                    "multi reply out of order".into(),
                ))),
            },
            Err((Some(_), ZkError::BadVersion | ZkError::NoNode)) => {
                Err(QueueError::ClaimLost { item: receipt.item })
            }
            Err((_, error)) => Err(error.into()),
        }
    }

    /// The item's record if `receipt` still names its current claim.
    async fn load_claimed(&self, receipt: Receipt) -> Result<ItemRecord, QueueError> {
        let path = self.item_path(receipt.item);
        let lost = QueueError::ClaimLost { item: receipt.item };
        let (bytes, stat) = match self.client.get_data(&path).await {
            Ok(found) => found,
            Err(ZkError::NoNode) => return Err(lost),
            Err(error) => return Err(error.into()),
        };
        let record: ItemRecord = decode(&path, &bytes)?;
        if stat.version != receipt.version || record.claimed_until_ms.is_none() {
            return Err(lost);
        }
        Ok(record)
    }

    /// Moves an item (at `version`) to the dead letters in one multi with the state.
    /// `Ok(false)` when the item changed meanwhile (someone else moved or claimed it).
    pub(crate) async fn move_to_dead(
        &self,
        id: ItemId,
        record: &ItemRecord,
        version: i32,
        claimed: bool,
        reason: &str,
    ) -> Result<bool, QueueError> {
        loop {
            let (mut state, state_version) = self.read_state().await?;
            let sequence = state.next_dead_sequence;
            state.next_dead_sequence += 1;
            state.dead += 1;
            let dead = DeadLetterRecord {
                item: id.to_string(),
                reason: reason.to_string(),
                dead_at_ms: self.clock.now_ms(),
                record: record.clone(),
            };
            let mut multi = self.client.new_multi_writer();
            if claimed {
                multi.add_delete(&self.layout.claim(id), None)?;
            }
            multi.add_delete(&self.item_path(id), Some(version))?;
            multi.add_delete(&self.layout.tally_entry(id), None)?;
            if let Some(key) = &record.idempotency_key {
                multi.add_delete(&self.layout.key(key), None)?;
            }
            if self.layout.opens_bucket(sequence) {
                multi.add_create(
                    &self.layout.dead_bucket(self.layout.bucket_index(sequence)),
                    b"",
                    &persistent(),
                )?;
            }
            multi.add_create(&self.layout.dead_item(sequence), &encode(&dead), &persistent())?;
            let state_op = state_op_index(
                claimed,
                record.idempotency_key.is_some(),
                self.layout.opens_bucket(sequence),
            );
            multi.add_set_data(&self.layout.state(), &encode(&state), Some(state_version))?;
            match multi.commit().await.map_err(multi_failure) {
                Ok(_) => return Ok(true),
                Err((Some(index), ZkError::BadVersion)) if index == state_op => continue,
                Err((Some(_), ZkError::BadVersion | ZkError::NoNode)) => return Ok(false),
                Err((_, error)) => return Err(error.into()),
            }
        }
    }
}

/// Index of the state op in a dead-letter multi.
fn state_op_index(claimed: bool, has_key: bool, opens_bucket: bool) -> usize {
    3 + usize::from(claimed) + usize::from(has_key) + usize::from(opens_bucket)
}
