//! Ensemble mode: the processor as the driver of the replication core.
//!
//! Standalone, the processor applies a write as soon as it is prepared. In
//! an ensemble the tree changes only when the `broadcast::Peer` says a
//! proposal is committed (`Action::Apply`), on every member alike:
//!
//! - the leader prepares writes on top of its outstanding (proposed, not yet
//!   committed) changes and proposes them; the replies wait in `waiting`
//!   until their zxid is applied;
//! - a follower forwards writes, session changes and syncs to the leader,
//!   which answers `Accepted` (the request became a zxid) or `Refused`; the
//!   follower answers its client when it has applied that zxid (or, for a
//!   refusal, everything the leader had proposed), so every reply reflects
//!   the member's own tree;
//! - a sync is a no-op proposal: its commit proves the leader still leads,
//!   which makes sync-then-read linearizable (ZooKeeper's is not);
//! - reads are served from the local tree, but never ahead of an earlier
//!   write of the same connection (per-connection FIFO: see `blocked`).
//!
//! Nothing is answered while the member is not serving (electing, syncing):
//! client connections are closed then and clients move to another member,
//! keeping their sessions, which are replicated state.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use broadcast::{Action, Peer, PeerMessage, Proposal, ProposeError, Role, ServerId};
use bytes::Bytes;
use datatree::{AuthContext, PendingChanges, RequestContext, Txn, TxnBody, WriteOp};
use proto::records::WatcherEvent;
use proto::{
    ErrorCode, Id, KeeperState, OpCode, Reader, Record, Request, Response, SessionId, Zxid,
};
use tokio::sync::{OwnedSemaphorePermit, watch};

use super::Processor;
use super::requests::{
    Planned, PlannedWrite, ReplyShape, is_write, plan_write, refusal_response, write_response,
};
use super::zab_spans::ZabSpans;
use crate::ensemble::epochs::EpochsFile;
use crate::ensemble::{ForwardedOp, PeerFrame, PeerLink, Refusal};
use crate::messages::{ConnectionId, Outbound};
use crate::recovery;
use crate::{Mode, NodeStatus, SyncKind};

/// Who on this member waits for the outcome of a write, a sync or a session change.
pub(super) enum Waiter {
    Write {
        connection: ConnectionId,
        xid: i32,
        shape: ReplyShape,
        permit: Option<OwnedSemaphorePermit>,
    },
    Sync {
        connection: ConnectionId,
        xid: i32,
        path: String,
        permit: Option<OwnedSemaphorePermit>,
    },
    Connect {
        connection: ConnectionId,
        session: SessionId,
        timeout_ms: i32,
        password: [u8; 16],
    },
    Close {
        connection: ConnectionId,
        xid: i32,
        permit: Option<OwnedSemaphorePermit>,
    },
}

impl Waiter {
    fn connection(&self) -> ConnectionId {
        match self {
            Waiter::Write { connection, .. }
            | Waiter::Sync { connection, .. }
            | Waiter::Connect { connection, .. }
            | Waiter::Close { connection, .. } => *connection,
        }
    }
}

/// A request held back so it cannot overtake an earlier write of its
/// connection; it holds its outstanding-request permit while it waits.
pub(super) struct Blocked {
    pub xid: i32,
    pub request: Request,
    pub permit: OwnedSemaphorePermit,
}

/// Where a member publishes its role: the status watch (`RunningServer::status`)
/// and the operations counters (`srvr`, `mntr`, `/readyz`).
pub(crate) struct StatusReport {
    pub status: watch::Sender<NodeStatus>,
    pub stats: std::sync::Arc<crate::ServerStats>,
}

