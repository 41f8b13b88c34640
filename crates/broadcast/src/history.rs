//! The in-memory tail of this server's txn log: the window a leader syncs
//! learners from by DIFF/TRUNC, and the proposals a learner logged but has
//! not applied yet.

use std::collections::VecDeque;

use proto::Zxid;

use crate::Proposal;

/// A contiguous tail of the log. `base` is a zxid known to be in this
/// server's history right before `entries` (a snapshot zxid, a truncation
/// point, or the oldest proposal dropped from the window); a learner whose
/// last zxid is below `base` cannot be synced by DIFF.
#[derive(Debug, Clone)]
pub(crate) struct History {
    base: Zxid,
    entries: VecDeque<Proposal>,
    /// How many committed entries to keep; uncommitted ones are never dropped.
    committed_max: usize,
}

impl History {
    /// Builds the window from what recovery found. Recovered proposals that
    /// are not strictly increasing or do not end at `last_logged` are not
    /// trusted as a window (the server then syncs learners by SNAP).
    pub(crate) fn recovered(
        last_logged: Zxid,
        recent: Vec<Proposal>,
        committed_max: usize,
    ) -> History {
        let increasing = recent.windows(2).all(|pair| pair[0].zxid < pair[1].zxid);
        let ends_at_last = recent.last().is_some_and(|proposal| proposal.zxid == last_logged);
        let mut history = History::empty_at(last_logged, committed_max);
        if increasing && ends_at_last {
            let mut entries: VecDeque<Proposal> = recent.into();
            // The oldest recovered proposal becomes the base: its predecessor is unknown.
            if let Some(first) = entries.pop_front() {
                history.base = first.zxid;
            }
            history.entries = entries;
            history.trim(last_logged);
        }
        history
    }

    pub(crate) fn empty_at(zxid: Zxid, committed_max: usize) -> History {
        History { base: zxid, entries: VecDeque::new(), committed_max }
    }

    #[cfg(test)]
    pub(crate) fn base(&self) -> Zxid {
        self.base
    }

    pub(crate) fn last(&self) -> Zxid {
        self.entries.back().map_or(self.base, |proposal| proposal.zxid)
    }

    fn position(&self, zxid: Zxid) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&zxid, |proposal| proposal.zxid)
    }

    /// True when `zxid` is a point of this history this window knows about.
    pub(crate) fn contains(&self, zxid: Zxid) -> bool {
        zxid == self.base || self.position(zxid).is_ok()
    }

    /// The largest known zxid at or below `zxid`, if the window reaches that far back.
    pub(crate) fn floor(&self, zxid: Zxid) -> Option<Zxid> {
        if zxid < self.base {
            return None;
        }
        let below = self.entries.partition_point(|proposal| proposal.zxid <= zxid);
        Some(if below == 0 { self.base } else { self.entries[below - 1].zxid })
    }

    /// Entries with `after < zxid <= up_to`, oldest first.
    pub(crate) fn range(&self, after: Zxid, up_to: Zxid) -> Vec<Proposal> {
        let start = self.entries.partition_point(|proposal| proposal.zxid <= after);
        self.entries
            .iter()
            .skip(start)
            .take_while(|proposal| proposal.zxid <= up_to)
            .cloned()
            .collect()
    }

    /// Appends `proposal`; the caller checked that it follows `last()`.
    pub(crate) fn append(&mut self, proposal: Proposal) {
        debug_assert!(proposal.zxid > self.last(), "history must grow in zxid order");
        self.entries.push_back(proposal);
    }

    /// Drops every entry above `zxid`.
    pub(crate) fn truncate(&mut self, zxid: Zxid) {
        if zxid < self.base {
            self.base = zxid;
            self.entries.clear();
        } else {
            let keep = self.entries.partition_point(|proposal| proposal.zxid <= zxid);
            self.entries.truncate(keep);
        }
    }

    /// Forgets everything: the history is now a snapshot at `zxid`.
    pub(crate) fn reset(&mut self, zxid: Zxid) {
        self.base = zxid;
        self.entries.clear();
    }

    /// Drops the oldest committed entries beyond the window size.
    pub(crate) fn trim(&mut self, committed: Zxid) {
        while self.entries.len() > self.committed_max {
            match self.entries.front() {
                Some(oldest) if oldest.zxid <= committed => {
                    self.base = oldest.zxid;
                    self.entries.pop_front();
                }
                _ => break,
            }
        }
    }
}

