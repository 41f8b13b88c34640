//! Where the tests' ZooKeeper comes from: a real Herald node started in-process on a
//! loopback port (the default), or the server named by `HERALD_TEST_ZK=host:port`
//! (for example Apache ZooKeeper), so the same suite runs against both.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use server::{RunningServer, ServerConfig};
use tempfile::TempDir;
use zookeeper_client::Client;

pub struct Ensemble {
    address: String,
    /// Kept alive for the test's duration; `None` when testing an external server.
    _node: Option<(RunningServer, TempDir)>,
}

impl Ensemble {
    pub async fn start() -> Ensemble {
        if let Ok(address) = std::env::var("HERALD_TEST_ZK") {
            return Ensemble { address, _node: None };
        }
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.path());
        config.tick_ms = 100;
        let node = RunningServer::start(config).await.expect("node starts");
        Ensemble { address: node.client_address().to_string(), _node: Some((node, data_dir)) }
    }

    pub fn address(&self) -> String {
        self.address.clone()
    }

    pub async fn client(&self) -> Client {
        connect(&self.address).await
    }
}

/// A new session on the server at `address`.
pub async fn connect(address: &str) -> Client {
    Client::connector()
        .with_session_timeout(Duration::from_secs(4))
        .connect(address)
        .await
        .expect("client connects")
}

/// A root no other test (or earlier run against an external server) has used.
pub fn unique_root(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("/herald-test/{test}-{nanos}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Awaits `future` with a deadline so a hang fails the test instead of stalling it.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}
