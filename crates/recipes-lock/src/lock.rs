//! Exclusive and read-write locks: acquire, release, inspect, token-guarded write.

use std::time::Duration;

use tokio::time::Instant;
use zookeeper_client::{Client, Error, EventType, Stat};

use crate::contenders::{self, Contender, ContenderKind, Decision};
use crate::error::LockError;
use crate::protected;

/// A granted lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Full path of the contender node that holds the lock.
    pub node: String,
    /// Fencing token: the contender node's czxid, strictly increasing across grants.
    pub token: i64,
    /// How often this contender was woken by a watch before the grant. With no herd effect
    /// a waiter is woken once per predecessor that leaves, not once per queue change.
    pub wakeups: u32,
    /// The grant waited out a lock-delay because the previous holder's lease ended without
    /// releasing (its writes may still be in flight somewhere).
    pub lock_delayed: bool,
}

/// Longest lock-delay accepted.
pub const LOCK_DELAY_MS_MAX: u64 = 60_000;

/// Validated lock-delay.
pub fn lock_delay_from_ms(lock_delay_ms: u64) -> Result<Duration, LockError> {
    if lock_delay_ms > LOCK_DELAY_MS_MAX {
        return Err(LockError::LockDelayTooLong { lock_delay_ms, max: LOCK_DELAY_MS_MAX });
    }
    Ok(Duration::from_millis(lock_delay_ms))
}

/// One contender as seen by [`inspect`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiter {
    pub node: String,
    pub token: i64,
    pub kind: ContenderKind,
    /// Session (lease) that owns the contender.
    pub session_id: i64,
    /// Server time (ms since the epoch): for a waiter when it arrived, for a holder when it
    /// was granted (see [`inspect`]).
    pub since_ms: i64,
}

/// Holders and waiters of one lock, in queue order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockInfo {
    pub holders: Vec<Waiter>,
    pub waiters: Vec<Waiter>,
}

/// A write that only lands if `token` still holds the lock.
#[derive(Clone, Debug)]
pub struct GuardedWrite<'a> {
    pub token: i64,
    pub path: &'a str,
    pub data: &'a [u8],
    pub expected_version: Option<i32>,
}

/// Acquires the lock at `dir` for the session of `client`, waiting up to `wait`
/// (`Duration::ZERO` = try once). On timeout our contender is removed again.
pub async fn acquire(
    client: &Client,
    dir: &str,
    kind: ContenderKind,
    data: &[u8],
    wait: Duration,
) -> Result<Grant, LockError> {
    acquire_with_delay(client, dir, kind, data, wait, Duration::ZERO).await
}

