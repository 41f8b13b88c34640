//! The peer transport over real loopback sockets: ordering, reconnection,
//! authentication, frame limits, strangers and overflow.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use server::peer_transport::handshake::{GREETING_BYTES, decode_greeting, encode_hello};
use server::peer_transport::{
    PEER_HANDSHAKE_ACCEPTED, PeerSendError, PeerTransport, PeerTransportSettings,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

/// How long any awaited condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum TestMessage {
    Sequence { from: u64, number: u64 },
    Blob(Vec<u8>),
}

type Inbox = mpsc::Receiver<(u64, TestMessage)>;

/// A second descriptor of every port the tests listen on, so each stays
/// bound (and listening, though never accepted from) until the test process
/// exits. Nodes keep dialling a member after it shuts down, and a freed port
/// is soon handed to a node of a test running alongside, which would then
/// be dialled as a member of this test's ensemble and count the refusals.
static HELD_PORTS: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

fn hold_port(listener: &TcpListener) {
    let duplicate = listener.as_fd().try_clone_to_owned().unwrap();
    HELD_PORTS.lock().unwrap().push(duplicate);
}

/// Binds `count` loopback ports, held until the process exits.
async fn reserve_listeners(count: usize) -> Vec<TcpListener> {
    let mut listeners = Vec::new();
    for _ in 0..count {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        hold_port(&listener);
        listeners.push(listener);
    }
    listeners
}

/// Ids 1..=n mapped to the listeners' addresses.
fn members_of(listeners: &[TcpListener]) -> BTreeMap<u64, String> {
    listeners
        .iter()
        .enumerate()
        .map(|(index, listener)| (index as u64 + 1, listener.local_addr().unwrap().to_string()))
        .collect()
}

/// A secret only this test's ensemble knows. Tests run side by side and a
/// node's port is freed when it shuts down while its peers still dial it;
/// a node of another test that is given that port must refuse them rather
/// than take them for members of its own ensemble.
fn ensemble_secret(members: &BTreeMap<u64, String>) -> String {
    members.values().cloned().collect::<Vec<_>>().join(",")
}

/// Defaults with the ensemble's secret, but quick to redial so tests do not
/// wait on backoff.
fn settings_for(me: u64, members: &BTreeMap<u64, String>) -> PeerTransportSettings {
    let mut settings =
        PeerTransportSettings::new(me, "127.0.0.1:0".parse().unwrap(), members.clone());
    settings.secret = Some(ensemble_secret(members));
    settings.reconnect_backoff_min_ms = 5;
    settings.reconnect_backoff_max_ms = 50;
    settings
}

fn start(
    settings: PeerTransportSettings,
    listener: TcpListener,
) -> (PeerTransport<TestMessage>, Inbox) {
    PeerTransport::start_with_listener(settings, listener).unwrap()
}

/// Polls `condition` until it holds; fails the test at the deadline.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn receive(inbox: &mut Inbox) -> (u64, TestMessage) {
    tokio::time::timeout(DEADLINE, inbox.recv())
        .await
        .expect("a message within the deadline")
        .expect("transport still running")
}

/// Dials `address` as server `id` meaning to reach server `target`, answers
/// the greeting, and returns the stream with the acceptor's verdict:
/// `Some(ACCEPTED)` or `None` if closed.
async fn raw_handshake(
    address: SocketAddr,
    id: u64,
    target: u64,
    secret: Option<&str>,
) -> (TcpStream, Option<u8>) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut greeting = [0u8; GREETING_BYTES];
    stream.read_exact(&mut greeting).await.unwrap();
    let nonce = decode_greeting(&greeting).unwrap();
    stream.write_all(&encode_hello(id, target, &nonce, secret)).await.unwrap();
    let mut verdict = [0u8; 1];
    let read = tokio::time::timeout(DEADLINE, stream.read(&mut verdict)).await.unwrap();
    let verdict = match read {
        Ok(1) => Some(verdict[0]),
        Ok(_) | Err(_) => None,
    };
    (stream, verdict)
}

