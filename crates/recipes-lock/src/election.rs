//! Leader election: candidates queue like exclusive-lock contenders; the head is the
//! leader, its node's data is the proclaimed value and its czxid the leadership token.

use std::time::Duration;

use zookeeper_client::{AddWatchMode, Client, Error, PersistentWatcher};

use crate::contenders::{self, ContenderKind, Decision};
use crate::error::LockError;
use crate::lock::{self, Grant};

/// The current leader of an election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leader {
    pub node: String,
    /// Leadership token (the candidate node's czxid): strictly increases across leaders.
    pub token: i64,
    pub value: Vec<u8>,
    pub session_id: i64,
    /// Server time (ms) of the last proclaim or of becoming leader.
    pub since_ms: i64,
}

/// Runs for leader with `value`, waiting up to `wait` to win.
pub async fn campaign(
    client: &Client,
    dir: &str,
    value: &[u8],
    wait: Duration,
) -> Result<Grant, LockError> {
    lock::acquire(client, dir, ContenderKind::Exclusive, value, wait).await
}

/// Gives up leadership (or candidacy) held under `token`.
pub async fn resign(client: &Client, dir: &str, token: i64) -> Result<(), LockError> {
    lock::release(client, dir, token).await
}

/// Replaces the leader's value; only the current leader (by token and session) may.
pub async fn proclaim(
    client: &Client,
    dir: &str,
    token: i64,
    value: &[u8],
) -> Result<(), LockError> {
    let (ordered, contender, stat) = lock::find_by_token(client, dir, token).await?;
    if stat.ephemeral_owner != client.session_id().0 {
        return Err(LockError::NotOwner(token));
    }
    if contenders::decide(&ordered, &contender.name) != Some(Decision::Granted) {
        return Err(LockError::NotHolder(token));
    }
    let path = format!("{dir}/{}", contender.name);
    match client.set_data(&path, value, Some(stat.version)).await {
        Ok(_) => Ok(()),
        Err(Error::NoNode) => Err(LockError::NotHolder(token)),
        Err(error) => Err(error.into()),
    }
}

/// The current leader, if any.
pub async fn leader(client: &Client, dir: &str) -> Result<Option<Leader>, LockError> {
    loop {
        let children = match client.list_children(dir).await {
            Ok(children) => children,
            Err(Error::NoNode) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let ordered = contenders::ordered(&children);
        let Some(head) = ordered.first() else { return Ok(None) };
        let node = format!("{dir}/{}", head.name);
        match client.get_data(&node).await {
            Ok((value, stat)) => {
                return Ok(Some(Leader {
                    node,
                    token: stat.czxid,
                    value,
                    session_id: stat.ephemeral_owner,
                    since_ms: stat.mtime,
                }));
            }
            // The head left between the listing and the read: look again.
            Err(Error::NoNode) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

/// A persistent recursive watch on the election: it fires on every candidate arriving or
/// leaving and on every proclaim. Unlike re-armed one-shot watches it cannot miss a change
/// between firing and re-arming; callers re-read [`leader`] after each event and skip
/// duplicates.
pub async fn watch(client: &Client, dir: &str) -> Result<PersistentWatcher, LockError> {
    // Observers may come before any candidate: make the directory so the watch has a root.
    crate::protected::ensure_directory(client, dir).await?;
    Ok(client.watch(dir, AddWatchMode::PersistentRecursive).await?)
}
