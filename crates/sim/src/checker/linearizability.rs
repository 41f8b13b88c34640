//! Linearizability of writes and sync-then-read, Porcupine-style: the
//! history is split per znode path (operations on different paths commute,
//! so each path is checked alone), then a depth-first search with a memo of
//! (operations placed, model state) looks for an order that respects real
//! time and the register model. A write whose answer was never seen may be
//! placed anywhere after its invocation, or nowhere.

use std::collections::{BTreeMap, HashSet};

use crate::checker::model::{self, State};
use crate::history::{Event, Op, Outcome, Output};

/// Search states explored per path before giving up as inconclusive.
pub const SEARCH_STATES_MAX: usize = 500_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// No valid order exists; the text names the path and the operation the
    /// deepest attempt could not place.
    Violated(String),
    /// The search budget ran out first (counted, not a failure).
    Inconclusive,
}

#[derive(Debug, Clone)]
struct Operation {
    op: Op,
    call: u64,
    /// `u64::MAX` when the answer was never seen.
    ret: u64,
    output: Option<Output>,
    client: u32,
}

/// Checks every path; the first violation wins. Also returns how many paths were inconclusive.
pub fn check(events: &[Event]) -> (Verdict, usize) {
    check_with_budget(events, SEARCH_STATES_MAX)
}

/// [`check`] with an explicit search budget per path.
pub fn check_with_budget(events: &[Event], states_max: usize) -> (Verdict, usize) {
    let mut per_path: BTreeMap<&str, Vec<Operation>> = BTreeMap::new();
    for event in events {
        let checked = event.op.is_write() || matches!(event.op, Op::Read { synced: true, .. });
        if !checked {
            continue;
        }
        let (ret, output) = match &event.outcome {
            Outcome::Returned { at, output, .. } => (*at, Some(*output)),
            Outcome::Unknown | Outcome::Pending if event.op.is_write() => (u64::MAX, None),
            _ => continue,
        };
        per_path.entry(event.op.path()).or_default().push(Operation {
            op: event.op.clone(),
            call: event.call,
            ret,
            output,
            client: event.client,
        });
    }
    let mut inconclusive = 0;
    for (path, mut operations) in per_path {
        operations.sort_by_key(|o| o.call);
        match Search::new(&operations, states_max).run() {
            Verdict::Linearizable => {}
            Verdict::Inconclusive => inconclusive += 1,
            Verdict::Violated(why) => {
                return (Verdict::Violated(format!("path {path}: {why}")), inconclusive);
            }
        }
    }
    (Verdict::Linearizable, inconclusive)
}

struct Search<'a> {
    operations: &'a [Operation],
    placed: Vec<bool>,
    known_left: usize,
    seen: HashSet<(Vec<u64>, State)>,
    states_max: usize,
    /// The most operations placed in any attempt, and what blocked it.
    deepest: (usize, Option<usize>),
}

