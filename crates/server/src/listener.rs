//! Accepts client connections on the plaintext and TLS client ports, up to
//! `connections_max` at once across both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::config::ServerConfig;
use crate::connection;
use crate::messages::Inbound;
use crate::stats::ServerStats;
use crate::tls::ReloadingAcceptor;

/// What every client port's accept loop shares.
pub(crate) struct AcceptContext {
    pub(crate) processor: mpsc::Sender<Inbound>,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) stats: Arc<ServerStats>,
    pub(crate) shutdown: watch::Receiver<bool>,
    slots: Arc<Semaphore>,
    /// Connection ids are unique across ports.
    next_connection: AtomicU64,
}

impl AcceptContext {
    pub(crate) fn new(
        processor: mpsc::Sender<Inbound>,
        config: Arc<ServerConfig>,
        stats: Arc<ServerStats>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<AcceptContext> {
        let slots = Arc::new(Semaphore::new(config.connections_max));
        Arc::new(AcceptContext {
            processor,
            config,
            stats,
            shutdown,
            slots,
            next_connection: AtomicU64::new(1),
        })
    }
}

/// Accepts on `socket`; with `tls`, each connection completes a TLS handshake first.
pub(crate) async fn accept_loop(
    socket: TcpListener,
    context: Arc<AcceptContext>,
    tls: Option<Arc<ReloadingAcceptor>>,
) {
    loop {
        let (stream, peer) = match socket.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically EMFILE: back off briefly rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = context.slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, connections_max = context.config.connections_max, "connection refused: too many connections");
            context.stats.connections_rejected.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = context.next_connection.fetch_add(1, Ordering::Relaxed);
        let context = context.clone();
        // Picked here so a certificate rewritten before this accept is used.
        let acceptor = tls.as_ref().map(|tls| tls.current());
        tokio::spawn(async move {
            let registration =
                context.stats.connection_opened(connection, peer, acceptor.is_some());
            let processor = context.processor.clone();
            let config = context.config.clone();
            let shutdown = context.shutdown.clone();
            match acceptor {
                None => {
                    connection::serve(
                        stream,
                        peer,
                        connection,
                        processor,
                        config,
                        registration,
                        shutdown,
                    )
                    .await
                }
                Some(acceptor) => {
                    let limit = std::time::Duration::from_millis(config.tls_handshake_timeout_ms);
                    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            connection::serve(
                                stream,
                                peer,
                                connection,
                                processor,
                                config,
                                registration,
                                shutdown,
                            )
                            .await
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
}
