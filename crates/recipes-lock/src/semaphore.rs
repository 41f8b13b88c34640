//! Counting semaphore: at most `permits` concurrent holders.
//!
//! Layout under the semaphore's directory: `lock/` is an internal exclusive lock and
//! `leases/` holds one ephemeral sequential node per granted permit. Only the holder of the
//! internal lock looks at `leases/` (and watches it while all permits are taken), so a
//! released permit wakes exactly one waiter; the others queue herd-free on the internal
//! lock, each watching its predecessor.

use std::time::Duration;

use tokio::time::Instant;
use zookeeper_client::{Client, Error};

use crate::contenders::{self, ContenderKind};
use crate::error::LockError;
use crate::lock::{self, Grant, LockInfo};
use crate::protected;

/// Most permits one semaphore may have.
pub const PERMITS_MAX: u32 = 1024;

/// Validates a permit count: 1 ..= [`PERMITS_MAX`].
pub fn validate_permits(permits: u32) -> Result<(), LockError> {
    if permits == 0 || permits > PERMITS_MAX {
        return Err(LockError::BadPermits { got: permits, max: PERMITS_MAX });
    }
    Ok(())
}

fn leases_dir(dir: &str) -> String {
    format!("{dir}/leases")
}

fn lock_dir(dir: &str) -> String {
    format!("{dir}/lock")
}

/// Takes one of `permits` permits, waiting up to `wait`.
pub async fn acquire(
    client: &Client,
    dir: &str,
    permits: u32,
    wait: Duration,
) -> Result<Grant, LockError> {
    validate_permits(permits)?;
    let deadline = Instant::now() + wait;
    let leases = leases_dir(dir);
    protected::ensure_directory(client, &leases).await?;
    let gate = lock::acquire(client, &lock_dir(dir), ContenderKind::Exclusive, b"", wait).await?;
    let mut wakeups = gate.wakeups;
    let outcome = loop {
        let (children, watcher) = match client.list_and_watch_children(&leases).await {
            Ok(found) => found,
            Err(error) => break Err(LockError::from(error)),
        };
        if contenders::ordered(&children).len() < permits as usize {
            break protected::create_contender(client, &leases, ContenderKind::Exclusive, b"")
                .await
                .map(|(name, stat)| Grant {
                    node: format!("{leases}/{name}"),
                    token: stat.czxid,
                    wakeups,
                    lock_delayed: false,
                });
        }
        if Instant::now() >= deadline {
            break Err(LockError::NotAcquired);
        }
        tokio::select! {
            _ = watcher.changed() => wakeups += 1,
            () = tokio::time::sleep_until(deadline) => break Err(LockError::NotAcquired),
        }
    };
    if let Err(error) = client.delete(&gate.node, None).await
        && error != Error::NoNode
    {
        tracing::warn!(node = %gate.node, %error, "could not release the semaphore's gate");
    }
    outcome
}

/// Returns the permit with `token`, which must belong to the session of `client`.
pub async fn release(client: &Client, dir: &str, token: i64) -> Result<(), LockError> {
    lock::release(client, &leases_dir(dir), token).await
}

/// Returns the permit held by the node `name` (the last segment of its grant's `node`)
/// without looking for it; see [`lock::release_node`] for what the caller vouches for.
pub async fn release_node(
    client: &Client,
    dir: &str,
    name: &str,
    token: i64,
) -> Result<(), LockError> {
    lock::release_node(client, &leases_dir(dir), name, token).await
}

/// Permit holders, and the contenders queued for a permit.
pub async fn inspect(client: &Client, dir: &str) -> Result<LockInfo, LockError> {
    let leases = lock::inspect(client, &leases_dir(dir)).await?;
    let gate = lock::inspect(client, &lock_dir(dir)).await?;
    let mut holders = leases.holders;
    holders.extend(leases.waiters);
    let mut waiters = gate.holders;
    waiters.extend(gate.waiters);
    Ok(LockInfo { holders, waiters })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_at_the_bounds() {
        assert!(validate_permits(1).is_ok());
        assert!(validate_permits(PERMITS_MAX).is_ok());
        assert!(validate_permits(0).is_err());
        assert!(validate_permits(PERMITS_MAX + 1).is_err());
    }
}
