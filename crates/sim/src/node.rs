//! One simulated server: the real `broadcast::Peer` and `datatree::DataTree`
//! driven as the `Action` contract demands, a simulated disk, and the
//! client-facing request flow: reads are served from the local tree; writes
//! go to the leader (forwarded over the simulated network), which prepares
//! one write at a time against its applied tree (no pending-change overlay
//! yet, so no pipelining), proposes it, and the client's own server answers
//! once it has applied the txn.

use std::collections::{BTreeMap, VecDeque};

use broadcast::{Action, Peer, PeerConfig, PeerMessage, Proposal, Recovered, Role, ServerId};
use bytes::Bytes;
use datatree::{AuthContext, DataTree, RequestContext, Txn, TxnBody, TxnResult, WriteOp};
use proto::{Acl, CreateMode, ErrorCode, Record, Zxid};

use crate::disk::{Disk, DiskConfig, Snapshot, TxnId, txn_id};
use crate::history::ClientId;
use crate::rng::SimRng;
use crate::violation::{Broken, Invariant};
use crate::wire::{
    ClientWrite, RequestTag, SimMessage, WriteRequest, decode_payload, decode_snapshot,
    encode_payload, encode_snapshot,
};

/// The session timeout every simulated client asks for.
const SESSION_TIMEOUT_MS: i32 = 30_000;
/// Milliseconds per tick for txn timestamps (the server's tick is 10 ms).
const TICK_MS: i64 = 10;

/// What a server answers a client write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteReply {
    Done {
        zxid: Zxid,
        result: Result<TxnResult, ErrorCode>,
    },
    /// The server lost its leader or role: the write may or may not happen.
    ConnectionLoss,
}

/// What a server hands its driver besides state changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    Send {
        to: ServerId,
        message: SimMessage,
    },
    Reply {
        tag: RequestTag,
        reply: WriteReply,
    },
    RoleChanged(Role),
    /// Proposals logged here (the checkers archive every payload, since
    /// snapshots replace logs and carry only txn ids).
    Appended(Vec<Proposal>),
    /// A watch fired for `session` by the txn at `zxid`.
    Watch {
        session: proto::SessionId,
        path: String,
        zxid: Zxid,
    },
    /// Txns were applied as committed: the order checker looks at `history`.
    Committed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// For the txn carrying this tag to be applied here.
    Apply,
    /// Refused by the leader: answer once this server has applied `zxid`.
    CaughtUp { zxid: Zxid, code: ErrorCode },
}

pub struct Node {
    pub id: ServerId,
    config: PeerConfig,
    peer: Option<Peer>,
    pub disk: Disk,
    tree: DataTree,
    /// The txns `tree` reflects, in order (snapshot's, then applied log).
    history: Vec<TxnId>,
    role: Role,
    waiting: BTreeMap<RequestTag, Waiting>,
    /// Leader: writes not yet prepared.
    queue: VecDeque<WriteRequest>,
    /// Leader: the last proposal, which must be applied before the next
    /// write is prepared against the tree.
    in_flight: Option<Zxid>,
    /// Leader: the newest request taken per client, so that a forwarded
    /// write the network duplicated is not proposed twice (a client never
    /// reuses a tag and issues tags in increasing order).
    newest_taken: BTreeMap<ClientId, u64>,
    outbox: Vec<NodeEvent>,
}

fn broken(detail: String) -> Broken {
    Broken::new(Invariant::DriverContract, detail)
}

impl Node {
    pub fn new(id: ServerId, config: PeerConfig, disk: DiskConfig) -> Node {
        let empty = Bytes::from(DataTree::new().serialize_snapshot());
        Node {
            id,
            config,
            peer: None,
            disk: Disk::new(disk, empty),
            tree: DataTree::new(),
            history: Vec::new(),
            role: Role::Looking,
            waiting: BTreeMap::new(),
            queue: VecDeque::new(),
            in_flight: None,
            newest_taken: BTreeMap::new(),
            outbox: Vec::new(),
        }
    }

    pub fn is_up(&self) -> bool {
        self.peer.is_some()
    }

    pub fn role(&self) -> Option<Role> {
        self.peer.as_ref().map(|_| self.role)
    }

