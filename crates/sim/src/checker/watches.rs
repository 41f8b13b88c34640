//! Watch delivery, ZooKeeper's guarantee: a client that left a data watch
//! sees the watch event before it sees any state newer than the change that
//! triggered it; the event is for the first change after the watch was
//! left. Judged per client against the final commit order's timelines.

use std::collections::BTreeMap;

use proto::Zxid;

use crate::checker::commits::CommitOrder;
use crate::history::ClientId;
use crate::violation::{Broken, Invariant};
use crate::workload::WatchRecord;

pub fn check(logs: &[(ClientId, &[WatchRecord])], commits: &CommitOrder) -> Result<(), Broken> {
    let timelines = commits.timelines();
    // The first change of `path` after `zxid`.
    let next_change = |path: &str, zxid: Zxid| {
        let timeline = timelines.get(path)?;
        timeline.iter().map(|(z, _)| *z).find(|z| *z > zxid)
    };
    for (client, log) in logs {
        let mut watching: BTreeMap<&str, Zxid> = BTreeMap::new();
        for record in *log {
            match record {
                WatchRecord::Registered { path, zxid } => {
                    watching.insert(path, *zxid);
                }
                WatchRecord::Fired { path, zxid } => {
                    let Some(registered) = watching.remove(path.as_str()) else {
                        continue;
                    };
                    let expected = next_change(path, registered);
                    if expected != Some(*zxid) {
                        return Err(Broken::new(
                            Invariant::WatchesInOrder,
                            format!(
                                "client {client}'s watch on {path} (left at {registered}) fired for {zxid}; the first change after it is {expected:?}"
                            ),
                        ));
                    }
                }
                WatchRecord::Saw { zxid } => {
                    for (path, registered) in &watching {
                        if let Some(change) = next_change(path, *registered).filter(|c| c <= zxid) {
                            return Err(Broken::new(
                                Invariant::WatchesInOrder,
                                format!(
                                    "client {client} saw the state at {zxid} before its watch on {path} (left at {registered}) fired for the change at {change}"
                                ),
                            ));
                        }
                    }
                }
                WatchRecord::Reset => watching.clear(),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::commits::CommittedTxn;
    use crate::wire::RequestTag;

    fn zxid(counter: u32) -> Zxid {
        Zxid::new(1, counter)
    }

    /// /k0 created at counter 1, changed at counter 3.
    fn commits() -> CommitOrder {
        let txn = |counter: u32, state| CommittedTxn {
            id: (zxid(counter), 0),
            tag: RequestTag { client: 0, seq: u64::from(counter) },
            effects: vec![("/k0".to_string(), state)],
        };
        CommitOrder { order: vec![txn(1, Some((1, 0))), txn(3, Some((2, 1)))] }
    }

    fn registered() -> WatchRecord {
        WatchRecord::Registered { path: "/k0".into(), zxid: zxid(1) }
    }

    #[test]
    fn event_before_newer_state_passes() {
        let log = [
            registered(),
            WatchRecord::Saw { zxid: zxid(2) },
            WatchRecord::Fired { path: "/k0".into(), zxid: zxid(3) },
            WatchRecord::Saw { zxid: zxid(3) },
        ];
        assert_eq!(check(&[(1, &log)], &commits()), Ok(()));
    }

    #[test]
    fn newer_state_before_the_event_is_caught() {
        let log = [registered(), WatchRecord::Saw { zxid: zxid(3) }];
        assert_eq!(
            check(&[(1, &log)], &commits()).unwrap_err().invariant,
            Invariant::WatchesInOrder
        );
    }

    #[test]
    fn event_for_the_wrong_change_is_caught_and_reset_forgets_watches() {
        let log = [registered(), WatchRecord::Fired { path: "/k0".into(), zxid: zxid(2) }];
        assert_eq!(
            check(&[(1, &log)], &commits()).unwrap_err().invariant,
            Invariant::WatchesInOrder
        );
        let moved = [registered(), WatchRecord::Reset, WatchRecord::Saw { zxid: zxid(3) }];
        assert_eq!(check(&[(1, &moved)], &commits()), Ok(()));
    }
}
