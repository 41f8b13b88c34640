//! A tiny deterministic cluster: Peers exchanging messages over per-pair
//! FIFO queues, each with an in-memory log split into durable and not-yet
//! durable parts and a state machine modelled as the applied prefix of its
//! history. A seeded generator picks which queue or fsync goes next.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use broadcast::{
    Action, ElectionConfig, Epochs, LearnerType, Peer, PeerConfig, PeerMessage, Proposal,
    QuorumConfig, Recovered, Role, ServerId,
};
use bytes::Bytes;
use proto::Zxid;

/// splitmix64: enough randomness for a replayable schedule.
pub struct Schedule(u64);

impl Schedule {
    pub fn below(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % bound as u64) as usize
    }
}

/// What one server keeps across restarts, and its running peer.
pub struct Server {
    pub peer: Option<Peer>,
    pub config: PeerConfig,
    pub epochs: Epochs,
    /// The whole history: snapshot contents followed by the log.
    pub log: Vec<Proposal>,
    /// `log[..durable]` survives a crash.
    pub durable: usize,
    /// The state machine is `log[..applied]`.
    pub applied: usize,
    /// An fsync the driver still has to report.
    pub fsync_pending: bool,
    pub truncations: usize,
    pub snapshots_installed: usize,
}

pub struct Cluster {
    pub servers: BTreeMap<ServerId, Server>,
    queues: BTreeMap<(ServerId, ServerId), VecDeque<PeerMessage>>,
    schedule: Schedule,
    pub ticks: u64,
    /// Per-mille chances that a sent message is lost or delivered twice.
    pub loss_per_mille: usize,
    pub duplicate_per_mille: usize,
    /// The longest history any server applied through `Apply`: every
    /// server's applied-by-commit state must be a prefix of it, or extend it.
    pub committed: Vec<Proposal>,
    tracing: bool,
}

fn encode(proposals: &[Proposal]) -> Bytes {
    Bytes::from(serde_json::to_vec(proposals).expect("proposals encode"))
}

fn decode(snapshot: &Bytes) -> Vec<Proposal> {
    serde_json::from_slice(snapshot).expect("snapshot decodes")
}

impl Cluster {
    /// Voters `1..=voters`, then `observers` more servers as observers.
    pub fn new(voters: u64, observers: u64, seed: u64, tune: impl Fn(&mut PeerConfig)) -> Cluster {
        let voter_ids: BTreeSet<ServerId> = (1..=voters).map(ServerId).collect();
        let observer_ids: BTreeSet<ServerId> =
            (voters + 1..=voters + observers).map(ServerId).collect();
        let quorum = QuorumConfig { voters: voter_ids.clone(), observers: observer_ids.clone() };
        let mut servers = BTreeMap::new();
        for &me in voter_ids.iter().chain(observer_ids.iter()) {
            let learner_type = if voter_ids.contains(&me) {
                LearnerType::Participant
            } else {
                LearnerType::Observer
            };
            let mut config = PeerConfig::new(ElectionConfig {
                me,
                learner_type,
                quorum: quorum.clone(),
                finalize_wait_ticks: 2,
                notification_timeout_ticks_min: 4,
                notification_timeout_ticks_max: 32,
            });
            config.ping_interval_ticks = 3;
            config.sync_limit_ticks = 12;
            config.init_limit_ticks = 40;
            tune(&mut config);
            let server = Server {
                peer: None,
                config,
                epochs: Epochs::default(),
                log: Vec::new(),
                durable: 0,
                applied: 0,
                fsync_pending: false,
                truncations: 0,
                snapshots_installed: 0,
            };
            servers.insert(me, server);
        }
        let mut cluster = Cluster {
            servers,
            queues: BTreeMap::new(),
            schedule: Schedule(seed),
            ticks: 0,
            loss_per_mille: 0,
            duplicate_per_mille: 0,
            committed: Vec::new(),
            tracing: std::env::var_os("HARNESS_TRACE").is_some(),
        };
        let ids: Vec<ServerId> = cluster.servers.keys().copied().collect();
        for id in ids {
            cluster.restart(id);
        }
        cluster
    }

