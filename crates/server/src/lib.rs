//! A Herald node.
//!
//! A request flows one way through these modules:
//! [`listener`] accepts → [`connection`] decodes frames → the processor
//! prepares, applies and logs → [`durability`] fsyncs → the processor
//! releases replies and watch events → [`connection`] writes them.
//!
//! - [`config`]: the one configuration struct.
//! - [`recovery`]: opening storage and rebuilding the tree at startup.
//! - `messages`: the types that flow between the tasks above.

pub mod config;
mod connection;
mod durability;
mod listener;
mod messages;
pub mod peer_transport;
mod processor;
pub mod recovery;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use config::ServerConfig;
pub use recovery::RecoveryError;

/// Requests queued from all connections to the processor before connections wait.
pub const PROCESSOR_QUEUE_DEPTH: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error("storage failed: {0}")]
    Storage(String),
}

/// A node that is serving clients.
pub struct RunningServer {
    client_address: SocketAddr,
    shutdown: watch::Sender<bool>,
    processor: JoinHandle<Result<(), String>>,
    listener: JoinHandle<()>,
}

impl RunningServer {
    /// Recovers the node's state from `config.data_dir` and starts serving.
    pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        let config = Arc::new(config);
        let data_dir = config.data_dir.clone();
        let log_options = storage::LogOptions { segment_bytes_max: config.log_segment_bytes_max };
        let recovered =
            tokio::task::spawn_blocking(move || recovery::recover(&data_dir, log_options))
                .await
                .expect("recovery does not panic")?;
        let socket = tokio::net::TcpListener::bind(config.client_listen)
            .await
            .map_err(|source| ServerError::Bind { address: config.client_listen, source })?;
        let client_address = socket.local_addr().expect("bound socket has an address");

        let (shutdown, shutdown_receiver) = watch::channel(false);
        let (durability_events, durability_receiver) = mpsc::unbounded_channel();
        let durability = durability::Durability::spawn(
            Box::new(recovered.log),
            Box::new(recovered.snapshots),
            durability_events,
        );
        let (inbound, inbound_receiver) = mpsc::channel(PROCESSOR_QUEUE_DEPTH);
        let processor = processor::Processor::new(
            config.clone(),
            recovered.tree,
            durability,
            recovered.replayed_txns,
        );
        let processor = tokio::spawn(processor.run(
            inbound_receiver,
            durability_receiver,
            shutdown_receiver.clone(),
        ));
        let listener =
            tokio::spawn(listener::accept_loop(socket, inbound, config, shutdown_receiver));
        tracing::info!(%client_address, "serving ZooKeeper clients");
        Ok(RunningServer { client_address, shutdown, processor, listener })
    }

    /// Where ZooKeeper clients connect.
    pub fn client_address(&self) -> SocketAddr {
        self.client_address
    }

    /// Runs until storage fails; returns the failure.
    pub async fn wait(&mut self) -> Result<(), ServerError> {
        match (&mut self.processor).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ServerError::Storage(error)),
            Err(join) => Err(ServerError::Storage(format!("processor task failed: {join}"))),
        }
    }

    /// Stops accepting, lets the processor hand its last txns to the log, and
    /// waits for them to be durable.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.shutdown.send(true);
        self.listener.abort();
        match self.processor.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ServerError::Storage(error)),
            Err(join) => Err(ServerError::Storage(format!("processor task failed: {join}"))),
        }
    }
}
