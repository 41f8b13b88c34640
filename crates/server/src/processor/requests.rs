//! Client requests: each becomes tree calls (reads) or a txn (writes), and a reply.

use bytes::Bytes;
use datatree::{MultiFailure, RequestContext, TxnBody, TxnResult, WatchSet, WriteOp, digest_id};
use proto::records::{ClientInfo, CreateRequest, CreateTtlRequest, WatcherEvent};
use proto::{
    AddWatchMode, CreateMode, ErrorCode, KeeperState, MultiOp, MultiReadResult, MultiResult,
    Request, Response, SessionId, WatcherType, Zxid, codes::xid,
};
use tokio::sync::OwnedSemaphorePermit;

use super::Processor;
use super::replication::forwarded_op;
use crate::ensemble::{ForwardedOp, Refusal};
use crate::messages::{ConnectionId, Outbound};

/// The kind of reply a create asks for: `create` answers with the path only,
/// the other create opcodes with the path and the new node's Stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CreateReply {
    PathOnly,
    PathAndStat,
}

impl Processor {
    pub(super) fn request(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        request: Request,
        permit: OwnedSemaphorePermit,
    ) {
        let Some(session) = self.connections.get(&connection).and_then(|state| state.session)
        else {
            // A request before the handshake finished, or after the session ended.
            self.reply_error(connection, xid, ErrorCode::SessionExpired, Some(permit));
            return;
        };
        if self.replica.is_none() {
            let now_ms = self.monotonic_ms() as i64;
            if !self.sessions.touch(session, now_ms) {
                self.reply_error(connection, xid, ErrorCode::SessionExpired, Some(permit));
                self.close_connection(connection, "session expired");
                return;
            }
            return self.dispatch(connection, xid, request, permit);
        }
        self.note_touch(session);
        let request = super::replication::Blocked { xid, request, permit };
        if let Some(runnable) = self.hold_back(connection, request) {
            self.dispatch(connection, runnable.xid, runnable.request, runnable.permit);
        }
    }

    /// Runs one request now. Its session is looked up again: a request held
    /// back behind writes may run after its session was closed.
    pub(super) fn dispatch(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        request: Request,
        permit: OwnedSemaphorePermit,
    ) {
        let Some(session) = self.connections.get(&connection).and_then(|state| state.session)
        else {
            self.reply_error(connection, xid, ErrorCode::SessionExpired, Some(permit));
            return;
        };
        let permit = Some(permit);
        // A follower sends a write on to the leader as the client asked it; the
        // request is encoded before planning moves its fields out.
        let forward =
            (is_write(&request) && self.forwards_writes()).then(|| forwarded_op(&request));
        let request = match plan_write(request) {
            Planned::Write(plan) => {
                return self.submit_write(connection, xid, session, plan, forward, permit);
            }
            Planned::NotAWrite(request) => request,
        };
        if self.replica.is_some() {
            match request {
                Request::Sync(sync) => {
                    let context = self.request_context(connection, session);
                    return self.replicated_sync(connection, xid, sync.path, &context, permit);
                }
                Request::CloseSession => {
                    let context = self.request_context(connection, session);
                    return self.replicated_close(connection, xid, &context, permit);
                }
                other => return self.local(connection, xid, session, other, permit),
            }
        }
        self.local(connection, xid, session, request, permit)
    }

