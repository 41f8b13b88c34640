//! Session lifecycle: connect (new or resumed), connection loss, explicit
//! close and expiry.
//!
//! Sessions are replicated state (created and closed by txns); which
//! connection currently carries a session is this node's own business.

use datatree::{RequestContext, WriteOp, negotiate_timeout};
use proto::records::{ConnectRequest, ConnectResponse};
use proto::{ErrorCode, SessionId};

use super::Processor;
use crate::messages::{ConnectionId, Outbound};

/// The first session id of a node, as ZooKeeper derives it: milliseconds since
/// the epoch in the middle bits so ids from a restarted node do not collide
/// with the previous run's, and the server id (0 standalone) in the top byte.
pub(super) fn initial_session_id(wall_clock_ms: u64, server_id: u64) -> i64 {
    (((wall_clock_ms << 24) >> 8) | ((server_id & 0xff) << 56)) as i64
}

/// The handshake reply; timeout 0 with session 0 is ZooKeeper's refusal.
fn handshake(timeout_ms: i32, session: SessionId, password: &[u8]) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout: timeout_ms,
        session_id: session.0,
        passwd: password.to_vec(),
        read_only: false,
    }
}

impl Processor {
    pub(super) fn connect(&mut self, connection: ConnectionId, request: ConnectRequest) {
        if self.replica.as_ref().is_some_and(|replica| !replica.serving()) {
            // ZooKeeper does not serve while electing or syncing either.
            self.close_connection(connection, "member is not serving");
            return;
        }
        let last_zxid = self.tree.last_zxid();
        if request.last_zxid_seen > last_zxid.0 {
            // The client saw state this node does not have (it talked to a
            // newer server): serving it would let it see time go backwards.
            tracing::warn!(
                connection,
                client_zxid = request.last_zxid_seen,
                %last_zxid,
                "refusing a client that has seen a newer zxid"
            );
            self.close_connection(connection, "client has seen a newer zxid");
            return;
        }
        if request.session_id == 0 {
            self.create_session(connection, request.timeout);
        } else {
            self.resume_session(connection, SessionId(request.session_id), &request.passwd);
        }
    }

    fn create_session(&mut self, connection: ConnectionId, requested_timeout_ms: i32) {
        let timeout_ms = negotiate_timeout(
            requested_timeout_ms,
            self.config.session_timeout_ms_min() as i32,
            self.config.session_timeout_ms_max() as i32,
        );
        let session = self.allocate_session_id();
        let password: [u8; 16] = rand::random();
        let context = RequestContext {
            session,
            auth: self.connections[&connection].auth.clone(),
            now_ms: super::wall_clock_ms() as i64,
        };
        if self.replica.is_some() {
            return self.replicated_connect(connection, session, timeout_ms, password, &context);
        }
        let body =
            match self.tree.prepare(&WriteOp::CreateSession { timeout_ms, password }, &context) {
                Ok(body) => body,
                Err(code) => {
                    tracing::error!(%session, %code, "session creation refused");
                    self.close_connection(connection, "session creation refused");
                    return;
                }
            };
        self.commit(session, body);
        let now_ms = self.monotonic_ms() as i64;
        self.sessions.add(session, timeout_ms, now_ms);
        self.session_created(connection, session, timeout_ms, &password);
    }

    /// The session's txn is applied: attach it and answer the handshake.
    pub(super) fn session_created(
        &mut self,
        connection: ConnectionId,
        session: SessionId,
        timeout_ms: i32,
        password: &[u8],
    ) {
        self.attach(connection, session);
        tracing::debug!(connection, %session, timeout_ms, "session created");
        let response = handshake(timeout_ms, session, password);
        let barrier = self.tree.last_zxid();
        self.release.push(barrier, connection, Outbound::Connected(response), &self.outboxes);
    }

