//! Property tests: every record, request and reply survives encode → decode
//! unchanged and consumes exactly its own bytes; arbitrary bytes never panic.

use proptest::collection::vec;
use proptest::prelude::*;
use proto::records::*;
use proto::{
    Acl, Id, MultiOp, MultiReadResult, MultiResult, OpCode, Reader, Record, Request, Response,
    Stat, Writer,
};

fn text() -> impl Strategy<Value = String> {
    "[a-z/\\-0-9\u{e9}]{0,12}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..24)
}

fn stat() -> impl Strategy<Value = Stat> {
    (any::<[i64; 6]>(), any::<[i32; 5]>()).prop_map(|(longs, ints)| Stat {
        czxid: longs[0],
        mzxid: longs[1],
        ctime: longs[2],
        mtime: longs[3],
        version: ints[0],
        cversion: ints[1],
        aversion: ints[2],
        ephemeral_owner: longs[4],
        data_length: ints[3],
        num_children: ints[4],
        pzxid: longs[5],
    })
}

fn acls() -> impl Strategy<Value = Vec<Acl>> {
    vec(
        (any::<i32>(), text(), text())
            .prop_map(|(perms, scheme, id)| Acl { perms, id: Id { scheme, id } }),
        0..3,
    )
}

fn create() -> impl Strategy<Value = CreateRequest> {
    (text(), bytes(), acls(), any::<i32>()).prop_map(|(path, data, acl, flags)| CreateRequest {
        path,
        data,
        acl,
        flags,
    })
}

fn create_ttl() -> impl Strategy<Value = CreateTtlRequest> {
    (create(), any::<i64>()).prop_map(|(create, ttl)| CreateTtlRequest {
        path: create.path,
        data: create.data,
        acl: create.acl,
        flags: create.flags,
        ttl,
    })
}

