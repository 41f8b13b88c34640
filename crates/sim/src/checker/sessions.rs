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