/// The ensemble side of a processor.
pub(crate) struct Replica {
    pub(super) me: ServerId,
    pub(super) peer: Peer,
    pub(super) link: Box<dyn PeerLink>,
    pub(super) role: Role,
    epochs: EpochsFile,
    /// Leader: changes proposed but not yet applied, seen by prepare.
    pub(super) outstanding: PendingChanges,
    /// Leader: the last zxid proposed, the barrier of a refusal.
    last_proposed: Zxid,
    /// Proposals appended to the log and not yet applied, oldest first: what
    /// a fast-forward applies when the member leaves its role.
    unapplied: VecDeque<Proposal>,
    /// zxid → the local client waiting for it to be applied.
    waiting: HashMap<Zxid, Waiter>,
    /// Forwarded request id → the local client, until the leader answers.
    forwarded: HashMap<u64, Waiter>,
    next_request: u64,
    /// Refused writes to answer once the tree reaches everything the leader
    /// had proposed when it refused them, in arrival order (barriers never
    /// decrease: the leader's last proposal only grows).
    barriers: VecDeque<(Zxid, Waiter, Refusal)>,
    /// Follower: sessions with traffic since the last touch sent to the leader.
    touched: HashSet<SessionId>,
    /// Per connection: writes in flight, and requests waiting behind them.
    pub(super) in_flight: HashMap<ConnectionId, usize>,
    pub(super) blocked: HashMap<ConnectionId, VecDeque<Blocked>>,
    data_dir: PathBuf,
    status: StatusReport,
    /// How the storage was changed since the member last left its role.
    sync_since_looking: SyncKind,
    last_sync: Option<SyncKind>,
    /// When the member last started looking: election time is measured to serving.
    looking_since: Option<std::time::Instant>,
    /// Leader: open proposal and learner-sync spans.
    zab_spans: ZabSpans,
}

impl Replica {
    pub(crate) fn new(
        me: ServerId,
        peer: Peer,
        link: Box<dyn PeerLink>,
        data_dir: PathBuf,
        last_zxid: Zxid,
        status: StatusReport,
    ) -> Replica {
        Replica {
            me,
            peer,
            link,
            role: Role::Looking,
            epochs: EpochsFile::new(&data_dir),
            outstanding: PendingChanges::new(),
            last_proposed: last_zxid,
            unapplied: VecDeque::new(),
            waiting: HashMap::new(),
            forwarded: HashMap::new(),
            next_request: 0,
            barriers: VecDeque::new(),
            touched: HashSet::new(),
            in_flight: HashMap::new(),
            blocked: HashMap::new(),
            data_dir,
            status,
            sync_since_looking: SyncKind::Diff,
            last_sync: None,
            looking_since: Some(std::time::Instant::now()),
            zab_spans: ZabSpans::default(),
        }
    }

    pub(super) fn serving(&self) -> bool {
        matches!(
            self.role,
            Role::Leading { serving: true, .. }
                | Role::Following { serving: true, .. }
                | Role::Observing { serving: true, .. }
        )
    }

    pub(super) fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leading { serving: true, .. })
    }

    /// `synced_followers` / `pending_syncs` for `mntr` and `/metrics`: refreshed
    /// once per tick (cheap: one pass over the leader's learners), zero off the leader.
    fn publish_learner_counts(&self) {
        let counts = self.peer.learner_counts().unwrap_or_default();
        self.status.stats.set_synced_followers(counts.synced_followers);
        self.status.stats.set_pending_syncs(counts.pending_syncs);
    }

    fn leader(&self) -> Option<ServerId> {
        match self.role {
            Role::Following { leader, .. } | Role::Observing { leader, .. } => Some(leader),
            Role::Leading { .. } => Some(self.me),
            Role::Looking => None,
        }
    }
}

/// True for requests that change replicated state or order against it.
fn is_ordered(request: &Request) -> bool {
    is_write(request) || matches!(request, Request::Sync(_) | Request::CloseSession)
}

/// A client's write as a follower sends it to the leader.
pub(super) fn forwarded_op(request: &Request) -> ForwardedOp {
    let mut writer = proto::Writer::new();
    request.encode(&mut writer);
    ForwardedOp::Request { op_code: request.op_code().code(), body: writer.into_bytes() }
}

impl Processor {
    pub(super) fn replica(&mut self) -> &mut Replica {
        self.replica.as_mut().expect("ensemble mode")
    }

    /// Starts the replication core (the first election).
    pub(super) fn start_replication(&mut self) -> Result<(), String> {
        let actions = self.replica().peer.start();
        self.execute(actions)
    }

    pub(super) fn peer_tick(&mut self) -> Result<(), String> {
        let actions = self.replica().peer.tick();
        self.execute(actions)?;
        self.replica().publish_learner_counts();
        // A dead leader closes its connections; noticing that now rather
        // than after the sync limit's silence is most of a fast failover.
        let replica = self.replica();
        if let Role::Following { leader, serving: true, .. }
        | Role::Observing { leader, serving: true, .. } = replica.role
            && !replica.link.is_connected(leader)
        {
            tracing::info!(%leader, "lost the connection to the leader");
            let actions = replica.peer.on_peer_lost(leader);
            self.execute(actions)?;
        }
        let replica = self.replica();
        if replica.role == Role::Looking {
            let me = replica.peer.config().election.me;
            let unreachable: Vec<ServerId> = replica
                .peer
                .config()
                .election
                .quorum
                .voters
                .iter()
                .copied()
                .filter(|voter| *voter != me && !replica.link.is_connected(*voter))
                .collect();
            for voter in unreachable {
                let actions = self.replica().peer.on_peer_unreachable(voter);
                self.execute(actions)?;
            }
        }
        Ok(())
    }

