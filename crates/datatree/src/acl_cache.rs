//! One shared copy of each distinct ACL list, as ZooKeeper's `ReferenceCountedACLCache`.
//!
//! Nearly every node of a real tree carries one of a handful of ACL lists
//! (`world:anyone` above all), so a node holds an `Arc` of the shared list
//! instead of its own strings: that is most of a small node's memory.
//! Lists no node uses any more are dropped when the cache has doubled since
//! its last sweep, so unique ACLs cannot grow it without bound.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::ops::Deref;
use std::sync::Arc;

use proto::Acl;

/// One ACL list, shared. A thin pointer: 8 bytes in every node, where an
/// `Arc<[Acl]>` would take 16 (and push a small node into the next
/// allocator size class).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SharedAcl(Arc<Box<[Acl]>>);

impl SharedAcl {
    /// A list of its own, outside the cache (a leader's pending view of a node).
    pub(crate) fn new(acl: &[Acl]) -> SharedAcl {
        SharedAcl(Arc::new(acl.into()))
    }
}

impl Deref for SharedAcl {
    type Target = [Acl];

    fn deref(&self) -> &[Acl] {
        &self.0
    }
}

// Hash and Eq are the list's own (derived through `Arc` and `Box`), as `Borrow` requires.
impl Borrow<[Acl]> for SharedAcl {
    fn borrow(&self) -> &[Acl] {
        &self.0
    }
}

/// Lists kept before the first sweep for unused ones.
const SWEEP_THRESHOLD_MIN: usize = 64;

#[derive(Debug)]
pub(crate) struct AclCache {
    lists: HashSet<SharedAcl>,
    sweep_at: usize,
}

impl Default for AclCache {
    fn default() -> Self {
        AclCache { lists: HashSet::new(), sweep_at: SWEEP_THRESHOLD_MIN }
    }
}

impl AclCache {
    /// The shared copy of `acl`.
    pub(crate) fn intern(&mut self, acl: &[Acl]) -> SharedAcl {
        if let Some(shared) = self.lists.get(acl) {
            return shared.clone();
        }
        if self.lists.len() >= self.sweep_at {
            // Only the cache holds these: no node uses them.
            self.lists.retain(|list| Arc::strong_count(&list.0) > 1);
            self.sweep_at = (self.lists.len() * 2).max(SWEEP_THRESHOLD_MIN);
        }
        let shared = SharedAcl::new(acl);
        self.lists.insert(shared.clone());
        shared
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lists.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Id;

    fn acl(user: &str) -> Vec<Acl> {
        vec![Acl { perms: 31, id: Id::new("digest", user) }]
    }

    #[test]
    fn equal_lists_share_one_allocation() {
        let mut cache = AclCache::default();
        let first = cache.intern(&acl("a"));
        let second = cache.intern(&acl("a"));
        assert!(Arc::ptr_eq(&first.0, &second.0));
        assert!(!Arc::ptr_eq(&first.0, &cache.intern(&acl("b")).0));
    }

    #[test]
    fn unused_lists_are_swept_when_the_cache_doubles() {
        let mut cache = AclCache::default();
        let kept = cache.intern(&acl("kept"));
        for user in 0..SWEEP_THRESHOLD_MIN * 10 {
            // Dropped at once: nothing holds these lists but the cache.
            cache.intern(&acl(&user.to_string()));
        }
        assert!(cache.len() <= SWEEP_THRESHOLD_MIN + 1, "{} lists kept", cache.len());
        assert!(Arc::ptr_eq(&kept.0, &cache.intern(&acl("kept")).0));
    }
}
