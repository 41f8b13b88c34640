//! Three members on loopback, elected and replicating through the real
//! peer transport, driven by the `zookeeper-client` crate.

mod common;

use std::time::Duration;

use common::ensemble::{ELECTION_DEADLINE, member_configs};
use common::{eventually, within};
use server::{Mode, RunningServer, ServerConfig};
use tempfile::TempDir;
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, Error};

fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

struct Ensemble {
    members: Vec<Option<RunningServer>>,
    configs: Vec<ServerConfig>,
    _data: Vec<TempDir>,
}

impl Ensemble {
    async fn start(size: usize) -> Ensemble {
        Self::start_with_observers(size, 0).await
    }

    /// `voters` participants, then `observers` observers.
    async fn start_with_observers(voters: usize, observers: usize) -> Ensemble {
        let (configs, data) = member_configs(voters, observers);
        let mut running = Vec::new();
        for config in &configs {
            running.push(Some(RunningServer::start(config.clone()).await.expect("member starts")));
        }
        let ensemble = Ensemble { members: running, configs, _data: data };
        ensemble.wait_serving().await;
        ensemble
    }

    /// Waits until every running member serves and exactly one leads.
    async fn wait_serving(&self) {
        eventually("every running member serves under one leader", ELECTION_DEADLINE, || async {
            let statuses: Vec<_> = self.members.iter().flatten().map(|m| m.status()).collect();
            statuses.iter().all(|status| status.serving)
                && statuses.iter().filter(|status| status.mode == Mode::Leader).count() == 1
        })
        .await;
    }

    fn leader(&self) -> usize {
        self.members
            .iter()
            .position(|member| member.as_ref().is_some_and(|m| m.status().mode == Mode::Leader))
            .expect("a leader")
    }

    fn followers(&self) -> Vec<usize> {
        let leader = self.leader();
        (0..self.members.len())
            .filter(|index| *index != leader && self.members[*index].is_some())
            .collect()
    }

    fn address(&self, index: usize) -> String {
        self.members[index].as_ref().expect("running").client_address().to_string()
    }

    async fn client(&self, index: usize) -> Client {
        within(
            "client connects",
            Client::connector()
                .with_session_timeout(Duration::from_secs(2))
                .connect(&self.address(index)),
        )
        .await
        .expect("client connects")
    }

    async fn stop(&mut self, index: usize) {
        let member = self.members[index].take().expect("running");
        member.shutdown().await.expect("clean shutdown");
    }

