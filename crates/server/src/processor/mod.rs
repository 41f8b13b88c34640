//! The processor: the one task that owns the data tree.
//!
//! Every request of every connection arrives here in order and travels one
//! way: prepare (validate into a txn) → apply to the tree → hand the encoded
//! txn to the durability thread → release the reply and watch events once the
//! txn is durable (see [`release`]). Reads run against the tree directly and
//! are released behind any write they might reflect.
//!
//! - [`requests`]: turns each client request into tree calls and a reply.
//! - [`sessions`]: connect, reconnect, close and expiry of sessions.
//! - [`release`]: the queue that holds outputs until their txns are durable.
//! - `replication`: the ensemble driver; `zab_spans`: its per-round spans.
//! - `snapshot_schedule`: when the next snapshot is due.

mod release;
mod replication;
mod requests;
mod sessions;
mod snapshot_schedule;
mod zab_spans;

pub(crate) use replication::{Replica, StatusReport};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use datatree::{ApplyOutcome, AuthContext, DataTree, SessionTracker, Txn, TxnBody};
use proto::records::{ReplyHeader, WatcherEvent};
use proto::{ErrorCode, Id, KeeperState, Record, Response, SessionId, Zxid};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::time::Instant;

use crate::config::ServerConfig;
use crate::durability::{Durability, DurabilityEvent, DurabilityJob};
use crate::messages::{ConnectionId, Inbound, Outbound, Outbox};
use crate::stats::ServerStats;
use release::ReleaseQueue;
use snapshot_schedule::SnapshotSchedule;

/// Inbound messages (client requests, or frames from other members) handled
/// before the processor hands a batch to the log. Bounds how long one busy
/// loop iteration can delay an fsync.
pub const BATCH_MESSAGES_MAX: usize = 1_024;

/// What the processor knows of one live connection.
struct ConnectionState {
    peer: SocketAddr,
    session: Option<SessionId>,
    /// Identities this connection has proven (its ip, digests added by addauth).
    auth: AuthContext,
}

pub(crate) struct Processor {
    config: Arc<ServerConfig>,
    tree: DataTree,
    sessions: SessionTracker,
    connections: HashMap<ConnectionId, ConnectionState>,
    /// Kept apart from `connections` so the release queue can borrow it alone.
    outboxes: HashMap<ConnectionId, Outbox>,
    session_connections: HashMap<SessionId, ConnectionId>,
    release: ReleaseQueue,
    /// Txns applied but not yet handed to the durability thread.
    unlogged: Vec<(Zxid, Bytes)>,
    durability: Durability,
    snapshots: SnapshotSchedule,
    next_session_id: i64,
    /// Monotonic origin for session deadlines.
    started: Instant,
    next_container_check_ms: u64,
    stats: Arc<ServerStats>,
    /// `Some` in an ensemble: the replication core and what drives it.
    replica: Option<Replica>,
}

/// What the processor hears from the other members of its ensemble.
pub(crate) type PeerInbound = mpsc::Receiver<(u64, crate::ensemble::PeerFrame)>;

impl Processor {
    pub(crate) fn new(
        config: Arc<ServerConfig>,
        tree: DataTree,
        durability: Durability,
        recovered_txns: u64,
        stats: Arc<ServerStats>,
        replica: Option<Replica>,
    ) -> Processor {
        let mut sessions = SessionTracker::new(config.tick_ms as i64);
        // Sessions survive a restart; their clients could not ping while the
        // node was down, so each gets a full timeout from now, as ZooKeeper does.
        for (session, info) in tree.sessions() {
            sessions.add(session, info.timeout_ms, 0);
        }
        let durable = tree.last_zxid();
        // Counts are right from the first command, before any request arrives.
        stats.observe_tree(&tree, sessions.len());
        let server_id = config.ensemble.as_ref().map_or(0, |ensemble| ensemble.me);
        let next_session_id = sessions::initial_session_id(wall_clock_ms(), server_id);
        let snapshots = SnapshotSchedule::new(
            config.snapshot_every_txns,
            config.snapshot_scales_with_tree,
            recovered_txns,
            tree.node_count() as u64,
            rand::random(),
        );
        Processor {
            config,
            tree,
            sessions,
            connections: HashMap::new(),
            outboxes: HashMap::new(),
            session_connections: HashMap::new(),
            release: ReleaseQueue::new(durable),
            unlogged: Vec::new(),
            durability,
            snapshots,
            next_session_id,
            started: Instant::now(),
            next_container_check_ms: 0,
            stats,
            replica,
        }
    }

