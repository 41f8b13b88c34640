//! Taking an item out: scan lanes from the highest priority, buckets and items in
//! sequence order (FIFO within a priority), claim the first claimable item with one
//! multi, and long-poll on watches when nothing is claimable.

use std::collections::HashSet;
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, select_all};
use serde_json::Value;
use zookeeper_client::{Error as ZkError, MultiWriteResult};

use crate::config::{
    CLAIM_WAIT_MS_MAX, CLAIM_WATCHES_MAX, CLAIMS_LISTING_MAX, PRIORITY_LEVELS, RESCAN_INTERVAL_MS,
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

/// Reads a claim makes to find out whether its multi was applied before a connection
/// loss, before it reports the loss.
pub const RECOVERY_READ_ATTEMPTS: u32 = 3;

/// What one scan pass has learned so far.
struct Pass {
    now_ms: u64,
    visibility_timeout_ms: u64,
    /// When the earliest delayed item becomes ready or the earliest claim expires.
    wake_at_ms: Option<u64>,
    /// Items held by live claims; their release is worth watching.
    busy: Vec<ItemId>,
}

impl Pass {
    fn wake_at(&mut self, at_ms: u64) {
        self.wake_at_ms = Some(self.wake_at_ms.map_or(at_ms, |earliest| earliest.min(at_ms)));
    }
}

/// What one claim attempt found.
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

    /// One claim attempt. A first pass skips items whose claim znode a single listing
    /// of `claims` shows (no reads for items in flight); only if that finds nothing does
    /// a second pass read every item, which also finds claims whose visibility
    /// deadline has passed.
    async fn scan(&self, visibility_timeout_ms: u64) -> Result<Scan, QueueError> {
        let now_ms = self.clock.now_ms();
        let (state, _) = self.read_state().await?;
        let in_flight = self.claimed_items().await?;
        let mut pass = Pass { now_ms, visibility_timeout_ms, wake_at_ms: None, busy: Vec::new() };
        if let Some(in_flight) = &in_flight {
            if let Some(claimed) = self.scan_lanes(&state, &mut pass, Some(in_flight)).await? {
                return Ok(Scan::Claimed(claimed));
            }
            if in_flight.is_empty() {
                return Ok(Scan::Nothing { wake_at_ms: pass.wake_at_ms, busy: pass.busy });
            }
            pass.busy.clear();
        }
        if let Some(claimed) = self.scan_lanes(&state, &mut pass, None).await? {
            return Ok(Scan::Claimed(claimed));
        }
        Ok(Scan::Nothing { wake_at_ms: pass.wake_at_ms, busy: pass.busy })
    }

    /// The items with a claim znode, or `None` when there are too many to list.
    async fn claimed_items(&self) -> Result<Option<HashSet<ItemId>>, QueueError> {
        let count = self.count_children(&self.layout.claims()).await?;
        if count == 0 {
            return Ok(Some(HashSet::new()));
        }
        if count > CLAIMS_LISTING_MAX {
            return Ok(None);
        }
        let names = match self.client.list_children(&self.layout.claims()).await {
            Ok(names) => names,
            Err(ZkError::NoNode) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        Ok(Some(names.iter().filter_map(|name| name.parse().ok()).collect()))
    }

    /// Walks the lanes from the highest priority, buckets and items in sequence order.
    /// With `in_flight`, items listed there are skipped unread (and count as busy).
    async fn scan_lanes(
        &self,
        state: &QueueState,
        pass: &mut Pass,
        in_flight: Option<&HashSet<ItemId>>,
    ) -> Result<Option<Claimed>, QueueError> {
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
                    self.remove_bucket_if_closed(priority, bucket, state).await?;
                    continue;
                }
                for sequence in sequences {
                    if visited >= self.config.scan_items_per_lane {
                        break;
                    }
                    let id = ItemId { priority, sequence };
                    if in_flight.is_some_and(|in_flight| in_flight.contains(&id)) {
                        pass.busy.push(id);
                        continue;
                    }
                    visited += 1;
                    if let Some(claimed) = self.consider(id, pass, in_flight.is_some()).await? {
                        return Ok(Some(claimed));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Reads one item and acts on [`decide`]'s verdict. `claim_node_known_absent` when
    /// the claims listing showed none for it (a claim made since then makes our
    /// claim's multi fail, which is just a lost race).
    async fn consider(
        &self,
        id: ItemId,
        pass: &mut Pass,
        claim_node_known_absent: bool,
    ) -> Result<Option<Claimed>, QueueError> {
        let path = self.item_path(id);
        let (bytes, stat) = match self.client.get_data(&path).await {
            Ok(found) => found,
            Err(ZkError::NoNode) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let record: ItemRecord = decode(&path, &bytes)?;
        let (now_ms, max_attempts) = (pass.now_ms, self.config.max_attempts);
        let known = claim_node_known_absent.then_some(false);
        let mut decision = decide(&record, known, now_ms, max_attempts);
        if decision == Decision::CheckClaimNode {
            let exists = self.client.check_stat(&self.layout.claim(id)).await?.is_some();
            decision = decide(&record, Some(exists), now_ms, max_attempts);
        }
        match decision {
            Decision::Claim { take_over } => {
                let until_ms = now_ms.saturating_add(pass.visibility_timeout_ms);
                return self.try_claim(id, record, stat.version, take_over, until_ms).await;
            }
            Decision::DeadLetter { claimed } => {
                let reason = "attempts exhausted";
                self.move_to_dead(id, &record, stat.version, claimed, reason).await?;
            }
            Decision::NotReady { visible_at_ms } => pass.wake_at(visible_at_ms),
            Decision::Busy { until_ms } => {
                pass.wake_at(until_ms);
                pass.busy.push(id);
            }
            // `decide` with a known claim node never asks to check it again.
            Decision::CheckClaimNode => {}
        }
        Ok(None)
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
        let claimed_version = match multi.commit().await.map_err(multi_failure) {
            Ok(results) => {
                let Some(MultiWriteResult::SetData { stat }) = results.first() else {
                    return Err(QueueError::ZooKeeper(ZkError::UnexpectedError(
                        "multi reply out of order".into(),
                    )));
                };
                stat.version
            }
            Err((Some(_), ZkError::BadVersion | ZkError::NoNode | ZkError::NodeExists)) => {
                return Ok(None);
            }
            Err((None, error @ (ZkError::ConnectionLoss | ZkError::Timeout))) => {
                // The multi may have been applied before the connection dropped: the
                // claim would then sit unreported until it expired. Adopt it if so.
                match self.claim_applied(id, version).await? {
                    Some(version) => version,
                    None => return Err(error.into()),
                }
            }
            Err((_, error)) => return Err(error.into()),
        };
        Ok(Some(Claimed {
            id,
            receipt: Receipt { item: id, version: claimed_version },
            payload: record.payload,
            attempts: record.attempts,
            enqueued_at_ms: record.enqueued_at_ms,
            claimed_until_ms: until_ms,
        }))
    }

    /// Whether our claim multi on `id` (which expected the item at `version`) was
    /// applied: the claim znode is ours (owned by this session) and the item moved to
    /// exactly the next version. Any other claimer's multi would have left its own claim
    /// znode, and the multi is atomic, so both together identify ours.
    async fn claim_applied(&self, id: ItemId, version: i32) -> Result<Option<i32>, QueueError> {
        let session = self.client.session_id().0;
        let claim = retry_read(|| self.client.check_stat(&self.layout.claim(id))).await?;
        if claim.is_none_or(|stat| stat.ephemeral_owner != session) {
            return Ok(None);
        }
        let item = retry_read(|| self.client.check_stat(&self.item_path(id))).await?;
        Ok(item.filter(|stat| stat.version == version + 1).map(|stat| stat.version))
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

/// Reads after a connection loss: the client reconnects by itself, so a few attempts
/// ride out the reconnect.
async fn retry_read<T, F, Fut>(mut read: F) -> Result<T, ZkError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ZkError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match read().await {
            Err(ZkError::ConnectionLoss) if attempt < RECOVERY_READ_ATTEMPTS => continue,
            other => return other,
        }
    }
}
