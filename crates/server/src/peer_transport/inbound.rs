//! The accept side: every accepted connection handshakes under a deadline,
//! then only frames are read from it and handed to the node. One live
//! inbound connection per peer: a newer one from the same id replaces the
//! older (a restarted peer re-dials before its old socket times out).
//! "Newer" means accepted later, not handshaken later: a dialer that gave up
//! on a slow handshake has already dialled again, and its abandoned
//! connection finishing last must not cut off the one it now writes to.
//! With TLS configured, the TLS handshake comes first and the Herald
//! handshake runs inside it, both under the same deadline.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::frame::{FrameError, read_frame};
use super::handshake::{
    HELLO_HEAD_BYTES, HandshakeError, MAC_BYTES, NONCE_BYTES, Nonce, PEER_HANDSHAKE_ACCEPTED,
    decode_hello_head, encode_greeting, verify_hello,
};
use super::outbound::PeerLink;
use super::settings::PeerTransportSettings;
use super::stats::TransportStats;
use super::tls::{self, PeerStream, ReloadingPeerTls};

/// Pause after a failed `accept` (e.g. out of file descriptors) so the
/// loop does not spin while the condition lasts.
pub const ACCEPT_ERROR_PAUSE_MS: u64 = 100;

/// The newest connection registered for one peer id.
#[derive(Debug)]
struct Registered {
    /// Its accept order; an older connection may not replace it.
    generation: u64,
    /// Dropping it stops that reader; `None` once the connection ended.
    stop: Option<oneshot::Sender<()>>,
}

/// Which connection currently speaks for each peer id.
#[derive(Debug, Default)]
struct InboundRegistry {
    next_generation: AtomicU64,
    /// Peer id → its newest registered connection. Only authenticated member
    /// ids get an entry, so the map is bounded by the ensemble size. Locked
    /// only for map updates, never across an await.
    live: Mutex<HashMap<u64, Registered>>,
}

