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
pub mod ensemble;
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
    #[error("ensemble: {0}")]
    Ensemble(String),
}

/// What a member is doing in its ensemble (`Mode:` in ZooKeeper's `srvr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    /// Electing a leader or syncing with one: not serving clients.
    Looking,
    Leader,
    Follower,
    Observer,
}

/// How a member last caught up with a leader (ZAB's synchronization modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// Missing txns sent one by one (or none were missing).
    Diff,
    /// Txns the leader never committed were cut from the log first.
    Trunc,
    /// The whole state replaced by the leader's snapshot.
    Snap,
}

/// A member's mode and whether it serves clients right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStatus {
    pub mode: Mode,
    pub serving: bool,
    /// How this member last synced with a leader (`None` if it never followed).
    pub last_sync: Option<SyncKind>,
}

/// The replication core of an ensemble member, and its link to the others.
async fn start_replica(
    ensemble: &config::EnsembleConfig,
    config: &ServerConfig,
    recovered: &recovery::Recovered,
    status: watch::Sender<NodeStatus>,
) -> Result<(processor::Replica, processor::PeerInbound), ServerError> {
    let peer_config = ensemble::core_config::peer_config(ensemble)
        .map_err(|error| ServerError::Ensemble(error.to_string()))?;
    let epochs = ensemble::epochs::EpochsFile::new(&config.data_dir)
        .load()
        .map_err(|error| ServerError::Ensemble(error.to_string()))?;
    let last_zxid = recovered.tree.last_zxid();
    let recent_proposals = recovered
        .recent_txns
        .iter()
        .map(|(zxid, txn)| broadcast::Proposal {
            zxid: *zxid,
            txn: bytes::Bytes::from(txn.clone()),
        })
        .collect();
    let peer = broadcast::Peer::new(
        peer_config,
        broadcast::Recovered { epochs, last_logged_zxid: last_zxid, recent_proposals },
    );
    let (link, inbound) = ensemble::transport::start(ensemble)
        .await
        .map_err(|error| ServerError::Ensemble(error.to_string()))?;
    let me = broadcast::ServerId(ensemble.me);
    tracing::info!(%me, peer_listen = %ensemble.peer_listen, "joining the ensemble");
    let replica =
        processor::Replica::new(me, peer, link, config.data_dir.clone(), last_zxid, status);
    Ok((replica, inbound))
}

/// A node that is serving clients.
pub struct RunningServer {
    client_address: SocketAddr,
    shutdown: watch::Sender<bool>,
    processor: JoinHandle<Result<(), String>>,
    listener: JoinHandle<()>,
    status: watch::Receiver<NodeStatus>,
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
        let (status_sender, status) = watch::channel(NodeStatus {
            mode: if config.ensemble.is_some() { Mode::Looking } else { Mode::Standalone },
            serving: config.ensemble.is_none(),
            last_sync: None,
        });
        let (replica, peer_inbound) = match &config.ensemble {
            None => (None, None),
            Some(ensemble) => {
                let (replica, inbound) =
                    start_replica(ensemble, &config, &recovered, status_sender).await?;
                (Some(replica), Some(inbound))
            }
        };
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
            replica,
        );
        let processor = tokio::spawn(processor.run(
            inbound_receiver,
            durability_receiver,
            peer_inbound,
            shutdown_receiver.clone(),
        ));
        let listener =
            tokio::spawn(listener::accept_loop(socket, inbound, config, shutdown_receiver));
        tracing::info!(%client_address, "serving ZooKeeper clients");
        Ok(RunningServer { client_address, shutdown, processor, listener, status })
    }

    /// The member's mode right now.
    pub fn status(&self) -> NodeStatus {
        *self.status.borrow()
    }

    /// Follows mode changes.
    pub fn watch_status(&self) -> watch::Receiver<NodeStatus> {
        self.status.clone()
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