    /// Starts `id` from what its disk holds: the durable log and epochs.
    pub fn restart(&mut self, id: ServerId) {
        self.trace(|| format!("RESTART {id}"));
        let server = self.servers.get_mut(&id).expect("known server");
        server.log.truncate(server.durable);
        server.applied = server.log.len();
        server.fsync_pending = false;
        let window = server.config.committed_log_max;
        let recent_proposals = server.log[server.log.len().saturating_sub(window)..].to_vec();
        let recovered = Recovered {
            epochs: server.epochs,
            last_logged_zxid: server.log.last().map_or(Zxid::ZERO, |p| p.zxid),
            recent_proposals,
            snapshot_zxid: Zxid::ZERO,
        };
        let mut peer = Peer::new(server.config.clone(), recovered);
        let actions = peer.start();
        server.peer = Some(peer);
        self.carry_out(id, actions);
    }

    /// Crashes `id`: its peer and everything in flight to or from it are gone.
    pub fn kill(&mut self, id: ServerId) {
        self.trace(|| format!("KILL {id}"));
        let server = self.servers.get_mut(&id).expect("known server");
        server.peer = None;
        // What was not fsynced is lost with the process.
        server.fsync_pending = false;
        self.queues.retain(|(from, to), _| *from != id && *to != id);
    }

    pub fn is_up(&self, id: ServerId) -> bool {
        self.servers[&id].peer.is_some()
    }

    pub fn role(&self, id: ServerId) -> Option<Role> {
        self.servers[&id].peer.as_ref().map(Peer::role)
    }

    pub fn serving_leader(&self) -> Option<ServerId> {
        self.servers
            .keys()
            .copied()
            .find(|&id| matches!(self.role(id), Some(Role::Leading { serving: true, .. })))
    }

    /// True when every running server serves behind one leader.
    pub fn all_serving(&self) -> bool {
        let Some(leader) = self.serving_leader() else {
            return false;
        };
        self.servers.keys().all(|&id| match self.role(id) {
            None => true,
            Some(Role::Leading { serving, .. }) => serving && id == leader,
            Some(
                Role::Following { leader: l, serving, .. }
                | Role::Observing { leader: l, serving, .. },
            ) => serving && l == leader,
            Some(Role::Looking) => false,
        })
    }

    pub fn applied(&self, id: ServerId) -> &[Proposal] {
        let server = &self.servers[&id];
        &server.log[..server.applied]
    }

    /// A seeded choice, for tests that pick their own faults.
    pub fn below(&mut self, bound: usize) -> usize {
        self.schedule.below(bound)
    }

    /// Proposes `txn` on the serving leader, if any accepts it.
    pub fn try_propose(&mut self, txn: &str) -> Option<Zxid> {
        let leader = self.serving_leader()?;
        let peer = self.servers.get_mut(&leader).and_then(|s| s.peer.as_mut())?;
        let (zxid, actions) = peer.propose(Bytes::from(txn.to_owned())).ok()?;
        self.carry_out(leader, actions);
        Some(zxid)
    }

    /// Proposes `txn` on the serving leader.
    pub fn propose(&mut self, txn: &str) -> Zxid {
        let leader = self.serving_leader().expect("a serving leader");
        let peer =
            self.servers.get_mut(&leader).and_then(|s| s.peer.as_mut()).expect("leader runs");
        let (zxid, actions) = peer.propose(Bytes::from(txn.to_owned())).expect("leader accepts");
        self.carry_out(leader, actions);
        zxid
    }

