//! Ensemble membership and the majority rule.

use std::collections::BTreeSet;

use crate::types::ServerId;

/// Voters and observers of the ensemble; quorums are majorities of voters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConfig {
    pub voters: BTreeSet<ServerId>,
    pub observers: BTreeSet<ServerId>,
}

impl QuorumConfig {
    /// True when `acknowledgers` contains a strict majority of the voters
    /// (non-voters in the set are ignored).
    pub fn is_quorum<'a>(&self, acknowledgers: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let voting = acknowledgers.into_iter().filter(|id| self.voters.contains(id)).count();
        voting * 2 > self.voters.len()
    }

    /// Every server but `me`, voters and observers.
    pub fn others(&self, me: ServerId) -> impl Iterator<Item = ServerId> + '_ {
        self.voters.iter().chain(self.observers.iter()).copied().filter(move |id| *id != me)
    }

    /// True when `id` votes (its vote counts and it may lead).
    pub fn is_voter(&self, id: ServerId) -> bool {
        self.voters.contains(&id)
    }

    /// True when `id` is in the ensemble at all, as a voter or an observer.
    pub fn is_member(&self, id: ServerId) -> bool {
        self.voters.contains(&id) || self.observers.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[u64]) -> BTreeSet<ServerId> {
        raw.iter().copied().map(ServerId).collect()
    }

    #[test]
    fn quorum_is_a_strict_majority_of_voters_at_the_bound() {
        let quorum = QuorumConfig { voters: ids(&[1, 2, 3, 4]), observers: ids(&[5]) };
        assert!(!quorum.is_quorum(&ids(&[1, 2])), "half is not a majority");
        assert!(quorum.is_quorum(&ids(&[1, 2, 3])));
        assert!(!quorum.is_quorum(&ids(&[1, 2, 5, 9])), "observers and strangers never count");
    }

    #[test]
    fn others_lists_voters_then_observers_without_me() {
        let quorum = QuorumConfig { voters: ids(&[1, 2, 3]), observers: ids(&[4]) };
        let others: Vec<ServerId> = quorum.others(ServerId(2)).collect();
        assert_eq!(others, vec![ServerId(1), ServerId(3), ServerId(4)]);
        assert!(quorum.is_member(ServerId(4)) && !quorum.is_voter(ServerId(4)));
        assert!(!quorum.is_member(ServerId(7)));
    }
}
