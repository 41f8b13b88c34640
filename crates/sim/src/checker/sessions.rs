//! Per-session guarantees, judged against the final commit order:
//! - FIFO: a session's successful writes commit in the order it issued them;
//! - every read (plain or synced) shows the committed state as of the zxid it
//!   was served at, and that zxid is no older than anything the session saw
//!   or wrote before (sequential consistency, ZooKeeper's read guarantee);
//! - no acknowledged write is lost: each one is in the commit order, at the
//!   zxid it was acknowledged with, carrying its own request.

use std::collections::{BTreeMap, HashMap};

use proto::Zxid;

use crate::checker::commits::{CommitOrder, state_at};
use crate::history::{ClientId, Event, Op, Outcome, Output};
use crate::violation::{Broken, Invariant};

fn write_succeeded(output: Output) -> bool {
    matches!(output, Output::Created | Output::SetOk { .. } | Output::Deleted)
}

pub fn check(events: &[Event], commits: &CommitOrder) -> Result<(), Broken> {
    let timelines = commits.timelines();
    let by_zxid: HashMap<Zxid, &crate::checker::commits::CommittedTxn> =
        commits.order.iter().map(|t| (t.id.0, t)).collect();
    let mut seen: BTreeMap<ClientId, Zxid> = BTreeMap::new();
    let mut last_write: BTreeMap<ClientId, Zxid> = BTreeMap::new();
    let mut in_call_order: Vec<&Event> = events.iter().collect();
    in_call_order.sort_by_key(|e| e.call);
    for event in in_call_order {
        let Outcome::Returned { output, zxid, .. } = event.outcome else {
            continue;
        };
        let client = event.client;
        let high_water = seen.get(&client).copied().unwrap_or(Zxid::ZERO);
        if event.op.is_write() && write_succeeded(output) {
            let committed = by_zxid.get(&zxid);
            if committed.is_none_or(|t| Some(t.tag) != event.tag) {
                return Err(Broken::new(
                    Invariant::AcknowledgedWriteKept,
                    format!(
                        "client {client}'s {:?} was acknowledged at {zxid} but is not in the committed order",
                        event.op
                    ),
                ));
            }
            if let Some(previous) = last_write.insert(client, zxid).filter(|p| *p >= zxid) {
                return Err(Broken::new(
                    Invariant::SessionFifo,
                    format!(
                        "client {client}'s {:?} committed at {zxid}, after its earlier write at {previous}",
                        event.op
                    ),
                ));
            }
        }
        if let (Op::Read { path, .. }, Output::Value(value)) = (&event.op, output) {
            if zxid < high_water {
                return Err(Broken::new(
                    Invariant::ReadsSequentiallyConsistent,
                    format!("client {client} read {path} at {zxid} after having seen {high_water}"),
                ));
            }
            if zxid > commits.last() {
                return Err(Broken::new(
                    Invariant::ReadsSequentiallyConsistent,
                    format!(
                        "client {client} read {path} at {zxid}, beyond the last commit {}",
                        commits.last()
                    ),
                ));
            }
            let expected = state_at(timelines.get(path), zxid);
            if value != expected {
                return Err(Broken::new(
                    Invariant::ReadsSequentiallyConsistent,
                    format!(
                        "client {client} read {path} = {value:?} at {zxid}; the committed state there is {expected:?}"
                    ),
                ));
            }
        }
        seen.insert(client, high_water.max(zxid));
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

    fn tag(seq: u64) -> RequestTag {
        RequestTag { client: 1, seq }
    }

    /// Commits: /k0 created with data 1 at counter 1, then set to data 2 at counter 2.
    fn commits() -> CommitOrder {
        let txn = |counter, seq, state| CommittedTxn {
            id: (zxid(counter), u64::from(counter)),
            tag: tag(seq),
            effects: vec![("/k0".to_string(), state)],
        };
        CommitOrder { order: vec![txn(1, 1, Some((1, 0))), txn(2, 2, Some((2, 1)))] }
    }

    fn returned(
        client: u32,
        tag: Option<RequestTag>,
        op: Op,
        call: u64,
        output: Output,
        at: Zxid,
    ) -> Event {
        Event {
            client,
            tag,
            op,
            call,
            outcome: Outcome::Returned { at: call + 1, output, zxid: at },
        }
    }

    fn create() -> Op {
        Op::Create { path: "/k0".into(), data: 1 }
    }

    fn read() -> Op {
        Op::Read { path: "/k0".into(), synced: false }
    }

    #[test]
    fn accepts_reads_of_committed_states_in_session_order() {
        let events = vec![
            returned(1, Some(tag(1)), create(), 1, Output::Created, zxid(1)),
            returned(1, None, read(), 3, Output::Value(Some((1, 0))), zxid(1)),
            // Another session may read an older state: only its own past binds it.
            returned(2, None, read(), 5, Output::Value(None), Zxid::ZERO),
            returned(1, None, read(), 7, Output::Value(Some((2, 1))), zxid(2)),
        ];
        assert_eq!(check(&events, &commits()), Ok(()));
    }

    #[test]
    fn rejects_a_read_older_than_the_session_saw() {
        let events = vec![
            returned(1, None, read(), 1, Output::Value(Some((2, 1))), zxid(2)),
            returned(1, None, read(), 3, Output::Value(Some((1, 0))), zxid(1)),
        ];
        let broken = check(&events, &commits()).unwrap_err();
        assert_eq!(broken.invariant, Invariant::ReadsSequentiallyConsistent);
    }

    #[test]
    fn rejects_a_read_of_a_state_never_committed() {
        let events = vec![returned(1, None, read(), 1, Output::Value(Some((9, 0))), zxid(1))];
        let broken = check(&events, &commits()).unwrap_err();
        assert_eq!(broken.invariant, Invariant::ReadsSequentiallyConsistent);
    }

    #[test]
    fn rejects_an_acknowledged_write_missing_from_the_commits() {
        let events = vec![returned(1, Some(tag(7)), create(), 1, Output::Created, zxid(3))];
        let broken = check(&events, &commits()).unwrap_err();
        assert_eq!(broken.invariant, Invariant::AcknowledgedWriteKept);
        // At a committed zxid, but that txn is another request's.
        let events = vec![returned(1, Some(tag(7)), create(), 1, Output::Created, zxid(1))];
        assert_eq!(
            check(&events, &commits()).unwrap_err().invariant,
            Invariant::AcknowledgedWriteKept
        );
    }

    #[test]
    fn rejects_writes_of_one_session_committed_out_of_order() {
        let set = Op::Set { path: "/k0".into(), data: 2, expected: None };
        let events = vec![
            returned(1, Some(tag(2)), set, 1, Output::SetOk { version: 1 }, zxid(2)),
            returned(1, Some(tag(1)), create(), 3, Output::Created, zxid(1)),
        ];
        let broken = check(&events, &commits()).unwrap_err();
        assert_eq!(broken.invariant, Invariant::SessionFifo);
    }
}
