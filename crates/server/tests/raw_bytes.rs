//! Black-box tests that speak raw bytes to a real listening node: bad input
//! closes or fails only its own connection, never the node.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::{TestNode, within};
use proto::frame::{decode_frame, encode_frame};
use proto::records::{ConnectRequest, ConnectResponse, ReplyHeader};
use proto::{ErrorCode, OpCode, Reader, Record, Writer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A handshake asking for a new session.
fn new_session_request(read_only: Option<bool>) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 4_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only,
    }
}

/// A hand-driven client: one TCP connection, frames in and out.
struct RawClient {
    stream: TcpStream,
    buffer: BytesMut,
}

impl RawClient {
    async fn connect(address: &str) -> RawClient {
        let stream = TcpStream::connect(address).await.expect("tcp connect");
        RawClient { stream, buffer: BytesMut::new() }
    }

    /// Connects and completes the session handshake.
    async fn session(address: &str) -> RawClient {
        let mut client = RawClient::connect(address).await;
        let request = new_session_request(Some(false));
        client.send_frame(&request.to_bytes()).await;
        let body = client.read_frame().await.expect("handshake reply");
        let response = ConnectResponse::from_bytes(&body).expect("connect response");
        assert_ne!(response.session_id, 0);
        client
    }

    async fn send_frame(&mut self, body: &[u8]) {
        let mut out = BytesMut::new();
        encode_frame(body, &mut out);
        self.stream.write_all(&out).await.expect("write");
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        // The server may already have closed: a failed write is part of what we test.
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next frame, or None once the server has closed the connection.
    async fn read_frame(&mut self) -> Option<Vec<u8>> {
        within("a frame or a close", async {
            loop {
                if let Some(frame) =
                    decode_frame(&mut self.buffer, usize::MAX >> 1).expect("valid frame")
                {
                    return Some(frame.to_vec());
                }
                match self.stream.read_buf(&mut self.buffer).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
    }

    async fn request(&mut self, xid: i32, op: i32, body: &[u8]) -> ReplyHeader {
        let mut writer = Writer::new();
        writer.write_i32(xid);
        writer.write_i32(op);
        let mut frame = writer.into_bytes();
        frame.extend_from_slice(body);
        self.send_frame(&frame).await;
        let reply = self.read_frame().await.expect("a reply");
        ReplyHeader::decode(&mut Reader::new(&reply)).expect("reply header")
    }

    async fn exists(&mut self, xid: i32, path: &str) -> ReplyHeader {
        let mut body = Writer::new();
        body.write_string(path);
        body.write_bool(false);
        self.request(xid, OpCode::Exists.code(), &body.into_bytes()).await
    }

    async fn assert_closed(&mut self) {
        assert_eq!(self.read_frame().await, None, "the server closes the connection");
    }
}

#[tokio::test]
async fn garbage_instead_of_a_handshake_closes_only_that_connection() {
    let node = TestNode::start().await;
    let mut bystander = RawClient::session(&node.address()).await;
    let mut garbage = RawClient::connect(&node.address()).await;
    garbage.send_frame(&[0xff; 7]).await;
    garbage.assert_closed().await;
    // Four-letter words are not frames: "ruok" reads as a 1.9 GB length.
    let mut word = RawClient::connect(&node.address()).await;
    word.send_raw(b"ruok").await;
    word.assert_closed().await;
    let mut negative = RawClient::connect(&node.address()).await;
    negative.send_raw(&(-5i32).to_be_bytes()).await;
    negative.assert_closed().await;
    assert_eq!(bystander.exists(1, "/zookeeper").await.err, 0);
}

#[tokio::test]
async fn a_malformed_request_closes_its_connection_and_no_other() {
    let node = TestNode::start().await;
    let mut bystander = RawClient::session(&node.address()).await;
    let mut bad = RawClient::session(&node.address()).await;
    // A getData whose path length claims more bytes than the frame holds.
    let mut frame = Writer::new();
    frame.write_i32(1);
    frame.write_i32(OpCode::GetData.code());
    frame.write_i32(1_000);
    bad.send_frame(&frame.into_bytes()).await;
    bad.assert_closed().await;
    assert_eq!(bystander.exists(1, "/").await.err, 0);
}

#[tokio::test]
async fn an_unknown_opcode_fails_the_request_not_the_connection() {
    let node = TestNode::start().await;
    let mut client = RawClient::session(&node.address()).await;
    let reply = client.request(7, 999, &[]).await;
    assert_eq!((reply.xid, reply.err), (7, ErrorCode::Unimplemented.code()));
    let reply = client.exists(8, "/zookeeper").await;
    assert_eq!((reply.xid, reply.err), (8, 0));
}

#[tokio::test]
async fn frames_up_to_the_packet_limit_are_served_and_one_byte_more_is_refused() {
    const LIMIT: usize = 4_096;
    let node = TestNode::start_with(|config| config.packet_bytes_max = LIMIT).await;
    let mut bystander = RawClient::session(&node.address()).await;
    let mut client = RawClient::session(&node.address()).await;
    // An exists of a path that fills the frame exactly: header 8 + string 4 + path + bool 1.
    let path = format!("/{}", "p".repeat(LIMIT - 8 - 4 - 1 - 1));
    let reply = client.exists(3, &path).await;
    assert_eq!(
        (reply.xid, reply.err),
        (3, ErrorCode::NoNode.code()),
        "a frame of exactly the limit is served"
    );
    let path = format!("/{}", "p".repeat(LIMIT - 8 - 4 - 1));
    let mut body = Writer::new();
    body.write_i32(4);
    body.write_i32(OpCode::Exists.code());
    body.write_string(&path);
    body.write_bool(false);
    let body = body.into_bytes();
    assert_eq!(body.len(), LIMIT + 1);
    client.send_frame(&body).await;
    client.assert_closed().await;
    assert_eq!(bystander.exists(1, "/").await.err, 0);
}

#[tokio::test]
async fn the_default_limit_is_zookeepers_jute_maxbuffer() {
    assert_eq!(server::config::PACKET_BYTES_MAX_DEFAULT, 1024 * 1024);
    let node = TestNode::start().await;
    let mut client = RawClient::session(&node.address()).await;
    // Announce 1 MiB + 1 and send only a little: refused on the length alone.
    client.send_raw(&(1024 * 1024 + 1i32).to_be_bytes()).await;
    client.send_raw(&[0; 64]).await;
    client.assert_closed().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let node = TestNode::start_with(|config| config.connections_max = 2).await;
    let mut first = RawClient::session(&node.address()).await;
    let _second = RawClient::session(&node.address()).await;
    let mut third = RawClient::connect(&node.address()).await;
    third.assert_closed().await;
    assert_eq!(first.exists(1, "/").await.err, 0);
    drop(first);
    // A freed slot is usable again (the server notices the close asynchronously).
    common::eventually("a freed connection slot", Duration::from_secs(10), || async {
        let mut retry = RawClient::connect(&node.address()).await;
        let request = new_session_request(None);
        retry.send_frame(&request.to_bytes()).await;
        retry.read_frame().await.is_some()
    })
    .await;
}