    /// Runs until `shutdown` flips or storage fails.
    pub(crate) async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut durability_events: mpsc::UnboundedReceiver<DurabilityEvent>,
        peer_inbound: Option<PeerInbound>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let mut ticker = tokio::time::interval(Duration::from_millis(
            (self.config.tick_ms as u64 / 2).clamp(10, 1_000),
        ));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let peer_tick_ms =
            self.config.ensemble.as_ref().map_or(1_000, |ensemble| ensemble.peer_tick_ms);
        let mut peer_ticker = tokio::time::interval(Duration::from_millis(peer_tick_ms.max(1)));
        peer_ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let replicated = self.replica.is_some();
        // Standalone there is no peer traffic: a channel that never yields.
        let (_no_peers, idle) = mpsc::channel(1);
        let mut peer_inbound = peer_inbound.unwrap_or(idle);
        if replicated && let Err(error) = self.start_replication() {
            return Err(error);
        }
        let result = loop {
            tokio::select! {
                biased;
                event = durability_events.recv() => match event {
                    Some(DurabilityEvent::Durable { generation, zxid }) => {
                        if let Err(error) = self.on_durable(generation, zxid) {
                            break Err(error);
                        }
                    }
                    Some(DurabilityEvent::Failed(error)) => break Err(error),
                    None => break Err("durability thread ended".to_string()),
                },
                Some(first) = peer_inbound.recv(), if replicated => {
                    if let Err(error) = self.handle_peer_frames(first, &mut peer_inbound) {
                        break Err(error);
                    }
                }
                _ = peer_ticker.tick(), if replicated => {
                    if let Err(error) = self.peer_tick() {
                        break Err(error);
                    }
                }
                message = inbound.recv() => {
                    let Some(message) = message else { break Ok(()) };
                    self.handle(message);
                    for _ in 1..BATCH_MESSAGES_MAX {
                        match inbound.try_recv() {
                            Ok(message) => self.handle(message),
                            Err(_) => break,
                        }
                    }
                }
                _ = ticker.tick() => self.on_tick(),
                _ = shutdown.changed() => break Ok(()),
            }
            self.flush_log();
            self.stats.observe_tree(&self.tree, self.sessions.len());
        };
        self.flush_log();
        self.durability.finish();
        result
    }

    /// `first` and the frames from other members queued behind it, up to
    /// [`BATCH_MESSAGES_MAX`], as client requests are taken in `run`: their
    /// txns reach the log, and their proposals the followers, in one hand-over
    /// rather than one wake-up of the durability thread and of each peer
    /// writer per frame.
    fn handle_peer_frames(
        &mut self,
        first: (u64, crate::ensemble::PeerFrame),
        queued: &mut PeerInbound,
    ) -> Result<(), String> {
        let (from, frame) = first;
        self.handle_peer_frame(broadcast::ServerId(from), frame)?;
        for _ in 1..BATCH_MESSAGES_MAX {
            let Ok((from, frame)) = queued.try_recv() else { break };
            self.handle_peer_frame(broadcast::ServerId(from), frame)?;
        }
        Ok(())
    }

    fn handle(&mut self, message: Inbound) {
        match message {
            Inbound::Connect { connection, peer, request, outbox } => {
                self.outboxes.insert(connection, outbox);
                self.connections.insert(
                    connection,
                    ConnectionState {
                        peer,
                        session: None,
                        auth: AuthContext {
                            ids: vec![Id::new("ip", peer.ip().to_string())],
                            is_super: false,
                        },
                    },
                );
                self.connect(connection, request);
            }
            Inbound::Request { connection, xid, request, permit } => {
                // Debug level: a disabled span costs one callsite check.
                let session = self.connections.get(&connection).and_then(|state| state.session);
                let span = tracing::debug_span!("request", op = ?request.op_code(), xid, session = session.map(|s| s.0), zxid = tracing::field::Empty);
                let _entered = span.enter();
                self.request(connection, xid, request, permit);
                span.record("zxid", self.tree.last_zxid().0);
            }
            Inbound::Unsupported { connection, xid, op_code, permit } => {
                tracing::debug!(connection, op_code, "unsupported opcode");
                self.reply_error(connection, xid, ErrorCode::Unimplemented, Some(permit));
            }
            Inbound::Closed { connection } => self.connection_closed(connection),
            Inbound::WatchesBySession { reply } => {
                let _ = reply.send(self.tree.watches_by_session());
            }
        }
    }

    /// The log is durable through `zxid` (if `generation` is the current storage's).
    fn on_durable(&mut self, generation: u64, zxid: Zxid) -> Result<(), String> {
        if generation != self.durability.generation() {
            return Ok(());
        }
        if self.replica.is_some() {
            return self.replica_durable(zxid);
        }
        self.release.advance(zxid, &self.outboxes);
        Ok(())
    }

    fn on_tick(&mut self) {
        if let Some(replica) = &self.replica {
            if replica.is_leader() {
                self.leader_tick();
            } else {
                self.send_touches();
            }
            return;
        }
        let now_ms = self.monotonic_ms();
        for session in self.sessions.expired(now_ms as i64) {
            tracing::info!(%session, "session expired");
            if let Some(connection) = self.close_session(session) {
                self.close_connection(connection, "session expired");
            }
        }
        if now_ms >= self.next_container_check_ms {
            self.next_container_check_ms = now_ms + self.config.container_check_interval_ms;
            for path in self.tree.expired_nodes(wall_clock_ms() as i64) {
                let context = self.system_context();
                if let Ok(body) =
                    self.tree.prepare(&datatree::WriteOp::DeleteContainer { path }, &context)
                {
                    self.commit(SessionId(0), body);
                }
            }
        }
    }

    /// Leader: sessions expire and empty containers go, through proposals.
    fn leader_tick(&mut self) {
        let now_ms = self.monotonic_ms();
        for session in self.sessions.expired(now_ms as i64) {
            tracing::info!(%session, "session expired");
            self.replicated_expire(session);
        }
        if now_ms >= self.next_container_check_ms {
            self.next_container_check_ms = now_ms + self.config.container_check_interval_ms;
            for path in self.tree.expired_nodes(wall_clock_ms() as i64) {
                self.replicated_delete_container(path);
            }
        }
    }

    /// Applies a prepared txn under the next zxid and queues it for the log.
    fn commit(&mut self, session: SessionId, body: TxnBody) -> (Zxid, ApplyOutcome) {
        let last = self.tree.last_zxid();
        // Counter exhaustion starts a new epoch, as a ZAB leader would.
        let zxid = last.next().unwrap_or(Zxid::new(last.epoch() + 1, 1));
        let txn = Txn { zxid, time_ms: wall_clock_ms() as i64, session, body };
        let outcome = self.tree.apply(&txn);
        self.unlogged.push((zxid, Bytes::from(txn.to_bytes())));
        for event in &outcome.events {
            if let Some(&connection) = self.session_connections.get(&event.session) {
                let notification = WatcherEvent {
                    event_type: event.event.code(),
                    state: KeeperState::SyncConnected.code(),
                    path: event.path.clone(),
                };
                self.release.push(
                    zxid,
                    connection,
                    Outbound::Notification(notification),
                    &self.outboxes,
                );
            }
        }
        self.count_applied_for_snapshot(zxid);
        (zxid, outcome)
    }

    /// Counts one txn applied (the tree is now as of `zxid`) and, when a
    /// snapshot is due, hands a view of the tree to the durability thread
    /// behind every txn it reflects.
    fn count_applied_for_snapshot(&mut self, zxid: Zxid) {
        if self.snapshots.applied(self.tree.node_count() as u64, rand::random) {
            self.flush_log();
            let view = self.tree.snapshot_view();
            self.durability.submit(DurabilityJob::Snapshot { zxid, view });
        }
    }

    fn flush_log(&mut self) {
        if !self.unlogged.is_empty() {
            self.durability.submit(DurabilityJob::Append(std::mem::take(&mut self.unlogged)));
        }
    }

    /// Queues a reply behind every txn applied so far.
    fn reply(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        zxid: Zxid,
        result: Result<Option<Response>, ErrorCode>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let (err, body) = match result {
            Ok(body) => (ErrorCode::Ok, body),
            Err(code) => (code, None),
        };
        let header = ReplyHeader { xid, zxid: zxid.0, err: err.code() };
        let barrier = self.tree.last_zxid();
        self.release.push(
            barrier,
            connection,
            Outbound::Reply { header, body, permit },
            &self.outboxes,
        );
    }

    fn reply_error(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        code: ErrorCode,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let zxid = self.tree.last_zxid();
        self.reply(connection, xid, zxid, Err(code), permit);
    }

    /// Closes a connection after everything queued for it has been written.
    fn close_connection(&mut self, connection: ConnectionId, reason: &'static str) {
        let barrier = self.tree.last_zxid();
        self.release.push(barrier, connection, Outbound::Close { reason }, &self.outboxes);
    }

    fn monotonic_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The context of txns the server issues itself (expiry, container cleanup).
    fn system_context(&self) -> datatree::RequestContext {
        datatree::RequestContext {
            session: SessionId(0),
            auth: AuthContext { ids: Vec::new(), is_super: true },
            now_ms: wall_clock_ms() as i64,
        }
    }
}

/// Wall-clock milliseconds: what ZooKeeper stores in ctime/mtime.
fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}