    /// Delivers or completes as much as is pending (in seeded order), then ticks everyone.
    pub fn round(&mut self) {
        let work = self.queues.values().map(VecDeque::len).sum::<usize>()
            + self.servers.values().filter(|s| s.fsync_pending).count();
        for _ in 0..work {
            self.step();
        }
        self.ticks += 1;
        let ids: Vec<ServerId> = self.servers.keys().copied().collect();
        for id in ids {
            if let Some(peer) = self.servers.get_mut(&id).and_then(|s| s.peer.as_mut()) {
                let actions = peer.tick();
                self.carry_out(id, actions);
            }
        }
    }

    /// Runs rounds until `done` holds; panics after `max_rounds`.
    pub fn run_until(&mut self, max_rounds: u64, what: &str, done: impl Fn(&Cluster) -> bool) {
        for _ in 0..max_rounds {
            if done(self) {
                return;
            }
            self.round();
        }
        assert!(done(self), "not reached within {max_rounds} rounds: {what}\n{}", self.describe());
    }

    /// Delivers queued messages (and whatever they cause) until none is
    /// left, completing no fsync.
    pub fn deliver_messages(&mut self) {
        while let Some((&(from, to), _)) = self.queues.iter().find(|(_, queue)| !queue.is_empty()) {
            self.deliver(from, to);
        }
    }

    /// Completes the pending fsync of `id`, if any.
    pub fn complete_fsync(&mut self, id: ServerId) {
        let server = self.servers.get_mut(&id).expect("known server");
        if !server.fsync_pending {
            return;
        }
        server.fsync_pending = false;
        server.durable = server.log.len();
        let Some(last) = server.log.last().map(|p| p.zxid) else {
            return;
        };
        if let Some(peer) = server.peer.as_mut() {
            let actions = peer.on_append_done(last);
            self.carry_out(id, actions);
        }
    }

    fn deliver(&mut self, from: ServerId, to: ServerId) {
        let Some(message) = self.queues.get_mut(&(from, to)).and_then(VecDeque::pop_front) else {
            return;
        };
        if let Some(peer) = self.servers.get_mut(&to).and_then(|s| s.peer.as_mut()) {
            let actions = peer.handle_message(from, message);
            self.carry_out(to, actions);
        }
    }

    /// With HARNESS_TRACE set, prints what happens (failure diagnosis only).
    fn trace(&self, line: impl FnOnce() -> String) {
        if self.tracing {
            eprintln!("t{} {}", self.ticks, line());
        }
    }

