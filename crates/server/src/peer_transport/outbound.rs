//! One writer task per peer: dial (resolving the address afresh each time),
//! handshake, then write queued messages until the connection breaks or a
//! reset is requested; back off and dial again. With TLS configured, the
//! TLS handshake (verifying the acceptor's certificate) precedes the Herald one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

use super::backoff::ReconnectBackoff;
use super::frame::{FrameError, encode_frame};
use super::handshake::{
    GREETING_BYTES, HandshakeError, PEER_HANDSHAKE_ACCEPTED, decode_greeting, encode_hello,
};
use super::settings::PeerTransportSettings;
use super::stats::TransportStats;
use super::tls::{self, PeerStream, ReloadingPeerTls};

/// Bytes buffered before the writer hands them to the socket; frames are
/// batched up to this and flushed whenever the queue runs empty.
pub const PEER_WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// State shared between `send` (any thread, never awaiting) and one writer.
#[derive(Debug, Default)]
pub struct PeerLink {
    /// A handshake completed and the connection has not broken since.
    connected: AtomicBool,
    /// A message was dropped on a full queue: every further message is
    /// dropped too until the writer has closed the connection and emptied
    /// the queue, so the receiver sees the loss as a break, never as a gap
    /// inside one connection.
    reset_requested: AtomicBool,
    /// Wakes the writer for a reset; notified once per false→true flip of
    /// `reset_requested`, so every wake-up is a real reset.
    reset: Notify,
    /// Cuts a reconnect backoff short: the peer just connected to us, so it
    /// is up again and listening (a restarted member would otherwise wait
    /// out a backoff of up to seconds for our half of the link).
    redial: Notify,
}

impl PeerLink {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    pub fn is_reset_requested(&self) -> bool {
        self.reset_requested.load(Ordering::SeqCst)
    }

    /// The peer connected to this node: dial it now rather than at the end
    /// of the current backoff.
    pub fn redial_now(&self) {
        self.redial.notify_one();
    }

    pub fn request_reset(&self) {
        if self
            .reset_requested
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.reset.notify_one();
        }
    }
}

/// What the writer task needs besides its queue.
pub struct Writer {
    pub peer: u64,
    pub address: String,
    pub link: Arc<PeerLink>,
    pub settings: Arc<PeerTransportSettings>,
    /// Present when peer connections are mutual TLS.
    pub tls: Option<Arc<ReloadingPeerTls>>,
    pub stats: Arc<TransportStats>,
}

/// Why a live connection ended.
enum Ending {
    /// The transport is gone (queue sender dropped): stop for good.
    QueueClosed,
    /// `send` dropped a message and the reset wake-up was taken: close and
    /// empty the queue.
    ResetRequested,
    /// The writer saw the reset flag before its wake-up; the wake-up is
    /// still due and must be taken so it does not reset the next connection.
    ResetSeen,
    /// The socket failed or the peer closed it; retry with what is queued.
    Broken(String),
}

