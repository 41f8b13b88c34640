//! Locks, read-write locks, counting semaphores and leader election built from ZooKeeper
//! ephemeral sequential znodes, with a fencing token on every grant.
//!
//! Module map:
//! - [`contenders`]: the pure decision core. Parses contender node names, orders them by
//!   sequence number and decides "granted" or "wait for this one node". No I/O, so the
//!   no-herd and read/write rules are unit tested exhaustively.
//! - [`protected`]: Curator's protected mode. Contender names carry a GUID so a create that
//!   may have succeeded before a connection loss is found again instead of duplicated. Also
//!   the create sent together with the first listing, so an uncontended acquire is one
//!   round trip.
//! - [`lock`]: acquire (long-poll with a bound, 0 = try), release (by token, or directly by
//!   node name for a caller that remembers its grants), inspect and the token-guarded write,
//!   for exclusive and read-write locks.
//! - [`semaphore`]: counting semaphore (an internal lock serialises the one waiter that
//!   watches the lease directory, so waiters never stampede).
//! - [`election`]: leader election on top of the exclusive lock: campaign, proclaim,
//!   resign, current leader.
//! - [`error`]: the error type every operation returns.
//!
//! The fencing token of a grant is the czxid of the contender node: zxids only grow, and a
//! contender node is created after every node that was granted before it, so tokens
//! strictly increase across all grants of one lock.

pub mod contenders;
pub mod election;
pub mod error;
pub mod lock;
pub mod protected;
pub mod semaphore;

pub use contenders::{Contender, ContenderKind, Decision};
pub use error::LockError;
pub use lock::{Grant, GuardedWrite, LockInfo, Waiter};

use std::time::Duration;

/// The longest an acquire or campaign may wait for a grant; longer requests are refused so a
/// long-poll never pins a gateway worker indefinitely.
pub const WAIT_MS_MAX: u64 = 60_000;

/// Validated wait bound for an acquire: `0` means try-lock.
pub fn wait_from_ms(wait_ms: u64) -> Result<Duration, LockError> {
    if wait_ms > WAIT_MS_MAX {
        return Err(LockError::WaitTooLong { wait_ms, wait_ms_max: WAIT_MS_MAX });
    }
    Ok(Duration::from_millis(wait_ms))
}

/// Longest lock or election name accepted; names become one znode path segment.
pub const NAME_BYTES_MAX: usize = 128;

/// Checks a lock/election/semaphore name: non-empty, at most [`NAME_BYTES_MAX`] bytes, and
/// only characters that are safe as one znode path segment.
pub fn validate_name(name: &str) -> Result<(), LockError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty()
        || name.len() > NAME_BYTES_MAX
        || name == "."
        || name == ".."
        || !name.chars().all(allowed)
    {
        return Err(LockError::BadName(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_bound_is_inclusive() {
        assert_eq!(wait_from_ms(WAIT_MS_MAX).unwrap(), Duration::from_millis(WAIT_MS_MAX));
        assert!(matches!(wait_from_ms(WAIT_MS_MAX + 1), Err(LockError::WaitTooLong { .. })));
        assert_eq!(wait_from_ms(0).unwrap(), Duration::ZERO);
    }

    #[test]
    fn names_at_the_bound() {
        assert!(validate_name(&"a".repeat(NAME_BYTES_MAX)).is_ok());
        assert!(validate_name(&"a".repeat(NAME_BYTES_MAX + 1)).is_err());
        assert!(validate_name("").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name("..").is_err());
        assert!(validate_name("orders-2024_v1.x").is_ok());
    }
}