    async fn restart(&mut self, index: usize) {
        let member =
            RunningServer::start(self.configs[index].clone()).await.expect("member restarts");
        self.members[index] = Some(member);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_any_member_are_seen_by_every_member() {
    let ensemble = Ensemble::start(3).await;
    let clients = [ensemble.client(0).await, ensemble.client(1).await, ensemble.client(2).await];
    let follower = ensemble.followers()[0];
    clients[follower].create("/shared", b"from a follower", &persistent()).await.unwrap();
    // Another member sees it after a sync, as ZooKeeper promises.
    for client in &clients {
        client.sync("/shared").await.unwrap();
        assert_eq!(client.get_data("/shared").await.unwrap().0, b"from a follower");
    }
    // Conflicting writes through different members are ordered by the leader.
    assert_eq!(
        clients[(follower + 1) % 3].create("/shared", b"", &persistent()).await.unwrap_err(),
        Error::NodeExists
    );
    // Sequential creates from all members at once get distinct suffixes.
    let sequential = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
    let mut creates = Vec::new();
    for round in 0..20 {
        for client in &clients {
            creates.push(client.create("/shared/n-", format!("{round}").as_bytes(), &sequential));
        }
    }
    let created: Vec<String> = futures::future::join_all(creates)
        .await
        .into_iter()
        .map(|result| result.expect("create").1.to_string())
        .collect();
    let mut distinct = created.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 60, "sequential suffixes are unique across members");
    for client in &clients {
        client.sync("/shared").await.unwrap();
        let (children, stat) = client.get_children("/shared").await.unwrap();
        assert_eq!(children.len(), 60);
        assert_eq!(stat.cversion, 60);
    }
    // A versioned write through one member fails through another once stale.
    let stat = clients[0].set_data("/shared", b"v1", Some(0)).await.unwrap();
    assert_eq!(stat.version, 1);
    assert_eq!(
        clients[1].set_data("/shared", b"v2", Some(0)).await.unwrap_err(),
        Error::BadVersion
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_keeps_every_acknowledged_write_and_the_old_one_catches_up() {
    let mut ensemble = Ensemble::start(3).await;
    let old_leader = ensemble.leader();
    let survivor = ensemble.followers()[0];
    let client = ensemble.client(survivor).await;
    client.create("/kept", b"", &persistent()).await.unwrap();
    for key in 0..50 {
        client.create(&format!("/kept/{key}"), b"acknowledged", &persistent()).await.unwrap();
    }
    drop(client);
    ensemble.stop(old_leader).await;
    ensemble.wait_serving().await;
    assert_ne!(ensemble.leader(), old_leader);
    let client = ensemble.client(survivor).await;
    let (children, _) = client.get_children("/kept").await.unwrap();
    assert_eq!(children.len(), 50, "every acknowledged write survived the leader");
    client.create("/after-failover", b"", &persistent()).await.unwrap();

    ensemble.restart(old_leader).await;
    ensemble.wait_serving().await;
    let rejoined = ensemble.client(old_leader).await;
    rejoined.sync("/").await.unwrap();
    assert!(rejoined.check_stat("/after-failover").await.unwrap().is_some());
    assert_eq!(rejoined.get_children("/kept").await.unwrap().0.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_moves_to_another_member_with_its_ephemerals() {
    let ensemble = Ensemble::start(3).await;
    let [first, second] = [ensemble.followers()[0], ensemble.leader()];
    let client = within(
        "client connects",
        Client::connector()
            .with_session_timeout(Duration::from_secs(2))
            .with_detached()
            .connect(&ensemble.address(first)),
    )
    .await
    .unwrap();
    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    client.create("/owned", b"", &ephemeral).await.unwrap();
    let session = client.session().clone();
    let session_id = client.session_id();
    drop(client);

    let moved = within(
        "session resumes on another member",
        Client::connector().with_session(session).connect(&ensemble.address(second)),
    )
    .await
    .expect("the session resumes on another member");
    assert_eq!(moved.session_id(), session_id);
    let stat = moved.check_stat("/owned").await.unwrap().expect("the ephemeral survived the move");
    assert_eq!(stat.ephemeral_owner, session_id.0);
    moved.create("/owned-too", b"", &ephemeral).await.unwrap();

    // Closing the session removes its ephemerals on every member.
    drop(moved);
    let observer = ensemble.client(first).await;
    eventually("the closed session's ephemerals are gone", Duration::from_secs(10), || async {
        observer.sync("/").await.unwrap();
        observer.check_stat("/owned").await.unwrap().is_none()
            && observer.check_stat("/owned-too").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_expires_a_silent_session_held_by_a_follower() {
    let ensemble = Ensemble::start(3).await;
    let follower = ensemble.followers()[0];
    let client = within(
        "client connects",
        Client::connector()
            .with_session_timeout(Duration::from_millis(500))
            .with_detached()
            .connect(&ensemble.address(follower)),
    )
    .await
    .unwrap();
    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    client.create("/lease", b"", &ephemeral).await.unwrap();
    let observer = ensemble.client(ensemble.leader()).await;
    assert!(observer.check_stat("/lease").await.unwrap().is_some());
    // Dropped without closing: the follower stops touching it, the leader expires it.
    drop(client);
    eventually("the silent session expires", Duration::from_secs(10), || async {
        observer.check_stat("/lease").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_member_does_not_serve() {
    let mut ensemble = Ensemble::start(3).await;
    let keep = ensemble.followers()[0];
    for index in 0..3 {
        if index != keep {
            ensemble.stop(index).await;
        }
    }
    let member = ensemble.members[keep].as_ref().unwrap();
    eventually("the member without a quorum stops serving", ELECTION_DEADLINE, || async {
        !member.status().serving
    })
    .await;
    let refused = Client::connector()
        .with_connection_timeout(Duration::from_millis(500))
        .with_session_timeout(Duration::from_secs(2))
        .connect(&ensemble.address(keep))
        .await;
    assert!(refused.is_err(), "a member without a quorum must not open sessions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_members_keep_serving_without_two_of_them() {
    let mut ensemble = Ensemble::start(5).await;
    let leader = ensemble.leader();
    let follower = ensemble.followers()[0];
    let client = ensemble.client(ensemble.followers()[1]).await;
    client.create("/five", b"", &persistent()).await.unwrap();
    drop(client);
    ensemble.stop(leader).await;
    ensemble.stop(follower).await;
    ensemble.wait_serving().await;
    let survivor = ensemble.followers()[0];
    let client = ensemble.client(survivor).await;
    client.create("/five/after", b"", &persistent()).await.unwrap();
    assert_eq!(client.get_children("/five").await.unwrap().0, vec!["after".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_serves_and_forwards_but_never_counts_for_a_quorum() {
    let mut ensemble = Ensemble::start_with_observers(3, 1).await;
    let observer = 3;
    assert_eq!(ensemble.members[observer].as_ref().unwrap().status().mode, Mode::Observer);
    let through_observer = ensemble.client(observer).await;
    through_observer.create("/observed", b"via observer", &persistent()).await.unwrap();
    let leader_client = ensemble.client(ensemble.leader()).await;
    leader_client.sync("/observed").await.unwrap();
    assert_eq!(leader_client.get_data("/observed").await.unwrap().0, b"via observer");
    drop((through_observer, leader_client));
    // Two voters gone: the remaining voter and the observer are not a quorum.
    let voters: Vec<usize> = (0..3).collect();
    for index in voters.iter().take(2) {
        ensemble.stop(*index).await;
    }
    let observer_member = ensemble.members[observer].as_ref().unwrap();
    eventually(
        "the observer stops serving without a quorum of voters",
        ELECTION_DEADLINE,
        || async { !observer_member.status().serving },
    )
    .await;
}
