//! The contender node behind each lock or semaphore grant this gateway made, so releasing
//! it is one request (delete the node) instead of a search of the lock's directory for the
//! node whose czxid is the token.
//!
//! Entries are keyed by the lease (session) that holds the grant, and a release looks up
//! only the lease its request names, after that lease's password was checked. A hit is
//! therefore a node this session created for this grant, whose name carries a GUID made
//! for that grant alone and which is ephemeral to this session: deleting it cannot touch
//! anyone else's contender, which is the ownership check the searching release makes.
//! A miss (the grant was made by another replica, before a restart, or was evicted) falls
//! back to the searching release, so the map is only ever a shortcut.
//!
//! The map is bounded ([`GRANTS_REMEMBERED_MAX`], oldest dropped first); a release removes
//! its entry, and a lease's entries go when this gateway lets go of the lease (see
//! [`LeaseGrants`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// Most grants remembered at once, over all leases. About 200 bytes each; beyond it the
/// oldest grants are forgotten and their releases take the searching path.
pub const GRANTS_REMEMBERED_MAX: usize = 16_384;

/// One remembered grant.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Remembered {
    /// Directory of the lock (or semaphore) the grant belongs to.
    dir: String,
    /// Name of the contender node, a child of the lock's contender directory.
    node_name: String,
    /// Insertion order, the key of `Grants::by_age`.
    age: u64,
}

#[derive(Default)]
struct Grants {
    /// session id → fencing token → grant. A token (the node's czxid) names one node
    /// creation, so it is unique within a session.
    by_lease: HashMap<i64, HashMap<i64, Remembered>>,
    /// age → (session id, token), oldest first: what eviction drops.
    by_age: BTreeMap<u64, (i64, i64)>,
    next_age: u64,
}

impl Grants {
    fn remove(&mut self, session_id: i64, token: i64) -> Option<Remembered> {
        let tokens = self.by_lease.get_mut(&session_id)?;
        let removed = tokens.remove(&token)?;
        if tokens.is_empty() {
            self.by_lease.remove(&session_id);
        }
        self.by_age.remove(&removed.age);
        Some(removed)
    }
}

/// The bounded map of grants to contender nodes. Shared by all requests; every operation
/// is a few map updates under a lock that is never held across an await.
pub struct GrantCache {
    capacity: usize,
    grants: Mutex<Grants>,
}

impl Default for GrantCache {
    fn default() -> Self {
        GrantCache::with_capacity(GRANTS_REMEMBERED_MAX)
    }
}

impl GrantCache {
    /// A cache that remembers at most `capacity` grants.
    pub fn with_capacity(capacity: usize) -> GrantCache {
        GrantCache { capacity, grants: Mutex::new(Grants::default()) }
    }

    fn grants(&self) -> std::sync::MutexGuard<'_, Grants> {
        // The maps stay consistent even if a holder panicked: each update is complete
        // before the guard drops, so a poisoned lock is safe to keep using.
        self.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers that the grant `token` of lock directory `dir`, held by `session_id`, is
    /// the contender node `node_name`. Drops the oldest grants beyond the capacity.
    pub fn remember(&self, session_id: i64, dir: &str, token: i64, node_name: &str) {
        let mut grants = self.grants();
        grants.remove(session_id, token);
        let age = grants.next_age;
        grants.next_age += 1;
        let remembered = Remembered { dir: dir.to_owned(), node_name: node_name.to_owned(), age };
        grants.by_lease.entry(session_id).or_default().insert(token, remembered);
        grants.by_age.insert(age, (session_id, token));
        while grants.by_age.len() > self.capacity {
            let Some((_, (oldest_session, oldest_token))) = grants.by_age.pop_first() else {
                break;
            };
            grants.remove(oldest_session, oldest_token);
        }
    }

