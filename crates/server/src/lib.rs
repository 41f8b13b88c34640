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
//!
//! In an ensemble, the processor also drives the replication core
//! (`broadcast::Peer`): writes are proposed, committed by a quorum and only
//! then applied (see `processor::replication`).
//! - [`ensemble`]: peer frames, durable epochs, the core's configuration.
//! - [`peer_transport`]: authenticated, framed TCP between members.
//!
//! The operations surface:
//! - [`stats`]: the shared counters (`Arc<ServerStats>`) and the node's mode.
//! - [`metrics`]: OpenTelemetry instruments over those counters, as Prometheus text.
//! - [`status`]: a snapshot of the node that the operator commands render.
//! - [`four_letter`]: ZooKeeper's four-letter words on the client ports.
//! - [`admin`]: the admin HTTP port (AdminServer JSON, `/metrics`, probes).
//! - [`tls`]: the secure client port's certificates, reloaded on change.
//! - [`telemetry`]: logging and OpenTelemetry trace export for the process.
//! - `fsync_timing`: times txn log fsyncs into the stats.

pub mod admin;
pub mod config;
mod connection;
mod durability;
pub mod ensemble;
pub mod four_letter;
mod fsync_timing;
mod listener;
mod memory;
mod messages;
pub mod metrics;
pub mod peer_transport;
mod processor;
pub mod recovery;
pub mod stats;
pub mod status;
pub mod telemetry;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use config::ServerConfig;
pub use recovery::RecoveryError;
pub use stats::{Mode, ServerStats};

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
    #[error("secure client port: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("no client port: the plaintext port is disabled and no secure_client_listen is set")]
    NoClientPort,
    #[error("ensemble: {0}")]
    Ensemble(String),
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
    stats: Arc<ServerStats>,
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
    stats.set_quorum_size(peer_config.election.quorum.voters.len() as u64);
    let peer = broadcast::Peer::new(
        peer_config,
        broadcast::Recovered {
            epochs,
            last_logged_zxid: last_zxid,
            recent_proposals,
            snapshot_zxid: recovered.snapshot_zxid,
        },
    );
    let (link, inbound) = ensemble::transport::start(ensemble)
        .await
        .map_err(|error| ServerError::Ensemble(error.to_string()))?;
    let me = broadcast::ServerId(ensemble.me);
    tracing::info!(%me, peer_listen = %ensemble.peer_listen, "joining the ensemble");
    let replica = processor::Replica::new(
        me,
        peer,
        link,
        config.data_dir.clone(),
        last_zxid,
        processor::StatusReport { status, stats },
    );
    Ok((replica, inbound))
}

/// A node that is serving clients.
pub struct RunningServer {
    /// The plaintext port, else the secure one: where clients are told to go.
    primary_client_address: SocketAddr,
    client_address: Option<SocketAddr>,
    secure_client_address: Option<SocketAddr>,
    admin_address: Option<SocketAddr>,
    stats: Arc<ServerStats>,
    shutdown: watch::Sender<bool>,
    processor: JoinHandle<Result<(), String>>,
    /// Accept loops of the client ports and the admin server.
    listeners: Vec<JoinHandle<()>>,
    status: watch::Receiver<NodeStatus>,
}

async fn bind(address: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), ServerError> {
    let socket = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind { address, source })?;
    let bound = socket.local_addr().map_err(|source| ServerError::Bind { address, source })?;
    Ok((socket, bound))
}