    /// Requests every member answers from its own state.
    fn local(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        session: SessionId,
        request: Request,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        match request {
            Request::Ping => {
                let zxid = self.tree.last_zxid();
                self.reply(connection, xid::PING, zxid, Ok(None), permit);
            }
            Request::CloseSession => {
                self.close_session(session);
                let zxid = self.tree.last_zxid();
                self.reply(connection, xid, zxid, Ok(None), permit);
                self.close_connection(connection, "session closed by the client");
            }
            Request::Auth(packet) => {
                if packet.scheme == "digest"
                    && let Ok(credentials) = std::str::from_utf8(&packet.auth)
                    && credentials.contains(':')
                {
                    let id = digest_id(credentials);
                    let state = self.connections.get_mut(&connection).expect("connection is live");
                    if !state.auth.ids.contains(&id) {
                        state.auth.ids.push(id);
                    }
                    let zxid = self.tree.last_zxid();
                    // ZooKeeper echoes the request's xid (clients pipeline several auths).
                    self.reply(connection, xid, zxid, Ok(None), permit);
                } else {
                    // ZooKeeper answers a failed auth with AuthFailed and drops the connection.
                    self.reply_error(connection, xid, ErrorCode::AuthFailed, permit);
                    self.close_connection(connection, "authentication failed");
                }
            }
            Request::Check(check) => {
                // Outside a multi a check is a read of the version.
                let auth = self.connections[&connection].auth.clone();
                let result =
                    self.tree.check_version(&check.path, check.version, &auth).map(|()| None);
                let zxid = self.tree.last_zxid();
                self.reply(connection, xid, zxid, result, permit);
            }
            Request::MultiRead(ops) => {
                let auth = self.connections[&connection].auth.clone();
                let results = ops
                    .into_iter()
                    .map(|op| match op {
                        MultiOp::GetData(get) => match self.tree.get_data(&get.path, &auth, None) {
                            Ok((data, stat)) => MultiReadResult::GetData { data, stat },
                            Err(code) => MultiReadResult::Error(code.code()),
                        },
                        MultiOp::GetChildren(get) => {
                            match self.tree.get_children(&get.path, &auth, None) {
                                Ok((children, _)) => MultiReadResult::GetChildren { children },
                                Err(code) => MultiReadResult::Error(code.code()),
                            }
                        }
                        _ => MultiReadResult::Error(ErrorCode::BadArguments.code()),
                    })
                    .collect();
                let zxid = self.tree.last_zxid();
                self.reply(connection, xid, zxid, Ok(Some(Response::MultiRead(results))), permit);
            }
            read => self.read(connection, xid, session, read, permit),
        }
    }

