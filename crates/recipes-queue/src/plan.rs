//! What a claimer may do with one item, decided from its record and the time alone.

use crate::records::ItemRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Claim it; `take_over` when an expired claim znode must be removed first.
    Claim { take_over: bool },
    /// It used up its attempts: move it to the dead letters; `claimed` when a (dead)
    /// claim znode must be removed too.
    DeadLetter { claimed: bool },
    /// Delayed until then.
    NotReady { visible_at_ms: u64 },
    /// Someone holds it until then.
    Busy { until_ms: u64 },
    /// The record says a claim may be live: look at the claim znode, then decide again.
    CheckClaimNode,
}

/// `claim_node_exists` is `None` until the caller has looked.
pub fn decide(
    record: &ItemRecord,
    claim_node_exists: Option<bool>,
    now_ms: u64,
    max_attempts: u32,
) -> Decision {
    let out_of_attempts = record.attempts >= max_attempts;
    if let Some(until_ms) = record.claimed_until_ms {
        match claim_node_exists {
            None => return Decision::CheckClaimNode,
            Some(true) if until_ms > now_ms => return Decision::Busy { until_ms },
            Some(true) if out_of_attempts => return Decision::DeadLetter { claimed: true },
            Some(true) => return Decision::Claim { take_over: true },
            // The claimer's session ended and took the claim with it.
            Some(false) => {}
        }
    }
    if out_of_attempts {
        Decision::DeadLetter { claimed: false }
    } else if record.visible_at_ms > now_ms {
        Decision::NotReady { visible_at_ms: record.visible_at_ms }
    } else {
        Decision::Claim { take_over: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(attempts: u32, visible_at_ms: u64, claimed_until_ms: Option<u64>) -> ItemRecord {
        ItemRecord {
            payload: serde_json::Value::Null,
            enqueued_at_ms: 0,
            visible_at_ms,
            attempts,
            claimed_until_ms,
            idempotency_key: None,
        }
    }

    #[test]
    fn fresh_ready_items_are_claimed_and_delayed_ones_wait() {
        assert_eq!(
            decide(&record(0, 100, None), None, 100, 3),
            Decision::Claim { take_over: false }
        );
        assert_eq!(
            decide(&record(0, 101, None), None, 100, 3),
            Decision::NotReady { visible_at_ms: 101 }
        );
    }

    #[test]
    fn a_possibly_claimed_item_needs_its_claim_node_checked() {
        let claimed = record(1, 0, Some(500));
        assert_eq!(decide(&claimed, None, 100, 3), Decision::CheckClaimNode);
        assert_eq!(decide(&claimed, Some(true), 100, 3), Decision::Busy { until_ms: 500 });
        assert_eq!(decide(&claimed, Some(true), 500, 3), Decision::Claim { take_over: true });
        // The claimer's session is gone: claimable at once, deadline or not.
        assert_eq!(decide(&claimed, Some(false), 100, 3), Decision::Claim { take_over: false });
    }

    #[test]
    fn attempts_at_the_limit_make_a_dead_letter_unless_a_live_claim_holds_it() {
        assert_eq!(decide(&record(2, 0, None), None, 0, 3), Decision::Claim { take_over: false });
        assert_eq!(
            decide(&record(3, 0, None), None, 0, 3),
            Decision::DeadLetter { claimed: false }
        );
        assert_eq!(
            decide(&record(3, 0, Some(50)), Some(true), 10, 3),
            Decision::Busy { until_ms: 50 }
        );
        assert_eq!(
            decide(&record(3, 0, Some(50)), Some(true), 50, 3),
            Decision::DeadLetter { claimed: true }
        );
        assert_eq!(
            decide(&record(3, 0, Some(50)), Some(false), 10, 3),
            Decision::DeadLetter { claimed: false }
        );
    }
}
