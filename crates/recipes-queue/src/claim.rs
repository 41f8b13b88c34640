//! Taking an item out: scan lanes from the highest priority, buckets and items in
//! sequence order (FIFO within a priority), claim the first claimable item with one
//! multi, and long-poll on watches when nothing is claimable.

use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, select_all};
use serde_json::Value;
use zookeeper_client::{Error as ZkError, MultiWriteResult};

use crate::config::{
    CLAIM_WAIT_MS_MAX, CLAIM_WATCHES_MAX, PRIORITY_LEVELS, RESCAN_INTERVAL_MS,
    VISIBILITY_TIMEOUT_MS_MAX,
};
use crate::error::QueueError;
use crate::layout::{ItemId, Receipt, parse_bucket_name, parse_item_name};
use crate::plan::{Decision, decide};
use crate::queue::{Queue, ephemeral, multi_failure, sorted_children};
use crate::records::{ItemRecord, QueueState, decode, encode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRequest {
    /// The claim ends this long after it is made unless extended; it also ends when
    /// the claiming session does.
    pub visibility_timeout_ms: u64,
    /// How long to wait for an item when none is claimable; 0 returns at once.
    pub wait_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: ItemId,
    /// Needed to ack, nack or extend this claim.
    pub receipt: Receipt,
    pub payload: Value,
    /// Claims of this item so far, this one included.
    pub attempts: u32,
    pub enqueued_at_ms: u64,
    pub claimed_until_ms: u64,
}

/// What one pass over the lanes found.
enum Scan {
    Claimed(Claimed),
    Nothing {
        /// When the earliest delayed item becomes ready or the earliest claim expires.
        wake_at_ms: Option<u64>,
        /// Items held by live claims; their release is worth watching.
        busy: Vec<ItemId>,
    },
}

impl Queue {
    /// Claims the next item, waiting up to `wait_ms` for one. `Ok(None)` means nothing
    /// became claimable in time.
    pub async fn claim(&self, request: ClaimRequest) -> Result<Option<Claimed>, QueueError> {
        if request.visibility_timeout_ms == 0
            || request.visibility_timeout_ms > VISIBILITY_TIMEOUT_MS_MAX
        {
            return Err(QueueError::Invalid(format!(
                "visibility_timeout_ms must be 1..={VISIBILITY_TIMEOUT_MS_MAX}"
            )));
        }
        if request.wait_ms > CLAIM_WAIT_MS_MAX {
            return Err(QueueError::Invalid(format!(
                "wait_ms must be at most {CLAIM_WAIT_MS_MAX}"
            )));
        }
        let give_up = tokio::time::Instant::now() + Duration::from_millis(request.wait_ms);
        loop {
            // Armed before the scan, so an enqueue landing during the scan still wakes us.
            let state_watch = if request.wait_ms > 0 {
                Some(self.client.get_and_watch_data(&self.layout.state()).await?.2)
            } else {
                None
            };
            let (wake_at_ms, busy) = match self.scan(request.visibility_timeout_ms).await? {
                Scan::Claimed(claimed) => return Ok(Some(claimed)),
                Scan::Nothing { wake_at_ms, busy } => (wake_at_ms, busy),
            };
            let now = tokio::time::Instant::now();
            let Some(state_watch) = state_watch.filter(|_| now < give_up) else {
                return Ok(None);
            };
            let mut timeout = (give_up - now).min(Duration::from_millis(RESCAN_INTERVAL_MS));
            if let Some(wake_at_ms) = wake_at_ms {
                let until_wake_ms = wake_at_ms.saturating_sub(self.clock.now_ms());
                timeout = timeout.min(Duration::from_millis(until_wake_ms));
            }
            let mut wakers: Vec<BoxFuture<'static, ()>> =
                vec![state_watch.changed().map(|_| ()).boxed()];
            let mut released = false;
            for id in busy.into_iter().take(CLAIM_WATCHES_MAX) {
                match self.client.check_and_watch_stat(&self.layout.claim(id)).await? {
                    (Some(_), watcher) => wakers.push(watcher.changed().map(|_| ()).boxed()),
                    (None, _) => released = true,
                }
            }
            if !released {
                // Timing out is expected (delays, deadlines, the overall wait): rescan.
                let _ = tokio::time::timeout(timeout, select_all(wakers)).await;
            }
        }
    }

    async fn scan(&self, visibility_timeout_ms: u64) -> Result<Scan, QueueError> {
        let now_ms = self.clock.now_ms();
        let (state, _) = self.read_state().await?;
        let mut wake_at_ms: Option<u64> = None;
        let mut busy = Vec::new();
        for priority in (0..PRIORITY_LEVELS).rev() {
            // A lane that never held an item has nothing to list.
            if state.next_sequence[usize::from(priority)] == 0 {
                continue;
            }
            let mut visited = 0;
            for bucket in
                sorted_children(&self.client, &self.layout.lane(priority), parse_bucket_name)
                    .await?
            {
                let bucket_path = self.layout.bucket(priority, bucket);
                let sequences =
                    sorted_children(&self.client, &bucket_path, parse_item_name).await?;
                if sequences.is_empty() {
                    self.remove_bucket_if_closed(priority, bucket, &state).await?;
                    continue;
                }
                for sequence in sequences {
                    if visited >= self.config.scan_items_per_lane {
                        break;
                    }
                    visited += 1;
                    let id = ItemId { priority, sequence };
                    let path = self.item_path(id);
                    let (bytes, stat) = match self.client.get_data(&path).await {
                        Ok(found) => found,
                        Err(ZkError::NoNode) => continue,
                        Err(error) => return Err(error.into()),
                    };
                    let record: ItemRecord = decode(&path, &bytes)?;
                    let mut decision = decide(&record, None, now_ms, self.config.max_attempts);
                    if decision == Decision::CheckClaimNode {
                        let exists =
                            self.client.check_stat(&self.layout.claim(id)).await?.is_some();
                        decision = decide(&record, Some(exists), now_ms, self.config.max_attempts);
                    }
                    match decision {
                        Decision::Claim { take_over } => {
                            let until_ms = now_ms.saturating_add(visibility_timeout_ms);
                            if let Some(claimed) = self
                                .try_claim(id, record, stat.version, take_over, until_ms)
                                .await?
                            {
                                return Ok(Scan::Claimed(claimed));
                            }
                        }
                        Decision::DeadLetter { claimed } => {
                            self.move_to_dead(
                                id,
                                &record,
                                stat.version,
                                claimed,
                                "attempts exhausted",
                            )
                            .await?;
                        }
                        Decision::NotReady { visible_at_ms } => {
                            wake_at_ms =
                                Some(wake_at_ms.map_or(visible_at_ms, |at| at.min(visible_at_ms)));
                        }
                        Decision::Busy { until_ms } => {
                            wake_at_ms = Some(wake_at_ms.map_or(until_ms, |at| at.min(until_ms)));
                            busy.push(id);
                        }
                        // `decide` with a known claim node never asks to check it again.
                        Decision::CheckClaimNode => {}
                    }
                }
            }
        }
        Ok(Scan::Nothing { wake_at_ms, busy })
    }

    /// One multi: bump the item's record (attempts, deadline; this changes the version a
    /// receipt carries), drop an expired claim if taking over, create our claim.
    /// `Ok(None)` when another claimer won the race.
    async fn try_claim(
        &self,
        id: ItemId,
        mut record: ItemRecord,
        version: i32,
        take_over: bool,
        until_ms: u64,
    ) -> Result<Option<Claimed>, QueueError> {
        record.attempts += 1;
        record.claimed_until_ms = Some(until_ms);
        let claim_path = self.layout.claim(id);
        let owner = format!("{:x}", self.client.session_id().0);
        let mut multi = self.client.new_multi_writer();
        multi.add_set_data(&self.item_path(id), &encode(&record), Some(version))?;
        if take_over {
            multi.add_delete(&claim_path, None)?;
        }
        multi.add_create(&claim_path, owner.as_bytes(), &ephemeral())?;
        match multi.commit().await.map_err(multi_failure) {
            Ok(results) => {
                let Some(MultiWriteResult::SetData { stat }) = results.first() else {
                    return Err(QueueError::ZooKeeper(ZkError::UnexpectedError(
                        "multi reply out of order".into(),
                    )));
                };
                Ok(Some(Claimed {
                    id,
                    receipt: Receipt { item: id, version: stat.version },
                    payload: record.payload,
                    attempts: record.attempts,
                    enqueued_at_ms: record.enqueued_at_ms,
                    claimed_until_ms: until_ms,
                }))
            }
            Err((Some(_), ZkError::BadVersion | ZkError::NoNode | ZkError::NodeExists)) => Ok(None),
            Err((_, error)) => Err(error.into()),
        }
    }

    /// Buckets are deleted once empty and no later sequence can land in them.
    async fn remove_bucket_if_closed(
        &self,
        priority: u8,
        bucket: u64,
        state: &QueueState,
    ) -> Result<(), QueueError> {
        let next_sequence = state.next_sequence[usize::from(priority)];
        if self.layout.bucket_is_closed(bucket, next_sequence) {
            match self.client.delete(&self.layout.bucket(priority, bucket), None).await {
                Ok(()) | Err(ZkError::NoNode | ZkError::NotEmpty) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}
