//! The fault schedule: each tick of the faulty phase may crash a server
//! (losing its unsynced writes, sometimes tearing the last one), restart a
//! crashed one, cut the network symmetrically or one way, heal it, or break
//! one connection. All choices come from the run's seeded generator.

use broadcast::ServerId;

use crate::rng::SimRng;

/// Chances per tick, per mille.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultConfig {
    pub crash_per_mille: u32,
    pub restart_per_mille: u32,
    /// Of crashes, how many tear the last unsynced record.
    pub torn_write_per_mille: u32,
    pub partition_per_mille: u32,
    /// Of partitions, how many are one-way.
    pub one_way_per_mille: u32,
    pub heal_per_mille: u32,
    pub drop_connection_per_mille: u32,
}

impl FaultConfig {
    pub fn none() -> FaultConfig {
        FaultConfig {
            crash_per_mille: 0,
            restart_per_mille: 0,
            torn_write_per_mille: 0,
            partition_per_mille: 0,
            one_way_per_mille: 0,
            heal_per_mille: 0,
            drop_connection_per_mille: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Crash { server: ServerId, torn: bool },
    Restart { server: ServerId },
    Partition { side: Vec<ServerId>, other: Vec<ServerId> },
    OneWay { from: ServerId, to: ServerId },
    Heal,
    DropConnection { a: ServerId, b: ServerId },
}

/// This tick's faults, given which servers are up and which are down.
pub fn next_faults(
    config: &FaultConfig,
    rng: &mut SimRng,
    up: &[ServerId],
    down: &[ServerId],
) -> Vec<Fault> {
    let mut faults = Vec::new();
    let all: Vec<ServerId> = up.iter().chain(down).copied().collect();
    if rng.chance(config.crash_per_mille)
        && let Some(server) = rng.pick(up)
    {
        faults.push(Fault::Crash { server, torn: rng.chance(config.torn_write_per_mille) });
    }
    if rng.chance(config.restart_per_mille)
        && let Some(server) = rng.pick(down)
    {
        faults.push(Fault::Restart { server });
    }
    if rng.chance(config.partition_per_mille) && all.len() > 1 {
        if rng.chance(config.one_way_per_mille) {
            let from = rng.pick(&all).unwrap_or(all[0]);
            let others: Vec<ServerId> = all.iter().copied().filter(|s| *s != from).collect();
            let to = rng.pick(&others).unwrap_or(others[0]);
            faults.push(Fault::OneWay { from, to });
        } else {
            let (side, other): (Vec<ServerId>, Vec<ServerId>) =
                all.iter().partition(|_| rng.chance(500));
            if !side.is_empty() && !other.is_empty() {
                faults.push(Fault::Partition { side, other });
            }
        }
    }
    if rng.chance(config.heal_per_mille) {
        faults.push(Fault::Heal);
    }
    if rng.chance(config.drop_connection_per_mille) && all.len() > 1 {
        let a = rng.pick(&all).unwrap_or(all[0]);
        let b = rng.pick(&all).unwrap_or(all[0]);
        if a != b {
            faults.push(Fault::DropConnection { a, b });
        }
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_faults_when_every_chance_is_zero() {
        let mut rng = SimRng::new(1);
        let up = [ServerId(1), ServerId(2), ServerId(3)];
        for _ in 0..1000 {
            assert!(next_faults(&FaultConfig::none(), &mut rng, &up, &[]).is_empty());
        }
    }

    #[test]
    fn certain_faults_pick_valid_targets() {
        let mut rng = SimRng::new(2);
        let config = FaultConfig {
            crash_per_mille: 1000,
            restart_per_mille: 1000,
            partition_per_mille: 1000,
            one_way_per_mille: 1000,
            ..FaultConfig::none()
        };
        let up = [ServerId(1), ServerId(2)];
        let down = [ServerId(3)];
        let faults = next_faults(&config, &mut rng, &up, &down);
        assert!(matches!(faults[0], Fault::Crash { server, .. } if up.contains(&server)));
        assert_eq!(faults[1], Fault::Restart { server: ServerId(3) });
        assert!(matches!(faults[2], Fault::OneWay { from, to } if from != to));
    }
}
