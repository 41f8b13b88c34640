//! Golden bytes, written out by hand from the jute definitions in zookeeper.jute.

use proto::records::*;
use proto::{Acl, Id, MultiOp, OpCode, Reader, Record, Request, Writer};

#[test]
fn connect_request_with_and_without_the_read_only_byte() {
    let mut expected = vec![
        0, 0, 0, 0, // protocolVersion
        0, 0, 0, 0, 0, 0, 0, 0x2a, // lastZxidSeen = 42
        0, 0, 0x75, 0x30, // timeOut = 30000
        0, 0, 0, 0, 0, 0, 0, 0, // sessionId
        0, 0, 0, 2, 0xaa, 0xbb, // passwd
    ];
    let without = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 42,
        timeout: 30_000,
        session_id: 0,
        passwd: vec![0xaa, 0xbb],
        read_only: None,
    };
    assert_eq!(without.to_bytes(), expected);
    assert_eq!(ConnectRequest::from_bytes(&expected).unwrap(), without);
    expected.push(1);
    let with = ConnectRequest { read_only: Some(true), ..without };
    assert_eq!(with.to_bytes(), expected);
    assert_eq!(ConnectRequest::from_bytes(&expected).unwrap(), with);
}

#[test]
fn create_request() {
    let request = CreateRequest {
        path: "/a".into(),
        data: b"hi".to_vec(),
        acl: vec![Acl { perms: 31, id: Id::new("world", "anyone") }],
        flags: 3,
    };
    let mut expected =
        vec![0, 0, 0, 2, b'/', b'a', 0, 0, 0, 2, b'h', b'i', 0, 0, 0, 1, 0, 0, 0, 31];
    expected.extend([0, 0, 0, 5]);
    expected.extend(b"world");
    expected.extend([0, 0, 0, 6]);
    expected.extend(b"anyone");
    expected.extend([0, 0, 0, 3]);
    assert_eq!(request.to_bytes(), expected);
}

#[test]
fn reply_header_and_watcher_event() {
    let header = ReplyHeader { xid: -1, zxid: -1, err: 0 };
    assert_eq!(header.to_bytes(), [[0xff; 4].as_slice(), &[0xff; 8], &[0, 0, 0, 0]].concat());
    let event = WatcherEvent { event_type: 3, state: 3, path: "/x".into() };
    assert_eq!(event.to_bytes(), vec![0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 2, b'/', b'x']);
}

#[test]
fn two_op_multi() {
    let request = Request::Multi(vec![
        MultiOp::Check(CheckVersionRequest { path: "/a".into(), version: 1 }),
        MultiOp::Delete(DeleteRequest { path: "/b".into(), version: -1 }),
    ]);
    let expected: Vec<u8> = [
        &[0, 0, 0, 13, 0, 0xff, 0xff, 0xff, 0xff][..], // MultiHeader{check, done=false, err=-1}
        &[0, 0, 0, 2, b'/', b'a', 0, 0, 0, 1],         // CheckVersionRequest
        &[0, 0, 0, 2, 0, 0xff, 0xff, 0xff, 0xff],      // MultiHeader{delete}
        &[0, 0, 0, 2, b'/', b'b', 0xff, 0xff, 0xff, 0xff],
        &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff], // MultiHeader{-1, done=true, -1}
    ]
    .concat();
    let mut writer = Writer::new();
    request.encode(&mut writer);
    assert_eq!(writer.into_bytes(), expected);
    assert_eq!(Request::decode(OpCode::Multi, &mut Reader::new(&expected)).unwrap(), request);
}

#[test]
fn unsupported_opcodes_are_told_apart_from_garbage() {
    let error = Request::decode(OpCode::Sasl, &mut Reader::new(&[])).unwrap_err();
    assert!(proto::request::is_unsupported(&error));
    let garbage = Request::decode(OpCode::GetData, &mut Reader::new(&[0, 0])).unwrap_err();
    assert!(!proto::request::is_unsupported(&garbage));
}