impl InboundRegistry {
    /// Numbers connections in accept order.
    fn next_generation(&self) -> u64 {
        self.next_generation.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes the connection accepted as `generation` the live one for
    /// `peer`: an older reader's `superseded` receiver completes and it
    /// stops. `None` when a connection accepted later already registered.
    fn register(&self, peer: u64, generation: u64) -> Option<oneshot::Receiver<()>> {
        let mut live = self.lock();
        let previous = live.get(&peer);
        if previous.is_some_and(|previous| previous.generation > generation) {
            return None;
        }
        if previous.is_some_and(|previous| previous.stop.is_some()) {
            tracing::info!(peer, "newer connection from peer replaces the older one");
        }
        let (stop, superseded) = oneshot::channel();
        live.insert(peer, Registered { generation, stop: Some(stop) });
        Some(superseded)
    }

    fn unregister(&self, peer: u64, generation: u64) {
        let mut live = self.lock();
        if let Some(current) = live.get_mut(&peer)
            && current.generation == generation
        {
            current.stop = None;
        }
    }

    fn peers(&self) -> Vec<u64> {
        let live = self.lock();
        let mut peers: Vec<u64> =
            live.iter().filter(|(_, current)| current.stop.is_some()).map(|(id, _)| *id).collect();
        peers.sort_unstable();
        peers
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Registered>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (each update is one insert or one field write), so poison is ignored.
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The accept loop's view of the transport, shared with connection tasks.
pub struct Acceptor<M> {
    settings: Arc<PeerTransportSettings>,
    tls: Option<Arc<ReloadingPeerTls>>,
    delivered: mpsc::Sender<(u64, M)>,
    registry: Arc<InboundRegistry>,
    pending_handshakes: Arc<Semaphore>,
    stats: Arc<TransportStats>,
    /// Our outbound links, told to redial a peer as soon as it connects here.
    outbound_links: BTreeMap<u64, Arc<PeerLink>>,
}

/// Lets the transport list the peers with a live inbound connection.
#[derive(Debug, Clone)]
pub struct InboundPeers(Arc<InboundRegistry>);

impl InboundPeers {
    pub fn peers(&self) -> Vec<u64> {
        self.0.peers()
    }
}

impl<M: DeserializeOwned + Send + 'static> Acceptor<M> {
    pub fn new(
        settings: Arc<PeerTransportSettings>,
        tls: Option<Arc<ReloadingPeerTls>>,
        delivered: mpsc::Sender<(u64, M)>,
        stats: Arc<TransportStats>,
        outbound_links: BTreeMap<u64, Arc<PeerLink>>,
    ) -> (Self, InboundPeers) {
        let registry = Arc::new(InboundRegistry::default());
        let pending_handshakes = Arc::new(Semaphore::new(settings.pending_handshakes_max));
        let acceptor = Acceptor {
            settings,
            tls,
            delivered,
            registry: registry.clone(),
            pending_handshakes,
            stats,
            outbound_links,
        };
        (acceptor, InboundPeers(registry))
    }

    /// Accepts until `shutdown` turns true (or its sender is dropped), then
    /// stops every connection task before returning.
    pub async fn run(self, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let mut connections = JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            let accepted = tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                    continue;
                }
                accepted = listener.accept() => accepted,
            };
            let (stream, remote) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors: pause rather than spin.
                    tracing::warn!(%error, "peer accept failed");
                    tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
                    continue;
                }
            };
            let Ok(permit) = this.pending_handshakes.clone().try_acquire_owned() else {
                tracing::warn!(
                    %remote,
                    pending_handshakes_max = this.settings.pending_handshakes_max,
                    "peer connection refused: too many pending handshakes"
                );
                this.stats.count_handshake_refused();
                continue;
            };
            let generation = this.registry.next_generation();
            connections.spawn(this.clone().serve(stream, remote, generation, permit));
        }
        connections.shutdown().await;
    }

    async fn serve(
        self: Arc<Self>,
        stream: TcpStream,
        remote: SocketAddr,
        generation: u64,
        permit: OwnedSemaphorePermit,
    ) {
        let deadline = Duration::from_millis(self.settings.handshake_timeout_ms);
        let (peer, stream) = match tokio::time::timeout(deadline, self.handshake(stream)).await {
            Ok(Ok(accepted)) => accepted,
            Ok(Err(error)) => {
                tracing::warn!(%remote, %error, "peer handshake refused");
                self.stats.count_handshake_refused();
                return;
            }
            Err(_) => {
                tracing::warn!(%remote, "peer handshake timed out");
                self.stats.count_handshake_refused();
                return;
            }
        };
        drop(permit);
        let Some(superseded) = self.registry.register(peer, generation) else {
            // Its dialer gave up on it and dialled again before it got here.
            tracing::warn!(peer, %remote, "stale peer connection refused: one accepted later came first");
            self.stats.count_handshake_refused();
            return;
        };
        tracing::info!(peer, %remote, "accepted peer connection");
        if let Some(link) = self.outbound_links.get(&peer) {
            link.redial_now();
        }
        tokio::select! {
            reason = self.read_until_closed(peer, stream) => match reason {
                FrameError::Closed => tracing::info!(peer, "peer closed its connection"),
                error => tracing::error!(peer, %error, "peer connection closed"),
            },
            _ = superseded => {}
        }
        self.registry.unregister(peer, generation);
    }

    /// TLS first when configured (a plaintext peer fails here: its bytes
    /// are not a TLS ClientHello), then the Herald handshake.
    async fn handshake(&self, stream: TcpStream) -> Result<(u64, PeerStream), HandshakeError> {
        stream.set_nodelay(true)?;
        let mut stream: PeerStream = match &self.tls {
            Some(tls) => tls::accept(tls, stream).await?,
            None => Box::new(stream),
        };
        let mut nonce: Nonce = [0; NONCE_BYTES];
        rand::fill(&mut nonce[..]);
        stream.write_all(&encode_greeting(&nonce)).await?;
        stream.flush().await?;
        let mut head = [0u8; HELLO_HEAD_BYTES];
        stream.read_exact(&mut head).await?;
        let head = decode_hello_head(&head)?;
        let mut mac = [0u8; MAC_BYTES];
        let mac = &mut mac[..head.mac_len];
        stream.read_exact(mac).await?;
        let settings = &self.settings;
        let peer = verify_hello(
            settings.me,
            |id| settings.members.contains_key(&id),
            settings.secret.as_deref(),
            &nonce,
            head,
            mac,
        )?;
        stream.write_all(&[PEER_HANDSHAKE_ACCEPTED]).await?;
        stream.flush().await?;
        Ok((peer, stream))
    }

    /// Delivers frames in order until the connection ends; returns why.
    async fn read_until_closed(&self, peer: u64, stream: PeerStream) -> FrameError {
        let mut reader = BufReader::new(stream);
        let mut payload = Vec::new();
        loop {
            match read_frame::<M, _>(&mut reader, self.settings.frame_bytes_max, &mut payload).await
            {
                Ok(message) => {
                    if self.delivered.send((peer, message)).await.is_err() {
                        return FrameError::Closed;
                    }
                }
                Err(error) => return error,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_accepted_later_replaces_the_live_one() {
        let registry = InboundRegistry::default();
        let older = registry.next_generation();
        let newer = registry.next_generation();
        let mut older_stop = registry.register(7, older).unwrap();
        let mut newer_stop = registry.register(7, newer).unwrap();
        assert_eq!(older_stop.try_recv(), Err(oneshot::error::TryRecvError::Closed));
        assert_eq!(newer_stop.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        assert_eq!(registry.peers(), [7]);
    }

    #[test]
    fn a_connection_accepted_earlier_never_replaces_a_later_one() {
        let registry = InboundRegistry::default();
        let older = registry.next_generation();
        let newer = registry.next_generation();
        let mut newer_stop = registry.register(7, newer).unwrap();
        assert!(registry.register(7, older).is_none());
        assert_eq!(newer_stop.try_recv(), Err(oneshot::error::TryRecvError::Empty));

        // Not even once the later one has ended.
        registry.unregister(7, newer);
        assert!(registry.peers().is_empty());
        assert!(registry.register(7, older).is_none());
        // Another peer's connections are numbered in the same sequence but
        // compared only with that peer's.
        assert!(registry.register(8, older).is_some());
        assert_eq!(registry.peers(), [8]);
    }

    #[test]
    fn an_ended_connection_unregisters_only_itself() {
        let registry = InboundRegistry::default();
        let older = registry.next_generation();
        let newer = registry.next_generation();
        let _older_stop = registry.register(7, older).unwrap();
        let _newer_stop = registry.register(7, newer).unwrap();
        registry.unregister(7, older);
        assert_eq!(registry.peers(), [7], "the replaced reader ending leaves the newer live");
        registry.unregister(7, newer);
        assert!(registry.peers().is_empty());
    }
}
