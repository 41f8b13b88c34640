//! A node's child names, in order.
//!
//! Memory is the point of this type: most znodes are leaves, so an empty set
//! is one null pointer in the node (a `BTreeSet` is three words), and a name
//! of up to 24 bytes, which is nearly every name (`lock-0000000042`,
//! `c12-3456`), is stored inline in the set rather than in an allocation of
//! its own. Together that is about a sixth of a small znode's memory.

use std::collections::BTreeSet;

use compact_str::CompactString;

// The box is the point: a leaf's set is one null pointer, not a 24-byte BTreeSet.
#[allow(clippy::box_collection)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Children(Option<Box<BTreeSet<CompactString>>>);

impl Children {
    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |names| names.len())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Adds `name`; false if it was there already.
    pub(crate) fn insert(&mut self, name: &str) -> bool {
        self.0.get_or_insert_with(Default::default).insert(CompactString::from(name))
    }

    /// Removes `name`; false if it was not there. The set's allocation goes
    /// with its last name.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        let Some(names) = self.0.as_mut() else { return false };
        let removed = names.remove(name);
        if names.is_empty() {
            self.0 = None;
        }
        removed
    }

    /// The names in byte order (as ZooKeeper's clients expect none in
    /// particular, any stable order will do; this one is the snapshot's).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().flat_map(|names| names.iter().map(CompactString::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_set_is_one_pointer_and_holds_no_allocation() {
        assert_eq!(std::mem::size_of::<Children>(), std::mem::size_of::<usize>());
        let mut children = Children::default();
        assert!(children.insert("a"));
        assert!(children.remove("a"));
        assert!(children.0.is_none(), "the last remove frees the set");
        assert!(children.is_empty());
    }

    #[test]
    fn insert_remove_and_order() {
        let mut children = Children::default();
        assert!(!children.remove("missing"));
        for name in ["b", "a", "a-name-longer-than-twenty-four-bytes", "c"] {
            assert!(children.insert(name));
        }
        assert!(!children.insert("a"), "a second insert of a name is refused");
        assert_eq!(children.len(), 4);
        assert_eq!(
            children.iter().collect::<Vec<_>>(),
            ["a", "a-name-longer-than-twenty-four-bytes", "b", "c"]
        );
        assert!(children.remove("a-name-longer-than-twenty-four-bytes"));
        assert_eq!(children.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(!children.is_empty());
    }
}
