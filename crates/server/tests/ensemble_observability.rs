//! What operators see of replication on a three-member ensemble: the
//! leader's `synced_followers` / `pending_syncs`, and per-ZAB-round spans.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, within};
use server::config::{
    EnsembleConfig, EnsembleMember, PEER_TICK_MS_DEFAULT, SYNC_DIFF_TXNS_MAX_DEFAULT, ServerRole,
};
use server::{Mode, RunningServer, ServerConfig};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use zookeeper_client::{Acls, Client, CreateMode};

/// A generous bound for an election plus sync on a loaded 2-core machine.
const ELECTION_DEADLINE: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Ensemble {
    members: Vec<RunningServer>,
    _data: Vec<TempDir>,
}

impl Ensemble {
    /// Three voters, each with an admin port, serving under one leader.
    async fn start() -> Ensemble {
        let peer_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let members: Vec<EnsembleMember> = peer_ports
            .iter()
            .enumerate()
            .map(|(index, port)| EnsembleMember {
                id: index as u64 + 1,
                peer_address: format!("127.0.0.1:{port}"),
                client_address: None,
                role: ServerRole::Participant,
            })
            .collect();
        let mut running = Vec::new();
        let mut data = Vec::new();
        for (index, port) in peer_ports.iter().enumerate() {
            let directory = tempfile::tempdir().unwrap();
            let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), directory.path());
            config.tick_ms = 100;
            config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
            config.ensemble = Some(EnsembleConfig {
                me: index as u64 + 1,
                members: members.clone(),
                peer_listen: format!("127.0.0.1:{port}").parse().unwrap(),
                secret: Some("ensemble test secret".into()),
                peer_tick_ms: PEER_TICK_MS_DEFAULT,
                sync_diff_txns_max: SYNC_DIFF_TXNS_MAX_DEFAULT,
            });
            running.push(RunningServer::start(config).await.expect("member starts"));
            data.push(directory);
        }
        let ensemble = Ensemble { members: running, _data: data };
        eventually("every member serves under one leader", ELECTION_DEADLINE, || async {
            let statuses: Vec<_> = ensemble.members.iter().map(|m| m.status()).collect();
            statuses.iter().all(|status| status.serving)
                && statuses.iter().filter(|status| status.mode == Mode::Leader).count() == 1
        })
        .await;
        ensemble
    }

    fn leader(&self) -> usize {
        self.members.iter().position(|m| m.status().mode == Mode::Leader).expect("a leader")
    }

    async fn client(&self, index: usize) -> Client {
        within(
            "client connects",
            Client::connector()
                .with_session_timeout(Duration::from_secs(2))
                .connect(&self.members[index].client_address().to_string()),
        )
        .await
        .expect("client connects")
    }

    async fn monitor(&self, index: usize) -> serde_json::Value {
        let address = self.members[index].admin_address().expect("admin port on");
        let body = within("GET /commands/monitor", async {
            let mut stream = TcpStream::connect(address).await.expect("connect");
            let request =
                "GET /commands/monitor HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n\r\n";
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response.split_once("\r\n\r\n").expect("a header block").1.to_string()
        })
        .await;
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("{error}: {body}"))
    }
}

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

/// A span as the capturing layer saw it: name, fields, and whether it closed.
#[derive(Clone, Debug)]
struct SeenSpan {
    name: &'static str,
    fields: BTreeMap<String, String>,
    closed: bool,
}

#[derive(Clone, Default)]
struct CaptureSpans {
    spans: Arc<Mutex<BTreeMap<u64, SeenSpan>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> Layer<S>
    for CaptureSpans
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let name = attributes.metadata().name();
        if !name.starts_with("zab_") {
            return;
        }
        let mut fields = BTreeMap::new();
        attributes.record(&mut Fields(&mut fields));
        self.spans.lock().unwrap().insert(id.into_u64(), SeenSpan { name, fields, closed: false });
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            span.closed = true;
        }
    }
}

impl CaptureSpans {
    fn named(&self, name: &str) -> Vec<SeenSpan> {
        self.spans.lock().unwrap().values().filter(|span| span.name == name).cloned().collect()
    }
}

// A current-thread runtime: every member's tasks run on this thread, under
// the subscriber installed for it.
#[tokio::test]
async fn a_write_is_a_proposal_span_closed_at_commit_and_each_learner_sync_is_a_span() {
    let capture = CaptureSpans::default();
    let subscriber = tracing_subscriber::registry()
        .with(capture.clone().with_filter(tracing_subscriber::EnvFilter::new("server=debug")));
    let _installed = tracing::subscriber::set_default(subscriber);

    let ensemble = Ensemble::start().await;
    let leader = ensemble.leader();
    let client = ensemble.client(leader).await;
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let (stat, _) = client.create("/zab-round", b"", &persistent).await.unwrap();

    let zxid = stat.czxid.to_string();
    let proposals = capture.named("zab_proposal");
    let create = proposals
        .iter()
        .find(|span| span.fields.get("zxid") == Some(&zxid))
        .unwrap_or_else(|| panic!("no proposal span for zxid {zxid} among {proposals:?}"));
    assert_eq!(create.fields.get("txn_type").map(String::as_str), Some("create"));
    assert!(create.closed, "the reply came after the commit, which ends the round");

    let syncs = capture.named("zab_sync");
    let mut learners: Vec<String> = syncs
        .iter()
        .filter(|s| s.closed)
        .filter_map(|s| s.fields.get("learner").cloned())
        .collect();
    learners.sort();
    learners.dedup();
    let mut expected: Vec<String> =
        (1..=3).filter(|id| *id != leader as u64 + 1).map(|id| id.to_string()).collect();
    expected.sort();
    assert_eq!(learners, expected, "one finished sync round per follower: {syncs:?}");
}