    fn read(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        session: SessionId,
        request: Request,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let auth = self.connections[&connection].auth.clone();
        let watcher = |watch: bool| watch.then_some(session);
        let result = match request {
            Request::GetData(get) => self
                .tree
                .get_data(&get.path, &auth, watcher(get.watch))
                .map(|(data, stat)| Some(Response::GetData { data, stat })),
            Request::Exists(exists) => {
                match self.tree.exists(&exists.path, &auth, watcher(exists.watch)) {
                    Ok(Some(stat)) => Ok(Some(Response::Exists { stat })),
                    Ok(None) => Err(ErrorCode::NoNode),
                    Err(code) => Err(code),
                }
            }
            Request::GetChildren(get) => self
                .tree
                .get_children(&get.path, &auth, watcher(get.watch))
                .map(|(children, _)| Some(Response::GetChildren { children })),
            Request::GetChildren2(get) => self
                .tree
                .get_children(&get.path, &auth, watcher(get.watch))
                .map(|(children, stat)| Some(Response::GetChildren2 { children, stat })),
            Request::GetAcl(get) => self
                .tree
                .get_acl(&get.path, &auth)
                .map(|(acl, stat)| Some(Response::GetAcl { acl, stat })),
            // Standalone, every read already sees every committed write.
            Request::Sync(sync) => Ok(Some(Response::Sync { path: sync.path })),
            Request::GetEphemerals(get) => Ok(Some(Response::GetEphemerals {
                ephemerals: self.tree.get_ephemerals(session, &get.prefix_path),
            })),
            Request::GetAllChildrenNumber(get) => self
                .tree
                .get_all_children_number(&get.path, &auth)
                .map(|total_number| Some(Response::GetAllChildrenNumber { total_number })),
            Request::WhoAmI => Ok(Some(Response::WhoAmI { client_info: client_infos(&auth) })),
            Request::AddWatch(add) => match AddWatchMode::from_code(add.mode) {
                Ok(mode) => self.tree.add_watch(&add.path, mode, session, &auth).map(|()| None),
                Err(_) => Err(ErrorCode::BadArguments),
            },
            Request::RemoveWatches(remove) => match WatcherType::from_code(remove.watcher_type) {
                Ok(kind) => self.tree.remove_watches(&remove.path, kind, session).map(|()| None),
                Err(_) => Err(ErrorCode::BadArguments),
            },
            Request::CheckWatches(check) => match WatcherType::from_code(check.watcher_type) {
                Ok(kind) => self.tree.check_watches(&check.path, kind, session).map(|()| None),
                Err(_) => Err(ErrorCode::BadArguments),
            },
            Request::SetWatches(set) => {
                let watches = WatchSet {
                    data: set.data_watches,
                    exist: set.exist_watches,
                    child: set.child_watches,
                    persistent: Vec::new(),
                    persistent_recursive: Vec::new(),
                };
                self.set_watches(connection, session, Zxid(set.relative_zxid), &watches);
                let zxid = self.tree.last_zxid();
                self.reply(connection, xid::SET_WATCHES, zxid, Ok(None), permit);
                return;
            }
            Request::SetWatches2(set) => {
                let watches = WatchSet {
                    data: set.data_watches,
                    exist: set.exist_watches,
                    child: set.child_watches,
                    persistent: set.persistent_watches,
                    persistent_recursive: set.persistent_recursive_watches,
                };
                self.set_watches(connection, session, Zxid(set.relative_zxid), &watches);
                let zxid = self.tree.last_zxid();
                self.reply(connection, xid::SET_WATCHES, zxid, Ok(None), permit);
                return;
            }
            other => {
                tracing::error!(op = ?other.op_code(), "request reached the read path by mistake");
                Err(ErrorCode::Unimplemented)
            }
        };
        let zxid = self.tree.last_zxid();
        self.reply(connection, xid, zxid, result, permit);
    }

    fn set_watches(
        &mut self,
        connection: ConnectionId,
        session: SessionId,
        relative: Zxid,
        watches: &WatchSet,
    ) {
        let barrier = self.tree.last_zxid();
        for event in self.tree.set_watches(session, relative, watches) {
            let notification = WatcherEvent {
                event_type: event.event.code(),
                state: KeeperState::SyncConnected.code(),
                path: event.path,
            };
            self.release.push(
                barrier,
                connection,
                Outbound::Notification(notification),
                &self.outboxes,
            );
        }
    }

    /// A write: prepared, applied and logged here when standalone; ordered
    /// through the ensemble otherwise (see `replication`).
    pub(super) fn submit_write(
        &mut self,
        connection: ConnectionId,
        xid: i32,
        session: SessionId,
        plan: Result<PlannedWrite, ErrorCode>,
        forward: Option<ForwardedOp>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let plan = match plan {
            Ok(plan) => plan,
            Err(code) => return self.reply_error(connection, xid, code, permit),
        };
        let context = self.request_context(connection, session);
        if self.replica.is_some() {
            return self.replicated_write(connection, xid, plan, forward, &context, permit);
        }
        let result = match self.prepare_write(&plan, &context, None) {
            Err(refusal) => refusal_response(&refusal),
            Ok(body) => {
                let (_, outcome) = self.commit(session, body);
                write_response(outcome.result, &plan.shape())
            }
        };
        let zxid = self.tree.last_zxid();
        self.reply(connection, xid, zxid, result, permit);
    }

