//! The backend a recipe test runs against: the ensemble named by `HERALD_TEST_ZK=host:port`
//! (Apache ZooKeeper in CI), or else a Herald node started in-process; and a root path of
//! the test's own on it, so tests sharing a backend never meet.

// Each test file uses its own part of this.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use server::{RunningServer, ServerConfig};
use zookeeper_client::Client;

pub struct Backend {
    pub address: SocketAddr,
    pub root: String,
    _node: Option<(RunningServer, tempfile::TempDir)>,
}

impl Backend {
    /// The backend, with a root path of `root_prefix` and a suffix unique to this process.
    pub async fn start(root_prefix: &str) -> Backend {
        let root = format!("/{root_prefix}-{}", unique_suffix());
        if let Ok(address) = std::env::var("HERALD_TEST_ZK") {
            let address = tokio::net::lookup_host(&address)
                .await
                .expect("HERALD_TEST_ZK resolves")
                .next()
                .expect("HERALD_TEST_ZK names an address");
            return Backend { address, root, _node: None };
        }
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.path());
        config.tick_ms = 100;
        let node = RunningServer::start(config).await.unwrap();
        let address = node.client_address();
        Backend { address, root, _node: Some((node, data_dir)) }
    }

    /// A new session; dropping the client closes it (its ephemerals vanish).
    pub async fn client(&self) -> Client {
        Client::connector()
            .with_session_timeout(Duration::from_secs(2))
            .connect(&self.address.to_string())
            .await
            .unwrap()
    }

    /// The path `name` under this test's root.
    pub fn dir(&self, name: &str) -> String {
        format!("{}/{name}", self.root)
    }
}

fn unique_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:x}", hasher.finish())
}
