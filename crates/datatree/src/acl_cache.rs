//! One shared copy of each distinct ACL list, as ZooKeeper's `ReferenceCountedACLCache`.
//!
//! Nearly every node of a real tree carries one of a handful of ACL lists
//! (`world:anyone` above all), so a node holds an `Arc` of the shared list
//! instead of its own strings: that is most of a small node's memory.
//! Lists no node uses any more are dropped when the cache has doubled since
//! its last sweep, so unique ACLs cannot grow it without bound.

use std::collections::HashSet;
use std::sync::Arc;

use proto::Acl;

/// Lists kept before the first sweep for unused ones.
const SWEEP_THRESHOLD_MIN: usize = 64;

#[derive(Debug)]
pub(crate) struct AclCache {
    lists: HashSet<Arc<[Acl]>>,
    sweep_at: usize,
}

impl Default for AclCache {
    fn default() -> Self {
        AclCache { lists: HashSet::new(), sweep_at: SWEEP_THRESHOLD_MIN }
    }
}

impl AclCache {
    /// The shared copy of `acl`.
    pub(crate) fn intern(&mut self, acl: &[Acl]) -> Arc<[Acl]> {
        if let Some(shared) = self.lists.get(acl) {
            return shared.clone();
        }
        if self.lists.len() >= self.sweep_at {
            // Only the cache holds these: no node uses them.
            self.lists.retain(|list| Arc::strong_count(list) > 1);
            self.sweep_at = (self.lists.len() * 2).max(SWEEP_THRESHOLD_MIN);
        }
        let shared: Arc<[Acl]> = Arc::from(acl);
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
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(&first, &cache.intern(&acl("b"))));
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
        assert!(Arc::ptr_eq(&kept, &cache.intern(&acl("kept"))));
    }
}