    /// Validates a planned write into a txn. `outstanding_zxid` is set on a
    /// replicating leader: the zxid the txn will get, prepared on top of the
    /// changes still waiting for their quorum.
    pub(super) fn prepare_write(
        &mut self,
        plan: &PlannedWrite,
        context: &RequestContext,
        outstanding_zxid: Option<Zxid>,
    ) -> Result<TxnBody, Refusal> {
        let outstanding = self.replica.as_mut().map(|replica| &mut replica.outstanding);
        match (plan, outstanding.zip(outstanding_zxid)) {
            (PlannedWrite::Single { op, .. }, None) => {
                self.tree.prepare(op, context).map_err(|code| Refusal::Error(code.code()))
            }
            (PlannedWrite::Single { op, .. }, Some((outstanding, zxid))) => self
                .tree
                .prepare_outstanding(outstanding, zxid, op, context)
                .map_err(|code| Refusal::Error(code.code())),
            (PlannedWrite::Multi { ops, .. }, None) => {
                self.tree.prepare_multi(ops, context).map_err(multi_refusal)
            }
            (PlannedWrite::Multi { ops, .. }, Some((outstanding, zxid))) => self
                .tree
                .prepare_multi_outstanding(outstanding, zxid, ops, context)
                .map_err(multi_refusal),
        }
    }

    pub(super) fn request_context(
        &self,
        connection: ConnectionId,
        session: SessionId,
    ) -> RequestContext {
        RequestContext {
            session,
            auth: self.connections[&connection].auth.clone(),
            now_ms: super::wall_clock_ms() as i64,
        }
    }
}

/// A write request as tree ops, before validation.
pub(super) enum PlannedWrite {
    Single { op: WriteOp, reply: CreateReply },
    Multi { ops: Vec<WriteOp>, replies: Vec<CreateReply> },
}

/// How a write's reply is shaped once its txn is applied.
#[derive(Debug, Clone)]
pub(super) enum ReplyShape {
    Single(CreateReply),
    Multi(Vec<CreateReply>),
}

impl PlannedWrite {
    pub(super) fn shape(&self) -> ReplyShape {
        match self {
            PlannedWrite::Single { reply, .. } => ReplyShape::Single(*reply),
            PlannedWrite::Multi { replies, .. } => ReplyShape::Multi(replies.clone()),
        }
    }
}

/// True for the requests [`plan_write`] plans: the writes of the tree.
pub(super) fn is_write(request: &Request) -> bool {
    matches!(
        request,
        Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::SetData(_)
            | Request::SetAcl(_)
            | Request::Multi(_)
    )
}

/// What [`plan_write`] made of a request.
pub(super) enum Planned {
    Write(Result<PlannedWrite, ErrorCode>),
    NotAWrite(Request),
}

/// The write `request` asks for, made of its own fields (moved, not copied:
/// a create's path, data and ACL are not allocated again); an error when it
/// is a write but malformed (unknown create flags, a read inside a multi);
/// the request itself back when it is not a write (see [`is_write`]).
pub(super) fn plan_write(request: Request) -> Planned {
    let single = |op: Result<WriteOp, ErrorCode>, reply| {
        Planned::Write(op.map(|op| PlannedWrite::Single { op, reply }))
    };
    match request {
        Request::Create(create) => single(create_op(create), CreateReply::PathOnly),
        Request::Create2(create) => single(create_op(create), CreateReply::PathAndStat),
        Request::CreateContainer(create) => {
            single(create_container_op(create), CreateReply::PathAndStat)
        }
        Request::CreateTtl(create) => single(create_ttl_op(create), CreateReply::PathAndStat),
        Request::Delete(delete) => single(
            Ok(WriteOp::Delete { path: delete.path, version: delete.version }),
            CreateReply::PathOnly,
        ),
        Request::SetData(set) => single(
            Ok(WriteOp::SetData {
                path: set.path,
                data: Bytes::from(set.data),
                version: set.version,
            }),
            CreateReply::PathOnly,
        ),
        Request::SetAcl(set) => single(
            Ok(WriteOp::SetAcl { path: set.path, acl: set.acl, version: set.version }),
            CreateReply::PathOnly,
        ),
        Request::Multi(ops) => Planned::Write(plan_multi(ops)),
        other => Planned::NotAWrite(other),
    }
}

