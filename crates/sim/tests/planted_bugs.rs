//! The checkers have teeth: each planted protocol bug is caught within a
//! small, fixed seed budget, and the test prints which invariant caught it.

use sim::{Invariant, Options, PlantedBug, run};

/// About one crash-heavy history in twenty loses an acked, unsynced txn in
/// a way the client-visible checks can see; 100 seeds leave a wide margin.
const SEED_BUDGET: u64 = 100;

/// The first violation among the budget's seeds, if any.
fn first_violation(
    nodes: usize,
    bug: PlantedBug,
    check_commit_quorum: bool,
) -> Option<sim::Violation> {
    let mut options = Options::standard(nodes);
    options.planted_bug = Some(bug);
    options.check_commit_quorum = check_commit_quorum;
    (0..SEED_BUDGET).find_map(|seed| run(seed, &options).err().map(|v| *v))
}

#[test]
fn ack_before_fsync_is_caught() {
    for nodes in [3, 5] {
        let violation = first_violation(nodes, PlantedBug::AckBeforeFsync, true)
            .expect("ack-before-fsync escaped every check");
        println!(
            "ack-before-fsync ({nodes} servers) caught by {:?}: {violation}",
            violation.broken.invariant
        );
        assert_eq!(violation.broken.invariant, Invariant::CommitNeedsDurableQuorum);
        assert!(violation.replay_command().contains("--planted-bug ack-before-fsync"));
    }
}

#[test]
fn commit_without_quorum_is_caught() {
    for nodes in [3, 5] {
        let violation = first_violation(nodes, PlantedBug::CommitWithoutQuorum, true)
            .expect("commit-without-quorum escaped every check");
        println!(
            "commit-without-quorum ({nodes} servers) caught by {:?}: {violation}",
            violation.broken.invariant
        );
        assert_eq!(violation.broken.invariant, Invariant::CommitNeedsDurableQuorum);
    }
}

#[test]
fn ack_before_fsync_is_caught_by_the_end_to_end_checks_alone_under_crash_heavy_faults() {
    let mut options = Options::crash_heavy(3);
    options.check_commit_quorum = false;
    // The same seeds pass without the bug: what is caught is the planted bug.
    for seed in 0..SEED_BUDGET {
        if let Err(violation) = run(seed, &options) {
            panic!("the crash-heavy profile fails without a planted bug: {violation}");
        }
    }
    options.planted_bug = Some(PlantedBug::AckBeforeFsync);
    let violation = (0..SEED_BUDGET)
        .find_map(|seed| run(seed, &options).err())
        .expect("ack-before-fsync escaped the end-to-end checks");
    println!(
        "ack-before-fsync, no quorum check, caught by {:?}: {violation}",
        violation.broken.invariant
    );
    assert_ne!(violation.broken.invariant, Invariant::CommitNeedsDurableQuorum);
}

#[test]
fn commit_without_quorum_is_caught_by_the_end_to_end_checks_alone() {
    for nodes in [3, 5] {
        let violation = first_violation(nodes, PlantedBug::CommitWithoutQuorum, false)
            .expect("commit-without-quorum escaped the end-to-end checks");
        println!(
            "commit-without-quorum ({nodes} servers), no quorum check, caught by {:?}: {violation}",
            violation.broken.invariant
        );
        assert_ne!(violation.broken.invariant, Invariant::CommitNeedsDurableQuorum);
    }
}
