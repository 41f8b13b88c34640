//! A real node on a loopback port with its data in a temporary directory.

#![allow(dead_code)]

pub mod authority;
pub mod ensemble;

use std::future::Future;
use std::time::Duration;

use server::{RunningServer, ServerConfig};
use tempfile::TempDir;

pub struct TestNode {
    pub node: Option<RunningServer>,
    pub data_dir: TempDir,
    pub tick_ms: u32,
    /// The configuration it started with; a restart reuses it on a new port.
    config: ServerConfig,
}

impl TestNode {
    /// A node with a short tick so session expiry tests finish quickly.
    pub async fn start() -> TestNode {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestNode {
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.path());
        config.tick_ms = 100;
        config.container_check_interval_ms = 50;
        adjust(&mut config);
        let tick_ms = config.tick_ms;
        let node = RunningServer::start(config.clone()).await.expect("node starts");
        TestNode { node: Some(node), data_dir, tick_ms, config }
    }

    pub fn address(&self) -> String {
        self.node.as_ref().expect("node running").client_address().to_string()
    }

    /// Stops the node gracefully and starts it again on the same data (and a new port).
    pub async fn restart(&mut self) {
        self.node.take().expect("node running").shutdown().await.expect("clean shutdown");
        let config = self.config.clone();
        self.node = Some(RunningServer::start(config).await.expect("node restarts"));
    }

    pub async fn client(&self) -> zookeeper_client::Client {
        zookeeper_client::Client::connector()
            .with_session_timeout(Duration::from_secs(2))
            .connect(&self.address())
            .await
            .expect("client connects")
    }
}

/// Polls `condition` until it holds or `deadline` passes; the test fails on timeout.
pub async fn eventually<F, Fut>(what: &str, deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    while !condition().await {
        assert!(tokio::time::Instant::now() < give_up, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Awaits `future` with a deadline so a hung server fails the test instead of hanging it.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}
