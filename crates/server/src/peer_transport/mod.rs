//! The TCP transport between ensemble nodes. It carries any serde message
//! type and knows nothing of the consensus protocol on top.
//!
//! Every ordered pair of nodes has one connection, opened by the sender and
//! written only by it, so messages from one node to another arrive in the
//! order sent while that connection lives. A broken connection loses what
//! was in flight; the consensus core tolerates loss and resyncs, so the
//! transport never retransmits and `send` never waits.
//!
//! - `settings`: identities, addresses and every limit, with defaults.
//! - [`handshake`]: greeting/hello wire format and the HMAC proof (no I/O).
//! - `frame`: length-prefixed postcard frames.
//! - `backoff`: reconnect delays as plain arithmetic.
//! - `outbound`: one writer task per peer (dial, handshake, write, redial).
//! - `inbound`: the accept loop and one reader task per peer connection.
//! - `stats`: loss counters.
//! - `tls`: optional mutual TLS under the handshake, reloaded with its files.

mod backoff;
mod error;
mod frame;
pub mod handshake;
mod inbound;
mod outbound;
mod settings;
mod stats;
mod tls;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use error::{PeerSendError, PeerTransportError};
pub use handshake::{PEER_HANDSHAKE_ACCEPTED, PEER_PROTOCOL_MAGIC, PEER_PROTOCOL_VERSION};
pub use settings::{
    PEER_FRAME_BYTES_MAX, PEER_HANDSHAKE_TIMEOUT_MS, PEER_INBOUND_QUEUE_DEPTH_DEFAULT,
    PEER_OUTBOUND_QUEUE_DEPTH_DEFAULT, PEER_PENDING_HANDSHAKES_MAX, PEER_RECONNECT_BACKOFF_MAX_MS,
    PEER_RECONNECT_BACKOFF_MIN_MS, PeerTransportSettings,
};
pub use stats::PeerTransportStats;

use inbound::{Acceptor, InboundPeers};
use outbound::{PeerLink, Writer};
use stats::TransportStats;

/// Messages from peers, in arrival order, as `(sender id, message)`. The
/// sender id is the one the handshake authenticated.
pub type PeerInbox<M> = mpsc::Receiver<(u64, M)>;

/// The sending half of one peer: its queue and the state its writer shares.
struct OutboundPeer<M> {
    queue: mpsc::Sender<M>,
    link: Arc<PeerLink>,
}

/// A running transport. Messages from peers arrive on the receiver returned
/// by [`PeerTransport::start`] as `(sender id, message)`.
pub struct PeerTransport<M> {
    local_addr: SocketAddr,
    peers: BTreeMap<u64, OutboundPeer<M>>,
    inbound: InboundPeers,
    stats: Arc<TransportStats>,
    shutdown: watch::Sender<bool>,
    /// The accept loop first, then one writer per peer; aborted on drop.
    tasks: Vec<JoinHandle<()>>,
}

impl<M> PeerTransport<M>
where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    /// Binds `settings.listen`, starts accepting, and starts dialling every
    /// other member. Must run inside a tokio runtime.
    pub async fn start(
        settings: PeerTransportSettings,
    ) -> Result<(PeerTransport<M>, PeerInbox<M>), PeerTransportError> {
        settings.validate()?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|source| PeerTransportError::Bind { address: settings.listen, source })?;
        Self::start_with_listener(settings, listener)
    }

    /// Like [`PeerTransport::start`] on a socket bound beforehand (so every
    /// member's port can be known before any node starts); `settings.listen`
    /// is not used.
    pub fn start_with_listener(
        settings: PeerTransportSettings,
        listener: TcpListener,
    ) -> Result<(PeerTransport<M>, PeerInbox<M>), PeerTransportError> {
        settings.validate()?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| PeerTransportError::Bind { address: settings.listen, source })?;
        let tls = settings.tls.as_ref().map(tls::load).transpose()?.map(Arc::new);
        let settings = Arc::new(settings);
        let stats = Arc::new(TransportStats::default());
        let (delivered, received) = mpsc::channel(settings.inbound_queue_depth);
        let (shutdown, shutdown_receiver) = watch::channel(false);

        let links: BTreeMap<u64, Arc<PeerLink>> = settings
            .members
            .keys()
            .filter(|id| **id != settings.me)
            .map(|id| (*id, Arc::new(PeerLink::default())))
            .collect();
        let (acceptor, inbound) =
            Acceptor::new(settings.clone(), tls.clone(), delivered, stats.clone(), links.clone());
        let mut tasks = vec![tokio::spawn(acceptor.run(listener, shutdown_receiver))];
        let mut peers = BTreeMap::new();
        for (&peer, address) in settings.members.iter().filter(|(id, _)| **id != settings.me) {
            let (queue, queued) = mpsc::channel(settings.outbound_queue_depth);
            let link = links[&peer].clone();
            let writer = Writer {
                peer,
                address: address.clone(),
                link: link.clone(),
                settings: settings.clone(),
                tls: tls.clone(),
                stats: stats.clone(),
            };
            tasks.push(tokio::spawn(writer.run(queued)));
            peers.insert(peer, OutboundPeer { queue, link });
        }
        tracing::info!(
            me = settings.me,
            %local_addr,
            peers = peers.len(),
            tls = tls.is_some(),
            "peer transport started"
        );
        let transport = PeerTransport { local_addr, peers, inbound, stats, shutdown, tasks };
        Ok((transport, received))
    }

    /// Queues `message` for peer `to` without blocking or awaiting; encoding
    /// happens on that peer's writer. On a full queue the message is dropped
    /// and the connection reset, so the peer sees a break rather than a
    /// silent gap; later messages go over the next connection.
    pub fn send(&self, to: u64, message: M) -> Result<(), PeerSendError> {
        let peer = self.peers.get(&to).ok_or(PeerSendError::UnknownPeer { to })?;
        if peer.link.is_reset_requested() {
            self.stats.count_dropped_on_full_queue();
            return Err(PeerSendError::QueueFull { to });
        }
        match peer.queue.try_send(message) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.count_dropped_on_full_queue();
                peer.link.request_reset();
                Err(PeerSendError::QueueFull { to })
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(PeerSendError::Stopped { to }),
        }
    }
}

impl<M> PeerTransport<M> {
    /// Where peers connect (the bound port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Peers this node currently has a handshaken outbound connection to,
    /// i.e. peers a message sent now can reach; ascending.
    pub fn connected_peers(&self) -> Vec<u64> {
        self.peers.iter().filter(|(_, peer)| peer.link.is_connected()).map(|(id, _)| *id).collect()
    }

    /// Peers with a live, authenticated inbound connection to this node; ascending.
    pub fn inbound_peers(&self) -> Vec<u64> {
        self.inbound.peers()
    }

    /// Loss and refusal counters since start.
    pub fn stats(&self) -> PeerTransportStats {
        self.stats.snapshot()
    }

    /// Stops accepting, closes every connection and waits for all tasks to
    /// end; the peer port is free again when this returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let mut tasks = std::mem::take(&mut self.tasks).into_iter();
        if let Some(accept_loop) = tasks.next() {
            // Finishes on its own, closing its connections before returning.
            let _ = accept_loop.await;
        }
        for writer in tasks {
            writer.abort();
            let _ = writer.await;
        }
    }
}

impl<M> Drop for PeerTransport<M> {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
