//! The step loop: one tick delivers the network's due messages (random
//! order across links), completes due fsyncs, ticks every peer, injects the
//! tick's faults and lets clients act; every node event is routed at once
//! and the online invariants are checked as it happens.

use std::collections::BTreeMap;

use broadcast::{ElectionConfig, LearnerType, PeerConfig, QuorumConfig, Role, ServerId};
use datatree::TxnResult;
use proto::{ErrorCode, SessionId};

use crate::Options;
use crate::checker::commits::CommitOrder;
use crate::checker::leaders::Leaders;
use crate::disk::{TxnId, txn_id};
use crate::faults::{Fault, next_faults};
use crate::history::{History, Op, Output};
use crate::network::Network;
use crate::node::{Node, NodeEvent, WriteReply};
use crate::rng::SimRng;
use crate::violation::{Broken, Invariant};
use crate::wire::{ClientWrite, SimMessage, WriteRequest};
use crate::workload::{Awaiting, Client, Outstanding, Plan};

pub struct Cluster {
    pub now: u64,
    rng: SimRng,
    options: Options,
    pub nodes: BTreeMap<ServerId, Node>,
    network: Network<SimMessage>,
    clients: Vec<Client>,
    pub history: History,
    pub commits: CommitOrder,
    pub leaders: Leaders,
    quorum: usize,
    /// Whether clients issue new requests.
    pub clients_active: bool,
    pub faults_injected: usize,
    /// Every payload any server logged, by txn id.
    archive: BTreeMap<TxnId, broadcast::Proposal>,
    /// Acknowledged ephemeral creates and their owners.
    ephemerals: Vec<(String, SessionId)>,
    /// Sessions whose close was acknowledged.
    closed_sessions: Vec<SessionId>,
    /// Print a trace of faults, roles, messages and client requests to stderr.
    pub verbose: bool,
}

impl Cluster {
    pub fn new(seed: u64, options: &Options) -> Result<Cluster, Broken> {
        let ids: Vec<ServerId> = (1..=options.nodes as u64).map(ServerId).collect();
        let quorum_config =
            QuorumConfig { voters: ids.iter().copied().collect(), observers: Default::default() };
        let mut nodes = BTreeMap::new();
        for &me in &ids {
            let mut config = PeerConfig::new(ElectionConfig {
                me,
                learner_type: LearnerType::Participant,
                quorum: quorum_config.clone(),
                finalize_wait_ticks: 2,
                notification_timeout_ticks_min: 4,
                notification_timeout_ticks_max: 32,
            });
            config.ping_interval_ticks = 3;
            config.sync_limit_ticks = 15;
            config.init_limit_ticks = 40;
            config.committed_log_max = options.committed_log_max;
            config.planted_bug = options.planted_bug;
            nodes.insert(me, Node::new(me, config, options.disk));
        }
        let mut cluster = Cluster {
            now: 0,
            rng: SimRng::new(seed),
            options: options.clone(),
            nodes,
            network: Network::new(options.network),
            clients: (0..options.workload.clients as u32).map(Client::new).collect(),
            history: History::default(),
            commits: CommitOrder::default(),
            leaders: Leaders::default(),
            quorum: options.nodes / 2 + 1,
            clients_active: true,
            faults_injected: 0,
            archive: BTreeMap::new(),
            ephemerals: Vec::new(),
            closed_sessions: Vec::new(),
            verbose: options.verbose,
        };
        for id in ids {
            cluster.with_node(id, |node, now, rng| node.start(now, rng))?;
        }
        Ok(cluster)
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        // Printed as it happens, so a replay shows the trace up to a violation.
        if self.verbose {
            eprintln!("[{}] {}", self.now, line());
        }
    }

    fn up(&self) -> Vec<ServerId> {
        self.nodes.iter().filter(|(_, n)| n.is_up()).map(|(id, _)| *id).collect()
    }

    fn down(&self) -> Vec<ServerId> {
        self.nodes.iter().filter(|(_, n)| !n.is_up()).map(|(id, _)| *id).collect()
    }

    /// Runs `step` on one node, then routes what it produced.
    fn with_node(
        &mut self,
        id: ServerId,
        step: impl FnOnce(&mut Node, u64, &mut SimRng) -> Result<(), Broken>,
    ) -> Result<(), Broken> {
        let node = self.nodes.get_mut(&id).expect("known server");
        let result = step(node, self.now, &mut self.rng);
        self.route(id)?;
        result
    }

