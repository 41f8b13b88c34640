//! The gateway over HTTPS: its own accept loop, because every connection
//! first runs a TLS handshake that may fail (a plaintext client, a client
//! without the required certificate, a port scanner); a failure ends that
//! connection only, never the loop.
//!
//! The acceptor comes from a function called once per connection, so a
//! caller that follows certificate files on disk rotates them without a
//! restart, and this crate needs no knowledge of where they live.

use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::{AppState, app};

/// A client that has not finished its TLS handshake by then is closed, so
/// silent connections cannot pile up.
pub const GATEWAY_TLS_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// Pause after a failed `accept` (usually out of file descriptors) so the
/// loop does not spin while the condition lasts.
pub const GATEWAY_ACCEPT_ERROR_PAUSE_MS: u64 = 100;

/// Serves `app(state)` over TLS on `listener` until `shutdown` resolves, then
/// lets open connections finish their current request and returns.
pub async fn serve_tls<Acceptor>(
    listener: TcpListener,
    state: AppState,
    acceptor: Acceptor,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    Acceptor: Fn() -> TlsAcceptor + Send + Sync + 'static,
{
    let app = app(state);
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "HTTPS accept failed");
                tokio::time::sleep(Duration::from_millis(GATEWAY_ACCEPT_ERROR_PAUSE_MS)).await;
                continue;
            }
        };
        let tls = acceptor();
        let service = TowerToHyperService::new(app.clone());
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let deadline = Duration::from_millis(GATEWAY_TLS_HANDSHAKE_TIMEOUT_MS);
            let stream = match tokio::time::timeout(deadline, tls.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::info!(%remote, %error, "HTTPS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(%remote, "HTTPS handshake timed out");
                    return;
                }
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%remote, %error, "HTTPS connection ended with an error");
                    }
                }
                // Returns a bool so the borrow of the flag ends before awaiting.
                _ = async { stopping.wait_for(|stop| *stop).await.is_ok() } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}