    pub fn serving(&self) -> bool {
        self.is_up()
            && matches!(
                self.role,
                Role::Leading { serving: true, .. } | Role::Following { serving: true, .. }
            )
    }

    pub fn history(&self) -> &[TxnId] {
        &self.history
    }

    pub fn last_applied(&self) -> Zxid {
        self.history.last().map_or(Zxid::ZERO, |id| id.0)
    }

    pub fn digest(&self) -> u64 {
        self.tree.digest()
    }

    pub fn take_events(&mut self) -> Vec<NodeEvent> {
        std::mem::take(&mut self.outbox)
    }

    /// Starts from what the disk holds: rebuild the tree, recover the peer.
    pub fn start(&mut self, now: u64, rng: &mut SimRng) -> Result<(), Broken> {
        self.rebuild()?;
        let log = self.disk.log();
        let window = self.config.committed_log_max;
        let recovered = Recovered {
            epochs: self.disk.epochs,
            last_logged_zxid: self.disk.last_logged(),
            recent_proposals: log[log.len().saturating_sub(window)..].to_vec(),
            snapshot_zxid: self.disk.snapshot.zxid,
        };
        let mut peer = Peer::new(self.config.clone(), recovered);
        let actions = peer.start();
        self.peer = Some(peer);
        self.role = Role::Looking;
        self.carry_out(actions, now, rng)
    }

    /// The process dies; the disk keeps what a crash keeps.
    pub fn crash(&mut self, rng: &mut SimRng, torn: bool) -> usize {
        self.peer = None;
        self.fail_waiting();
        self.role = Role::Looking;
        self.disk.crash(rng, torn)
    }

    pub fn handle(
        &mut self,
        from: ServerId,
        message: SimMessage,
        now: u64,
        rng: &mut SimRng,
    ) -> Result<(), Broken> {
        let Some(peer) = self.peer.as_mut() else {
            return Ok(());
        };
        match message {
            SimMessage::Peer(message) => {
                let actions = peer.handle_message(from, message);
                self.carry_out(actions, now, rng)
            }
            SimMessage::Forward(request) => {
                if matches!(self.role, Role::Leading { serving: true, .. }) {
                    self.take(request);
                    self.pump(now, rng)
                } else {
                    self.refuse(request, ErrorCode::ConnectionLoss);
                    Ok(())
                }
            }
            SimMessage::Refused { tag, code, leader_zxid } => {
                if let Some(waiting) = self.waiting.get_mut(&tag) {
                    *waiting = Waiting::CaughtUp { zxid: leader_zxid, code };
                }
                self.release();
                Ok(())
            }
        }
    }

    pub fn tick(&mut self, now: u64, rng: &mut SimRng) -> Result<(), Broken> {
        let Some(peer) = self.peer.as_mut() else {
            return Ok(());
        };
        let actions = peer.tick();
        self.carry_out(actions, now, rng)?;
        self.pump(now, rng)
    }

    pub fn complete_fsync(&mut self, now: u64, rng: &mut SimRng) -> Result<(), Broken> {
        let Some(peer) = self.peer.as_mut() else {
            return Ok(());
        };
        let Some(zxid) = self.disk.complete_fsync(now, rng) else {
            return Ok(());
        };
        let actions = peer.on_append_done(zxid);
        self.carry_out(actions, now, rng)
    }

    /// A client write arriving at this server; false when it is refused
    /// outright (not serving), so it cannot have taken effect.
    pub fn submit(
        &mut self,
        request: WriteRequest,
        now: u64,
        rng: &mut SimRng,
    ) -> Result<bool, Broken> {
        if !self.serving() {
            return Ok(false);
        }
        self.waiting.insert(request.tag, Waiting::Apply);
        match self.role {
            Role::Leading { .. } => {
                self.take(request);
                self.pump(now, rng)?;
            }
            Role::Following { leader, .. } | Role::Observing { leader, .. } => {
                self.outbox
                    .push(NodeEvent::Send { to: leader, message: SimMessage::Forward(request) });
            }
            Role::Looking => unreachable!("serving() excludes Looking"),
        }
        Ok(true)
    }

