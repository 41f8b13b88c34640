//! At most one established leader per epoch: the first server to report
//! `Leading { serving: true }` for an epoch owns it.

use std::collections::BTreeMap;

use broadcast::{Role, ServerId};

use crate::violation::{Broken, Invariant};

#[derive(Debug, Default)]
pub struct Leaders {
    by_epoch: BTreeMap<u64, ServerId>,
}

impl Leaders {
    pub fn observe(&mut self, server: ServerId, role: Role) -> Result<(), Broken> {
        let Role::Leading { epoch, serving: true } = role else {
            return Ok(());
        };
        let owner = *self.by_epoch.entry(epoch).or_insert(server);
        if owner != server {
            return Err(Broken::new(
                Invariant::OneLeaderPerEpoch,
                format!(
                    "servers {owner} and {server} both established leadership of epoch {epoch}"
                ),
            ));
        }
        Ok(())
    }

    pub fn epochs(&self) -> usize {
        self.by_epoch.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_leader_in_one_epoch_is_caught_and_unserving_ones_are_ignored() {
        let mut leaders = Leaders::default();
        let leading = |epoch, serving| Role::Leading { epoch, serving };
        assert!(leaders.observe(ServerId(1), leading(1, true)).is_ok());
        assert!(leaders.observe(ServerId(1), leading(1, true)).is_ok());
        assert!(leaders.observe(ServerId(2), leading(1, false)).is_ok());
        assert!(leaders.observe(ServerId(2), leading(2, true)).is_ok());
        let broken = leaders.observe(ServerId(2), leading(1, true)).unwrap_err();
        assert_eq!(broken.invariant, Invariant::OneLeaderPerEpoch);
    }
}