impl<'a> Search<'a> {
    fn new(operations: &'a [Operation], states_max: usize) -> Search<'a> {
        Search {
            operations,
            placed: vec![false; operations.len()],
            known_left: operations.iter().filter(|o| o.output.is_some()).count(),
            seen: HashSet::new(),
            states_max,
            deepest: (0, None),
        }
    }

    fn run(mut self) -> Verdict {
        match self.place(None, 0) {
            Some(true) => Verdict::Linearizable,
            None => Verdict::Inconclusive,
            Some(false) => {
                let (depth, blocked) = self.deepest;
                let blocked = blocked.map_or_else(String::new, |i| {
                    let o = &self.operations[i];
                    format!(
                        "; first unplaceable: client {} {:?} -> {:?} [{}..{}]",
                        o.client, o.op, o.output, o.call, o.ret
                    )
                });
                Verdict::Violated(format!(
                    "no linearization of {} operations (deepest attempt placed {depth}){blocked}",
                    self.operations.len()
                ))
            }
        }
    }

    fn bits(&self) -> Vec<u64> {
        let mut bits = vec![0u64; self.placed.len().div_ceil(64)];
        for (i, placed) in self.placed.iter().enumerate() {
            if *placed {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    }

    /// `Some(true)`: a linearization exists from here; `None`: budget exhausted.
    fn place(&mut self, state: State, depth: usize) -> Option<bool> {
        if self.known_left == 0 {
            return Some(true);
        }
        if self.seen.len() >= self.states_max {
            return None;
        }
        // Only operations invoked before every unplaced operation returned may go next.
        let horizon = (0..self.operations.len())
            .filter(|&i| !self.placed[i])
            .map(|i| self.operations[i].ret)
            .min()
            .unwrap_or(u64::MAX);
        if depth >= self.deepest.0 {
            let blocked = (0..self.operations.len())
                .filter(|&i| !self.placed[i])
                .min_by_key(|&i| self.operations[i].ret);
            self.deepest = (depth, blocked);
        }
        for i in 0..self.operations.len() {
            let operation = &self.operations[i];
            if operation.call >= horizon {
                break;
            }
            if self.placed[i] {
                continue;
            }
            let Some(next) = model::step(state, &operation.op, operation.output) else {
                continue;
            };
            let known = operation.output.is_some();
            self.placed[i] = true;
            if known {
                self.known_left -= 1;
            }
            let fresh = self.seen.insert((self.bits(), next));
            let found = if fresh { self.place(next, depth + 1) } else { Some(false) };
            self.placed[i] = false;
            if known {
                self.known_left += 1;
            }
            match found {
                Some(false) => {}
                other => return other,
            }
        }
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Zxid;

    fn path() -> String {
        "/k0".to_string()
    }

    fn event(client: u32, op: Op, call: u64, ret: Option<u64>, output: Output) -> Event {
        let outcome = match ret {
            Some(at) => Outcome::Returned { at, output, zxid: Zxid::ZERO },
            None => Outcome::Unknown,
        };
        Event { client, tag: None, op, call, outcome }
    }

    fn create(data: u64) -> Op {
        Op::Create { path: path(), data }
    }

    fn set(data: u64) -> Op {
        Op::Set { path: path(), data, expected: None }
    }

    fn read() -> Op {
        Op::Read { path: path(), synced: true }
    }

    #[test]
    fn accepts_a_valid_concurrent_history() {
        let history = vec![
            event(1, create(1), 1, Some(4), Output::Created),
            event(2, create(2), 2, Some(5), Output::NodeExists),
            event(3, read(), 3, Some(6), Output::Value(Some((1, 0)))),
            event(1, set(3), 7, Some(9), Output::SetOk { version: 1 }),
            event(2, read(), 8, Some(10), Output::Value(Some((1, 0)))),
            event(3, read(), 11, Some(12), Output::Value(Some((3, 1)))),
        ];
        assert_eq!(check(&history), (Verdict::Linearizable, 0));
    }

    #[test]
    fn rejects_a_stale_synced_read() {
        let history = vec![
            event(1, create(1), 1, Some(2), Output::Created),
            event(1, set(2), 3, Some(4), Output::SetOk { version: 1 }),
            event(2, read(), 5, Some(6), Output::Value(Some((1, 0)))),
        ];
        assert!(matches!(check(&history).0, Verdict::Violated(_)));
    }

    #[test]
    fn rejects_a_lost_acknowledged_write() {
        let history = vec![
            event(1, create(1), 1, Some(2), Output::Created),
            event(2, read(), 3, Some(4), Output::Value(None)),
        ];
        assert!(matches!(check(&history).0, Verdict::Violated(_)));
    }

    #[test]
    fn rejects_two_writes_that_both_claim_to_be_first() {
        // Two concurrent creates both succeeded: no order explains that.
        let history = vec![
            event(1, create(1), 1, Some(3), Output::Created),
            event(2, create(2), 2, Some(4), Output::Created),
        ];
        assert!(matches!(check(&history).0, Verdict::Violated(_)));
        // Two sequential conditional sets on the same version cannot both succeed.
        let conditional = |data| Op::Set { path: path(), data, expected: Some(0) };
        let history = vec![
            event(1, create(1), 1, Some(2), Output::Created),
            event(1, conditional(2), 3, Some(4), Output::SetOk { version: 1 }),
            event(2, conditional(3), 5, Some(6), Output::SetOk { version: 1 }),
        ];
        assert!(matches!(check(&history).0, Verdict::Violated(_)));
    }

    #[test]
    fn unknown_writes_may_or_may_not_have_happened() {
        let happened = vec![
            event(1, create(1), 1, None, Output::Created),
            event(2, read(), 5, Some(6), Output::Value(Some((1, 0)))),
        ];
        assert_eq!(check(&happened).0, Verdict::Linearizable);
        let did_not = vec![
            event(1, create(1), 1, None, Output::Created),
            event(2, read(), 5, Some(6), Output::Value(None)),
        ];
        assert_eq!(check(&did_not).0, Verdict::Linearizable);
        // But it cannot take effect before it was invoked.
        let too_early = vec![
            event(2, read(), 1, Some(2), Output::Value(Some((1, 0)))),
            event(1, create(1), 3, None, Output::Created),
        ];
        assert!(matches!(check(&too_early).0, Verdict::Violated(_)));
    }

    #[test]
    fn plain_reads_are_not_part_of_the_linearizability_check() {
        let history = vec![
            event(1, create(1), 1, Some(2), Output::Created),
            event(2, Op::Read { path: path(), synced: false }, 3, Some(4), Output::Value(None)),
        ];
        assert_eq!(check(&history).0, Verdict::Linearizable);
    }

    #[test]
    fn search_budget_bound_gives_inconclusive_not_a_verdict() {
        let history: Vec<Event> = (0..6)
            .map(|i| event(i, set(u64::from(i)), 1 + u64::from(i), None, Output::Created))
            .chain([event(9, read(), 20, Some(21), Output::Value(Some((77, 0))))])
            .collect();
        // Exhaustive search finds no order (nobody wrote 77): a violation.
        assert!(matches!(check(&history).0, Verdict::Violated(_)));
        // With a budget of one state the search gives up: the path is
        // counted as inconclusive and no violation is claimed.
        assert_eq!(check_with_budget(&history, 1), (Verdict::Linearizable, 1));
    }

    #[test]
    fn paths_are_checked_independently() {
        let other = |op: Op| match op {
            Op::Create { data, .. } => Op::Create { path: "/k1".into(), data },
            op => op,
        };
        let history = vec![
            event(1, create(1), 1, Some(2), Output::Created),
            event(2, other(create(2)), 3, Some(4), Output::Created),
        ];
        assert_eq!(check(&history).0, Verdict::Linearizable);
    }
}