fn path_watch() -> impl Strategy<Value = (String, bool)> {
    (text(), any::<bool>())
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        create().prop_map(MultiOp::Create),
        create().prop_map(MultiOp::Create2),
        create().prop_map(MultiOp::CreateContainer),
        create_ttl().prop_map(MultiOp::CreateTtl),
        (text(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        (text(), bytes(), any::<i32>()).prop_map(|(path, data, version)| MultiOp::SetData(
            SetDataRequest { path, data, version }
        )),
        (text(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
        path_watch()
            .prop_map(|(path, watch)| MultiOp::GetChildren(GetChildrenRequest { path, watch })),
        path_watch().prop_map(|(path, watch)| MultiOp::GetData(GetDataRequest { path, watch })),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        create().prop_map(Request::Create),
        create().prop_map(Request::Create2),
        create().prop_map(Request::CreateContainer),
        create_ttl().prop_map(Request::CreateTtl),
        (text(), any::<i32>())
            .prop_map(|(path, version)| Request::Delete(DeleteRequest { path, version })),
        path_watch().prop_map(|(path, watch)| Request::Exists(ExistsRequest { path, watch })),
        path_watch().prop_map(|(path, watch)| Request::GetData(GetDataRequest { path, watch })),
        (text(), bytes(), any::<i32>()).prop_map(|(path, data, version)| Request::SetData(
            SetDataRequest { path, data, version }
        )),
        text().prop_map(|path| Request::GetAcl(GetAclRequest { path })),
        (text(), acls(), any::<i32>())
            .prop_map(|(path, acl, version)| Request::SetAcl(SetAclRequest { path, acl, version })),
        path_watch()
            .prop_map(|(path, watch)| Request::GetChildren(GetChildrenRequest { path, watch })),
        path_watch()
            .prop_map(|(path, watch)| Request::GetChildren2(GetChildrenRequest { path, watch })),
        text().prop_map(|path| Request::Sync(PathRequest { path })),
        Just(Request::Ping),
        (text(), any::<i32>())
            .prop_map(|(path, version)| Request::Check(CheckVersionRequest { path, version })),
        vec(multi_op(), 0..4).prop_map(Request::Multi),
        vec(multi_op(), 0..4).prop_map(Request::MultiRead),
        Just(Request::CloseSession),
        (any::<i32>(), text(), bytes()).prop_map(|(auth_type, scheme, auth)| Request::Auth(
            AuthPacket { auth_type, scheme, auth }
        )),
        (any::<i64>(), strings(), strings(), strings()).prop_map(
            |(relative_zxid, data_watches, exist_watches, child_watches)| {
                Request::SetWatches(SetWatches {
                    relative_zxid,
                    data_watches,
                    exist_watches,
                    child_watches,
                })
            }
        ),
        (any::<i64>(), strings(), strings(), strings(), strings(), strings()).prop_map(
            |(relative_zxid, data, exist, child, persistent, recursive)| {
                Request::SetWatches2(SetWatches2 {
                    relative_zxid,
                    data_watches: data,
                    exist_watches: exist,
                    child_watches: child,
                    persistent_watches: persistent,
                    persistent_recursive_watches: recursive,
                })
            }
        ),
        (text(), any::<i32>())
            .prop_map(|(path, mode)| Request::AddWatch(AddWatchRequest { path, mode })),
        (text(), any::<i32>()).prop_map(|(path, watcher_type)| Request::RemoveWatches(
            WatchesRequest { path, watcher_type }
        )),
        (text(), any::<i32>()).prop_map(|(path, watcher_type)| Request::CheckWatches(
            WatchesRequest { path, watcher_type }
        )),
        text().prop_map(|prefix_path| Request::GetEphemerals(GetEphemeralsRequest { prefix_path })),
        text().prop_map(|path| Request::GetAllChildrenNumber(PathRequest { path })),
        Just(Request::WhoAmI),
    ]
}

/// A response paired with the opcode of the request it answers.
fn response() -> impl Strategy<Value = (OpCode, Response)> {
    let multi_result = prop_oneof![
        text().prop_map(|path| MultiResult::Create { path }),
        (text(), stat()).prop_map(|(path, stat)| MultiResult::Create2 { path, stat }),
        Just(MultiResult::Delete),
        stat().prop_map(|stat| MultiResult::SetData { stat }),
        Just(MultiResult::Check),
        any::<i32>().prop_map(MultiResult::Error),
    ];
    let multi_read_result = prop_oneof![
        strings().prop_map(|children| MultiReadResult::GetChildren { children }),
        (bytes(), stat()).prop_map(|(data, stat)| MultiReadResult::GetData { data, stat }),
        any::<i32>().prop_map(MultiReadResult::Error),
    ];
    prop_oneof![
        Just((OpCode::Delete, Response::Empty)),
        text().prop_map(|path| (OpCode::Create, Response::Create { path })),
        (text(), stat())
            .prop_map(|(path, stat)| (OpCode::Create2, Response::Create2 { path, stat })),
        stat().prop_map(|stat| (OpCode::Exists, Response::Exists { stat })),
        (bytes(), stat())
            .prop_map(|(data, stat)| (OpCode::GetData, Response::GetData { data, stat })),
        stat().prop_map(|stat| (OpCode::SetData, Response::SetData { stat })),
        (acls(), stat()).prop_map(|(acl, stat)| (OpCode::GetAcl, Response::GetAcl { acl, stat })),
        stat().prop_map(|stat| (OpCode::SetAcl, Response::SetAcl { stat })),
        strings().prop_map(|children| (OpCode::GetChildren, Response::GetChildren { children })),
        (strings(), stat()).prop_map(|(children, stat)| (
            OpCode::GetChildren2,
            Response::GetChildren2 { children, stat }
        )),
        text().prop_map(|path| (OpCode::Sync, Response::Sync { path })),
        vec(multi_result, 0..4).prop_map(|results| (OpCode::Multi, Response::Multi(results))),
        vec(multi_read_result, 0..4)
            .prop_map(|results| (OpCode::MultiRead, Response::MultiRead(results))),
        strings()
            .prop_map(|ephemerals| (OpCode::GetEphemerals, Response::GetEphemerals { ephemerals })),
        any::<i32>().prop_map(|total_number| (
            OpCode::GetAllChildrenNumber,
            Response::GetAllChildrenNumber { total_number }
        )),
        vec(
            (text(), text()).prop_map(|(auth_scheme, user)| ClientInfo { auth_scheme, user }),
            0..3
        )
        .prop_map(|client_info| (OpCode::WhoAmI, Response::WhoAmI { client_info })),
    ]
}

fn round_trip<T: Record + PartialEq + std::fmt::Debug>(record: &T) {
    let bytes = record.to_bytes();
    assert_eq!(&T::from_bytes(&bytes).unwrap(), record);
}

proptest! {
    #[test]
    fn requests_round_trip(request in request()) {
        let mut writer = Writer::new();
        request.encode(&mut writer);
        let bytes = writer.into_bytes();
        let mut reader = Reader::new(&bytes);
        prop_assert_eq!(Request::decode(request.op_code(), &mut reader).unwrap(), request);
        prop_assert!(reader.is_empty());
    }

    #[test]
    fn responses_round_trip((op_code, response) in response()) {
        let mut writer = Writer::new();
        response.encode(&mut writer);
        let bytes = writer.into_bytes();
        let mut reader = Reader::new(&bytes);
        prop_assert_eq!(Response::decode(op_code, &mut reader).unwrap(), response);
        prop_assert!(reader.is_empty());
    }

    #[test]
    fn records_round_trip(
        connect in (any::<i32>(), any::<i64>(), any::<i32>(), any::<i64>(), bytes(), proptest::option::of(any::<bool>())),
        reply in (any::<i32>(), any::<i64>(), any::<i32>()),
        event in (any::<i32>(), any::<i32>(), text()),
        stat in stat(),
    ) {
        round_trip(&ConnectRequest {
            protocol_version: connect.0,
            last_zxid_seen: connect.1,
            timeout: connect.2,
            session_id: connect.3,
            passwd: connect.4.clone(),
            read_only: connect.5,
        });
        round_trip(&ConnectResponse {
            protocol_version: connect.0,
            timeout: connect.2,
            session_id: connect.3,
            passwd: connect.4,
            read_only: connect.5.unwrap_or(false),
        });
        round_trip(&ReplyHeader { xid: reply.0, zxid: reply.1, err: reply.2 });
        round_trip(&RequestHeader { xid: reply.0, op_type: reply.2 });
        round_trip(&WatcherEvent { event_type: event.0, state: event.1, path: event.2 });
        round_trip(&stat);
    }

    #[test]
    fn arbitrary_bytes_never_panic(op in any::<i32>(), body in vec(any::<u8>(), 0..128)) {
        if let Ok(op_code) = OpCode::from_code(op.rem_euclid(110) - 11) {
            let _ = Request::decode(op_code, &mut Reader::new(&body));
            let _ = Response::decode(op_code, &mut Reader::new(&body));
        }
        let _ = ConnectRequest::from_bytes(&body);
    }
}
