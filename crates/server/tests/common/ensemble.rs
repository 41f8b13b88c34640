//! A three-voter ensemble on loopback, each member with an admin port.

use std::time::Duration;

use server::config::{
    EnsembleConfig, EnsembleMember, PEER_TICK_MS_DEFAULT, SYNC_DIFF_TXNS_MAX_DEFAULT, ServerRole,
};
use server::{Mode, RunningServer, ServerConfig};
use tempfile::TempDir;
use test_support::free_port;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zookeeper_client::Client;

use super::{eventually, within};

/// A generous bound for an election plus sync on a loaded 2-core machine.
pub const ELECTION_DEADLINE: Duration = Duration::from_secs(20);

pub struct Ensemble {
    pub members: Vec<RunningServer>,
    _data: Vec<TempDir>,
}

/// Configurations of `voters` participants then `observers` observers on loopback, each
/// with its data in a temporary directory (returned beside, to keep it alive).
pub fn member_configs(voters: usize, observers: usize) -> (Vec<ServerConfig>, Vec<TempDir>) {
    let peer_ports: Vec<u16> = (0..voters + observers).map(|_| free_port()).collect();
    let members: Vec<EnsembleMember> = peer_ports
        .iter()
        .enumerate()
        .map(|(index, port)| EnsembleMember {
            id: index as u64 + 1,
            peer_address: format!("127.0.0.1:{port}"),
            client_address: None,
            role: if index < voters { ServerRole::Participant } else { ServerRole::Observer },
        })
        .collect();
    let mut configs = Vec::new();
    let mut data = Vec::new();
    for (index, port) in peer_ports.iter().enumerate() {
        let directory = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), directory.path());
        config.tick_ms = 100;
        config.ensemble = Some(EnsembleConfig {
            me: index as u64 + 1,
            members: members.clone(),
            peer_listen: format!("127.0.0.1:{port}").parse().unwrap(),
            secret: Some("ensemble test secret".into()),
            peer_tick_ms: PEER_TICK_MS_DEFAULT,
            sync_diff_txns_max: SYNC_DIFF_TXNS_MAX_DEFAULT,
            peer_tls: None,
        });
        configs.push(config);
        data.push(directory);
    }
    (configs, data)
}

impl Ensemble {
    /// Three voters, each with an admin port, serving under one leader.
    pub async fn start() -> Ensemble {
        let (configs, data) = member_configs(3, 0);
        let mut running = Vec::new();
        for mut config in configs {
            config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
            running.push(RunningServer::start(config).await.expect("member starts"));
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

    pub fn leader(&self) -> usize {
        self.members.iter().position(|m| m.status().mode == Mode::Leader).expect("a leader")
    }

    pub async fn client(&self, index: usize) -> Client {
        within(
            "client connects",
            Client::connector()
                .with_session_timeout(Duration::from_secs(2))
                .connect(&self.members[index].client_address().to_string()),
        )
        .await
        .expect("client connects")
    }

    pub async fn monitor(&self, index: usize) -> serde_json::Value {
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