impl Writer {
    pub async fn run<M: Serialize>(self, mut queue: mpsc::Receiver<M>) {
        let mut backoff = ReconnectBackoff::new(
            self.settings.reconnect_backoff_min_ms,
            self.settings.reconnect_backoff_max_ms,
        );
        let mut failed_dials = 0u64;
        loop {
            let dialled = tokio::select! {
                _ = self.link.reset.notified() => {
                    self.discard_queued(&mut queue);
                    continue;
                }
                dialled = self.dial() => dialled,
            };
            match dialled {
                Ok(stream) => {
                    backoff.reset();
                    failed_dials = 0;
                    self.link.connected.store(true, Ordering::SeqCst);
                    tracing::info!(peer = self.peer, address = %self.address, "connected to peer");
                    let ending = self.write_until_ended(stream, &mut queue).await;
                    self.link.connected.store(false, Ordering::SeqCst);
                    match ending {
                        Ending::QueueClosed => return,
                        Ending::ResetSeen | Ending::ResetRequested => {
                            if matches!(ending, Ending::ResetSeen) {
                                // `request_reset` notifies right after setting the flag.
                                self.link.reset.notified().await;
                            }
                            tracing::warn!(
                                peer = self.peer,
                                "queue to peer overflowed: connection reset"
                            );
                            self.discard_queued(&mut queue);
                            continue;
                        }
                        Ending::Broken(reason) => {
                            tracing::info!(peer = self.peer, %reason, "connection to peer lost");
                        }
                    }
                }
                Err(error) => {
                    // Loud once, then quiet: a peer that is down for long
                    // must not flood the log at every retry.
                    if failed_dials == 0 {
                        tracing::warn!(peer = self.peer, address = %self.address, %error, "cannot reach peer; retrying");
                    } else {
                        tracing::debug!(peer = self.peer, address = %self.address, %error, failed_dials, "cannot reach peer");
                    }
                    failed_dials += 1;
                    self.stats.count_dial_failed();
                }
            }
            let delay = Duration::from_millis(backoff.next_delay_ms(rand::random::<f64>()));
            tokio::select! {
                _ = self.link.reset.notified() => self.discard_queued(&mut queue),
                _ = self.link.redial.notified() => backoff.reset(),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Resolves the peer's name now (it may have appeared since the last
    /// attempt), connects to the first address that answers and handshakes,
    /// all within the handshake deadline.
    async fn dial(&self) -> Result<PeerStream, HandshakeError> {
        let deadline = Duration::from_millis(self.settings.handshake_timeout_ms);
        tokio::time::timeout(deadline, async {
            let mut last_error = None;
            for address in tokio::net::lookup_host(self.address.as_str()).await? {
                match TcpStream::connect(address).await {
                    Ok(stream) => return self.handshake(stream).await,
                    Err(error) => last_error = Some(error),
                }
            }
            Err(last_error
                .unwrap_or_else(|| std::io::Error::other("peer address resolved to nothing"))
                .into())
        })
        .await
        .map_err(|_| HandshakeError::TimedOut)?
    }

    async fn handshake(&self, stream: TcpStream) -> Result<PeerStream, HandshakeError> {
        stream.set_nodelay(true)?;
        let mut stream: PeerStream = match &self.tls {
            Some(tls) => tls::connect(tls, &self.address, stream).await?,
            None => Box::new(stream),
        };
        let mut greeting = [0u8; GREETING_BYTES];
        stream.read_exact(&mut greeting).await?;
        let nonce = decode_greeting(&greeting)?;
        let hello =
            encode_hello(self.settings.me, self.peer, &nonce, self.settings.secret.as_deref());
        stream.write_all(&hello).await?;
        stream.flush().await?;
        let mut verdict = [0u8; 1];
        match stream.read_exact(&mut verdict).await {
            Ok(_) if verdict[0] == PEER_HANDSHAKE_ACCEPTED => Ok(stream),
            Ok(_) => Err(HandshakeError::Refused),
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(HandshakeError::Refused)
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn write_until_ended<M: Serialize>(
        &self,
        stream: PeerStream,
        queue: &mut mpsc::Receiver<M>,
    ) -> Ending {
        let (mut read_half, write_half) = tokio::io::split(stream);
        let mut writer = BufWriter::with_capacity(PEER_WRITE_BUFFER_BYTES, write_half);
        let mut frame = Vec::new();
        let pump = async {
            loop {
                let message = match queue.try_recv() {
                    Ok(message) => message,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        if let Err(error) = writer.flush().await {
                            return Ending::Broken(format!("flush failed: {error}"));
                        }
                        match queue.recv().await {
                            Some(message) => message,
                            None => return Ending::QueueClosed,
                        }
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => return Ending::QueueClosed,
                };
                if self.link.is_reset_requested() {
                    // Taken after a drop: it must not follow the gap on this connection.
                    return Ending::ResetSeen;
                }
                match encode_frame(&message, self.settings.frame_bytes_max, &mut frame) {
                    Ok(()) => {}
                    Err(error @ (FrameError::TooLarge { .. } | FrameError::Encode(_))) => {
                        // Skipping it silently would leave a gap inside this
                        // connection; breaking it makes the loss visible.
                        self.stats.count_unsendable();
                        tracing::error!(peer = self.peer, %error, "message not sent");
                        return Ending::Broken(error.to_string());
                    }
                    Err(error) => return Ending::Broken(error.to_string()),
                }
                if let Err(error) = writer.write_all(&frame).await {
                    return Ending::Broken(format!("write failed: {error}"));
                }
            }
        };
        // The peer never writes after the handshake, so any read completing
        // means it closed or the connection failed; notice that while idle.
        let closed_by_peer = async {
            let mut byte = [0u8; 1];
            match read_half.read(&mut byte).await {
                Ok(0) => "closed by peer".to_owned(),
                Ok(_) => "peer sent unexpected bytes".to_owned(),
                Err(error) => format!("read failed: {error}"),
            }
        };
        tokio::select! {
            _ = self.link.reset.notified() => Ending::ResetRequested,
            ending = pump => ending,
            reason = closed_by_peer => Ending::Broken(reason),
        }
    }

    /// Empties the queue after a reset and lets `send` queue again: what was
    /// queued before the drop must not reach the peer after it.
    fn discard_queued<M>(&self, queue: &mut mpsc::Receiver<M>) {
        let mut discarded = 0u64;
        while queue.try_recv().is_ok() {
            discarded += 1;
        }
        self.stats.count_reset(discarded);
        self.link.reset_requested.store(false, Ordering::SeqCst);
    }
}
