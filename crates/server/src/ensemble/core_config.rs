//! The replication core's configuration, derived from the node's.

use std::collections::BTreeSet;

use broadcast::{ElectionConfig, LearnerType, PeerConfig, QuorumConfig, ServerId};

use crate::config::{EnsembleConfig, ServerRole};

/// How long a quorum-backed election result waits for a better vote, in peer
/// ticks (ZooKeeper waits 200 ms).
pub const FINALIZE_WAIT_TICKS: u32 = 5;
/// First and largest wait before election notifications are sent again.
pub const NOTIFICATION_TIMEOUT_TICKS_MIN: u32 = 5;
pub const NOTIFICATION_TIMEOUT_TICKS_MAX: u32 = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnsembleConfigError {
    #[error("ensemble.me = {0} is not one of ensemble.members")]
    UnknownSelf(u64),
    #[error("ensemble.members lists server id {0} twice")]
    DuplicateId(u64),
    #[error("ensemble.members has no participant")]
    NoVoters,
    #[error("ensemble: {0}")]
    Election(String),
}

pub fn peer_config(ensemble: &EnsembleConfig) -> Result<PeerConfig, EnsembleConfigError> {
    let mut voters = BTreeSet::new();
    let mut observers = BTreeSet::new();
    for member in &ensemble.members {
        let fresh = match member.role {
            ServerRole::Participant => voters.insert(ServerId(member.id)),
            ServerRole::Observer => observers.insert(ServerId(member.id)),
        };
        if !fresh
            || (voters.contains(&ServerId(member.id)) && observers.contains(&ServerId(member.id)))
        {
            return Err(EnsembleConfigError::DuplicateId(member.id));
        }
    }
    if voters.is_empty() {
        return Err(EnsembleConfigError::NoVoters);
    }
    let me = ServerId(ensemble.me);
    let learner_type = if voters.contains(&me) {
        LearnerType::Participant
    } else if observers.contains(&me) {
        LearnerType::Observer
    } else {
        return Err(EnsembleConfigError::UnknownSelf(ensemble.me));
    };
    let election = ElectionConfig {
        me,
        learner_type,
        quorum: QuorumConfig { voters, observers },
        finalize_wait_ticks: FINALIZE_WAIT_TICKS,
        notification_timeout_ticks_min: NOTIFICATION_TIMEOUT_TICKS_MIN,
        notification_timeout_ticks_max: NOTIFICATION_TIMEOUT_TICKS_MAX,
    };
    election.validate().map_err(|error| EnsembleConfigError::Election(error.to_string()))?;
    let mut config = PeerConfig::new(election);
    config.committed_log_max = ensemble.sync_diff_txns_max;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnsembleMember;

    fn ensemble(me: u64, roles: &[(u64, ServerRole)]) -> EnsembleConfig {
        EnsembleConfig {
            me,
            members: roles
                .iter()
                .map(|(id, role)| EnsembleMember {
                    id: *id,
                    peer_address: format!("127.0.0.1:{}", 2888 + id),
                    client_address: None,
                    role: *role,
                })
                .collect(),
            peer_listen: "127.0.0.1:0".parse().unwrap(),
            secret: None,
            peer_tick_ms: 10,
            sync_diff_txns_max: 100,
            peer_tls: None,
        }
    }

    #[test]
    fn voters_and_observers_come_from_the_roles() {
        use ServerRole::*;
        let config = peer_config(&ensemble(
            4,
            &[(1, Participant), (2, Participant), (3, Participant), (4, Observer)],
        ))
        .unwrap();
        assert_eq!(config.election.quorum.voters.len(), 3);
        assert!(config.election.quorum.observers.contains(&ServerId(4)));
        assert_eq!(config.election.learner_type, LearnerType::Observer);
    }

    #[test]
    fn bad_memberships_are_refused_by_name() {
        use ServerRole::*;
        assert_eq!(
            peer_config(&ensemble(9, &[(1, Participant)])).unwrap_err(),
            EnsembleConfigError::UnknownSelf(9)
        );
        assert_eq!(
            peer_config(&ensemble(1, &[(1, Participant), (1, Observer)])).unwrap_err(),
            EnsembleConfigError::DuplicateId(1)
        );
        assert_eq!(
            peer_config(&ensemble(1, &[(1, Observer)])).unwrap_err(),
            EnsembleConfigError::NoVoters
        );
    }
}