fn plan_multi(ops: Vec<MultiOp>) -> Result<PlannedWrite, ErrorCode> {
    let mut write_ops = Vec::with_capacity(ops.len());
    let mut replies = Vec::with_capacity(ops.len());
    for op in ops {
        let (op, reply) = match op {
            MultiOp::Create(create) => (create_op(create)?, CreateReply::PathOnly),
            MultiOp::Create2(create) => (create_op(create)?, CreateReply::PathAndStat),
            MultiOp::CreateContainer(create) => {
                (create_container_op(create)?, CreateReply::PathAndStat)
            }
            MultiOp::CreateTtl(create) => (create_ttl_op(create)?, CreateReply::PathAndStat),
            MultiOp::Delete(delete) => (
                WriteOp::Delete { path: delete.path, version: delete.version },
                CreateReply::PathOnly,
            ),
            MultiOp::SetData(set) => (
                WriteOp::SetData {
                    path: set.path,
                    data: Bytes::from(set.data),
                    version: set.version,
                },
                CreateReply::PathOnly,
            ),
            MultiOp::Check(check) => {
                (WriteOp::Check { path: check.path, version: check.version }, CreateReply::PathOnly)
            }
            // Reads belong in multiRead; ZooKeeper refuses to mix them.
            MultiOp::GetData(_) | MultiOp::GetChildren(_) => return Err(ErrorCode::BadArguments),
        };
        write_ops.push(op);
        replies.push(reply);
    }
    Ok(PlannedWrite::Multi { ops: write_ops, replies })
}

fn multi_refusal(failure: MultiFailure) -> Refusal {
    Refusal::Multi(failure.results.into_iter().map(ErrorCode::code).collect())
}

/// The reply to a write that failed validation.
pub(super) fn refusal_response(refusal: &Refusal) -> Result<Option<Response>, ErrorCode> {
    match refusal {
        Refusal::Error(code) => Err(ErrorCode::from_code(*code).unwrap_or(ErrorCode::SystemError)),
        Refusal::Multi(codes) => {
            Ok(Some(Response::Multi(codes.iter().map(|code| MultiResult::Error(*code)).collect())))
        }
    }
}

/// The reply to a write whose txn was applied.
pub(super) fn write_response(
    result: Result<TxnResult, ErrorCode>,
    shape: &ReplyShape,
) -> Result<Option<Response>, ErrorCode> {
    let result = result?;
    Ok(match (result, shape) {
        (TxnResult::Created { path, stat }, ReplyShape::Single(reply)) => Some(match reply {
            CreateReply::PathOnly => Response::Create { path },
            CreateReply::PathAndStat => Response::Create2 { path, stat },
        }),
        (TxnResult::DataSet { stat }, _) => Some(Response::SetData { stat }),
        (TxnResult::AclSet { stat }, _) => Some(Response::SetAcl { stat }),
        (TxnResult::Multi(results), ReplyShape::Multi(replies)) => {
            let results = results
                .into_iter()
                .zip(replies)
                .map(|(result, reply)| match result {
                    TxnResult::Created { path, stat } => match reply {
                        CreateReply::PathOnly => MultiResult::Create { path },
                        CreateReply::PathAndStat => MultiResult::Create2 { path, stat },
                    },
                    TxnResult::Deleted => MultiResult::Delete,
                    TxnResult::DataSet { stat } => MultiResult::SetData { stat },
                    TxnResult::Checked => MultiResult::Check,
                    other => unreachable!("{other:?} inside a multi"),
                })
                .collect();
            Some(Response::Multi(results))
        }
        _ => None,
    })
}

fn create_op(create: CreateRequest) -> Result<WriteOp, ErrorCode> {
    let mode = CreateMode::from_code(create.flags).map_err(|_| ErrorCode::BadArguments)?;
    Ok(WriteOp::Create {
        path: create.path,
        data: Bytes::from(create.data),
        acl: create.acl,
        mode,
        ttl_ms: 0,
    })
}

