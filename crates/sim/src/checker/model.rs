//! The sequential specification of one znode: a register with a data
//! version, as ZooKeeper's create/setData/delete/getData treat it.

use crate::history::{Op, Output};

/// The node's data id and version, or no node.
pub type State = Option<(u64, i32)>;

fn version_matches(expected: Option<i32>, version: i32) -> bool {
    expected.is_none_or(|e| e == version)
}

/// What `op` answers and leaves behind when applied to `state`.
pub fn apply(state: State, op: &Op) -> (Output, State) {
    match (op, state) {
        (Op::Create { data, .. }, None) => (Output::Created, Some((*data, 0))),
        (Op::Create { .. }, Some(_)) => (Output::NodeExists, state),
        (Op::Set { .. } | Op::Delete { .. }, None) => (Output::NoNode, state),
        (Op::Set { data, expected, .. }, Some((_, version))) => {
            if version_matches(*expected, version) {
                let next = version.wrapping_add(1);
                (Output::SetOk { version: next }, Some((*data, next)))
            } else {
                (Output::BadVersion, state)
            }
        }
        (Op::Delete { expected, .. }, Some((_, version))) => {
            if version_matches(*expected, version) {
                (Output::Deleted, None)
            } else {
                (Output::BadVersion, state)
            }
        }
        (Op::Read { .. }, _) => (Output::Value(state), state),
    }
}

/// The state after `op` if it may answer `output` in `state` (`None` output:
/// the answer was never seen, any is fine).
pub fn step(state: State, op: &Op, output: Option<Output>) -> Option<State> {
    let (answer, next) = apply(state, op);
    match output {
        Some(seen) if seen != answer => None,
        _ => Some(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> String {
        "/k0".to_string()
    }

    #[test]
    fn create_set_delete_follow_zookeeper_semantics() {
        let (out, state) = apply(None, &Op::Create { path: path(), data: 1 });
        assert_eq!((out, state), (Output::Created, Some((1, 0))));
        let (out, state) = apply(state, &Op::Set { path: path(), data: 2, expected: Some(0) });
        assert_eq!((out, state), (Output::SetOk { version: 1 }, Some((2, 1))));
        let (out, same) = apply(state, &Op::Set { path: path(), data: 3, expected: Some(0) });
        assert_eq!((out, same), (Output::BadVersion, state));
        let (out, same) = apply(state, &Op::Create { path: path(), data: 4 });
        assert_eq!((out, same), (Output::NodeExists, state));
        let (out, state) = apply(state, &Op::Delete { path: path(), expected: None });
        assert_eq!((out, state), (Output::Deleted, None));
        assert_eq!(apply(None, &Op::Delete { path: path(), expected: None }).0, Output::NoNode);
    }

    #[test]
    fn step_rejects_a_different_answer_and_accepts_an_unknown_one() {
        let read = Op::Read { path: path(), synced: true };
        assert_eq!(step(Some((1, 0)), &read, Some(Output::Value(None))), None);
        let set = Op::Set { path: path(), data: 9, expected: None };
        assert_eq!(step(Some((1, 0)), &set, None), Some(Some((9, 1))));
    }
}