    /// Roles and log positions of every server, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (id, server) in &self.servers {
            let last = server.log.last().map_or(Zxid::ZERO, |p| p.zxid);
            out += &format!(
                "server {id}: {:?} {:?} log {} (last {last}) durable {} applied {} epochs {:?}\n",
                self.role(*id),
                server.peer.as_ref().map(Peer::election_notification),
                server.log.len(),
                server.durable,
                server.applied,
                server.epochs
            );
        }
        out
    }

    fn step(&mut self) {
        let mut sources: Vec<Option<(ServerId, ServerId)>> = self
            .queues
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(&pair, _)| Some(pair))
            .collect();
        let fsyncs: Vec<ServerId> =
            self.servers.iter().filter(|(_, s)| s.fsync_pending).map(|(&id, _)| id).collect();
        sources.extend(fsyncs.iter().map(|_| None));
        if sources.is_empty() {
            return;
        }
        let pick = self.schedule.below(sources.len());
        match sources[pick] {
            Some((from, to)) => self.deliver(from, to),
            None => self.complete_fsync(fsyncs[pick - (sources.len() - fsyncs.len())]),
        }
    }

    /// Carries out `actions` of server `id`, checking the driver contract as it goes.
    fn carry_out(&mut self, id: ServerId, actions: Vec<Action>) {
        for action in actions {
            let chatter = matches!(
                &action,
                Action::Send {
                    message: PeerMessage::Election(_)
                        | PeerMessage::Ping { .. }
                        | PeerMessage::PingReply,
                    ..
                }
            );
            if !chatter {
                self.trace(|| format!("s{id}: {}", short(&action)));
            }
            let server = self.servers.get_mut(&id).expect("known server");
            match action {
                Action::Send { to, message } => {
                    let reachable = self.servers.get(&to).is_some_and(|s| s.peer.is_some());
                    if reachable && self.schedule.below(1000) >= self.loss_per_mille {
                        let copies = if self.schedule.below(1000) < self.duplicate_per_mille {
                            2
                        } else {
                            1
                        };
                        let queue = self.queues.entry((id, to)).or_default();
                        for _ in 0..copies {
                            queue.push_back(message.clone());
                        }
                    }
                }
                Action::PersistEpochs(epochs) => server.epochs = epochs,
                Action::Append(proposals) => {
                    for proposal in proposals {
                        let last = server.log.last().map_or(Zxid::ZERO, |p| p.zxid);
                        assert!(
                            proposal.zxid > last,
                            "server {id} appends {} after {}",
                            proposal.zxid,
                            last
                        );
                        server.log.push(proposal);
                    }
                    server.fsync_pending = true;
                }
                Action::Truncate { zxid } => {
                    server.log.retain(|p| p.zxid <= zxid);
                    server.durable = server.durable.min(server.log.len());
                    server.applied = server.log.len();
                    server.truncations += 1;
                }
                Action::InstallSnapshot { zxid, snapshot } => {
                    server.log = decode(&snapshot);
                    assert_eq!(server.log.last().map_or(Zxid::ZERO, |p| p.zxid), zxid);
                    server.durable = server.log.len();
                    server.applied = server.log.len();
                    server.snapshots_installed += 1;
                }
                Action::Reset => {
                    server.log.clear();
                    server.durable = 0;
                    server.applied = 0;
                }
                Action::SendSnapshot { to } => {
                    let state = &server.log[..server.applied];
                    let zxid = state.last().map_or(Zxid::ZERO, |p| p.zxid);
                    let message = PeerMessage::Snap { zxid, snapshot: encode(state) };
                    self.queues.entry((id, to)).or_default().push_back(message);
                }
                Action::Apply(proposals) => {
                    let next = &server.log[server.applied..];
                    assert!(
                        next.len() >= proposals.len() && next[..proposals.len()] == proposals[..],
                        "server {id} applies {proposals:?} that do not follow its applied state"
                    );
                    server.applied += proposals.len();
                    let state = &server.log[..server.applied];
                    let shared = state.len().min(self.committed.len());
                    assert!(
                        state[..shared] == self.committed[..shared],
                        "server {id} applied a history that diverges from what others committed: {:?} vs {:?}",
                        state.iter().map(|p| p.zxid.to_string()).collect::<Vec<_>>(),
                        self.committed.iter().map(|p| p.zxid.to_string()).collect::<Vec<_>>()
                    );
                    if state.len() > self.committed.len() {
                        self.committed = state.to_vec();
                    }
                }
                Action::RoleChanged(Role::Looking) => server.applied = server.log.len(),
                Action::RoleChanged(_) => {}
            }
        }
    }
}

/// An action in one line, proposals by zxid only.
fn short(action: &Action) -> String {
    let z = |p: &Proposal| format!("{}", p.zxid);
    match action {
        Action::Append(ps) => format!("Append {:?}", ps.iter().map(z).collect::<Vec<_>>()),
        Action::Apply(ps) => format!("Apply {:?}", ps.iter().map(z).collect::<Vec<_>>()),
        Action::Send { to, message: PeerMessage::Proposal(p) } => {
            format!("-> {to} Proposal {}", p.zxid)
        }
        Action::Send { to, message: PeerMessage::Inform(p) } => {
            format!("-> {to} Inform {}", p.zxid)
        }
        Action::Send { to, message: PeerMessage::Snap { zxid, .. } } => {
            format!("-> {to} Snap {zxid}")
        }
        Action::InstallSnapshot { zxid, .. } => format!("InstallSnapshot {zxid}"),
        other => format!("{other:?}"),
    }
}