    /// The log is durable through `zxid` (ensemble mode).
    pub(super) fn replica_durable(&mut self, zxid: Zxid) -> Result<(), String> {
        let actions = self.replica().peer.on_append_done(zxid);
        self.execute(actions)
    }

    /// Per-connection FIFO in ensemble mode: a request that must not overtake
    /// an earlier in-flight write of its connection is queued (`None`); any
    /// other comes back to be run now.
    pub(super) fn hold_back(
        &mut self,
        connection: ConnectionId,
        request: Blocked,
    ) -> Option<Blocked> {
        let replica = self.replica();
        let in_flight = replica.in_flight.get(&connection).copied().unwrap_or(0);
        let queue = replica.blocked.entry(connection).or_default();
        let must_wait = !queue.is_empty() || (in_flight > 0 && !is_ordered(&request.request));
        if !must_wait {
            return Some(request);
        }
        // Bounded: each queued request holds one of its connection's
        // outstanding-request permits.
        queue.push_back(request);
        None
    }

    /// One write of `connection` is answered: run what waited behind it.
    fn write_done(&mut self, connection: ConnectionId) {
        let replica = self.replica();
        if let Some(count) = replica.in_flight.get_mut(&connection) {
            *count = count.saturating_sub(1);
        }
        loop {
            let replica = self.replica();
            let in_flight = replica.in_flight.get(&connection).copied().unwrap_or(0);
            let Some(queue) = replica.blocked.get_mut(&connection) else { return };
            let runnable =
                queue.front().is_some_and(|front| in_flight == 0 || is_ordered(&front.request));
            if !runnable {
                return;
            }
            let Blocked { xid, request, permit } = queue.pop_front().expect("front exists");
            self.dispatch(connection, xid, request, permit);
        }
    }

    fn track(&mut self, connection: ConnectionId) {
        *self.replica().in_flight.entry(connection).or_default() += 1;
    }

    /// A write of a local client: proposed here on the leader, else sent on
    /// as `forward` (see [`Processor::forwards_writes`]).
    pub(super) fn replicated_write(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        plan: PlannedWrite,
        forward: Option<ForwardedOp>,
        context: &RequestContext,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        self.track(connection);
        let waiter = Waiter::Write { connection, xid, shape: plan.shape(), permit };
        match forward {
            Some(op) => self.forward(context, op, waiter),
            None => match self.propose_planned(&plan, context) {
                Ok(zxid) => {
                    self.replica().waiting.insert(zxid, waiter);
                }
                Err(refusal) => self.wait_for_barrier(waiter, refusal),
            },
        }
    }

    /// True on an ensemble member that is not the leader: its clients' writes
    /// go to the leader.
    pub(super) fn forwards_writes(&self) -> bool {
        self.replica.as_ref().is_some_and(|replica| !replica.is_leader())
    }

    pub(super) fn replicated_sync(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        path: String,
        context: &RequestContext,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        self.track(connection);
        let waiter = Waiter::Sync { connection, xid, path, permit };
        if self.replica().is_leader() {
            match self.propose_sync_marker() {
                Ok(zxid) => {
                    self.replica().waiting.insert(zxid, waiter);
                }
                Err(refusal) => self.wait_for_barrier(waiter, refusal),
            }
        } else {
            self.forward(context, ForwardedOp::Sync, waiter);
        }
    }

    pub(super) fn replicated_close(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        context: &RequestContext,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        self.track(connection);
        let waiter = Waiter::Close { connection, xid, permit };
        self.submit_session_change(context, ForwardedOp::CloseSession, waiter);
    }

    pub(super) fn replicated_connect(
        &mut self,
        connection: ConnectionId,
        session: SessionId,
        timeout_ms: i32,
        password: [u8; 16],
        context: &RequestContext,
    ) {
        self.track(connection);
        let waiter = Waiter::Connect { connection, session, timeout_ms, password };
        let op = ForwardedOp::CreateSession { timeout_ms, password };
        self.submit_session_change(context, op, waiter);
    }