    fn route(&mut self, id: ServerId) -> Result<(), Broken> {
        loop {
            let events = self.nodes.get_mut(&id).expect("known server").take_events();
            if events.is_empty() {
                return Ok(());
            }
            for event in events {
                match event {
                    NodeEvent::Send { to, message } => {
                        self.note(|| format!("{id} -> {to}: {message:?}"));
                        self.network.send(id, to, message, self.now, &mut self.rng);
                    }
                    NodeEvent::Reply { tag, reply } => self.on_reply(tag, reply),
                    NodeEvent::RoleChanged(role) => {
                        self.note(|| format!("server {id} is {role:?}"));
                        self.leaders.observe(id, role)?;
                        self.disconnect_clients(id);
                    }
                    NodeEvent::Appended(proposals) => {
                        for proposal in proposals {
                            self.archive.entry(txn_id(&proposal)).or_insert(proposal);
                        }
                    }
                    NodeEvent::Watch { session, path, zxid } => {
                        let watcher = self
                            .clients
                            .iter_mut()
                            .find(|c| c.session == session && c.server == Some(id));
                        if let Some(client) = watcher {
                            client.watch_fired(&path, zxid);
                        }
                    }
                    NodeEvent::Committed => {
                        let applied = self.nodes[&id].last_applied();
                        self.note(|| format!("server {id} applied to {applied}"));
                        self.check_commits(id)?
                    }
                }
            }
        }
    }

    fn check_commits(&mut self, id: ServerId) -> Result<(), Broken> {
        let node = &self.nodes[&id];
        let nodes = &self.nodes;
        let durable_on = |txn| nodes.values().filter(|n| n.disk.durably_holds(txn)).count();
        let archive = &self.archive;
        let payload = |txn: TxnId| archive.get(&txn).cloned();
        let serving = node.serving();
        let quorum = self.options.check_commit_quorum.then_some(self.quorum);
        self.commits.observe(id, serving, node.history(), payload, durable_on, quorum)
    }

    /// One tick of the whole system.
    pub fn tick(&mut self, faulty: bool) -> Result<(), Broken> {
        self.now += 1;
        if faulty {
            self.inject_faults()?;
        }
        while let Some((from, to, message)) = self.network.pop_due(self.now, &mut self.rng) {
            self.note(|| format!("delivered {from} -> {to}: {message:?}"));
            self.with_node(to, |node, now, rng| node.handle(from, message, now, rng))?;
        }
        for id in self.up() {
            self.with_node(id, |node, now, rng| node.complete_fsync(now, rng))?;
        }
        for id in self.up() {
            self.with_node(id, |node, now, rng| node.tick(now, rng))?;
        }
        self.run_clients()
    }

    fn inject_faults(&mut self) -> Result<(), Broken> {
        let (up, down) = (self.up(), self.down());
        let faults = next_faults(&self.options.faults, &mut self.rng, &up, &down);
        for fault in faults {
            self.faults_injected += 1;
            self.note(|| format!("fault {fault:?}"));
            match fault {
                Fault::Crash { server, torn } => self.crash(server, torn)?,
                Fault::Restart { server } => {
                    self.with_node(server, |n, now, rng| n.start(now, rng))?
                }
                Fault::Partition { side, other } => self.network.partition(&side, &other),
                Fault::OneWay { from, to } => self.network.block(from, to),
                Fault::Heal => self.network.heal(self.now),
                Fault::DropConnection { a, b } => self.network.drop_connection(a, b, self.now),
            }
        }
        Ok(())
    }

    fn crash(&mut self, server: ServerId, torn: bool) -> Result<(), Broken> {
        let node = self.nodes.get_mut(&server).expect("known server");
        let lost = node.crash(&mut self.rng, torn);
        self.network.disconnect(server);
        self.note(|| format!("server {server} crashed losing {lost} unsynced records"));
        self.disconnect_clients(server);
        self.route(server)
    }

    /// The faults stop: the network heals and becomes reliable, every crashed server restarts.
    pub fn heal_all(&mut self) -> Result<(), Broken> {
        self.network.heal(self.now);
        self.network.config = self.network.config.reliable();
        for id in self.down() {
            self.with_node(id, |n, now, rng| n.start(now, rng))?;
        }
        Ok(())
    }

