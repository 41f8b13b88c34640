//! Session expiry bookkeeping. Not replicated: the server that owns expiry
//! (the standalone node, later the leader) decides when a session is dead
//! and issues a CloseSession txn for it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proto::SessionId;

/// Clamps a client's requested session timeout into the server's range.
pub fn negotiate_timeout(requested_ms: i32, min_ms: i32, max_ms: i32) -> i32 {
    requested_ms.clamp(min_ms, max_ms)
}

/// Deadlines of live sessions, grouped in tick-sized buckets as ZooKeeper's
/// `ExpiryQueue`, so a check costs the number of expiring sessions, not all of them.
#[derive(Debug, Default)]
pub struct SessionTracker {
    tick_ms: i64,
    sessions: HashMap<SessionId, Tracked>,
    buckets: BTreeMap<i64, BTreeSet<SessionId>>,
}

#[derive(Debug, Clone, Copy)]
struct Tracked {
    timeout_ms: i32,
    deadline_ms: i64,
}

impl SessionTracker {
    pub fn new(tick_ms: i64) -> Self {
        SessionTracker { tick_ms: tick_ms.max(1), ..Default::default() }
    }

    /// Deadline for activity at `now_ms`: rounded up to the next tick boundary.
    fn deadline(&self, now_ms: i64, timeout_ms: i32) -> i64 {
        ((now_ms + timeout_ms as i64) / self.tick_ms + 1) * self.tick_ms
    }

    pub fn add(&mut self, session: SessionId, timeout_ms: i32, now_ms: i64) {
        self.remove(session);
        let deadline_ms = self.deadline(now_ms, timeout_ms);
        self.sessions.insert(session, Tracked { timeout_ms, deadline_ms });
        self.buckets.entry(deadline_ms).or_default().insert(session);
    }

    /// Records activity; false if the session is unknown (expired or closed).
    pub fn touch(&mut self, session: SessionId, now_ms: i64) -> bool {
        let Some(tracked) = self.sessions.get(&session).copied() else { return false };
        let deadline_ms = self.deadline(now_ms, tracked.timeout_ms);
        if deadline_ms != tracked.deadline_ms {
            self.unbucket(session, tracked.deadline_ms);
            self.buckets.entry(deadline_ms).or_default().insert(session);
            self.sessions.insert(session, Tracked { deadline_ms, ..tracked });
        }
        true
    }

    pub fn remove(&mut self, session: SessionId) {
        if let Some(tracked) = self.sessions.remove(&session) {
            self.unbucket(session, tracked.deadline_ms);
        }
    }

    /// Sessions whose deadline passed, each returned once and forgotten.
    pub fn expired(&mut self, now_ms: i64) -> Vec<SessionId> {
        let mut expired = Vec::new();
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() > now_ms {
                break;
            }
            for session in entry.remove() {
                self.sessions.remove(&session);
                expired.push(session);
            }
        }
        expired
    }

    pub fn next_deadline(&self) -> Option<i64> {
        self.buckets.keys().next().copied()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn unbucket(&mut self, session: SessionId, deadline_ms: i64) {
        if let Some(bucket) = self.buckets.get_mut(&deadline_ms) {
            bucket.remove(&session);
            if bucket.is_empty() {
                self.buckets.remove(&deadline_ms);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_clamped() {
        assert_eq!(negotiate_timeout(1_000, 4_000, 40_000), 4_000);
        assert_eq!(negotiate_timeout(10_000, 4_000, 40_000), 10_000);
        assert_eq!(negotiate_timeout(100_000, 4_000, 40_000), 40_000);
    }

    #[test]
    fn sessions_expire_at_the_tick_after_their_timeout_unless_touched() {
        let mut tracker = SessionTracker::new(100);
        tracker.add(SessionId(1), 250, 0); // deadline 300
        tracker.add(SessionId(2), 250, 0);
        assert_eq!(tracker.next_deadline(), Some(300));
        assert!(tracker.expired(299).is_empty());
        assert!(tracker.touch(SessionId(2), 200)); // deadline 500
        assert_eq!(tracker.expired(300), vec![SessionId(1)]);
        assert!(!tracker.touch(SessionId(1), 301), "an expired session stays expired");
        assert!(tracker.expired(499).is_empty());
        assert_eq!(tracker.expired(500), vec![SessionId(2)]);
        assert!(tracker.is_empty());
    }

    #[test]
    fn removed_sessions_never_expire() {
        let mut tracker = SessionTracker::new(10);
        tracker.add(SessionId(7), 20, 0);
        tracker.remove(SessionId(7));
        assert!(tracker.expired(1_000).is_empty());
        assert_eq!(tracker.next_deadline(), None);
    }
}
