//! Seeds that once exposed replication defects, kept now that they pass.
//! Each ran the standard fault mix and failed as described.

use sim::{Options, run};

/// (servers, seed, what went wrong).
const FIXED: &[(usize, u64, &str)] = &[
    (
        3,
        1912,
        "a learner persisted its new epoch before the synced log was durable, won the next election with a short log and truncated committed txns",
    ),
    (5, 977, "the same epoch-before-durable-log defect, on five servers"),
    (
        5,
        97,
        "a restarted server stayed Looking for ever: settled servers answered with disagreeing votes for the same leader",
    ),
    (5, 201, "the same disagreeing-votes defect"),
    (3, 1280, "the servers did not converge after the faults stopped"),
    (
        3,
        43418,
        "a learner installed a SNAP from a leader that never got established; the next leader's TRUNC went below that snapshot",
    ),
];

#[test]
fn once_failing_seeds_pass() {
    for (nodes, seed, defect) in FIXED {
        if let Err(violation) = run(*seed, &Options::standard(*nodes)) {
            panic!("regression ({defect}): {violation}");
        }
    }
}