impl RunningServer {
    /// Recovers the node's state from `config.data_dir` and starts serving.
    pub async fn start(mut config: ServerConfig) -> Result<RunningServer, ServerError> {
        let data_dir = config.data_dir.clone();
        let log_options = config.log_options();
        let recovered =
            tokio::task::spawn_blocking(move || recovery::recover(&data_dir, log_options))
                .await
                .expect("recovery does not panic")?;
        if !config.plaintext_client_port_enabled && config.secure_client_listen.is_none() {
            return Err(ServerError::NoClientPort);
        }
        // Load certificates before binding anything: a bad file fails the start.
        let tls = match config.secure_client_listen {
            Some(_) => {
                Some(Arc::new(tls::ReloadingAcceptor::load(tls::TlsFiles::from_config(&config)?)?))
            }
            None => None,
        };
        let plain = match config.plaintext_client_port_enabled {
            true => Some(bind(config.client_listen).await?),
            false => None,
        };
        let secure = match config.secure_client_listen {
            Some(address) => Some(bind(address).await?),
            None => None,
        };
        let admin = match config.admin_listen {
            Some(address) => Some(bind(address).await?),
            None => None,
        };
        // Port 0 means "any": the commands that print the ports show the bound ones.
        if let Some((_, address)) = &plain {
            config.client_listen = *address;
        }
        config.secure_client_listen = secure.as_ref().map(|(_, address)| *address);
        config.admin_listen = admin.as_ref().map(|(_, address)| *address);
        let config = Arc::new(config);
        let stats = ServerStats::new();
        stats.set_mode(if config.ensemble.is_some() { Mode::Looking } else { Mode::Standalone });

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
                    start_replica(ensemble, &config, &recovered, status_sender, stats.clone())
                        .await?;
                (Some(replica), Some(inbound))
            }
        };
        let (durability_events, durability_receiver) = mpsc::unbounded_channel();
        let durability = durability::Durability::spawn(
            Box::new(fsync_timing::TimedLog { inner: recovered.log, stats: stats.clone() }),
            Box::new(recovered.snapshots),
            durability_events,
        );
        let (inbound, inbound_receiver) = mpsc::channel(PROCESSOR_QUEUE_DEPTH);
        let processor = processor::Processor::new(
            config.clone(),
            recovered.tree,
            durability,
            recovered.replayed_txns,
            stats.clone(),
            replica,
        );
        let processor = tokio::spawn(processor.run(
            inbound_receiver,
            durability_receiver,
            peer_inbound,
            shutdown_receiver.clone(),
        ));
        let context = listener::AcceptContext::new(
            inbound,
            config.clone(),
            stats.clone(),
            shutdown_receiver.clone(),
        );
        let mut listeners = Vec::new();
        let client_address = plain.map(|(socket, address)| {
            listeners.push(tokio::spawn(listener::accept_loop(socket, context.clone(), None)));
            tracing::info!(%address, "serving ZooKeeper clients");
            address
        });
        let secure_client_address = secure.map(|(socket, address)| {
            listeners.push(tokio::spawn(listener::accept_loop(socket, context.clone(), tls)));
            tracing::info!(%address, "serving ZooKeeper clients over TLS");
            address
        });
        let admin_address = admin.map(|(socket, address)| {
            listeners.push(tokio::spawn(admin::serve(
                socket,
                stats.clone(),
                config.clone(),
                context.processor.clone(),
                shutdown_receiver,
            )));
            tracing::info!(%address, "admin server listening");
            address
        });
        let primary_client_address =
            client_address.or(secure_client_address).ok_or(ServerError::NoClientPort)?;
        stats.set_serving();
        Ok(RunningServer {
            primary_client_address,
            client_address,
            secure_client_address,
            admin_address,
            stats,
            shutdown,
            processor,
            listeners,
            status,
        })
    }

    /// The member's mode right now.
    pub fn status(&self) -> NodeStatus {
        *self.status.borrow()
    }

    /// Follows mode changes.
    pub fn watch_status(&self) -> watch::Receiver<NodeStatus> {
        self.status.clone()
    }

    /// Where ZooKeeper clients connect: the plaintext port, or the secure
    /// port when the plaintext one is disabled.
    pub fn client_address(&self) -> SocketAddr {
        self.primary_client_address
    }

    /// The plaintext client port, if enabled.
    pub fn plaintext_client_address(&self) -> Option<SocketAddr> {
        self.client_address
    }

    /// The TLS client port (ZooKeeper's `secureClientPort`), if configured.
    pub fn secure_client_address(&self) -> Option<SocketAddr> {
        self.secure_client_address
    }

    /// The admin HTTP port, if configured.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin_address
    }

    /// The node's counters; the ensemble layer sets the mode through it.
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
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
        for listener in &self.listeners {
            listener.abort();
        }
        match self.processor.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ServerError::Storage(error)),
            Err(join) => Err(ServerError::Storage(format!("processor task failed: {join}"))),
        }
    }
}