    /// A read from the local tree: the data id and version (or no node) and
    /// the zxid of the state read; `None` when not serving.
    /// With `watcher`, a one-shot data watch is left when the node exists.
    pub fn read(
        &mut self,
        path: &str,
        watcher: Option<proto::SessionId>,
    ) -> Option<(Zxid, Option<(u64, i32)>)> {
        if !self.serving() {
            return None;
        }
        let value = match self.tree.get_data(path, &AuthContext::default(), watcher) {
            Ok((data, stat)) => Some((data_id(&data), stat.version)),
            Err(_) => None,
        };
        Some((self.last_applied(), value))
    }

    /// Leader: queues a write unless it is a duplicate of one already taken.
    fn take(&mut self, request: WriteRequest) {
        let newest = self.newest_taken.entry(request.tag.client).or_default();
        if request.tag.seq > *newest {
            *newest = request.tag.seq;
            self.queue.push_back(request);
        }
    }

    /// The owner of the node at `path` (0 if not ephemeral), if it exists.
    pub fn ephemeral_owner(&self, path: &str) -> Option<i64> {
        self.tree.stat(path).map(|stat| stat.ephemeral_owner)
    }

    pub fn has_session(&self, session: proto::SessionId) -> bool {
        self.tree.session(session).is_some()
    }

    /// Drops a client's pending request (the client gave up on it).
    pub fn forget(&mut self, tag: RequestTag) {
        self.waiting.remove(&tag);
    }

    fn fail_waiting(&mut self) {
        for (tag, _) in std::mem::take(&mut self.waiting) {
            self.outbox.push(NodeEvent::Reply { tag, reply: WriteReply::ConnectionLoss });
        }
        self.queue.clear();
        self.in_flight = None;
    }

    fn refuse(&mut self, request: WriteRequest, code: ErrorCode) {
        let leader_zxid = self.last_applied();
        if request.origin == self.id {
            if let Some(waiting) = self.waiting.get_mut(&request.tag) {
                *waiting = Waiting::CaughtUp { zxid: leader_zxid, code };
            }
            self.release();
        } else {
            let message = SimMessage::Refused { tag: request.tag, code, leader_zxid };
            self.outbox.push(NodeEvent::Send { to: request.origin, message });
        }
    }

    /// Answers refused writes whose basis this server has caught up with.
    fn release(&mut self) {
        let applied = self.last_applied();
        let ready: Vec<(RequestTag, Zxid, ErrorCode)> = self
            .waiting
            .iter()
            .filter_map(|(tag, waiting)| match waiting {
                Waiting::CaughtUp { zxid, code } if *zxid <= applied => Some((*tag, *zxid, *code)),
                _ => None,
            })
            .collect();
        for (tag, zxid, code) in ready {
            self.waiting.remove(&tag);
            let reply = WriteReply::Done { zxid, result: Err(code) };
            self.outbox.push(NodeEvent::Reply { tag, reply });
        }
    }

    /// Leader: prepares and proposes queued writes, one in flight at a time.
    fn pump(&mut self, now: u64, rng: &mut SimRng) -> Result<(), Broken> {
        if !matches!(self.role, Role::Leading { serving: true, .. }) {
            return Ok(());
        }
        if let Some(zxid) = self.in_flight {
            if self.last_applied() < zxid {
                return Ok(());
            }
            self.in_flight = None;
        }
        while let Some(request) = self.queue.pop_front() {
            let context = RequestContext {
                session: request.session,
                auth: AuthContext::default(),
                now_ms: now as i64 * TICK_MS,
            };
            let body = match prepare(&self.tree, &request.write, &context) {
                Ok(body) => body,
                Err(code) => {
                    self.refuse(request, code);
                    continue;
                }
            };
            let Some(peer) = self.peer.as_mut() else {
                return Ok(());
            };
            let Some(zxid) = peer.next_zxid() else {
                self.refuse(request, ErrorCode::ConnectionLoss);
                continue;
            };
            let txn = Txn { zxid, time_ms: context.now_ms, session: request.session, body };
            let payload = encode_payload(request.tag, &txn.to_bytes());
            match peer.propose(payload) {
                Ok((proposed, actions)) => {
                    if proposed != zxid {
                        return Err(broken(format!(
                            "server {}: next_zxid said {zxid}, propose used {proposed}",
                            self.id
                        )));
                    }
                    self.in_flight = Some(zxid);
                    return self.carry_out(actions, now, rng);
                }
                Err(_) => self.refuse(request, ErrorCode::ConnectionLoss),
            }
        }
        Ok(())
    }