/// [`acquire`] with a lock-delay (Chubby's): when the predecessor we waited for vanished
/// without a clean [`release`] (its lease ended), the grant is held back for `lock_delay`
/// so writes the lost holder may still have in flight land before the new holder acts.
/// A clean release records the releasing contender's name in the lock directory's data,
/// in the same multi as the delete, which is how the two cases are told apart.
pub async fn acquire_with_delay(
    client: &Client,
    dir: &str,
    kind: ContenderKind,
    data: &[u8],
    wait: Duration,
    lock_delay: Duration,
) -> Result<Grant, LockError> {
    // No mkdir up front: it is a failing create per path component on every
    // acquire. The contender's create makes the directory when it says NoNode.
    // The first listing travels with the create, so an uncontended acquire is one
    // round trip.
    let created = protected::create_and_list(client, dir, kind, data).await?;
    let own = created.name;
    let own_path = format!("{dir}/{own}");
    let deadline = Instant::now() + wait;
    let mut wakeups = 0;
    let mut departed: Option<String> = None;
    let mut listed = created.children;
    let outcome = loop {
        let children = match listed.take() {
            Some(children) => children,
            None => match client.list_children(dir).await {
                Ok(children) => children,
                Err(error) => break Err(error.into()),
            },
        };
        let ordered = contenders::ordered(&children);
        match contenders::decide(&ordered, &own) {
            None => break Err(LockError::ContenderLost),
            Some(Decision::Granted) => break Ok(()),
            Some(Decision::WaitFor(predecessor)) => {
                let path = format!("{dir}/{predecessor}");
                let watcher = match client.check_and_watch_stat(&path).await {
                    Ok((None, _)) => continue,
                    Ok((Some(_), watcher)) => watcher,
                    Err(error) => break Err(error.into()),
                };
                if Instant::now() >= deadline {
                    break Err(LockError::NotAcquired);
                }
                tokio::select! {
                    event = watcher.changed() => {
                        // Data changes of the predecessor (a proclaim) are not
                        // departures: look again without counting a wakeup.
                        if event.event_type != EventType::NodeDataChanged {
                            wakeups += 1;
                            departed = Some(predecessor);
                        }
                    }
                    () = tokio::time::sleep_until(deadline) => break Err(LockError::NotAcquired),
                }
            }
        }
    };
    match outcome {
        Ok(()) => {
            let mut lock_delayed = false;
            if let Some(predecessor) = departed
                && !lock_delay.is_zero()
            {
                let (released, _) = client.get_data(dir).await?;
                if released != predecessor.as_bytes() {
                    tokio::time::sleep(lock_delay).await;
                    lock_delayed = true;
                }
            }
            Ok(Grant { node: own_path, token: created.stat.czxid, wakeups, lock_delayed })
        }
        Err(error) => {
            remove_quietly(client, &own_path).await;
            Err(error)
        }
    }
}

/// Deletes our contender, tolerating that it is already gone.
async fn remove_quietly(client: &Client, path: &str) {
    if let Err(error) = client.delete(path, None).await
        && error != Error::NoNode
    {
        tracing::warn!(%path, %error, "could not remove an abandoned lock contender");
    }
}

/// The contender of `dir` whose fencing token is `token`, with its stat and queue order.
pub async fn find_by_token(
    client: &Client,
    dir: &str,
    token: i64,
) -> Result<(Vec<Contender>, Contender, Stat), LockError> {
    let children = match client.list_children(dir).await {
        Ok(children) => children,
        Err(Error::NoNode) => return Err(LockError::UnknownToken(token)),
        Err(error) => return Err(error.into()),
    };
    let ordered = contenders::ordered(&children);
    for contender in &ordered {
        let path = format!("{dir}/{}", contender.name);
        if let Some(stat) = client.check_stat(&path).await?
            && stat.czxid == token
        {
            let found = contender.clone();
            return Ok((ordered, found, stat));
        }
    }
    Err(LockError::UnknownToken(token))
}

/// Releases (or abandons a wait for) the contender with `token`, which must belong to the
/// session of `client`.
pub async fn release(client: &Client, dir: &str, token: i64) -> Result<(), LockError> {
    let (_, contender, stat) = find_by_token(client, dir, token).await?;
    if stat.ephemeral_owner != client.session_id().0 {
        return Err(LockError::NotOwner(token));
    }
    // Gone meanwhile (its session ended): released all the same.
    delete_recording_release(client, dir, &contender.name).await.map(|_| ())
}

/// Deletes the contender `name` of `dir` and records the clean release in the directory's
/// data, in one multi (see `acquire_with_delay`). False if the contender was already gone.
async fn delete_recording_release(
    client: &Client,
    dir: &str,
    name: &str,
) -> Result<bool, LockError> {
    let mut multi = client.new_multi_writer();
    multi.add_delete(&format!("{dir}/{name}"), None)?;
    multi.add_set_data(dir, name.as_bytes(), None)?;
    match multi.commit().await {
        Ok(_) => Ok(true),
        Err(zookeeper_client::MultiWriteError::OperationFailed {
            index: 0,
            source: Error::NoNode,
        }) => Ok(false),
        Err(error) => Err(Error::from(error).into()),
    }
}