    /// Leader: a session closed by expiry; no one waits for it here.
    pub(super) fn replicated_expire(&mut self, session: SessionId) {
        let context = RequestContext {
            session,
            auth: AuthContext { ids: Vec::new(), is_super: true },
            now_ms: super::wall_clock_ms() as i64,
        };
        let _ = self.propose_op(&WriteOp::CloseSession, &context);
    }

    /// Leader: an empty container or expired TTL node to remove.
    pub(super) fn replicated_delete_container(&mut self, path: String) {
        let context = self.system_context();
        let _ = self.propose_op(&WriteOp::DeleteContainer { path }, &context);
    }

    fn submit_session_change(&mut self, context: &RequestContext, op: ForwardedOp, waiter: Waiter) {
        if self.replica().is_leader() {
            let write = session_write_op(&op).expect("a session change");
            match self.propose_op(&write, context) {
                Ok(zxid) => {
                    self.replica().waiting.insert(zxid, waiter);
                }
                Err(refusal) => self.wait_for_barrier(waiter, refusal),
            }
        } else {
            self.forward(context, op, waiter);
        }
    }

    fn forward(&mut self, context: &RequestContext, op: ForwardedOp, waiter: Waiter) {
        let replica = self.replica();
        let Some(leader) = replica.leader() else {
            let connection = waiter.connection();
            self.close_connection(connection, "no leader");
            return;
        };
        let request = replica.next_request;
        replica.next_request += 1;
        replica.forwarded.insert(request, waiter);
        let frame = PeerFrame::Forward {
            request,
            session: context.session.0,
            auth: context.auth.ids.iter().map(|id| (id.scheme.clone(), id.id.clone())).collect(),
            is_super: context.auth.is_super,
            op,
        };
        replica.link.send(leader, frame);
    }

    fn wait_for_barrier(&mut self, waiter: Waiter, refusal: Refusal) {
        let barrier = self.replica().last_proposed;
        self.replica().barriers.push_back((barrier, waiter, refusal));
        self.release_barriers();
    }

    /// Leader: a sync goes through a quorum round, unlike ZooKeeper's (whose
    /// sync a deposed leader can answer, so sync-then-read is not
    /// linearizable there: ZOOKEEPER-1675). The marker is a txn that changes
    /// nothing; once a member has applied it, its reads reflect every write
    /// committed before the sync reached the leader, and the commit proves
    /// this leader still led at that moment.
    fn propose_sync_marker(&mut self) -> Result<Zxid, Refusal> {
        let zxid = self.next_proposal_zxid()?;
        self.propose_body(zxid, SessionId(0), TxnBody::Multi(Vec::new()))
    }

    /// The zxid the next proposal gets; a member that is not the serving
    /// leader refuses with ConnectionLoss, as ZooKeeper's clients expect.
    fn next_proposal_zxid(&mut self) -> Result<Zxid, Refusal> {
        self.replica().peer.next_zxid().ok_or(Refusal::Error(ErrorCode::ConnectionLoss.code()))
    }

    fn propose_planned(
        &mut self,
        plan: &PlannedWrite,
        context: &RequestContext,
    ) -> Result<Zxid, Refusal> {
        let zxid = self.next_proposal_zxid()?;
        let body = self.prepare_write(plan, context, Some(zxid))?;
        self.propose_body(zxid, context.session, body)
    }

    fn propose_op(&mut self, op: &WriteOp, context: &RequestContext) -> Result<Zxid, Refusal> {
        let zxid = self.next_proposal_zxid()?;
        let replica = self.replica.as_mut().expect("ensemble mode");
        let body = self
            .tree
            .prepare_outstanding(&mut replica.outstanding, zxid, op, context)
            .map_err(|code| Refusal::Error(code.code()))?;
        self.propose_body(zxid, context.session, body)
    }

    fn propose_body(
        &mut self,
        zxid: Zxid,
        session: SessionId,
        body: TxnBody,
    ) -> Result<Zxid, Refusal> {
        let txn = Txn { zxid, time_ms: super::wall_clock_ms() as i64, session, body };
        let bytes = Bytes::from(txn.to_bytes());
        match self.replica().peer.propose(bytes) {
            Ok((assigned, actions)) => {
                debug_assert_eq!(assigned, zxid, "next_zxid and propose agree");
                let replica = self.replica();
                replica.last_proposed = zxid;
                replica.zab_spans.proposed(zxid, &txn.body);
                if let Err(error) = self.execute(actions) {
                    tracing::error!(%error, "replication failed");
                }
                Ok(zxid)
            }
            Err(ProposeError::NotLeader | ProposeError::EpochExhausted) => {
                // The prepared changes will never be applied.
                self.replica().outstanding.clear();
                Err(Refusal::Error(ErrorCode::ConnectionLoss.code()))
            }
        }
    }