    fn carry_out(
        &mut self,
        actions: Vec<Action>,
        now: u64,
        rng: &mut SimRng,
    ) -> Result<(), Broken> {
        for action in actions {
            match action {
                Action::Send { to, message } => {
                    self.outbox.push(NodeEvent::Send { to, message: SimMessage::Peer(message) });
                }
                Action::PersistEpochs(epochs) => self.disk.epochs = epochs,
                Action::Append(proposals) => {
                    let mut last = self.disk.last_logged();
                    for proposal in &proposals {
                        if proposal.zxid <= last {
                            return Err(Broken::new(
                                Invariant::ZxidsIncrease,
                                format!(
                                    "server {} appends {} after {last}",
                                    self.id, proposal.zxid
                                ),
                            ));
                        }
                        last = proposal.zxid;
                    }
                    self.outbox.push(NodeEvent::Appended(proposals.clone()));
                    self.disk.append(proposals, now, rng);
                }
                Action::Truncate { zxid } => {
                    // Txns inside the snapshot cannot be removed: the state
                    // would silently keep what the peer believes is gone.
                    let snapshot = self.disk.snapshot.zxid;
                    if zxid < snapshot {
                        return Err(broken(format!(
                            "server {}: told to truncate to {zxid}, below its snapshot at {snapshot}",
                            self.id
                        )));
                    }
                    self.disk.truncate(zxid);
                    self.rebuild()?;
                }
                Action::InstallSnapshot { zxid, snapshot } => {
                    let snapshot =
                        decode_snapshot(&snapshot).filter(|s| s.zxid == zxid).ok_or_else(|| {
                            broken(format!("server {}: bad snapshot at {zxid}", self.id))
                        })?;
                    self.disk.install_snapshot(snapshot);
                    self.rebuild()?;
                }
                Action::Reset => {
                    self.disk.reset(Bytes::from(DataTree::new().serialize_snapshot()));
                    self.rebuild()?;
                }
                Action::SendSnapshot { to } => {
                    let zxid = self.last_applied();
                    let snapshot = Snapshot {
                        zxid,
                        tree: Bytes::from(self.tree.serialize_snapshot()),
                        history: self.history.clone(),
                    };
                    let message = PeerMessage::Snap { zxid, snapshot: encode_snapshot(&snapshot) };
                    self.outbox.push(NodeEvent::Send { to, message: SimMessage::Peer(message) });
                }
                Action::Apply(proposals) => {
                    for proposal in proposals {
                        self.apply_committed(proposal)?;
                    }
                    self.outbox.push(NodeEvent::Committed);
                    self.release();
                    self.pump(now, rng)?;
                }
                Action::RoleChanged(role) => {
                    if role == Role::Looking {
                        self.fast_forward()?;
                    }
                    self.fail_waiting();
                    self.role = role;
                    self.outbox.push(NodeEvent::RoleChanged(role));
                }
            }
        }
        Ok(())
    }

    fn apply_committed(&mut self, proposal: Proposal) -> Result<(), Broken> {
        let id = txn_id(&proposal);
        let logged = self
            .disk
            .log()
            .binary_search_by_key(&proposal.zxid, |p| p.zxid)
            .is_ok_and(|i| txn_id(&self.disk.log()[i]) == id);
        if !logged {
            return Err(Broken::new(
                Invariant::AppliedWithinLog,
                format!("server {} applies {} which is not in its log", self.id, proposal.zxid),
            ));
        }
        let last = self.last_applied();
        if proposal.zxid <= last {
            return Err(Broken::new(
                Invariant::ZxidsIncrease,
                format!("server {} applies {} after {last}", self.id, proposal.zxid),
            ));
        }
        let (tag, result) = self.apply(&proposal, true)?;
        if self.waiting.get(&tag) == Some(&Waiting::Apply) {
            self.waiting.remove(&tag);
            let reply = WriteReply::Done { zxid: proposal.zxid, result };
            self.outbox.push(NodeEvent::Reply { tag, reply });
        }
        Ok(())
    }

