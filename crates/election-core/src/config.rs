//! What an election is told up front, and the checks a driver can run on it
//! before starting (bad configuration is reported, never a panic).

use crate::quorum::QuorumConfig;
use crate::types::{LearnerType, PeerState, ServerId};

/// Everything an election needs to know, in ticks (the driver picks the tick length).
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub me: ServerId,
    pub learner_type: LearnerType,
    pub quorum: QuorumConfig,
    /// How long a quorum-backed decision waits for a better vote (`finalizeWait`).
    pub finalize_wait_ticks: u32,
    /// First wait for notifications before all are sent again; doubles up to the max.
    pub notification_timeout_ticks_min: u32,
    pub notification_timeout_ticks_max: u32,
}

/// The smallest usable notification timeout: a timeout of zero ticks would
/// re-send on every tick without ever waiting for an answer.
pub const NOTIFICATION_TIMEOUT_TICKS_FLOOR: u32 = 1;

impl ElectionConfig {
    /// Checks that the configuration describes a server that can take part
    /// in an election. [`crate::Election`] still runs with a configuration
    /// that fails only the timeout checks (it raises the timeouts to the
    /// nearest usable values), but a driver should refuse to start on any error.
    pub fn validate(&self) -> Result<(), ElectionError> {
        let me = self.me;
        if self.quorum.voters.is_empty() {
            return Err(ElectionError::NoVoters);
        }
        if let Some(both) = self.quorum.voters.intersection(&self.quorum.observers).next() {
            return Err(ElectionError::VoterAndObserver(*both));
        }
        if !self.quorum.is_member(me) {
            return Err(ElectionError::NotAMember(me));
        }
        let listed_as_voter = self.quorum.is_voter(me);
        if listed_as_voter != (self.learner_type == LearnerType::Participant) {
            return Err(ElectionError::LearnerTypeMismatch {
                me,
                learner_type: self.learner_type,
                listed_as_voter,
            });
        }
        if self.notification_timeout_ticks_min < NOTIFICATION_TIMEOUT_TICKS_FLOOR {
            return Err(ElectionError::NotificationTimeoutTooSmall {
                min: self.notification_timeout_ticks_min,
            });
        }
        if self.notification_timeout_ticks_max < self.notification_timeout_ticks_min {
            return Err(ElectionError::NotificationTimeoutMaxBelowMin {
                min: self.notification_timeout_ticks_min,
                max: self.notification_timeout_ticks_max,
            });
        }
        Ok(())
    }

    /// The first notification timeout actually used (never below the floor).
    pub(crate) fn effective_timeout_min(&self) -> u32 {
        self.notification_timeout_ticks_min.max(NOTIFICATION_TIMEOUT_TICKS_FLOOR)
    }

    /// The largest notification timeout actually used (never below the min).
    pub(crate) fn effective_timeout_max(&self) -> u32 {
        self.notification_timeout_ticks_max.max(self.effective_timeout_min())
    }
}

/// Why an election configuration or a driver request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElectionError {
    #[error("the ensemble has no voters, so no quorum can ever form")]
    NoVoters,
    #[error("server {0} is listed both as a voter and as an observer")]
    VoterAndObserver(ServerId),
    #[error("server {0} is neither a voter nor an observer of the ensemble")]
    NotAMember(ServerId),
    #[error(
        "server {me} is a {learner_type:?} but is {} the voters",
        if *listed_as_voter { "listed among" } else { "missing from" }
    )]
    LearnerTypeMismatch { me: ServerId, learner_type: LearnerType, listed_as_voter: bool },
    #[error("notification timeout min is {min} ticks; it must be at least 1")]
    NotificationTimeoutTooSmall { min: u32 },
    #[error("notification timeout max ({max} ticks) is below the min ({min} ticks)")]
    NotificationTimeoutMaxBelowMin { min: u32, max: u32 },
    #[error("cannot settle as Looking: settling leaves the election (start_looking looks)")]
    SettleAsLooking,
    #[error("cannot settle as Leading behind a vote for server {leader}: only {me} can lead here")]
    LeadingForAnotherServer { me: ServerId, leader: ServerId },
    #[error("cannot settle as {state:?} behind a vote for myself ({me}): that is Leading")]
    LearningFromMyself { me: ServerId, state: PeerState },
}
