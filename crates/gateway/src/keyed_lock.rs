//! One task at a time per key. Concurrent requests for a lease this replica does not hold
//! must not each resume its session: two clients of one session fight over its connection.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, Weak};

use tokio::sync::{Mutex, OwnedMutexGuard};

/// Locks created on demand per key and forgotten once nobody holds or waits for them.
#[derive(Default)]
pub struct KeyedLocks {
    locks: std::sync::Mutex<HashMap<i64, Weak<Mutex<()>>>>,
}

impl KeyedLocks {
    /// Waits until no other task holds `key`'s lock; the lock is held until the guard drops.
    pub async fn lock(&self, key: i64) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            match locks.get(&key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    // Forget the locks nobody holds any more, so the map stays as small
                    // as the number of keys in use.
                    locks.retain(|_, lock| lock.strong_count() > 0);
                    let lock = Arc::new(Mutex::new(()));
                    locks.insert(key, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    /// How many keys have a lock in use (or a forgotten one not yet pruned).
    pub fn len(&self) -> usize {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_key_and_keys_are_independent() {
        let locks = KeyedLocks::default();
        let held = locks.lock(1).await;
        // Another key is free while 1 is held.
        drop(locks.lock(2).await);
        // Key 1 is not: a second locker waits until the first guard drops.
        let second = locks.lock(1);
        tokio::pin!(second);
        assert!(poll_once(second.as_mut()).await.is_none());
        drop(held);
        assert!(poll_once(second.as_mut()).await.is_some());
    }

    #[tokio::test]
    async fn unused_locks_are_forgotten() {
        let locks = KeyedLocks::default();
        for key in 0..100 {
            drop(locks.lock(key).await);
        }
        // Each new key prunes the unused ones before it is added.
        assert_eq!(locks.len(), 1);
        let _held = locks.lock(7).await;
        drop(locks.lock(8).await);
        assert_eq!(locks.len(), 2, "the held lock stays, the unused one was pruned");
    }

    /// Polls `future` once: `Some` if it completed.
    async fn poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|context| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(context) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
