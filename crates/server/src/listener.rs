//! Accepts client connections, up to `connections_max` at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::config::ServerConfig;
use crate::connection;
use crate::messages::Inbound;

pub(crate) async fn accept_loop(
    socket: TcpListener,
    processor: mpsc::Sender<Inbound>,
    config: Arc<ServerConfig>,
    shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.connections_max));
    let next_connection = AtomicU64::new(1);
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
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, connections_max = config.connections_max, "connection refused: too many connections");
            drop(stream);
            continue;
        };
        let connection = next_connection.fetch_add(1, Ordering::Relaxed);
        let processor = processor.clone();
        let config = config.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            connection::serve(stream, peer, connection, processor, config, shutdown).await;
            drop(slot);
        });
    }
}
