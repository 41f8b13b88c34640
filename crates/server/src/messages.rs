//! The messages that flow one way through a node:
//! connection tasks → processor (`Inbound`) → connection writers (`Outbound`).

use std::net::SocketAddr;

use proto::records::{ConnectRequest, ConnectResponse, ReplyHeader, WatcherEvent};
use proto::{Request, Response, SessionId};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

/// Identifies one TCP connection for the processor's lifetime.
pub(crate) type ConnectionId = u64;

/// Where the processor sends a connection's outgoing messages. Unbounded
/// because the processor must never block on one slow client; what bounds it
/// is the per-connection outstanding-request permit carried by each reply.
pub(crate) type Outbox = mpsc::UnboundedSender<Outbound>;

/// From a connection task to the processor.
pub(crate) enum Inbound {
    /// The first frame of a connection: create or resume a session.
    Connect { connection: ConnectionId, peer: SocketAddr, request: ConnectRequest, outbox: Outbox },
    /// A decoded request. `permit` returns to the connection when the reply is written.
    Request { connection: ConnectionId, xid: i32, request: Request, permit: OwnedSemaphorePermit },
    /// A well-framed request with an opcode Herald does not serve.
    Unsupported { connection: ConnectionId, xid: i32, op_code: i32, permit: OwnedSemaphorePermit },
    /// The connection is gone (closed by the peer, a protocol error, or shutdown).
    Closed { connection: ConnectionId },
    /// The `wchc` four-letter word: every session's watched paths.
    WatchesBySession { reply: oneshot::Sender<Vec<(SessionId, Vec<String>)>> },
}

/// From the processor to a connection's writer, in the order they must be written.
#[derive(Debug)]
pub(crate) enum Outbound {
    Connected(ConnectResponse),
    Reply {
        header: ReplyHeader,
        body: Option<Response>,
        permit: Option<OwnedSemaphorePermit>,
    },
    Notification(WatcherEvent),
    /// Write everything before this, then close the connection.
    Close {
        reason: &'static str,
    },
}
