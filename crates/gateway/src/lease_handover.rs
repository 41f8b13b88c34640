//! Moving a lease's session from one gateway replica to another without the two fighting.
//!
//! When a client connects a session that already has a connection, ZooKeeper closes the
//! older one, and a client whose connection closed reconnects at once. Two replicas'
//! clients of one session would steal its connection from each other until one let go,
//! and a request either had in flight would fail with connection loss. So the replica
//! taking a lease over asks the keeper to let go first, through the lease's marker:
//!
//! 1. the taker writes `handover_to: taker` into the marker, the keeper unchanged
//!    ([`take`]);
//! 2. the keeper, which watches its markers, drops its client, waits until that client's
//!    session task has ended (so it will not reconnect), and writes `keeper: taker`
//!    ([`release`]);
//! 3. the taker, watching the marker, connects once the marker names it keeper.
//!
//! A keeper that does not answer within [`HANDOVER_WAIT_MS`] (it crashed, so nobody holds
//! a connection to fight over, or it is stuck) is taken over without its consent.

use std::time::Duration;

use zookeeper_client::{Client, Error as ZkError};

use crate::lease_marker::{self as marker, MarkerRecord};
use crate::sessions::is_terminal;

/// How long a taker waits for the keeper to let go before taking the lease anyway.
pub const HANDOVER_WAIT_MS: u64 = 1_000;
/// How long a keeper letting go waits for its client's session task to end. Requests in
/// flight on the keeper hold clones of the client and keep the task alive until they end.
pub const RELEASE_WAIT_MS: u64 = HANDOVER_WAIT_MS / 2;

/// How a take-over went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The keeper let go, or nobody kept the lease: the marker names the taker.
    Released,
    /// The keeper did not answer in time; the marker now names the taker regardless.
    Unanswered,
    /// The marker is gone: the lease ended.
    Ended,
}

/// Makes `taker` the keeper of the lease of `session_id`, asking the current keeper to let
/// go first (bounded by [`HANDOVER_WAIT_MS`]). `deadline_unix_ms` is the lease's deadline
/// from now on.
pub async fn take(
    shared: &Client,
    session_id: i64,
    taker: u64,
    deadline_unix_ms: u64,
) -> Result<Taken, ZkError> {
    let path = marker::marker_path(session_id);
    let wait = tokio::time::sleep(Duration::from_millis(HANDOVER_WAIT_MS));
    tokio::pin!(wait);
    loop {
        let (bytes, stat, watcher) = match shared.get_and_watch_data(&path).await {
            Ok(read) => read,
            Err(ZkError::NoNode) => return Ok(Taken::Ended),
            Err(error) => return Err(error),
        };
        let current = marker::decode(&bytes);
        let asked = match current {
            // The keeper handed over with the deadline asked for (or this replica is named
            // already, having lost its client: the deadline is written below).
            Some(record) if record == MarkerRecord::kept_by(taker, deadline_unix_ms) => {
                return Ok(Taken::Released);
            }
            Some(record) if record.keeper == taker => {
                return written(shared, session_id, taker, deadline_unix_ms, Taken::Released).await;
            }
            Some(record) if record.handover_to == Some(taker) => true,
            Some(record) => {
                let request = MarkerRecord { deadline_unix_ms, handover_to: Some(taker), ..record };
                match marker::write_if(shared, session_id, &request, Some(stat.version)).await {
                    // The write fires the watch just set; the next read sees the request.
                    Ok(()) => true,
                    Err(ZkError::BadVersion) => continue,
                    Err(ZkError::NoNode) => return Ok(Taken::Ended),
                    Err(error) => return Err(error),
                }
            }
            // Unreadable: nobody can be asked, so overwrite it below.
            None => false,
        };
        if !asked {
            break;
        }
        tokio::select! {
            _ = watcher.changed() => {}
            _ = &mut wait => break,
        }
    }
    written(shared, session_id, taker, deadline_unix_ms, Taken::Unanswered).await
}

/// Names `taker` keeper with `deadline_unix_ms` whatever the marker says; `outcome` if that
/// worked, `Ended` if the marker is gone.
async fn written(
    shared: &Client,
    session_id: i64,
    taker: u64,
    deadline_unix_ms: u64,
    outcome: Taken,
) -> Result<Taken, ZkError> {
    let record = MarkerRecord::kept_by(taker, deadline_unix_ms);
    match marker::write(shared, session_id, &record).await {
        Ok(()) => Ok(outcome),
        Err(ZkError::NoNode) => Ok(Taken::Ended),
        Err(error) => Err(error),
    }
}

/// The keeper's side: `lease_client` (already removed from the keeper's table) is dropped,
/// its session task is given [`RELEASE_WAIT_MS`] to end, and the marker, still at
/// `version` with `asked` in it, is handed to the replica that asked. A marker that moved
/// on meanwhile is left alone: its writer decides.
pub async fn release(
    lease_client: Client,
    shared: &Client,
    session_id: i64,
    asked: MarkerRecord,
    version: i32,
) {
    let Some(taker) = asked.handover_to else { return };
    let mut state = lease_client.state_watcher();
    drop(lease_client);
    let _ = tokio::time::timeout(Duration::from_millis(RELEASE_WAIT_MS), async {
        while !is_terminal(state.peek_state()) {
            state.changed().await;
        }
    })
    .await;
    let handed = MarkerRecord::kept_by(taker, asked.deadline_unix_ms);
    // Any failure (the marker moved on, the lease ended, the ensemble is unreachable)
    // leaves the taker to its own bound.
    let _ = marker::write_if(shared, session_id, &handed, Some(version)).await;
}