    fn resume_session(&mut self, connection: ConnectionId, session: SessionId, password: &[u8]) {
        let now_ms = self.monotonic_ms() as i64;
        // Standalone, the tracker knows whether the session expired; in an
        // ensemble the leader does, and an expired session's close txn
        // reaches every member, so the tree alone decides.
        let replicated = self.replica.is_some();
        let resumable = self
            .tree
            .session(session)
            .filter(|info| info.password.as_slice() == password)
            .map(|info| info.timeout_ms)
            .filter(|_| replicated || self.sessions.touch(session, now_ms));
        let Some(timeout_ms) = resumable else {
            // ZooKeeper's answer to an expired session or a wrong password: a
            // handshake with timeout 0, which clients report as expiry.
            tracing::info!(connection, %session, "refusing to resume an unknown session or a wrong password");
            let response = handshake(0, SessionId(0), &[0; 16]);
            let barrier = self.tree.last_zxid();
            self.release.push(barrier, connection, Outbound::Connected(response), &self.outboxes);
            self.close_connection(connection, "session expired or wrong password");
            return;
        };
        if let Some(previous) = self.session_connections.get(&session).copied() {
            // The client moved: its old connection is dead to it. Its watches
            // go with it; the client re-registers them with setWatches.
            self.tree.remove_session_watches(session);
            self.session_connections.remove(&session);
            if let Some(state) = self.connections.get_mut(&previous) {
                state.session = None;
            }
            self.close_connection(previous, "session moved to another connection");
        }
        self.attach(connection, session);
        if replicated {
            self.note_touch(session);
        }
        tracing::debug!(connection, %session, "session resumed");
        let response = handshake(timeout_ms, session, password);
        let barrier = self.tree.last_zxid();
        self.release.push(barrier, connection, Outbound::Connected(response), &self.outboxes);
    }

    fn attach(&mut self, connection: ConnectionId, session: SessionId) {
        if let Some(state) = self.connections.get_mut(&connection) {
            state.session = Some(session);
        }
        self.session_connections.insert(session, connection);
        self.stats.connection_session(connection, session.0);
    }

    fn allocate_session_id(&mut self) -> SessionId {
        loop {
            let candidate = SessionId(self.next_session_id);
            self.next_session_id = self.next_session_id.wrapping_add(1);
            if candidate.0 != 0 && self.tree.session(candidate).is_none() {
                return candidate;
            }
        }
    }

    /// The TCP connection is gone; its session lives on until it expires.
    pub(super) fn connection_closed(&mut self, connection: ConnectionId) {
        self.outboxes.remove(&connection);
        if let Some(replica) = self.replica.as_mut() {
            replica.blocked.remove(&connection);
            replica.in_flight.remove(&connection);
        }
        let Some(state) = self.connections.remove(&connection) else { return };
        if let Some(session) = state.session
            && self.session_connections.get(&session) == Some(&connection)
        {
            self.session_connections.remove(&session);
            // Watches belong to the connection in ZooKeeper; a reconnecting
            // client re-registers them with setWatches.
            self.tree.remove_session_watches(session);
        }
        tracing::debug!(connection, peer = %state.peer, "connection closed");
    }

    /// Closes `session` through a txn (explicit close or expiry): its
    /// ephemerals go and their watchers are told. Returns the connection that
    /// carried the session, now detached, for the caller to answer and close.
    pub(super) fn close_session(&mut self, session: SessionId) -> Option<ConnectionId> {
        let context = RequestContext {
            session,
            auth: self.system_context().auth,
            now_ms: super::wall_clock_ms() as i64,
        };
        match self.tree.prepare(&WriteOp::CloseSession, &context) {
            Ok(body) => {
                self.commit(session, body);
            }
            // Already gone: closing twice is not an error.
            Err(ErrorCode::SessionExpired) => {}
            Err(code) => tracing::error!(%session, %code, "closing a session failed"),
        }
        self.sessions.remove(session);
        self.detach_session(session)
    }

    /// Forgets which connection carries `session` (closed or expired);
    /// returns that connection.
    pub(super) fn detach_session(&mut self, session: SessionId) -> Option<ConnectionId> {
        let connection = self.session_connections.remove(&session)?;
        self.tree.remove_session_watches(session);
        if let Some(state) = self.connections.get_mut(&connection) {
            state.session = None;
        }
        Some(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_carry_the_clock_and_stay_positive() {
        let first = initial_session_id(1_700_000_000_000, 0);
        assert!(first > 0);
        assert_ne!(first, initial_session_id(1_700_000_000_001, 0));
    }

    #[test]
    fn session_ids_of_two_members_never_collide() {
        let at = 1_700_000_000_000;
        assert_eq!(initial_session_id(at, 3) >> 56, 3);
        assert_ne!(initial_session_id(at, 1), initial_session_id(at, 2));
    }
}