/// Releases the contender named `name` in `dir` without looking for it, for a caller that
/// remembers which node its grant `token` created (the gateway does, per lease).
///
/// The caller vouches that the node belongs to the session of `client`: the name carries a
/// GUID made for that one grant and the node is ephemeral to the session that created it,
/// so the name cannot come to mean another session's contender. If the node is gone the
/// grant is gone (released, or the lease ended): [`LockError::UnknownToken`], as
/// [`release`] answers for a token it cannot find.
pub async fn release_node(
    client: &Client,
    dir: &str,
    name: &str,
    token: i64,
) -> Result<(), LockError> {
    if delete_recording_release(client, dir, name).await? {
        Ok(())
    } else {
        Err(LockError::UnknownToken(token))
    }
}

/// Holders and waiters of the lock at `dir`.
pub async fn inspect(client: &Client, dir: &str) -> Result<LockInfo, LockError> {
    let (children, directory) = match client.get_children(dir).await {
        Ok(found) => found,
        Err(Error::NoNode) => return Ok(LockInfo::default()),
        Err(error) => return Err(error.into()),
    };
    let ordered = contenders::ordered(&children);
    let holder_count = contenders::holders(&ordered).len();
    let mut info = LockInfo::default();
    for (index, contender) in ordered.iter().enumerate() {
        let path = format!("{dir}/{}", contender.name);
        let Some(stat) = client.check_stat(&path).await? else { continue };
        let waiter = Waiter {
            node: path,
            token: stat.czxid,
            kind: contender.kind,
            session_id: stat.ephemeral_owner,
            // A holder was granted when it arrived or when the holder before it released
            // (a clean release stamps the directory's mtime); after a lost lease the
            // arrival time is the best known, so hold times then err long.
            since_ms: if index < holder_count {
                stat.ctime.max(directory.mtime)
            } else {
                stat.ctime
            },
        };
        if index < holder_count { info.holders.push(waiter) } else { info.waiters.push(waiter) }
    }
    Ok(info)
}

/// Writes `write.data` to `write.path` only if `write.token` holds the lock at `dir`
/// exclusively. The check and the write are one multi: if the holder's node is deleted
/// (released, lease lost) between our check and the write, the whole multi fails.
pub async fn guarded_write(
    client: &Client,
    dir: &str,
    write: &GuardedWrite<'_>,
) -> Result<Stat, LockError> {
    let (ordered, contender, stat) = match find_by_token(client, dir, write.token).await {
        Ok(found) => found,
        // A token that named a contender once but does not any more is a stale holder.
        Err(LockError::UnknownToken(token)) => return Err(LockError::NotHolder(token)),
        Err(error) => return Err(error),
    };
    if contender.kind != ContenderKind::Exclusive {
        return Err(LockError::WrongKind("a guarded write needs an exclusive (write) grant"));
    }
    if contenders::decide(&ordered, &contender.name) != Some(Decision::Granted) {
        return Err(LockError::NotHolder(write.token));
    }
    let holder_path = format!("{dir}/{}", contender.name);
    let mut multi = client.new_multi_writer();
    multi.add_check_version(&holder_path, stat.version)?;
    multi.add_set_data(write.path, write.data, write.expected_version)?;
    match multi.commit().await {
        Ok(results) => match results.into_iter().nth(1) {
            Some(zookeeper_client::MultiWriteResult::SetData { stat }) => Ok(stat),
            _ => Err(Error::UnexpectedError("multi returned no setData result".into()).into()),
        },
        Err(zookeeper_client::MultiWriteError::OperationFailed { index: 0, .. }) => {
            Err(LockError::NotHolder(write.token))
        }
        Err(zookeeper_client::MultiWriteError::OperationFailed { source, .. }) => {
            Err(LockError::WriteFailed(source))
        }
        Err(zookeeper_client::MultiWriteError::RequestFailed { source }) => Err(source.into()),
    }
}