    pub fn clients_idle(&self) -> bool {
        self.clients.iter().all(|c| c.outstanding.is_none())
    }

    /// Every server runs, serves behind one leader, and holds the whole commit order.
    pub fn converged(&self) -> bool {
        let leaders: Vec<ServerId> = self
            .nodes
            .values()
            .filter_map(|n| match n.role()? {
                Role::Leading { serving: true, .. } => Some(n.id),
                Role::Following { leader, serving: true, .. } => Some(leader),
                _ => None,
            })
            .collect();
        let one_leader =
            leaders.len() == self.nodes.len() && leaders.windows(2).all(|w| w[0] == w[1]);
        let ids = self.commits.ids();
        one_leader && self.nodes.values().all(|n| n.history() == ids.as_slice())
    }

    /// Committed txns that no server holds any more: every server agrees on
    /// a history that is not the commit order.
    pub fn lost_commits(&self) -> Option<Broken> {
        let histories: Vec<&[TxnId]> = self.nodes.values().map(Node::history).collect();
        let agreed = histories.windows(2).all(|w| w[0] == w[1]);
        let ids = self.commits.ids();
        let held = histories[0];
        if !agreed || held == ids.as_slice() {
            return None;
        }
        let first_lost = ids
            .iter()
            .zip(held.iter().chain(std::iter::repeat(&(proto::Zxid::ZERO, 0))))
            .find(|(committed, held)| committed != held)
            .map(|(committed, _)| committed.0)?;
        Some(Broken::new(
            Invariant::CommitsFormOneOrder,
            format!(
                "committed txn {first_lost} is lost: every server agrees on a history without it ({})",
                self.describe()
            ),
        ))
    }

    /// Detail for a convergence failure: each server's role, position and digest.
    pub fn describe(&self) -> String {
        let servers: Vec<String> = self
            .nodes
            .values()
            .map(|n| {
                format!(
                    "server {}: {:?} applied {} (log to {}, durable {}) digest {:x}",
                    n.id,
                    n.role(),
                    n.last_applied(),
                    n.disk.last_logged(),
                    n.disk.durable_len(),
                    n.digest()
                )
            })
            .collect();
        format!("commit order ends at {}; {}", self.commits.last(), servers.join("; "))
    }

    /// Identical trees everywhere (run after `converged`).
    pub fn check_digests(&self) -> Result<(), Broken> {
        let digests: Vec<u64> = self.nodes.values().map(Node::digest).collect();
        if digests.windows(2).any(|w| w[0] != w[1]) {
            return Err(Broken::new(
                Invariant::Convergence,
                format!("digests differ: {}", self.describe()),
            ));
        }
        Ok(())
    }