    /// A frame from another member.
    pub(super) fn handle_peer_frame(
        &mut self,
        from: ServerId,
        frame: PeerFrame,
    ) -> Result<(), String> {
        match frame {
            PeerFrame::Zab(message) => {
                let actions = self.replica().peer.handle_message(from, message);
                self.execute(actions)?;
            }
            PeerFrame::Forward { request, session, auth, is_super, op } => {
                let context = RequestContext {
                    session: SessionId(session),
                    auth: AuthContext {
                        ids: auth.into_iter().map(|(scheme, id)| Id::new(scheme, id)).collect(),
                        is_super,
                    },
                    now_ms: super::wall_clock_ms() as i64,
                };
                self.handle_forward(from, request, context, op);
            }
            PeerFrame::Accepted { request, zxid } => {
                if let Some(waiter) = self.replica().forwarded.remove(&request) {
                    if zxid <= self.tree.last_zxid() {
                        // Cannot happen over one ordered stream; answer rather than hang.
                        tracing::warn!(%zxid, "accepted after it was applied");
                        self.resolve(waiter, Err(Refusal::Error(ErrorCode::ConnectionLoss.code())));
                    } else {
                        self.replica().waiting.insert(zxid, waiter);
                    }
                }
            }
            PeerFrame::Refused { request, refusal, barrier } => {
                if let Some(waiter) = self.replica().forwarded.remove(&request) {
                    self.replica().barriers.push_back((barrier, waiter, refusal));
                    self.release_barriers();
                }
            }
            PeerFrame::Touch { sessions } => {
                if self.replica().is_leader() {
                    let now_ms = self.monotonic_ms() as i64;
                    for session in sessions {
                        self.sessions.touch(SessionId(session), now_ms);
                    }
                }
            }
        }
        Ok(())
    }

    /// Leader: order a follower's request.
    fn handle_forward(
        &mut self,
        from: ServerId,
        request: u64,
        context: RequestContext,
        op: ForwardedOp,
    ) {
        if !self.replica().is_leader() {
            // The follower will see the leadership change and drop its clients.
            return;
        }
        let outcome = match &op {
            ForwardedOp::Sync => self.propose_sync_marker(),
            ForwardedOp::CreateSession { .. } | ForwardedOp::CloseSession => {
                let write = session_write_op(&op).expect("a session change");
                self.propose_op(&write, &context)
            }
            ForwardedOp::Request { op_code, body } => match decode_forwarded(*op_code, body) {
                Some(Ok(plan)) => self.propose_planned(&plan, &context),
                Some(Err(code)) => Err(Refusal::Error(code.code())),
                None => Err(Refusal::Error(ErrorCode::BadArguments.code())),
            },
        };
        let frame = match outcome {
            Ok(zxid) => PeerFrame::Accepted { request, zxid },
            Err(refusal) => {
                let barrier = self.replica().last_proposed;
                PeerFrame::Refused { request, refusal, barrier }
            }
        };
        self.replica().link.send(from, frame);
    }

    /// Carries out the core's actions, in order.
    pub(super) fn execute(&mut self, actions: Vec<Action>) -> Result<(), String> {
        for action in actions {
            match action {
                Action::Send { to, message } => {
                    let replica = self.replica();
                    replica.zab_spans.sending(to, &message);
                    replica.link.send(to, PeerFrame::Zab(message))
                }
                Action::PersistEpochs(epochs) => {
                    self.replica().epochs.store(epochs).map_err(|error| error.to_string())?
                }
                Action::Append(proposals) => {
                    for proposal in proposals {
                        self.unlogged.push((proposal.zxid, proposal.txn.clone()));
                        self.replica().unapplied.push_back(proposal);
                    }
                }
                Action::Truncate { zxid } => self.rebuild(Rebuild::Truncate(zxid))?,
                Action::InstallSnapshot { zxid, snapshot } => {
                    self.rebuild(Rebuild::Snapshot(zxid, snapshot))?
                }
                Action::Reset => self.rebuild(Rebuild::Reset)?,
                Action::SendSnapshot { to } => {
                    let zxid = self.tree.last_zxid();
                    let snapshot = Bytes::from(self.tree.serialize_snapshot());
                    self.replica().zab_spans.sync_started(to, "snap");
                    self.replica()
                        .link
                        .send(to, PeerFrame::Zab(PeerMessage::Snap { zxid, snapshot }));
                }
                Action::Apply(proposals) => {
                    for proposal in proposals {
                        self.apply_committed(&proposal)?;
                    }
                }
                Action::RoleChanged(role) => self.role_changed(role)?,
            }
        }
        Ok(())
    }

