//! Errors the transport reports to its caller.

use std::net::SocketAddr;

/// Why a transport could not start.
#[derive(Debug, thiserror::Error)]
pub enum PeerTransportError {
    #[error("invalid peer transport settings: {0}")]
    InvalidSettings(String),
    #[error("cannot listen for peers on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error("peer TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// Why [`super::PeerTransport::send`] did not queue a message. Loss is normal
/// for this transport (the consensus core resyncs), so callers may ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeerSendError {
    #[error("server {to} is not a peer of this node")]
    UnknownPeer { to: u64 },
    #[error("the queue to server {to} is full: message dropped and connection reset")]
    QueueFull { to: u64 },
    #[error("the writer to server {to} has stopped")]
    Stopped { to: u64 },
}