    /// `deliver_watches`: false for replays (fast-forward, rebuild), which
    /// happen while the server has no client connections.
    fn apply(
        &mut self,
        proposal: &Proposal,
        deliver_watches: bool,
    ) -> Result<(RequestTag, Result<TxnResult, ErrorCode>), Broken> {
        let (tag, txn) = decode_txn(proposal).ok_or_else(|| {
            broken(format!("server {}: undecodable txn {}", self.id, proposal.zxid))
        })?;
        let outcome = self.tree.apply(&txn);
        self.history.push(txn_id(proposal));
        for event in outcome.events.into_iter().filter(|_| deliver_watches) {
            let (session, path) = (event.session, event.path);
            self.outbox.push(NodeEvent::Watch { session, path, zxid: proposal.zxid });
        }
        Ok((tag, outcome.result))
    }

    /// State = snapshot + whole log again (after Looking, as `fastForwardDataBase`).
    fn fast_forward(&mut self) -> Result<(), Broken> {
        let last = self.last_applied();
        let pending: Vec<Proposal> =
            self.disk.log().iter().filter(|p| p.zxid > last).cloned().collect();
        for proposal in pending {
            // Replayed, not committed here: nobody is answered.
            let _replayed = self.apply(&proposal, false)?;
        }
        Ok(())
    }

    /// Rebuilds the tree from the snapshot and the whole log.
    fn rebuild(&mut self) -> Result<(), Broken> {
        self.tree = DataTree::from_snapshot(&self.disk.snapshot.tree)
            .map_err(|e| broken(format!("server {}: snapshot does not decode: {e}", self.id)))?;
        self.history = self.disk.snapshot.history.clone();
        let log: Vec<Proposal> = self.disk.log().to_vec();
        for proposal in log {
            let _replayed = self.apply(&proposal, false)?;
        }
        Ok(())
    }
}

/// The 8-byte data id the workload writes, or `u64::MAX` for anything else.
pub fn data_id(data: &[u8]) -> u64 {
    data.try_into().map_or(u64::MAX, u64::from_be_bytes)
}

pub fn decode_txn(proposal: &Proposal) -> Option<(RequestTag, Txn)> {
    let (tag, bytes) = decode_payload(&proposal.txn)?;
    let txn = Txn::from_bytes(&bytes).ok()?;
    Some((tag, txn))
}

fn prepare(
    tree: &DataTree,
    write: &ClientWrite,
    context: &RequestContext,
) -> Result<TxnBody, ErrorCode> {
    let data = |id: &u64| Bytes::copy_from_slice(&id.to_be_bytes());
    let first_failure = |failure: datatree::MultiFailure| {
        failure.results.into_iter().find(|c| *c != ErrorCode::Ok).unwrap_or(ErrorCode::SystemError)
    };
    // The session tracker's check (ZooKeeper's `checkSession`): only a live
    // session may write, or an ephemeral could outlive its owner.
    if *write != ClientWrite::CreateSession && tree.session(context.session).is_none() {
        return Err(ErrorCode::SessionExpired);
    }
    let op = match write {
        ClientWrite::CreateSession => {
            WriteOp::CreateSession { timeout_ms: SESSION_TIMEOUT_MS, password: [0; 16] }
        }
        ClientWrite::Create { path, data: id } => WriteOp::Create {
            path: path.clone(),
            data: data(id),
            acl: Acl::open_unsafe(),
            mode: CreateMode::Persistent,
            ttl_ms: 0,
        },
        ClientWrite::SetData { path, data: id, version } => {
            WriteOp::SetData { path: path.clone(), data: data(id), version: *version }
        }
        ClientWrite::CreateEphemeral { path } => WriteOp::Create {
            path: path.clone(),
            data: Bytes::new(),
            acl: Acl::open_unsafe(),
            mode: CreateMode::Ephemeral,
            ttl_ms: 0,
        },
        ClientWrite::CloseSession => WriteOp::CloseSession,
        ClientWrite::Delete { path, version } => {
            WriteOp::Delete { path: path.clone(), version: *version }
        }
        ClientWrite::CheckAndSet { path, data: id, version } => {
            let ops = [
                WriteOp::Check { path: path.clone(), version: *version },
                WriteOp::SetData { path: path.clone(), data: data(id), version: -1 },
            ];
            return tree.prepare_multi(&ops, context).map_err(first_failure);
        }
        ClientWrite::Sync => return tree.prepare_multi(&[], context).map_err(first_failure),
    };
    tree.prepare(&op, context)
}