/// createContainer: the flags must still parse, as in ZooKeeper, but the
/// node is a container whatever they say.
fn create_container_op(create: CreateRequest) -> Result<WriteOp, ErrorCode> {
    let mut op = create_op(create)?;
    if let WriteOp::Create { mode, .. } = &mut op {
        *mode = CreateMode::Container;
    }
    Ok(op)
}

fn create_ttl_op(create: CreateTtlRequest) -> Result<WriteOp, ErrorCode> {
    let mode = CreateMode::from_code(create.flags).map_err(|_| ErrorCode::BadArguments)?;
    if !mode.is_ttl() {
        return Err(ErrorCode::BadArguments);
    }
    Ok(WriteOp::Create {
        path: create.path,
        data: Bytes::from(create.data),
        acl: create.acl,
        mode,
        ttl_ms: create.ttl,
    })
}

/// whoAmI's answer, as ZooKeeper's `AuthUtil.getClientInfos`: a digest
/// identity shows its user name only, never the password hash.
fn client_infos(auth: &datatree::AuthContext) -> Vec<ClientInfo> {
    let mut infos: Vec<ClientInfo> = auth
        .ids
        .iter()
        .map(|id| {
            let user = match id.scheme.as_str() {
                "digest" => id.id.split(':').next().unwrap_or_default().to_string(),
                _ => id.id.clone(),
            };
            ClientInfo { auth_scheme: id.scheme.clone(), user }
        })
        .collect();
    infos.sort_by(|a, b| (&a.auth_scheme, &a.user).cmp(&(&b.auth_scheme, &b.user)));
    infos
}

#[cfg(test)]
mod tests {
    use proto::records::{DeleteRequest, GetDataRequest, PathRequest, SetDataRequest};

    use super::*;

    fn create(flags: i32) -> CreateRequest {
        CreateRequest { path: "/a".into(), data: b"data".to_vec(), acl: Vec::new(), flags }
    }

    #[test]
    fn is_write_says_which_requests_plan_write_plans() {
        let set = SetDataRequest { path: "/a".into(), data: b"new".to_vec(), version: 3 };
        let requests = vec![
            Request::Create(create(0)),
            Request::Create2(create(0)),
            // Malformed writes are still writes: planning answers them with an error.
            Request::Create(create(99)),
            Request::CreateContainer(create(0)),
            Request::Delete(DeleteRequest { path: "/a".into(), version: -1 }),
            Request::SetData(set.clone()),
            Request::Multi(vec![MultiOp::SetData(set)]),
            Request::GetData(GetDataRequest { path: "/a".into(), watch: false }),
            Request::Sync(PathRequest { path: "/a".into() }),
            Request::Ping,
            Request::CloseSession,
        ];
        for request in requests {
            let expected = is_write(&request);
            match plan_write(request.clone()) {
                Planned::Write(_) => assert!(expected, "{request:?}"),
                Planned::NotAWrite(returned) => {
                    assert!(!expected, "{request:?}");
                    assert_eq!(returned, request, "a request that is not a write comes back whole");
                }
            }
        }
    }

    #[test]
    fn planning_moves_the_fields_of_a_write() {
        let Planned::Write(Ok(PlannedWrite::Single { op, reply })) =
            plan_write(Request::Create2(create(1)))
        else {
            panic!("a create is planned")
        };
        assert!(matches!(reply, CreateReply::PathAndStat));
        match op {
            WriteOp::Create { path, data, mode, .. } => {
                assert_eq!((path.as_str(), &data[..]), ("/a", &b"data"[..]));
                assert_eq!(mode, CreateMode::Ephemeral);
            }
            other => panic!("{other:?}"),
        }
        let malformed = plan_write(Request::Create(create(99)));
        assert!(matches!(malformed, Planned::Write(Err(ErrorCode::BadArguments))));
    }
}