/// True when `next` may directly follow `last` in a history: the next
/// counter of the same epoch, or the first zxid of a later epoch.
pub(crate) fn follows(last: Zxid, next: Zxid) -> bool {
    if next.epoch() == last.epoch() {
        last.counter().checked_add(1) == Some(next.counter())
    } else {
        next.epoch() > last.epoch() && next.counter() == 1
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn proposal(epoch: u32, counter: u32) -> Proposal {
        Proposal { zxid: Zxid::new(epoch, counter), txn: Bytes::from_static(b"t") }
    }

    #[test]
    fn recovered_window_starts_at_the_oldest_proposal() {
        let history = History::recovered(
            Zxid::new(1, 3),
            vec![proposal(1, 1), proposal(1, 2), proposal(1, 3)],
            10,
        );
        assert_eq!(history.base(), Zxid::new(1, 1));
        assert_eq!(history.last(), Zxid::new(1, 3));
        assert!(history.contains(Zxid::new(1, 2)));
        assert!(!history.contains(Zxid::new(1, 4)));
    }

    #[test]
    fn inconsistent_recovery_gives_an_empty_window() {
        let history = History::recovered(Zxid::new(1, 9), vec![proposal(1, 2), proposal(1, 1)], 10);
        assert_eq!(history.base(), Zxid::new(1, 9));
        assert_eq!(history.last(), Zxid::new(1, 9));
        let history = History::recovered(Zxid::new(1, 9), vec![proposal(1, 1)], 10);
        assert_eq!(history.last(), Zxid::new(1, 9));
    }

    #[test]
    fn trim_keeps_exactly_the_committed_max_and_never_drops_uncommitted() {
        let mut history = History::empty_at(Zxid::ZERO, 2);
        for counter in 1..=4 {
            history.append(proposal(1, counter));
        }
        history.trim(Zxid::new(1, 1));
        assert_eq!(history.base(), Zxid::new(1, 1));
        assert_eq!(history.range(Zxid::ZERO, Zxid::new(9, 0)).len(), 3);
        history.trim(Zxid::new(1, 4));
        assert_eq!(history.base(), Zxid::new(1, 2));
        assert_eq!(history.range(Zxid::ZERO, Zxid::new(9, 0)).len(), 2);
    }

    #[test]
    fn floor_and_truncate() {
        let mut history = History::empty_at(Zxid::new(1, 1), 10);
        history.append(proposal(1, 2));
        history.append(proposal(2, 1));
        assert_eq!(history.floor(Zxid::new(1, 9)), Some(Zxid::new(1, 2)));
        assert_eq!(history.floor(Zxid::new(1, 0)), None);
        history.truncate(Zxid::new(1, 5));
        assert_eq!(history.last(), Zxid::new(1, 2));
        history.truncate(Zxid::new(0, 5));
        assert_eq!(history.last(), Zxid::new(0, 5));
    }

    #[test]
    fn follows_accepts_next_counter_or_new_epoch_start() {
        assert!(follows(Zxid::new(1, 1), Zxid::new(1, 2)));
        assert!(follows(Zxid::new(1, 7), Zxid::new(3, 1)));
        assert!(follows(Zxid::ZERO, Zxid::new(1, 1)));
        assert!(!follows(Zxid::new(1, 1), Zxid::new(1, 3)));
        assert!(!follows(Zxid::new(1, 1), Zxid::new(2, 2)));
        assert!(!follows(Zxid::new(2, 1), Zxid::new(1, 2)));
    }
}
