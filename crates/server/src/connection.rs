//! One client connection: a reader that turns frames into requests for the
//! processor, and a writer that turns the processor's messages into frames.
//!
//! The reader stops reading when the connection has
//! `outstanding_requests_per_connection_max` requests in flight (each carries
//! a semaphore permit that the writer drops once the reply is written), so a
//! client that pipelines without reading its replies cannot grow the node's
//! memory. Anything malformed closes only this connection, with its reason logged.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::BytesMut;
use proto::frame::{self, FrameError};
use proto::records::{ConnectRequest, RequestHeader};
use proto::{OpCode, Reader, Record, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::config::ServerConfig;
use crate::messages::{ConnectionId, Inbound, Outbound};
use crate::stats::ConnectionRegistration;
use crate::{four_letter, status};

/// Arrival times of this connection's unanswered requests, oldest first:
/// replies leave in request order, so the writer pops one per reply.
type Arrivals = Arc<Mutex<VecDeque<Instant>>>;

/// Bytes read from the socket at a time; frames larger than this are assembled over several reads.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// How long a four-letter-word connection is drained after the answer
/// (`echo mntr | nc` sends a newline too). Closing with unread bytes would
/// reset the connection, and a reset can discard the answer at the client.
pub const FOUR_LETTER_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// Bytes drained at most before closing anyway.
const FOUR_LETTER_DRAIN_BYTES_MAX: usize = 4 * 1024;

/// Why a connection ended; logged once when it does.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionEnd {
    #[error("closed by the client")]
    ClientClosed,
    #[error("closed by the server: {0}")]
    ServerClosed(&'static str),
    #[error("malformed frame: {0}")]
    Frame(#[from] FrameError),
    #[error("malformed {what}: {error}")]
    Decode { what: &'static str, error: proto::DecodeError },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("node shutting down")]
    Shutdown,
}

/// Serves one accepted connection (plain TCP or TLS) until it ends.
pub(crate) async fn serve<S>(
    mut stream: S,
    peer: SocketAddr,
    connection: ConnectionId,
    processor: mpsc::Sender<Inbound>,
    config: Arc<ServerConfig>,
    registration: ConnectionRegistration,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
    // A four-letter word replaces the first frame's length prefix.
    while buffer.len() < 4 {
        tokio::select! {
            read = stream.read_buf(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = shutdown.changed() => return,
        }
    }
    let first_bytes = [buffer[0], buffer[1], buffer[2], buffer[3]];
    if let Some(word) = four_letter::recognise(first_bytes) {
        answer_four_letter_word(stream, word, config, registration, &processor).await;
        return;
    }
    let (mut reader, writer) = tokio::io::split(stream);
    let arrivals = Arrivals::default();
    let (outbox, outbound) = mpsc::unbounded_channel();
    let mut writer_task =
        tokio::spawn(write_loop(writer, outbound, registration.clone_handle(), arrivals.clone()));
    let permits = Arc::new(Semaphore::new(config.outstanding_requests_per_connection_max));
    let mut outbox = Some(outbox);

    let end = loop {
        // Parse every complete frame already buffered before reading more.
        match frame::decode_frame(&mut buffer, config.packet_bytes_max) {
            Err(error) => break ConnectionEnd::Frame(error),
            Ok(Some(body)) => {
                registration.packet_received();
                let message = match outbox.take() {
                    Some(outbox) => decode_connect(&body, connection, peer, outbox),
                    None => {
                        let permit = tokio::select! {
                            permit = permits.clone().acquire_owned() => permit.expect("semaphore never closed"),
                            end = &mut writer_task => break end.unwrap_or(ConnectionEnd::ServerClosed("writer failed")),
                        };
                        registration.request_started();
                        arrivals
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push_back(Instant::now());
                        decode_request(&body, connection, permit)
                    }
                };
                match message {
                    Ok(message) => {
                        if processor.send(message).await.is_err() {
                            break ConnectionEnd::Shutdown;
                        }
                    }
                    Err(end) => break end,
                }
                continue;
            }
            Ok(None) => {}
        }
        buffer.reserve(READ_BUFFER_BYTES);
        tokio::select! {
            read = reader.read_buf(&mut buffer) => match read {
                Ok(0) => break ConnectionEnd::ClientClosed,
                Ok(_) => {}
                Err(error) => break ConnectionEnd::Io(error),
            },
            end = &mut writer_task => break end.unwrap_or(ConnectionEnd::ServerClosed("writer failed")),
            _ = shutdown.changed() => break ConnectionEnd::Shutdown,
        }
    };
    match &end {
        ConnectionEnd::ClientClosed | ConnectionEnd::ServerClosed(_) | ConnectionEnd::Shutdown => {
            tracing::debug!(connection, %peer, reason = %end, "connection ended")
        }
        _ => tracing::warn!(connection, %peer, reason = %end, "connection closed"),
    }
    let _ = processor.send(Inbound::Closed { connection }).await;
    writer_task.abort();
}

fn decode_connect(
    body: &[u8],
    connection: ConnectionId,
    peer: SocketAddr,
    outbox: crate::messages::Outbox,
) -> Result<Inbound, ConnectionEnd> {
    let request = ConnectRequest::from_bytes(body)
        .map_err(|error| ConnectionEnd::Decode { what: "connect request", error })?;
    Ok(Inbound::Connect { connection, peer, request, outbox })
}

fn decode_request(
    body: &[u8],
    connection: ConnectionId,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<Inbound, ConnectionEnd> {
    let mut reader = Reader::new(body);
    let header = RequestHeader::decode(&mut reader)
        .map_err(|error| ConnectionEnd::Decode { what: "request header", error })?;
    let xid = header.xid;
    let Ok(op_code) = OpCode::from_code(header.op_type) else {
        return Ok(Inbound::Unsupported { connection, xid, op_code: header.op_type, permit });
    };
    match Request::decode(op_code, &mut reader) {
        Ok(request) => Ok(Inbound::Request { connection, xid, request, permit }),
        Err(error) if proto::request::is_unsupported(&error) => {
            Ok(Inbound::Unsupported { connection, xid, op_code: header.op_type, permit })
        }
        Err(error) => Err(ConnectionEnd::Decode { what: "request", error }),
    }
}

/// Writes a four-letter word's answer and closes, as ZooKeeper does.
async fn answer_four_letter_word<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    word: &'static str,
    config: Arc<ServerConfig>,
    registration: ConnectionRegistration,
    processor: &mpsc::Sender<Inbound>,
) {
    registration.packet_received();
    let whitelist = four_letter::Whitelist::new(&config.four_letter_words);
    let mut node = status::NodeStatus::read(registration.stats(), &config);
    if word == "wchc" && whitelist.allows(word) {
        // Only the processor knows who watches what; ask it.
        let (reply, answer) = tokio::sync::oneshot::channel();
        if processor.send(Inbound::WatchesBySession { reply }).await.is_ok()
            && let Ok(watches) = answer.await
        {
            node.session_watches =
                Some(watches.into_iter().map(|(session, paths)| (session.0, paths)).collect());
        }
    }
    tracing::debug!(word, allowed = whitelist.allows(word), "four-letter word");
    // `dirs` and `conf` walk the data directory: off the async threads.
    let answer =
        tokio::task::spawn_blocking(move || four_letter::answer(word, &whitelist, &node, &config))
            .await
            .unwrap_or_default();
    let _ = stream.write_all(answer.as_bytes()).await;
    // Unlisted before the client can see the end of the answer, so its next
    // command does not count this connection.
    drop(registration);
    let _ = stream.shutdown().await;
    let mut drained = 0;
    let mut scratch = [0u8; 512];
    let _ = tokio::time::timeout(FOUR_LETTER_DRAIN_TIMEOUT, async {
        while drained < FOUR_LETTER_DRAIN_BYTES_MAX {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(read) => drained += read,
            }
        }
    })
    .await;
}

/// Writes the processor's messages in order, batching whatever is queued into one write.
async fn write_loop<W: AsyncWrite>(
    mut writer: WriteHalf<W>,
    mut outbound: mpsc::UnboundedReceiver<Outbound>,
    stats: crate::stats::ConnectionCounters,
    arrivals: Arrivals,
) -> ConnectionEnd {
    let mut buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
    while let Some(first) = outbound.recv().await {
        let mut next = Some(first);
        let mut close = None;
        // Permits are held until the bytes are handed to the socket.
        let mut permits = Vec::new();
        while let Some(message) = next.take() {
            match message {
                Outbound::Connected(response) => {
                    stats.packet_sent();
                    frame::encode_frame(&response.to_bytes(), &mut buffer)
                }
                Outbound::Reply { header, body, permit } => {
                    stats.packet_sent();
                    frame::encode_reply(&mut buffer, &header, body.as_ref());
                    if permit.is_some() {
                        let arrived =
                            arrivals.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                        stats.request_answered(arrived.map(|at| at.elapsed()));
                    }
                    permits.extend(permit);
                }
                Outbound::Notification(event) => {
                    stats.packet_sent();
                    frame::encode_notification(&mut buffer, &event)
                }
                Outbound::Close { reason } => {
                    close = Some(reason);
                    break;
                }
            }
            next = outbound.try_recv().ok();
        }
        if let Err(error) = writer.write_all(&buffer).await {
            return ConnectionEnd::Io(error);
        }
        buffer.clear();
        drop(permits);
        if let Some(reason) = close {
            let _ = writer.shutdown().await;
            return ConnectionEnd::ServerClosed(reason);
        }
    }
    ConnectionEnd::Shutdown
}

#[cfg(test)]
mod tests {
    //! The per-connection bound on requests in flight, observed at the
    //! processor's side of a real loopback connection.

    use std::time::Duration;

    use proto::records::ReplyHeader;
    use proto::{Record, Writer};
    use tokio::net::TcpStream;

    use super::*;

    const OUTSTANDING_MAX: usize = 2;

    fn exists_frame(xid: i32) -> Vec<u8> {
        let mut body = Writer::new();
        body.write_i32(xid);
        body.write_i32(OpCode::Exists.code());
        body.write_string("/");
        body.write_bool(false);
        let mut frame = BytesMut::new();
        frame::encode_frame(&body.into_bytes(), &mut frame);
        frame.to_vec()
    }

    #[tokio::test]
    async fn a_connection_stops_reading_at_its_outstanding_request_bound() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let mut config = ServerConfig::new(peer, "unused");
        config.outstanding_requests_per_connection_max = OUTSTANDING_MAX;
        let (processor, mut inbound) = mpsc::channel(64);
        let (_shutdown, shutdown_receiver) = watch::channel(false);
        let registration = crate::stats::ServerStats::new().connection_opened(1, peer, false);
        tokio::spawn(serve(
            stream,
            peer,
            1,
            processor,
            Arc::new(config),
            registration,
            shutdown_receiver,
        ));

        let connect = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 4_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: None,
        };
        let mut bytes = BytesMut::new();
        frame::encode_frame(&connect.to_bytes(), &mut bytes);
        for xid in 1..=5 {
            bytes.extend_from_slice(&exists_frame(xid));
        }
        client.write_all(&bytes).await.unwrap();

        let Some(Inbound::Connect { outbox, .. }) = inbound.recv().await else {
            panic!("connect first")
        };
        let mut permits = Vec::new();
        for expected in 1..=OUTSTANDING_MAX as i32 {
            match inbound.recv().await {
                Some(Inbound::Request { xid, permit, .. }) => {
                    assert_eq!(xid, expected);
                    permits.push((xid, permit));
                }
                _ => panic!("request {expected} expected"),
            }
        }
        // Every request is already in the server's socket buffer, yet no
        // third one is decoded while two are unanswered.
        let third = tokio::time::timeout(Duration::from_millis(200), inbound.recv()).await;
        assert!(third.is_err(), "a request beyond the bound was read");
        // Answering one frees one slot: exactly one more request comes in.
        let (xid, permit) = permits.remove(0);
        let header = ReplyHeader { xid, zxid: 0, err: 0 };
        outbox.send(Outbound::Reply { header, body: None, permit: Some(permit) }).unwrap();
        match inbound.recv().await {
            Some(Inbound::Request { xid, .. }) => assert_eq!(xid, OUTSTANDING_MAX as i32 + 1),
            _ => panic!("the next request after a reply"),
        }
    }
}