    fn apply_committed(&mut self, proposal: &Proposal) -> Result<(), String> {
        let txn = Txn::from_bytes(&proposal.txn)
            .map_err(|error| format!("committed txn {} is unreadable: {error}", proposal.zxid))?;
        if txn.zxid <= self.tree.last_zxid() {
            // The core hands each proposal over once; a repeat is a core bug,
            // and applying it twice would corrupt the tree.
            tracing::error!(zxid = %txn.zxid, applied = %self.tree.last_zxid(), "skipping a txn applied before");
            return Ok(());
        }
        let outcome = self.tree.apply(&txn);
        let applied = self.tree.last_zxid();
        let replica = self.replica();
        replica.zab_spans.committed(applied);
        replica.outstanding.applied_through(applied);
        while replica.unapplied.front().is_some_and(|front| front.zxid <= applied) {
            replica.unapplied.pop_front();
        }
        self.release.advance(applied, &self.outboxes);
        for event in &outcome.events {
            if let Some(&connection) = self.session_connections.get(&event.session) {
                let notification = WatcherEvent {
                    event_type: event.event.code(),
                    state: KeeperState::SyncConnected.code(),
                    path: event.path.clone(),
                };
                self.release.push(
                    applied,
                    connection,
                    Outbound::Notification(notification),
                    &self.outboxes,
                );
            }
        }
        self.track_session_change(&txn);
        if let Some(waiter) = self.replica().waiting.remove(&applied) {
            self.resolve(waiter, Ok(outcome.result));
        } else if matches!(txn.body, TxnBody::CloseSession)
            && let Some(connection) = self.session_connections.get(&txn.session).copied()
        {
            // Expired by the leader (or closed through another member).
            self.detach_session(txn.session);
            self.close_connection(connection, "session expired");
        }
        self.release_barriers();
        self.count_applied_for_snapshot(applied);
        Ok(())
    }

    /// The leader tracks every session's expiry, wherever its client is.
    fn track_session_change(&mut self, txn: &Txn) {
        let now_ms = self.monotonic_ms() as i64;
        match &txn.body {
            TxnBody::CreateSession { timeout_ms, .. } if self.replica().is_leader() => {
                self.sessions.add(txn.session, *timeout_ms, now_ms);
            }
            TxnBody::CloseSession => self.sessions.remove(txn.session),
            _ => {}
        }
    }

    fn release_barriers(&mut self) {
        let applied = self.tree.last_zxid();
        while self.replica().barriers.front().is_some_and(|(barrier, _, _)| *barrier <= applied) {
            let (_, waiter, refusal) = self.replica().barriers.pop_front().expect("front exists");
            self.resolve(waiter, Err(refusal));
        }
    }

    /// Answers a local client: `Ok` with the applied txn's result, or the
    /// leader's refusal.
    fn resolve(
        &mut self,
        waiter: Waiter,
        outcome: Result<Result<datatree::TxnResult, ErrorCode>, Refusal>,
    ) {
        let zxid = self.tree.last_zxid();
        match waiter {
            Waiter::Write { connection, xid, shape, permit } => {
                let result = match outcome {
                    Ok(result) => write_response(result, &shape),
                    Err(refusal) => refusal_response(&refusal),
                };
                self.reply(connection, xid, zxid, result, permit);
                self.write_done(connection);
            }
            Waiter::Sync { connection, xid, path, permit } => {
                let result = match outcome {
                    Ok(_) => Ok(Some(Response::Sync { path })),
                    Err(refusal) => refusal_response(&refusal),
                };
                self.reply(connection, xid, zxid, result, permit);
                self.write_done(connection);
            }
            Waiter::Connect { connection, session, timeout_ms, password } => {
                self.write_done(connection);
                if !self.connections.contains_key(&connection) {
                    return;
                }
                match outcome {
                    Ok(Ok(_)) => self.session_created(connection, session, timeout_ms, &password),
                    _ => self.close_connection(connection, "session creation refused"),
                }
            }
            Waiter::Close { connection, xid, permit } => {
                let session = self.connections.get(&connection).and_then(|state| state.session);
                if let Some(session) = session {
                    self.detach_session(session);
                }
                self.reply(connection, xid, zxid, Ok(None), permit);
                self.write_done(connection);
                self.close_connection(connection, "session closed by the client");
            }
        }
    }

