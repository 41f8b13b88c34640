//! A seed replays exactly: the same seed gives the identical client history.

use sim::{Options, run};

#[test]
fn same_seed_same_history_and_different_seeds_differ() {
    let options = Options::standard(3);
    let first = run(11, &options).expect("seed 11 passes");
    let again = run(11, &options).expect("seed 11 passes");
    let other = run(12, &options).expect("seed 12 passes");
    assert_eq!(first.history_fingerprint, again.history_fingerprint);
    assert_eq!(first, again);
    assert_ne!(first.history_fingerprint, other.history_fingerprint);
    assert!(first.operations > 0 && first.commits > 0);
}