    /// The node name of grant `token` of `dir` held by `session_id`, forgetting it (the
    /// caller is releasing it). `None` if it is not remembered, or was made for another
    /// directory (that entry stays: the request named the wrong lock).
    pub fn take(&self, session_id: i64, dir: &str, token: i64) -> Option<String> {
        let mut grants = self.grants();
        let remembered = grants.by_lease.get(&session_id)?.get(&token)?;
        if remembered.dir != dir {
            return None;
        }
        grants.remove(session_id, token).map(|removed| removed.node_name)
    }

    /// Forgets every grant of `session_id` (its lease ended here or moved elsewhere).
    pub fn forget_lease(&self, session_id: i64) {
        let mut grants = self.grants();
        if let Some(tokens) = grants.by_lease.remove(&session_id) {
            for remembered in tokens.values() {
                grants.by_age.remove(&remembered.age);
            }
        }
    }

    /// How many grants are remembered.
    pub fn len(&self) -> usize {
        self.grants().by_age.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Ties a lease's remembered grants to the gateway's hold on the lease: dropped with the
/// lease table's entry (the lease ended, was revoked, or another replica took it over),
/// it forgets them. Forgetting is never needed for safety, only to free the room.
pub struct LeaseGrants {
    cache: Arc<GrantCache>,
    session_id: i64,
}

impl LeaseGrants {
    pub fn new(cache: Arc<GrantCache>, session_id: i64) -> LeaseGrants {
        LeaseGrants { cache, session_id }
    }
}

impl Drop for LeaseGrants {
    fn drop(&mut self) {
        self.cache.forget_lease(self.session_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_is_taken_once_and_only_by_its_lease_and_directory() {
        let cache = GrantCache::default();
        cache.remember(7, "/herald/locks/a", 100, "_c_g-x-0000000001");
        assert_eq!(cache.take(8, "/herald/locks/a", 100), None, "another lease");
        assert_eq!(cache.take(7, "/herald/locks/b", 100), None, "another lock");
        assert_eq!(cache.take(7, "/herald/locks/a", 101), None, "another token");
        assert_eq!(cache.take(7, "/herald/locks/a", 100).as_deref(), Some("_c_g-x-0000000001"));
        assert_eq!(cache.take(7, "/herald/locks/a", 100), None, "taken already");
        assert!(cache.is_empty());
    }

    #[test]
    fn at_the_bound_the_oldest_grant_is_dropped() {
        let cache = GrantCache::default();
        for token in 0..GRANTS_REMEMBERED_MAX as i64 {
            cache.remember(token % 3, "/d", token, &format!("n{token}"));
        }
        assert_eq!(cache.len(), GRANTS_REMEMBERED_MAX);
        cache.remember(1, "/d", -1, "newest");
        assert_eq!(cache.len(), GRANTS_REMEMBERED_MAX);
        assert_eq!(cache.take(0, "/d", 0), None, "the oldest went");
        assert_eq!(cache.take(1, "/d", 1).as_deref(), Some("n1"), "the second oldest stays");
        assert_eq!(cache.take(1, "/d", -1).as_deref(), Some("newest"));
    }

    #[test]
    fn remembering_a_grant_again_refreshes_it_without_growing() {
        let cache = GrantCache::with_capacity(2);
        cache.remember(1, "/d", 10, "first");
        cache.remember(1, "/d", 11, "second");
        cache.remember(1, "/d", 10, "first-again");
        assert_eq!(cache.len(), 2);
        cache.remember(1, "/d", 12, "third");
        assert_eq!(cache.take(1, "/d", 11), None, "the oldest after the refresh");
        assert_eq!(cache.take(1, "/d", 10).as_deref(), Some("first-again"));
    }

    #[test]
    fn dropping_a_leases_guard_forgets_only_its_grants() {
        let cache = Arc::new(GrantCache::default());
        let guard = LeaseGrants::new(cache.clone(), 5);
        cache.remember(5, "/d", 1, "a");
        cache.remember(5, "/e", 2, "b");
        cache.remember(6, "/d", 3, "c");
        drop(guard);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.take(5, "/d", 1), None);
        assert_eq!(cache.take(6, "/d", 3).as_deref(), Some("c"));
    }
}