    fn role_changed(&mut self, role: Role) -> Result<(), String> {
        let previous = std::mem::replace(&mut self.replica().role, role);
        tracing::info!(?previous, ?role, "ensemble role changed");
        let (mode, serving) = match role {
            Role::Looking => (Mode::Looking, false),
            Role::Leading { serving, .. } => (Mode::Leader, serving),
            Role::Following { serving, .. } => (Mode::Follower, serving),
            Role::Observing { serving, .. } => (Mode::Observer, serving),
        };
        let replica = self.replica();
        if serving && matches!(mode, Mode::Follower | Mode::Observer) {
            replica.last_sync = Some(replica.sync_since_looking);
        }
        if mode == Mode::Looking {
            replica.sync_since_looking = SyncKind::Diff;
        }
        let last_sync = replica.last_sync;
        let _ = replica.status.status.send(NodeStatus { mode, serving, last_sync });
        // Operators see a member that is not serving yet as looking.
        replica.status.stats.set_mode(if serving { mode } else { Mode::Looking });
        match role {
            Role::Looking => replica.looking_since = Some(std::time::Instant::now()),
            _ if serving => {
                if let Some(started) = replica.looking_since.take() {
                    replica.status.stats.record_election(started.elapsed());
                }
            }
            _ => {}
        }
        match role {
            Role::Looking => {
                self.replica().zab_spans.clear();
                self.drop_clients();
                // ZooKeeper's fastForwardDataBase: the tree is again snapshot +
                // whole log; a new leader's TRUNC or SNAP corrects it if needed.
                let unapplied: Vec<Proposal> = self.replica().unapplied.drain(..).collect();
                for proposal in unapplied {
                    let txn = Txn::from_bytes(&proposal.txn).map_err(|error| {
                        format!("logged txn {} is unreadable: {error}", proposal.zxid)
                    })?;
                    if txn.zxid > self.tree.last_zxid() {
                        self.tree.apply(&txn);
                    }
                }
                let applied = self.tree.last_zxid();
                self.release.advance(applied, &self.outboxes);
                self.replica().outstanding.clear();
                self.sessions = datatree::SessionTracker::new(self.config.tick_ms as i64);
            }
            Role::Leading { serving: true, .. } => {
                // Clients could not reach the old leader while it failed: every
                // session gets a full timeout from now, as ZooKeeper does.
                let now_ms = self.monotonic_ms() as i64;
                let sessions: Vec<_> =
                    self.tree.sessions().map(|(id, info)| (id, info.timeout_ms)).collect();
                for (session, timeout_ms) in sessions {
                    self.sessions.add(session, timeout_ms, now_ms);
                }
                let applied = self.tree.last_zxid();
                self.replica().last_proposed = applied;
            }
            _ => {}
        }
        Ok(())
    }

    /// Leaving a serving role: every local client is disconnected (it will
    /// reconnect to a serving member with its session), nothing in flight
    /// will be answered here.
    fn drop_clients(&mut self) {
        let replica = self.replica();
        replica.waiting.clear();
        replica.forwarded.clear();
        replica.barriers.clear();
        replica.blocked.clear();
        replica.in_flight.clear();
        replica.touched.clear();
        let connections: Vec<ConnectionId> = self.connections.keys().copied().collect();
        for connection in connections {
            self.close_connection(connection, "member is not serving");
        }
    }

    /// Follower: tell the leader which sessions are alive.
    pub(super) fn send_touches(&mut self) {
        let replica = self.replica();
        if replica.is_leader() || replica.touched.is_empty() {
            return;
        }
        let Some(leader) = replica.leader() else { return };
        let sessions = replica.touched.drain().map(|session| session.0).collect();
        replica.link.send(leader, PeerFrame::Touch { sessions });
    }

    pub(super) fn note_touch(&mut self, session: SessionId) {
        let now_ms = self.monotonic_ms() as i64;
        let replica = self.replica();
        if replica.is_leader() {
            self.sessions.touch(session, now_ms);
        } else {
            replica.touched.insert(session);
        }
    }