    /// Ephemerals live exactly as long as their session: on every server,
    /// an acknowledged ephemeral is gone once its owner's close was
    /// acknowledged, and one still present is owned by a live session.
    pub fn check_ephemerals(&self) -> Result<(), Broken> {
        for node in self.nodes.values() {
            for session in &self.closed_sessions {
                if node.has_session(*session) {
                    return Err(Broken::new(
                        Invariant::EphemeralsFollowSessions,
                        format!(
                            "server {} still has session {session} after its close was acknowledged",
                            node.id
                        ),
                    ));
                }
            }
            for (path, owner) in &self.ephemerals {
                let Some(found) = node.ephemeral_owner(path) else {
                    continue;
                };
                if found != owner.0 || !node.has_session(*owner) {
                    return Err(Broken::new(
                        Invariant::EphemeralsFollowSessions,
                        format!(
                            "server {} has ephemeral {path} (owner 0x{found:x}) after session {owner} ended",
                            node.id
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A server that crashes or changes role closes its client connections
    /// (as ZooKeeper does): those clients reconnect, and their watches there are gone.
    fn disconnect_clients(&mut self, server: ServerId) {
        for client in self.clients.iter_mut().filter(|c| c.server == Some(server)) {
            client.server = None;
            client.reset_watches();
        }
    }

    /// Every client's watch record, by client.
    pub fn watch_logs(&self) -> Vec<(crate::history::ClientId, &[crate::workload::WatchRecord])> {
        self.clients.iter().map(|c| (c.id, c.watch_log.as_slice())).collect()
    }

    fn run_clients(&mut self) -> Result<(), Broken> {
        for index in 0..self.clients.len() {
            self.run_client(index)?;
        }
        Ok(())
    }

    fn run_client(&mut self, index: usize) -> Result<(), Broken> {
        let now = self.now;
        if let Some(outstanding) = self.clients[index].outstanding.clone() {
            if now >= outstanding.deadline {
                self.give_up(index, &outstanding);
            }
            return Ok(());
        }
        if !self.clients_active || !self.rng.chance(self.options.workload.issue_per_mille) {
            return Ok(());
        }
        let server = match self.clients[index].server.filter(|s| self.nodes[s].serving()) {
            Some(server) => server,
            None => {
                let serving: Vec<ServerId> =
                    self.nodes.values().filter(|n| n.serving()).map(|n| n.id).collect();
                let Some(server) = self.rng.pick(&serving) else {
                    return Ok(());
                };
                self.clients[index].server = Some(server);
                self.clients[index].reset_watches();
                server
            }
        };
        // A server behind what the client saw may not serve it (ZooKeeper
        // refuses such a reconnect): look for another.
        if self.nodes[&server].last_applied() < self.clients[index].last_zxid_seen {
            self.clients[index].server = None;
            return Ok(());
        }
        if !self.clients[index].session_created {
            return self.submit(index, server, ClientWrite::CreateSession, Awaiting::Session, None);
        }
        let plan = self.clients[index].plan(&self.options.workload, &mut self.rng);
        let client_id = self.clients[index].id;
        match plan {
            Plan::Read { path } => {
                let event = self.history.invoke(
                    client_id,
                    None,
                    Op::Read { path: path.clone(), synced: false },
                );
                let watch = self.rng.chance(500);
                self.read_now(index, server, event, &path, watch);
                Ok(())
            }
            Plan::SyncRead { path } => {
                let op = Op::Read { path: path.clone(), synced: true };
                let event = self.history.invoke(client_id, None, op);
                self.submit(
                    index,
                    server,
                    ClientWrite::Sync,
                    Awaiting::SyncRead { index: event, path },
                    Some(event),
                )
            }
            Plan::SessionWrite { write } => {
                let awaiting = Awaiting::SessionWrite { write: write.clone() };
                self.submit(index, server, write, awaiting, None)
            }
            Plan::Write { write, op } => {
                let tag = self.clients[index].next_tag();
                let event = self.history.invoke(client_id, Some(tag), op);
                self.submit_tagged(
                    index,
                    server,
                    tag,
                    write,
                    Awaiting::Write { index: event },
                    Some(event),
                )
            }
        }
    }

    fn submit(
        &mut self,
        index: usize,
        server: ServerId,
        write: ClientWrite,
        awaiting: Awaiting,
        event: Option<usize>,
    ) -> Result<(), Broken> {
        let tag = self.clients[index].next_tag();
        self.submit_tagged(index, server, tag, write, awaiting, event)
    }

    fn submit_tagged(
        &mut self,
        index: usize,
        server: ServerId,
        tag: crate::wire::RequestTag,
        write: ClientWrite,
        awaiting: Awaiting,
        event: Option<usize>,
    ) -> Result<(), Broken> {
        let client = &mut self.clients[index];
        let deadline = self.now + self.options.workload.request_timeout_ticks;
        client.outstanding = Some(Outstanding { tag, server, deadline, awaiting });
        let request = WriteRequest { tag, origin: server, session: client.session, write };
        self.note(|| format!("client submits to {server}: {request:?}"));
        let mut accepted = false;
        self.with_node(server, |node, now, rng| {
            accepted = node.submit(request, now, rng)?;
            Ok(())
        })?;
        if !accepted && self.clients[index].outstanding.as_ref().is_some_and(|o| o.tag == tag) {
            self.clients[index].outstanding = None;
            self.clients[index].server = None;
            if let Some(event) = event {
                self.history.refused(event);
            }
        }
        Ok(())
    }

    fn read_now(&mut self, index: usize, server: ServerId, event: usize, path: &str, watch: bool) {
        let node = self.nodes.get_mut(&server).expect("known server");
        let watcher = watch.then_some(self.clients[index].session);
        match node.read(path, watcher) {
            Some((zxid, value)) if zxid >= self.clients[index].last_zxid_seen => {
                self.history.respond(event, Output::Value(value), zxid);
                let client = &mut self.clients[index];
                if watch && value.is_some() {
                    client.watch_registered(path, zxid);
                }
                client.saw_zxid(zxid);
                client.saw_version(path, value.map(|v| v.1));
            }
            _ => {
                self.history.refused(event);
                self.clients[index].server = None;
            }
        }
    }

    fn give_up(&mut self, index: usize, outstanding: &Outstanding) {
        if let Some(node) = self.nodes.get_mut(&outstanding.server) {
            node.forget(outstanding.tag);
        }
        match &outstanding.awaiting {
            Awaiting::Session | Awaiting::SessionWrite { .. } => {}
            Awaiting::Write { index: event } | Awaiting::SyncRead { index: event, .. } => {
                self.history.give_up(*event);
            }
        }
        let client = &mut self.clients[index];
        client.outstanding = None;
        client.server = None;
    }

    fn on_reply(&mut self, tag: crate::wire::RequestTag, reply: WriteReply) {
        let Some(index) = self.clients.iter().position(|c| c.id == tag.client) else {
            return;
        };
        let Some(outstanding) = self.clients[index].outstanding.clone().filter(|o| o.tag == tag)
        else {
            return;
        };
        let WriteReply::Done { zxid, result } = reply else {
            self.give_up(index, &outstanding);
            return;
        };
        if result == Err(ErrorCode::SessionExpired) {
            // A close whose answer was lost ended the session: start another.
            self.give_up(index, &outstanding);
            self.clients[index].session_closed();
            return;
        }
        self.clients[index].outstanding = None;
        match outstanding.awaiting {
            // BadArguments: the session exists already (an earlier attempt
            // whose answer was lost committed it).
            Awaiting::Session => match result {
                Ok(_) | Err(ErrorCode::BadArguments) => self.clients[index].session_created = true,
                Err(_) => self.clients[index].server = None,
            },
            Awaiting::SessionWrite { write } => {
                let session = self.clients[index].session;
                match (write, result) {
                    (ClientWrite::CreateEphemeral { path }, Ok(_)) => {
                        self.ephemerals.push((path, session))
                    }
                    (ClientWrite::CloseSession, Ok(_)) => {
                        self.closed_sessions.push(session);
                        self.clients[index].session_closed();
                    }
                    _ => {}
                }
            }
            Awaiting::Write { index: event } => {
                let op = self.history.events[event].op.clone();
                match write_output(&op, &result) {
                    Some(output) => {
                        self.history.respond(event, output, zxid);
                        let client = &mut self.clients[index];
                        client.saw_zxid(zxid);
                        match output {
                            Output::Created => client.saw_version(op.path(), Some(0)),
                            Output::SetOk { version } => {
                                client.saw_version(op.path(), Some(version))
                            }
                            Output::Deleted | Output::NoNode => client.saw_version(op.path(), None),
                            _ => {}
                        }
                    }
                    None => self.give_up(index, &outstanding),
                }
            }
            Awaiting::SyncRead { index: event, path } => {
                if result.is_ok() {
                    self.clients[index].saw_zxid(zxid);
                    self.read_now(index, outstanding.server, event, &path, false);
                } else {
                    self.history.give_up(event);
                    self.clients[index].server = None;
                }
            }
        }
    }
}

/// The model's view of a write's answer; `None` for answers the model does
/// not describe (the write's outcome is then unknown).
fn write_output(op: &Op, result: &Result<TxnResult, ErrorCode>) -> Option<Output> {
    match (op, result) {
        (Op::Create { .. }, Ok(TxnResult::Created { .. })) => Some(Output::Created),
        (Op::Set { .. }, Ok(TxnResult::DataSet { stat })) => {
            Some(Output::SetOk { version: stat.version })
        }
        (Op::Set { .. }, Ok(TxnResult::Multi(results))) => match results.as_slice() {
            [TxnResult::Checked, TxnResult::DataSet { stat }] => {
                Some(Output::SetOk { version: stat.version })
            }
            _ => None,
        },
        (Op::Delete { .. }, Ok(TxnResult::Deleted)) => Some(Output::Deleted),
        (Op::Create { .. }, Err(ErrorCode::NodeExists)) => Some(Output::NodeExists),
        (Op::Set { .. } | Op::Delete { .. }, Err(ErrorCode::NoNode)) => Some(Output::NoNode),
        (Op::Set { .. } | Op::Delete { .. }, Err(ErrorCode::BadVersion)) => {
            Some(Output::BadVersion)
        }
        _ => None,
    }
}
