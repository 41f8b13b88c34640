//! A TCP proxy between a ZooKeeper client and a server that can cut the connection at
//! the worst moment for a write: after the server has applied it and answered, before
//! the answer reaches the client. The client then sees a connection loss for a write
//! that happened, which the recipes must recover from (protected-mode creates of lock
//! contenders, queue claims) without a duplicate or a lost claim. Shared by the lock and
//! queue tests. It also keeps a log of the requests it relayed, so tests can count what
//! a recipe costs.
//!
//! It understands just enough of the wire format: every packet is a 4-byte big-endian
//! length and a body; after each side's first packet (the connect handshake) a request
//! body starts with `xid, opcode` and a reply body with `xid`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// ZooKeeper opcodes that create a node: create, create2, createContainer, createTTL.
const CREATE_OPCODES: &[i32] = &[1, 15, 19, 21];
/// ZooKeeper's multi opcode.
const MULTI_OPCODES: &[i32] = &[14];
/// Larger packets than this mean the stream is not ZooKeeper's; the relay gives up.
const PACKET_BYTES_MAX: usize = 4 * 1024 * 1024;

#[derive(Default)]
struct Plan {
    /// Cut after the next request of these opcodes that contains these bytes (one shot).
    armed: Option<(&'static [i32], Vec<u8>)>,
    cuts: u32,
    /// Opcode and body of every request relayed (after each connection's handshake).
    requests: Vec<(i32, Vec<u8>)>,
    /// Hold every reply back until `requests` has this many entries containing this marker.
    hold: Option<(Vec<u8>, usize)>,
    /// Connections accepted so far.
    connections: u32,
}

impl Plan {
    fn count_containing(&self, marker: &[u8]) -> usize {
        self.requests.iter().filter(|(_, body)| contains(body, marker)).count()
    }

    /// Whether replies must still be held back; lifts the hold once it is satisfied.
    fn holding(&mut self) -> bool {
        let satisfied = match &self.hold {
            None => return false,
            Some((marker, count)) => self.count_containing(marker) >= *count,
        };
        if satisfied {
            self.hold = None;
        }
        !satisfied
    }
}

fn contains(body: &[u8], marker: &[u8]) -> bool {
    body.windows(marker.len()).any(|w| w == marker)
}

pub struct CuttingProxy {
    address: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    /// Bumped on every relayed request, so held replies look again.
    requests_seen: Arc<tokio::sync::watch::Sender<u64>>,
    accept: tokio::task::JoinHandle<()>,
}

impl CuttingProxy {
    /// Listens on 127.0.0.1:0 and relays every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let address = listener.local_addr().unwrap();
        let plan = Arc::new(Mutex::new(Plan::default()));
        let requests_seen = Arc::new(tokio::sync::watch::Sender::new(0));
        let (accept_plan, accept_seen) = (plan.clone(), requests_seen.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accept_plan.lock().unwrap().connections += 1;
                let (plan, seen) = (accept_plan.clone(), accept_seen.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, plan, seen).await;
                    }
                });
            }
        });
        CuttingProxy { address, plan, requests_seen, accept }
    }

    /// The address clients connect to.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Arms a one-shot cut after the next create whose request contains `marker`.
    pub fn cut_after_create_containing(&self, marker: &str) {
        self.plan.lock().unwrap().armed = Some((CREATE_OPCODES, marker.as_bytes().to_vec()));
    }

    /// Arms a one-shot cut after the next multi whose request contains `marker`.
    pub fn cut_after_multi_containing(&self, marker: &str) {
        self.plan.lock().unwrap().armed = Some((MULTI_OPCODES, marker.as_bytes().to_vec()));
    }

    /// Opcodes of the requests relayed so far whose bodies contain `marker` (a path, say),
    /// in the order they reached the proxy. Pings name no path, so they never match.
    pub fn requests_containing(&self, marker: &str) -> Vec<i32> {
        let marker = marker.as_bytes();
        let plan = self.plan.lock().unwrap();
        plan.requests
            .iter()
            .filter(|(_, body)| contains(body, marker))
            .map(|(opcode, _)| *opcode)
            .collect()
    }

    /// Holds back every reply, on every connection, until `count` more requests containing
    /// `marker` have arrived: a client that awaits an answer before sending its next
    /// request gets none until its connection is declared lost.
    pub fn hold_replies_until(&self, marker: &str, count: usize) {
        let mut plan = self.plan.lock().unwrap();
        let marker = marker.as_bytes().to_vec();
        let target = plan.count_containing(&marker) + count;
        plan.hold = Some((marker, target));
        drop(plan);
        self.requests_seen.send_modify(|seen| *seen += 1);
    }

    /// How many client connections the proxy accepted so far.
    pub fn connections(&self) -> u32 {
        self.plan.lock().unwrap().connections
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> u32 {
        self.plan.lock().unwrap().cuts
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn read_packet(reader: &mut OwnedReadHalf) -> Option<Vec<u8>> {
    let mut length = [0u8; 4];
    reader.read_exact(&mut length).await.ok()?;
    let length = usize::try_from(i32::from_be_bytes(length)).ok()?;
    if length > PACKET_BYTES_MAX {
        return None;
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(body)
}

async fn write_packet(writer: &mut OwnedWriteHalf, body: &[u8]) -> Option<()> {
    writer.write_all(&(body.len() as i32).to_be_bytes()).await.ok()?;
    writer.write_all(body).await.ok()
}

fn int_at(body: &[u8], offset: usize) -> Option<i32> {
    Some(i32::from_be_bytes(body.get(offset..offset + 4)?.try_into().ok()?))
}

/// Relays one connection until either side closes or the armed cut happens; returning
/// drops all four halves, which closes both connections.
async fn relay(
    client: TcpStream,
    server: TcpStream,
    plan: Arc<Mutex<Plan>>,
    requests_seen: Arc<tokio::sync::watch::Sender<u64>>,
) {
    let (mut client_in, mut client_out) = client.into_split();
    let (mut server_in, mut server_out) = server.into_split();
    // The xid of the create whose reply must not reach the client.
    let (cut_xid_sender, mut cut_xid) = tokio::sync::watch::channel(None::<i32>);
    let upstream = async {
        let mut handshake = true;
        while let Some(body) = read_packet(&mut client_in).await {
            if !handshake && let (Some(xid), Some(opcode)) = (int_at(&body, 0), int_at(&body, 4)) {
                let mut plan = plan.lock().unwrap();
                let matches = plan.armed.as_ref().is_some_and(|(opcodes, marker)| {
                    opcodes.contains(&opcode) && contains(&body, marker)
                });
                if matches {
                    plan.armed = None;
                    cut_xid_sender.send_replace(Some(xid));
                }
                plan.requests.push((opcode, body.clone()));
                drop(plan);
                requests_seen.send_modify(|seen| *seen += 1);
            }
            handshake = false;
            write_packet(&mut server_out, &body).await?;
        }
        None::<()>
    };
    let downstream = async {
        let mut handshake = true;
        let mut seen = requests_seen.subscribe();
        while let Some(body) = read_packet(&mut server_in).await {
            if !handshake && seen.wait_for(|_| !plan.lock().unwrap().holding()).await.is_err() {
                return;
            }
            let cut = *cut_xid.borrow_and_update();
            if !handshake && cut.is_some() && int_at(&body, 0) == cut {
                plan.lock().unwrap().cuts += 1;
                return;
            }
            handshake = false;
            if write_packet(&mut client_out, &body).await.is_none() {
                return;
            }
        }
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}
