//! Checks a driver runs on a [`PeerConfig`] before starting a peer: a
//! configuration that could never make progress is refused with a reason.

use election_core::ElectionError;

use crate::PeerConfig;

/// Why a peer configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("election configuration: {0}")]
    Election(#[from] ElectionError),
    #[error("ping interval must be at least one tick")]
    PingIntervalZero,
    #[error(
        "ping interval ({ping_interval} ticks) must be below the sync limit ({sync_limit} ticks), \
         or followers time out between pings"
    )]
    PingNotBelowSyncLimit { ping_interval: u32, sync_limit: u32 },
    #[error(
        "init limit ({init_limit} ticks) must be above the ping interval ({ping_interval} ticks), or discovery never retries"
    )]
    InitLimitNotAbovePingInterval { init_limit: u32, ping_interval: u32 },
    #[error("zxid counter max must be at least 1, or no epoch can hold a proposal")]
    ZxidCounterMaxZero,
}

impl PeerConfig {
    /// Checks that this configuration can make progress. A peer still runs
    /// with a configuration that fails these checks (nothing panics), but a
    /// driver should refuse to start on any error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.election.validate()?;
        let ping_interval = self.ping_interval_ticks;
        if ping_interval == 0 {
            return Err(ConfigError::PingIntervalZero);
        }
        if ping_interval >= self.sync_limit_ticks {
            return Err(ConfigError::PingNotBelowSyncLimit {
                ping_interval,
                sync_limit: self.sync_limit_ticks,
            });
        }
        if self.init_limit_ticks <= ping_interval {
            return Err(ConfigError::InitLimitNotAbovePingInterval {
                init_limit: self.init_limit_ticks,
                ping_interval,
            });
        }
        if self.zxid_counter_max == 0 {
            return Err(ConfigError::ZxidCounterMaxZero);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::config;

    #[test]
    fn the_defaults_and_the_test_config_are_valid() {
        let tuned = config(1, &[1, 2, 3], &[4]);
        assert_eq!(tuned.validate(), Ok(()));
        assert_eq!(PeerConfig::new(tuned.election.clone()).validate(), Ok(()));
    }

    #[test]
    fn the_ping_interval_must_stay_below_the_sync_limit() {
        let mut tuned = config(1, &[1, 2, 3], &[]);
        tuned.sync_limit_ticks = tuned.ping_interval_ticks + 1;
        assert_eq!(tuned.validate(), Ok(()));
        tuned.sync_limit_ticks = tuned.ping_interval_ticks;
        assert_eq!(
            tuned.validate(),
            Err(ConfigError::PingNotBelowSyncLimit { ping_interval: 3, sync_limit: 3 })
        );
        tuned.ping_interval_ticks = 0;
        assert_eq!(tuned.validate(), Err(ConfigError::PingIntervalZero));
    }

    #[test]
    fn the_init_limit_must_exceed_the_ping_interval() {
        let mut tuned = config(1, &[1, 2, 3], &[]);
        tuned.init_limit_ticks = tuned.ping_interval_ticks + 1;
        assert_eq!(tuned.validate(), Ok(()));
        tuned.init_limit_ticks = tuned.ping_interval_ticks;
        assert!(matches!(tuned.validate(), Err(ConfigError::InitLimitNotAbovePingInterval { .. })));
    }

    #[test]
    fn the_zxid_counter_max_must_allow_one_proposal() {
        let mut tuned = config(1, &[1, 2, 3], &[]);
        tuned.zxid_counter_max = 1;
        assert_eq!(tuned.validate(), Ok(()));
        tuned.zxid_counter_max = 0;
        assert_eq!(tuned.validate(), Err(ConfigError::ZxidCounterMaxZero));
    }

    #[test]
    fn election_errors_are_passed_through() {
        let mut tuned = config(1, &[1, 2, 3], &[]);
        tuned.election.quorum.voters.clear();
        assert_eq!(tuned.validate(), Err(ConfigError::Election(ElectionError::NoVoters)));
    }
}
