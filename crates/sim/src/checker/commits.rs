//! The replicated log's properties. The commit order is built from what
//! servers apply as committed: every server's applied history must be a
//! prefix of it (one total order), and a txn entering it for the first time
//! must already be durable on a quorum (a commit the ensemble cannot lose).
//! Each entry keeps the request that produced it and its effect on the
//! workload's znodes, for the session and lost-write checks.

use std::collections::BTreeMap;

use broadcast::Proposal;
use datatree::TxnBody;
use proto::Zxid;

use crate::checker::model::State;
use crate::disk::TxnId;
use crate::node::{data_id, decode_txn};
use crate::violation::{Broken, Invariant};
use crate::wire::RequestTag;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedTxn {
    pub id: TxnId,
    pub tag: RequestTag,
    /// The workload znodes it changed and their state after it.
    pub effects: Vec<(String, State)>,
}

#[derive(Debug, Default)]
pub struct CommitOrder {
    pub order: Vec<CommittedTxn>,
}

impl CommitOrder {
    /// Checks a server's applied `history` against the order and, when
    /// `serving` (its state is visible to clients), extends the order with its
    /// new tail. A learner still synchronizing may apply ahead of the
    /// ensemble's commit (its state is not visible yet and is corrected by a
    /// later TRUNC/SNAP), so only its agreement with the order is checked.
    /// `payload` finds a txn's payload (a snapshot carries only ids); `durable_on` counts the servers holding a txn durably; `quorum` is `None` when that check is off.
    pub fn observe(
        &mut self,
        server: impl std::fmt::Display,
        serving: bool,
        history: &[TxnId],
        payload: impl Fn(TxnId) -> Option<Proposal>,
        durable_on: impl Fn(TxnId) -> usize,
        quorum: Option<usize>,
    ) -> Result<(), Broken> {
        let common = history.len().min(self.order.len());
        if let Some(i) = (0..common).find(|&i| history[i] != self.order[i].id) {
            return Err(Broken::new(
                Invariant::CommitsFormOneOrder,
                format!(
                    "server {server} has {} at position {i} where the committed order has {}",
                    history[i].0, self.order[i].id.0
                ),
            ));
        }
        if !serving {
            return Ok(());
        }
        for &id in &history[common..] {
            let holders = durable_on(id);
            if let Some(quorum) = quorum.filter(|q| holders < *q) {
                return Err(Broken::new(
                    Invariant::CommitNeedsDurableQuorum,
                    format!(
                        "server {server} committed {} while only {holders} servers hold it durably (quorum {quorum})",
                        id.0
                    ),
                ));
            }
            let proposal = payload(id).ok_or_else(|| {
                Broken::new(
                    Invariant::DriverContract,
                    format!("server {server}: no server ever logged {}", id.0),
                )
            })?;
            let (tag, txn) = decode_txn(&proposal).ok_or_else(|| {
                Broken::new(Invariant::DriverContract, format!("undecodable txn {}", id.0))
            })?;
            let mut effects = Vec::new();
            collect_effects(&txn.body, &mut effects);
            self.order.push(CommittedTxn { id, tag, effects });
        }
        Ok(())
    }

    pub fn last(&self) -> Zxid {
        self.order.last().map_or(Zxid::ZERO, |t| t.id.0)
    }

    pub fn ids(&self) -> Vec<TxnId> {
        self.order.iter().map(|t| t.id).collect()
    }

    /// Per workload path, its state after each committed txn that changed it.
    pub fn timelines(&self) -> BTreeMap<String, Vec<(Zxid, State)>> {
        let mut timelines: BTreeMap<String, Vec<(Zxid, State)>> = BTreeMap::new();
        for txn in &self.order {
            for (path, state) in &txn.effects {
                timelines.entry(path.clone()).or_default().push((txn.id.0, *state));
            }
        }
        timelines
    }
}

fn collect_effects(body: &TxnBody, effects: &mut Vec<(String, State)>) {
    match body {
        TxnBody::Create { path, data, .. } => {
            effects.push((path.clone(), Some((data_id(data), 0))))
        }
        TxnBody::SetData { path, data, version } => {
            effects.push((path.clone(), Some((data_id(data), *version))));
        }
        TxnBody::Delete { path } => effects.push((path.clone(), None)),
        TxnBody::Multi(bodies) => bodies.iter().for_each(|b| collect_effects(b, effects)),
        _ => {}
    }
}

/// The state of a path as of `zxid`, from its timeline.
pub fn state_at(timeline: Option<&Vec<(Zxid, State)>>, zxid: Zxid) -> State {
    let timeline = timeline.map_or(&[][..], Vec::as_slice);
    let after = timeline.partition_point(|(z, _)| *z <= zxid);
    after.checked_sub(1).and_then(|i| timeline[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datatree::Txn;
    use proto::{Record, SessionId};

    use crate::disk::txn_id;
    use crate::wire::encode_payload;

    fn proposal(counter: u32, path: &str) -> Proposal {
        let zxid = Zxid::new(1, counter);
        let body = TxnBody::Delete { path: path.to_string() };
        let txn = Txn { zxid, time_ms: 0, session: SessionId(1), body };
        let tag = RequestTag { client: 0, seq: u64::from(counter) };
        Proposal { zxid, txn: encode_payload(tag, &txn.to_bytes()) }
    }

    fn lookup(log: &[Proposal]) -> impl Fn(TxnId) -> Option<Proposal> + '_ {
        move |id| log.iter().find(|p| txn_id(p) == id).cloned()
    }

    #[test]
    fn extends_the_order_and_records_effects() {
        let log = vec![proposal(1, "/k0"), proposal(2, "/k1")];
        let history: Vec<TxnId> = log.iter().map(txn_id).collect();
        let mut order = CommitOrder::default();
        order.observe(1, true, &history[..1], lookup(&log), |_| 2, Some(2)).unwrap();
        order.observe(2, true, &history, lookup(&log), |_| 2, Some(2)).unwrap();
        assert_eq!(order.ids(), history);
        assert_eq!(order.order[1].effects, vec![("/k1".to_string(), None)]);
        assert_eq!(state_at(order.timelines().get("/k0"), Zxid::new(1, 5)), None);
    }

    #[test]
    fn rejects_a_diverging_history() {
        let log = vec![proposal(1, "/k0"), proposal(2, "/k1")];
        let mut order = CommitOrder::default();
        order.observe(1, true, &[txn_id(&log[0])], lookup(&log), |_| 2, Some(2)).unwrap();
        let other = (Zxid::new(1, 1), 0xdead);
        let broken = order.observe(2, false, &[other], lookup(&log), |_| 2, Some(2)).unwrap_err();
        assert_eq!(broken.invariant, Invariant::CommitsFormOneOrder);
    }

    #[test]
    fn rejects_a_commit_held_durably_by_fewer_than_a_quorum() {
        let log = vec![proposal(1, "/k0")];
        let history = [txn_id(&log[0])];
        let mut order = CommitOrder::default();
        let broken = order.observe(1, true, &history, lookup(&log), |_| 1, Some(2)).unwrap_err();
        assert_eq!(broken.invariant, Invariant::CommitNeedsDurableQuorum);
        // Without the check it is accepted; a learner that is not serving never extends the order.
        let mut unchecked = CommitOrder::default();
        unchecked.observe(1, false, &history, lookup(&log), |_| 1, Some(2)).unwrap();
        assert!(unchecked.order.is_empty());
        unchecked.observe(1, true, &history, lookup(&log), |_| 1, None).unwrap();
        assert_eq!(unchecked.order.len(), 1);
    }
}
