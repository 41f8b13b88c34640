//! Bounded label values: recipe names come from callers, so a label per name
//! could grow without limit. The first [`NAMED_LABELS_MAX`] distinct names of
//! a kind keep their own label; every later one is counted under
//! [`OVERFLOW_LABEL`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Distinct lock (or queue) names that get their own label value.
pub const NAMED_LABELS_MAX: usize = 1_000;
/// The label value shared by names beyond the bound (a recipe actually named
/// `_other` shares the overflow's series).
pub const OVERFLOW_LABEL: &str = "_other";

/// The label values handed out for one kind of name (locks, queues).
#[derive(Debug)]
pub struct BoundedLabels {
    max: usize,
    seen: Mutex<HashSet<Arc<str>>>,
}

impl BoundedLabels {
    pub fn new(max: usize) -> BoundedLabels {
        BoundedLabels { max, seen: Mutex::new(HashSet::new()) }
    }

    /// `name` itself while fewer than `max` names were seen (or it was seen
    /// before), else [`OVERFLOW_LABEL`].
    pub fn label(&self, name: &str) -> Arc<str> {
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(known) = seen.get(name) {
            return known.clone();
        }
        if seen.len() >= self.max {
            return Arc::from(OVERFLOW_LABEL);
        }
        let label: Arc<str> = Arc::from(name);
        seen.insert(label.clone());
        label
    }
}

impl Default for BoundedLabels {
    fn default() -> BoundedLabels {
        BoundedLabels::new(NAMED_LABELS_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_up_to_the_bound_keep_their_label_and_later_ones_share_the_overflow() {
        let labels = BoundedLabels::default();
        for index in 0..NAMED_LABELS_MAX {
            let name = format!("lock-{index}");
            assert_eq!(&*labels.label(&name), name.as_str());
        }
        assert_eq!(&*labels.label("one-too-many"), OVERFLOW_LABEL);
        assert_eq!(&*labels.label("another"), OVERFLOW_LABEL);
        // Names seen before the bound was reached keep their own series.
        assert_eq!(&*labels.label("lock-0"), "lock-0");
        assert_eq!(&*labels.label(&format!("lock-{}", NAMED_LABELS_MAX - 1)), "lock-999");
    }
}