    /// The log was cut back or replaced: storage is rebuilt and the tree
    /// recovered from it, as at a restart.
    fn rebuild(&mut self, change: Rebuild) -> Result<(), String> {
        self.flush_log();
        let data_dir = self.replica().data_dir.clone();
        let options = self.config.log_options();
        let mut rebuilt = None;
        self.durability.restart(|| -> Result<_, String> {
            change.apply(&data_dir, options).map_err(|error| error.to_string())?;
            let recovered =
                recovery::recover(&data_dir, options).map_err(|error| error.to_string())?;
            rebuilt = Some((recovered.tree, recovered.replayed_txns));
            let log: Box<dyn storage::TxnLog> = Box::new(recovered.log);
            let snapshots: Box<dyn storage::SnapshotStore> = Box::new(recovered.snapshots);
            Ok((log, snapshots))
        })?;
        let (tree, replayed) = rebuilt.expect("rebuild ran");
        self.replica().sync_since_looking = match change {
            Rebuild::Snapshot(..) => SyncKind::Snap,
            Rebuild::Reset => SyncKind::Trunc,
            Rebuild::Truncate(_) if self.replica().sync_since_looking == SyncKind::Snap => {
                SyncKind::Snap
            }
            Rebuild::Truncate(_) => SyncKind::Trunc,
        };
        tracing::info!(last_zxid = %tree.last_zxid(), "storage rebuilt for the new leader's history");
        self.tree = tree;
        self.snapshots.restart(replayed, self.tree.node_count() as u64);
        self.release.reset(self.tree.last_zxid());
        let replica = self.replica();
        replica.unapplied.clear();
        replica.outstanding.clear();
        Ok(())
    }
}

/// How a new leader's history changes this member's storage.
enum Rebuild {
    /// Drop every logged txn above this zxid.
    Truncate(Zxid),
    /// Replace everything by this snapshot.
    Snapshot(Zxid, Bytes),
    /// Drop every snapshot and the whole log: the empty state.
    Reset,
}

impl Rebuild {
    fn apply(
        &self,
        data_dir: &std::path::Path,
        options: storage::LogOptions,
    ) -> Result<(), storage::StorageError> {
        use storage::{SnapshotStore, TxnLog};
        let open_log =
            || storage::FileTxnLog::open(&data_dir.join(recovery::LOG_DIRECTORY), options);
        match self {
            Rebuild::Truncate(zxid) => open_log()?.truncate_after(zxid.0),
            Rebuild::Snapshot(zxid, snapshot) => {
                // The snapshot first: a crash between the two leaves it and
                // the old log, which the next sync corrects; the other order
                // could leave neither.
                let mut snapshots =
                    storage::RedbSnapshotStore::open(&data_dir.join(recovery::SNAPSHOT_FILE))?;
                snapshots.save(zxid.0, snapshot)?;
                let mut log = open_log()?;
                log.truncate_after(zxid.0)?;
                log.purge_before(zxid.0)
            }
            Rebuild::Reset => {
                // Storage is closed while the durability thread is stopped;
                // recovery recreates both, empty.
                let remove = |result: std::io::Result<()>| match result {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        Err(storage::StorageError::from(error))
                    }
                    _ => Ok(()),
                };
                remove(std::fs::remove_file(data_dir.join(recovery::SNAPSHOT_FILE)))?;
                remove(std::fs::remove_dir_all(data_dir.join(recovery::LOG_DIRECTORY)))
            }
        }
    }
}

fn session_write_op(op: &ForwardedOp) -> Option<WriteOp> {
    match op {
        ForwardedOp::CreateSession { timeout_ms, password } => {
            Some(WriteOp::CreateSession { timeout_ms: *timeout_ms, password: *password })
        }
        ForwardedOp::CloseSession => Some(WriteOp::CloseSession),
        _ => None,
    }
}

/// A forwarded client request back into a plan; `None` if it is not a write.
fn decode_forwarded(op_code: i32, body: &[u8]) -> Option<Result<PlannedWrite, ErrorCode>> {
    let op_code = OpCode::from_code(op_code).ok()?;
    let mut reader = Reader::new(body);
    let request = Request::decode(op_code, &mut reader).ok()?;
    match plan_write(request) {
        Planned::Write(plan) => Some(plan),
        Planned::NotAWrite(_) => None,
    }
}
