//! What operators see of replication on a three-member ensemble: the
//! leader's `synced_followers` and `pending_syncs`.

mod common;

use common::ensemble::{ELECTION_DEADLINE, Ensemble};
use common::eventually;

#[tokio::test]
async fn the_leader_reports_two_synced_followers_and_no_pending_syncs() {
    let ensemble = Ensemble::start().await;
    let leader = ensemble.leader();
    eventually("the leader counts both followers as synced", ELECTION_DEADLINE, || async {
        let monitor = ensemble.monitor(leader).await;
        monitor["synced_followers"] == 2 && monitor["pending_syncs"] == 0
    })
    .await;
    let monitor = ensemble.monitor(leader).await;
    assert_eq!(monitor["server_state"], "leader");
    assert_eq!(monitor["synced_followers"], 2, "{monitor}");
    assert_eq!(monitor["pending_syncs"], 0, "{monitor}");
    for follower in (0..3).filter(|index| *index != leader) {
        let monitor = ensemble.monitor(follower).await;
        assert_eq!(monitor["server_state"], "follower");
        // ZooKeeper prints these two only on the leader.
        assert!(monitor.get("synced_followers").is_none_or(|v| v == 0), "{monitor}");
    }
}