fn frame_of(message: &TestMessage) -> Vec<u8> {
    let payload = postcard::to_allocvec(message).unwrap();
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&payload);
    frame
}

/// True once the other side has closed `stream` (EOF or reset).
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 256];
    loop {
        match tokio::time::timeout(DEADLINE, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_exchange_ten_thousand_messages_per_pair_in_order() {
    const MESSAGES_PER_PAIR: u64 = 10_000;
    let listeners = reserve_listeners(3).await;
    let members = members_of(&listeners);
    let mut nodes = Vec::new();
    for (index, listener) in listeners.into_iter().enumerate() {
        let mut settings = settings_for(index as u64 + 1, &members);
        settings.outbound_queue_depth = MESSAGES_PER_PAIR as usize;
        nodes.push(start(settings, listener));
    }
    for (transport, _) in &nodes {
        wait_until("every node dialled both others", || transport.connected_peers().len() == 2)
            .await;
    }

    for number in 0..MESSAGES_PER_PAIR {
        for (index, (transport, _)) in nodes.iter().enumerate() {
            let from = index as u64 + 1;
            for to in (1..=3).filter(|to| *to != from) {
                transport.send(to, TestMessage::Sequence { from, number }).unwrap();
            }
        }
    }

    for (index, (transport, inbox)) in nodes.iter_mut().enumerate() {
        let me = index as u64 + 1;
        let mut next_expected: BTreeMap<u64, u64> = BTreeMap::new();
        for _ in 0..2 * MESSAGES_PER_PAIR {
            let (sender, message) = receive(inbox).await;
            let TestMessage::Sequence { from, number } = message else {
                panic!("unexpected message {message:?}");
            };
            assert_eq!(sender, from, "the transport reports the authenticated sender");
            assert_ne!(sender, me);
            let expected = next_expected.entry(sender).or_insert(0);
            assert_eq!(number, *expected, "messages from {sender} to {me} arrive in order");
            *expected += 1;
        }
        let expected: BTreeMap<u64, u64> =
            (1..=3).filter(|id| *id != me).map(|id| (id, MESSAGES_PER_PAIR)).collect();
        assert_eq!(next_expected, expected);
        assert_eq!(transport.stats().dropped_on_full_queue, 0);
    }
    for (transport, _) in nodes {
        transport.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_peer_is_connected_and_receives_later_messages() {
    let mut listeners = reserve_listeners(3).await;
    let members = members_of(&listeners);
    let late_listener = listeners.pop().unwrap();
    let (node_2, _inbox_2) = start(settings_for(2, &members), listeners.pop().unwrap());
    let (node_1, _inbox_1) = start(settings_for(1, &members), listeners.pop().unwrap());
    wait_until("1 and 2 connect", || {
        node_1.connected_peers() == [2] && node_2.connected_peers() == [1]
    })
    .await;
    assert!(!node_1.connected_peers().contains(&3));

    let (node_3, mut inbox_3) = start(settings_for(3, &members), late_listener);
    wait_until("1 and 2 reach the late node", || {
        node_1.connected_peers() == [2, 3] && node_2.connected_peers() == [1, 3]
    })
    .await;
    node_1.send(3, TestMessage::Sequence { from: 1, number: 7 }).unwrap();
    node_2.send(3, TestMessage::Sequence { from: 2, number: 8 }).unwrap();
    let mut received = vec![receive(&mut inbox_3).await, receive(&mut inbox_3).await];
    received.sort_by_key(|(from, _)| *from);
    assert_eq!(
        received,
        vec![
            (1, TestMessage::Sequence { from: 1, number: 7 }),
            (2, TestMessage::Sequence { from: 2, number: 8 }),
        ]
    );
    wait_until("the late node dials both", || node_3.connected_peers() == [1, 2]).await;
    for node in [node_1, node_2, node_3] {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_connects_cuts_our_backoff_towards_it_short() {
    let listener_1 = reserve_listeners(1).await.remove(0);
    // Node 2 is down: its port is bound but not listening, so node 1's first
    // dial is refused and node 1 backs off for a whole minute (far beyond the
    // deadline). The port stays reserved, so no other test can take it
    // before node 2 starts on it.
    let socket_2 = TcpSocket::new_v4().unwrap();
    socket_2.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let members = BTreeMap::from([
        (1, listener_1.local_addr().unwrap().to_string()),
        (2, socket_2.local_addr().unwrap().to_string()),
    ]);
    let mut slow = settings_for(1, &members);
    slow.reconnect_backoff_min_ms = 60_000;
    slow.reconnect_backoff_max_ms = 60_000;
    let (node_1, _inbox_1) = start(slow, listener_1);
    wait_until("node 1's dial to node 2 fails", || node_1.stats().dials_failed >= 1).await;

    let listener_2 = socket_2.listen(1024).unwrap();
    hold_port(&listener_2);
    let (node_2, mut inbox_2) = start(settings_for(2, &members), listener_2);
    // Node 2 dials node 1 at once; that connection is what wakes node 1's writer.
    wait_until("node 1 reconnects to node 2 before its backoff ends", || {
        node_1.connected_peers() == [2]
    })
    .await;
    node_1.send(2, TestMessage::Sequence { from: 1, number: 1 }).unwrap();
    assert_eq!(receive(&mut inbox_2).await, (1, TestMessage::Sequence { from: 1, number: 1 }));
    for node in [node_1, node_2] {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_peer_is_reconnected_in_both_directions() {
    let listener_1 = reserve_listeners(1).await.remove(0);
    // Not held: the restarted node 2 binds this port again.
    let listener_2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address_2 = listener_2.local_addr().unwrap();
    let members = BTreeMap::from([
        (1, listener_1.local_addr().unwrap().to_string()),
        (2, address_2.to_string()),
    ]);
    let (node_2, _inbox_2) = start(settings_for(2, &members), listener_2);
    let (node_1, mut inbox_1) = start(settings_for(1, &members), listener_1);
    wait_until("1 and 2 connect", || {
        node_1.connected_peers() == [2] && node_2.connected_peers() == [1]
    })
    .await;

    node_2.shutdown().await;
    let listener = TcpListener::bind(address_2).await.unwrap();
    hold_port(&listener);
    let (node_2, mut inbox_2) = start(settings_for(2, &members), listener);

    // Messages sent into the old connection as it dies may be lost; keep
    // sending until the new incarnation hears one.
    let mut number = 0;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let heard = loop {
        assert!(tokio::time::Instant::now() < deadline, "restarted peer never reached");
        let _ = node_1.send(2, TestMessage::Sequence { from: 1, number });
        number += 1;
        if let Ok(Some(heard)) =
            tokio::time::timeout(Duration::from_millis(20), inbox_2.recv()).await
        {
            break heard;
        }
    };
    assert_eq!(heard.0, 1);

    node_2.send(1, TestMessage::Sequence { from: 2, number: 99 }).unwrap();
    assert_eq!(receive(&mut inbox_1).await, (2, TestMessage::Sequence { from: 2, number: 99 }));
    assert_eq!(node_1.inbound_peers(), [2]);
    node_1.shutdown().await;
    node_2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_connection_from_the_same_id_replaces_the_older() {
    let listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let secret = ensemble_secret(&members);
    let mut listeners = listeners.into_iter();
    let (node_1, mut inbox_1) = start(settings_for(1, &members), listeners.next().unwrap());
    let address = node_1.local_addr();

    let (mut older, verdict) = raw_handshake(address, 2, 1, Some(&secret)).await;
    assert_eq!(verdict, Some(PEER_HANDSHAKE_ACCEPTED));
    older.write_all(&frame_of(&TestMessage::Sequence { from: 2, number: 1 })).await.unwrap();
    assert_eq!(receive(&mut inbox_1).await.1, TestMessage::Sequence { from: 2, number: 1 });

    let (mut newer, verdict) = raw_handshake(address, 2, 1, Some(&secret)).await;
    assert_eq!(verdict, Some(PEER_HANDSHAKE_ACCEPTED));
    assert!(closed_by_peer(&mut older).await, "the older connection is closed");
    newer.write_all(&frame_of(&TestMessage::Sequence { from: 2, number: 2 })).await.unwrap();
    assert_eq!(receive(&mut inbox_1).await, (2, TestMessage::Sequence { from: 2, number: 2 }));
    assert_eq!(node_1.inbound_peers(), [2]);
    node_1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_connection_finishing_its_handshake_last_does_not_replace_the_newer() {
    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let secret = ensemble_secret(&members);
    let (node_1, mut inbox_1) = start(settings_for(1, &members), listeners.remove(0));
    let address = node_1.local_addr();

    // Accepted first, but its hello comes only after the newer connection is
    // live: a dialer that gave up on a slow handshake and dialled again.
    let mut abandoned = TcpStream::connect(address).await.unwrap();
    let mut greeting = [0u8; GREETING_BYTES];
    abandoned.read_exact(&mut greeting).await.unwrap();
    let (mut newer, verdict) = raw_handshake(address, 2, 1, Some(&secret)).await;
    assert_eq!(verdict, Some(PEER_HANDSHAKE_ACCEPTED));

    let nonce = decode_greeting(&greeting).unwrap();
    abandoned.write_all(&encode_hello(2, 1, &nonce, Some(&secret))).await.unwrap();
    // Refused at once, or replaced by the newer one if that had not finished
    // registering yet (it writes its verdict just before): closed either way.
    assert!(closed_by_peer(&mut abandoned).await, "the older connection is closed");
    newer.write_all(&frame_of(&TestMessage::Sequence { from: 2, number: 1 })).await.unwrap();
    assert_eq!(receive(&mut inbox_1).await, (2, TestMessage::Sequence { from: 2, number: 1 }));
    assert_eq!(node_1.inbound_peers(), [2]);
    node_1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_ensemble_dialling_a_reused_address_is_refused() {
    const MESSAGES: u64 = 1_000;
    // Ensemble A: members 1 and 3 run; member 2's port stays bound, unserved.
    let mut listeners = reserve_listeners(3).await;
    let members = members_of(&listeners);
    let listener_3 = listeners.pop().unwrap();
    let _member_2_port = listeners.pop().unwrap();
    let (node_3, mut inbox_3) = start(settings_for(3, &members), listener_3);
    let (node_1, _inbox_1) = start(settings_for(1, &members), listeners.pop().unwrap());
    wait_until("1 dials 3", || node_1.connected_peers() == [3]).await;

    // Ensemble B's member 1 believes its member 2 is at node 3's address (the
    // port was B's member 2 once): it dials node 3 as id 1, again and again.
    // It knows A's secret, as ensembles of one deployment may share one.
    let stranger_listener = reserve_listeners(1).await.remove(0);
    let stranger_members = BTreeMap::from([
        (1, stranger_listener.local_addr().unwrap().to_string()),
        (2, node_3.local_addr().to_string()),
    ]);
    let mut stranger_settings = settings_for(1, &stranger_members);
    stranger_settings.secret = Some(ensemble_secret(&members));
    let (stranger, _stranger_inbox) = start(stranger_settings, stranger_listener);
    wait_until("node 3 refused the stranger", || node_3.stats().handshakes_refused >= 2).await;
    assert!(stranger.connected_peers().is_empty());

    // Node 1's connection to 3 was never replaced, so nothing it carries is lost.
    for number in 0..MESSAGES {
        node_1.send(3, TestMessage::Sequence { from: 1, number }).unwrap();
    }
    for number in 0..MESSAGES {
        assert_eq!(receive(&mut inbox_3).await, (1, TestMessage::Sequence { from: 1, number }));
    }
    assert_eq!(node_3.inbound_peers(), [1]);
    for node in [stranger, node_1, node_3] {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_right_secret_gets_in() {
    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut settings = settings_for(1, &members);
    settings.secret = Some("right".to_owned());
    let (node_1, mut inbox_1) = start(settings, listeners.remove(0));
    let address = node_1.local_addr();

    let (mut wrong, verdict) = raw_handshake(address, 2, 1, Some("wrong")).await;
    assert_eq!(verdict, None, "a wrong MAC is refused");
    // Frames written after a refusal go nowhere.
    let _ = wrong.write_all(&frame_of(&TestMessage::Sequence { from: 2, number: 0 })).await;
    let (_, verdict) = raw_handshake(address, 2, 1, None).await;
    assert_eq!(verdict, None, "no MAC is refused when a secret is set");

    let (mut right, verdict) = raw_handshake(address, 2, 1, Some("right")).await;
    assert_eq!(verdict, Some(PEER_HANDSHAKE_ACCEPTED));
    right.write_all(&frame_of(&TestMessage::Sequence { from: 2, number: 1 })).await.unwrap();
    assert_eq!(
        receive(&mut inbox_1).await,
        (2, TestMessage::Sequence { from: 2, number: 1 }),
        "the first delivery comes from the authenticated connection"
    );
    wait_until("both refusals are counted", || node_1.stats().handshakes_refused == 2).await;
    node_1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transports_with_different_secrets_do_not_talk() {
    let mut listeners = reserve_listeners(3).await;
    let members = members_of(&listeners);
    let with_secret = |me: u64, secret: &str| {
        let mut settings = settings_for(me, &members);
        settings.secret = Some(secret.to_owned());
        settings
    };
    let (node_3, _inbox_3) = start(with_secret(3, "shared"), listeners.pop().unwrap());
    let (node_2, _inbox_2) = start(with_secret(2, "other"), listeners.pop().unwrap());
    let (node_1, mut inbox_1) = start(with_secret(1, "shared"), listeners.pop().unwrap());

    node_2.send(1, TestMessage::Sequence { from: 2, number: 0 }).unwrap();
    wait_until("node 1 refused node 2", || node_1.stats().handshakes_refused >= 1).await;
    node_3.send(1, TestMessage::Sequence { from: 3, number: 0 }).unwrap();
    assert_eq!(receive(&mut inbox_1).await, (3, TestMessage::Sequence { from: 3, number: 0 }));
    assert!(inbox_1.try_recv().is_err(), "nothing from the node with the wrong secret");
    assert_eq!(node_1.inbound_peers(), [3]);
    assert!(!node_2.connected_peers().contains(&1));
    for node in [node_1, node_2, node_3] {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_own_ids_are_refused() {
    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let secret = ensemble_secret(&members);
    let (node_1, mut inbox_1) = start(settings_for(1, &members), listeners.remove(0));
    let address = node_1.local_addr();

    let (_, verdict) = raw_handshake(address, 9, 1, Some(&secret)).await;
    assert_eq!(verdict, None, "id 9 is not a member");
    let (_, verdict) = raw_handshake(address, 1, 1, Some(&secret)).await;
    assert_eq!(verdict, None, "id 1 is the node itself");
    let (_, verdict) = raw_handshake(address, 2, 3, Some(&secret)).await;
    assert_eq!(verdict, None, "member 2 meant to reach member 3");
    // The acceptor counts a refusal just after closing the connection.
    wait_until("every refusal is counted", || node_1.stats().handshakes_refused == 3).await;
    assert!(inbox_1.try_recv().is_err());
    assert!(node_1.inbound_peers().is_empty());
    node_1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_at_the_limit_is_accepted_and_one_byte_above_is_refused() {
    const FRAME_BYTES_MAX: usize = 1024;
    // Variant tag (1 byte) + length varint (2 bytes) + data.
    let at_limit = TestMessage::Blob(vec![0xAB; FRAME_BYTES_MAX - 3]);
    let above_limit = TestMessage::Blob(vec![0xCD; FRAME_BYTES_MAX - 2]);
    assert_eq!(postcard::to_allocvec(&at_limit).unwrap().len(), FRAME_BYTES_MAX);
    assert_eq!(postcard::to_allocvec(&above_limit).unwrap().len(), FRAME_BYTES_MAX + 1);

    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let secret = ensemble_secret(&members);
    let mut settings = settings_for(1, &members);
    settings.frame_bytes_max = FRAME_BYTES_MAX;
    let (node_1, mut inbox_1) = start(settings, listeners.remove(0));
    let address = node_1.local_addr();

    let (mut peer, verdict) = raw_handshake(address, 2, 1, Some(&secret)).await;
    assert_eq!(verdict, Some(PEER_HANDSHAKE_ACCEPTED));
    peer.write_all(&frame_of(&at_limit)).await.unwrap();
    assert_eq!(receive(&mut inbox_1).await, (2, at_limit));

    let _ = peer.write_all(&frame_of(&above_limit)).await;
    assert!(closed_by_peer(&mut peer).await, "an oversized frame closes the connection");

    let (mut again, verdict) = raw_handshake(address, 2, 1, Some(&secret)).await;
    assert_eq!(verdict, Some(PEER_HANDSHAKE_ACCEPTED));
    let marker = TestMessage::Sequence { from: 2, number: 3 };
    again.write_all(&frame_of(&marker)).await.unwrap();
    assert_eq!(receive(&mut inbox_1).await, (2, marker), "the oversized frame was not delivered");
    node_1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_refuses_a_message_above_the_frame_limit() {
    const FRAME_BYTES_MAX: usize = 1024;
    let at_limit = TestMessage::Blob(vec![1; FRAME_BYTES_MAX - 3]);
    let above_limit = TestMessage::Blob(vec![2; FRAME_BYTES_MAX - 2]);
    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut settings = settings_for(2, &members);
    settings.frame_bytes_max = FRAME_BYTES_MAX;
    let (node_2, mut inbox_2) = start(settings.clone(), listeners.pop().unwrap());
    settings.me = 1;
    let (node_1, _inbox_1) = start(settings, listeners.pop().unwrap());

    node_1.send(2, above_limit).unwrap();
    node_1.send(2, at_limit.clone()).unwrap();
    assert_eq!(receive(&mut inbox_2).await, (1, at_limit));
    assert_eq!(node_1.stats().unsendable, 1);
    node_1.shutdown().await;
    node_2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_closed_and_peers_still_served() {
    let mut listeners = reserve_listeners(3).await;
    let members = members_of(&listeners);
    let secret = ensemble_secret(&members);
    // Member 3 never starts (its port stays reserved); its id is borrowed by
    // a raw client below so that node 2's own connection is not replaced by it.
    let _member_3_port = listeners.pop().unwrap();
    let (node_2, _inbox_2) = start(settings_for(2, &members), listeners.pop().unwrap());
    let (node_1, mut inbox_1) = start(settings_for(1, &members), listeners.pop().unwrap());
    let address = node_1.local_addr();

    // A ZooKeeper client's ConnectRequest: a length prefix, then zeros.
    let mut zookeeper_client = TcpStream::connect(address).await.unwrap();
    let mut connect_request = 44u32.to_be_bytes().to_vec();
    connect_request.extend_from_slice(&[0; 44]);
    zookeeper_client.write_all(&connect_request).await.unwrap();
    assert!(closed_by_peer(&mut zookeeper_client).await);

    let mut garbage = TcpStream::connect(address).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(closed_by_peer(&mut garbage).await);

    // Garbage after a good handshake: a frame that decodes as nothing.
    let (mut confused, verdict) = raw_handshake(address, 3, 1, Some(&secret)).await;
    assert_eq!(verdict, Some(PEER_HANDSHAKE_ACCEPTED));
    confused.write_all(&[0, 0, 0, 3, 0xFF, 0xFF, 0xFF]).await.unwrap();
    assert!(closed_by_peer(&mut confused).await, "an undecodable frame closes the connection");

    wait_until("node 2 is connected", || node_2.connected_peers().contains(&1)).await;
    node_2.send(1, TestMessage::Sequence { from: 2, number: 5 }).unwrap();
    assert_eq!(receive(&mut inbox_1).await, (2, TestMessage::Sequence { from: 2, number: 5 }));
    wait_until("both strangers are counted", || node_1.stats().handshakes_refused == 2).await;
    node_1.shutdown().await;
    node_2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_closed_at_the_handshake_deadline() {
    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut settings = settings_for(1, &members);
    settings.handshake_timeout_ms = 100;
    let (node_1, _inbox_1) = start(settings, listeners.remove(0));

    let mut silent = TcpStream::connect(node_1.local_addr()).await.unwrap();
    let mut greeting = [0u8; GREETING_BYTES];
    silent.read_exact(&mut greeting).await.unwrap();
    assert!(closed_by_peer(&mut silent).await);
    wait_until("the timeout is counted", || node_1.stats().handshakes_refused == 1).await;
    node_1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_handshakes_beyond_the_limit_are_closed() {
    const PENDING_MAX: usize = 2;
    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut settings = settings_for(1, &members);
    settings.pending_handshakes_max = PENDING_MAX;
    let (node_1, _inbox_1) = start(settings, listeners.remove(0));
    let address = node_1.local_addr();

    let mut pending = Vec::new();
    for _ in 0..PENDING_MAX {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let mut greeting = [0u8; GREETING_BYTES];
        stream.read_exact(&mut greeting).await.unwrap();
        pending.push(stream);
    }
    let mut one_too_many = TcpStream::connect(address).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(DEADLINE, one_too_many.read(&mut byte)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "closed without a greeting");

    drop(pending.pop());
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        let mut stream = TcpStream::connect(address).await.unwrap();
        let mut greeting = [0u8; GREETING_BYTES];
        if stream.read_exact(&mut greeting).await.is_ok() {
            break;
        }
    }
    node_1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_drops_resets_and_discards_what_was_queued() {
    const QUEUE_DEPTH: usize = 4;
    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    // Node 2's socket exists but nobody serves it yet: node 1's dial hangs
    // in the handshake, so its queue fills.
    let unserved = listeners.pop().unwrap();
    let mut settings = settings_for(1, &members);
    settings.outbound_queue_depth = QUEUE_DEPTH;
    let (node_1, _inbox_1) = start(settings, listeners.pop().unwrap());

    for number in 0..QUEUE_DEPTH as u64 {
        node_1.send(2, TestMessage::Sequence { from: 1, number }).unwrap();
    }
    let overflow = node_1.send(2, TestMessage::Sequence { from: 1, number: 4 });
    assert_eq!(overflow, Err(PeerSendError::QueueFull { to: 2 }));
    assert_eq!(node_1.stats().dropped_on_full_queue, 1);
    wait_until("the writer resets", || node_1.stats().resets == 1).await;
    assert_eq!(node_1.stats().discarded_on_reset, QUEUE_DEPTH as u64);

    let after = TestMessage::Sequence { from: 1, number: 100 };
    node_1.send(2, after.clone()).unwrap();
    let (node_2, mut inbox_2) = start(settings_for(2, &members), unserved);
    assert_eq!(receive(&mut inbox_2).await, (1, after), "nothing queued before the drop arrives");
    assert_eq!(
        node_1.send(99, TestMessage::Blob(vec![])),
        Err(PeerSendError::UnknownPeer { to: 99 })
    );
    assert_eq!(
        node_1.send(1, TestMessage::Blob(vec![])),
        Err(PeerSendError::UnknownPeer { to: 1 })
    );
    node_1.shutdown().await;
    node_2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_on_a_live_connection_loses_only_a_suffix_before_the_break() {
    const QUEUE_DEPTH: usize = 8;
    const BLOB_BYTES: usize = 64 * 1024;
    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut settings_2 = settings_for(2, &members);
    settings_2.inbound_queue_depth = 1;
    let (node_2, mut inbox_2) = start(settings_2, listeners.pop().unwrap());
    let mut settings_1 = settings_for(1, &members);
    settings_1.outbound_queue_depth = QUEUE_DEPTH;
    let (node_1, _inbox_1) = start(settings_1, listeners.pop().unwrap());
    wait_until("1 dials 2", || node_1.connected_peers() == [2]).await;

    // Node 2's inbox is not read, so its reader stalls, the socket buffers
    // fill, node 1's writer blocks and its queue overflows.
    let mut sent = 0u64;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "queue never filled");
        let mut blob = sent.to_be_bytes().to_vec();
        blob.resize(BLOB_BYTES, 0);
        match node_1.send(2, TestMessage::Blob(blob)) {
            Ok(()) => sent += 1,
            Err(PeerSendError::QueueFull { .. }) => break,
            Err(other) => panic!("unexpected {other}"),
        }
        tokio::task::yield_now().await;
    }
    wait_until("the writer resets", || node_1.stats().resets == 1).await;
    let marker = TestMessage::Sequence { from: 1, number: u64::MAX };
    node_1.send(2, marker.clone()).unwrap();

    let mut delivered = Vec::new();
    loop {
        let (from, message) = receive(&mut inbox_2).await;
        assert_eq!(from, 1);
        match message {
            TestMessage::Blob(blob) => {
                delivered.push(u64::from_be_bytes(blob[..8].try_into().unwrap()))
            }
            message => {
                assert_eq!(message, marker);
                break;
            }
        }
    }
    let prefix: Vec<u64> = (0..delivered.len() as u64).collect();
    assert_eq!(delivered, prefix, "what arrived before the break is a gap-free prefix");
    assert!((delivered.len() as u64) < sent, "the overflow lost something");
    node_1.shutdown().await;
    node_2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_addresses_are_resolved_by_name() {
    let mut listeners = reserve_listeners(2).await;
    let mut members = members_of(&listeners);
    let port_2 = listeners[1].local_addr().unwrap().port();
    members.insert(2, format!("localhost:{port_2}"));
    let (node_2, mut inbox_2) = start(settings_for(2, &members), listeners.pop().unwrap());
    let (node_1, _inbox_1) = start(settings_for(1, &members), listeners.pop().unwrap());

    node_1.send(2, TestMessage::Sequence { from: 1, number: 1 }).unwrap();
    assert_eq!(receive(&mut inbox_2).await, (1, TestMessage::Sequence { from: 1, number: 1 }));
    node_1.shutdown().await;
    node_2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_without_a_secret_talk() {
    let mut listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let without_secret = |me: u64| {
        let mut settings = settings_for(me, &members);
        settings.secret = None;
        settings
    };
    let (node_2, mut inbox_2) = start(without_secret(2), listeners.pop().unwrap());
    let (node_1, _inbox_1) = start(without_secret(1), listeners.pop().unwrap());

    node_1.send(2, TestMessage::Sequence { from: 1, number: 1 }).unwrap();
    assert_eq!(receive(&mut inbox_2).await, (1, TestMessage::Sequence { from: 1, number: 1 }));
    node_1.shutdown().await;
    node_2.shutdown().await;
}
