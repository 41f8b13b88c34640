//! What travels between simulated servers besides ZAB's own packets, and the
//! byte layouts the simulator puts inside opaque fields: a proposal's txn is
//! prefixed by the tag of the client request it serves, and a snapshot
//! carries the tree plus the list of txns it reflects (for the checkers).

use broadcast::{PeerMessage, ServerId};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use proto::{ErrorCode, SessionId, Zxid};

use crate::disk::{Snapshot, TxnId};
use crate::history::ClientId;

/// Identifies one client request across servers and in the replicated txn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestTag {
    pub client: ClientId,
    pub seq: u64,
}

const TAG_BYTES: usize = 12;

/// A client write as the leader receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientWrite {
    CreateSession,
    Create {
        path: String,
        data: u64,
    },
    SetData {
        path: String,
        data: u64,
        version: i32,
    },
    /// A multi of `check(path, version)` and `setData(path, data)`.
    CheckAndSet {
        path: String,
        data: u64,
        version: i32,
    },
    Delete {
        path: String,
        version: i32,
    },
    /// An ephemeral node owned by the request's session.
    CreateEphemeral {
        path: String,
    },
    /// Ends the session; its ephemerals go with it.
    CloseSession,
    /// An empty multi: committing it proves the leader still leads and
    /// orders it after every write acknowledged before (how `sync` is made
    /// linearizable here).
    Sync,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRequest {
    pub tag: RequestTag,
    pub origin: ServerId,
    pub session: SessionId,
    pub write: ClientWrite,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimMessage {
    Peer(PeerMessage),
    /// A learner forwards a client write to its leader.
    Forward(WriteRequest),
    /// The leader refused a write at prepare; the origin answers once its own
    /// state has caught up with the leader's state the refusal was based on.
    Refused {
        tag: RequestTag,
        code: ErrorCode,
        leader_zxid: Zxid,
    },
}

/// A proposal's payload: the request tag, then the encoded txn.
pub fn encode_payload(tag: RequestTag, txn: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(TAG_BYTES + txn.len());
    out.put_u32(tag.client);
    out.put_u64(tag.seq);
    out.put_slice(txn);
    out.freeze()
}

pub fn decode_payload(payload: &Bytes) -> Option<(RequestTag, Bytes)> {
    if payload.len() < TAG_BYTES {
        return None;
    }
    let mut header = &payload[..TAG_BYTES];
    let client = header.get_u32();
    let seq = header.get_u64();
    Some((RequestTag { client, seq }, payload.slice(TAG_BYTES..)))
}

pub fn encode_snapshot(snapshot: &Snapshot) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i64(snapshot.zxid.0);
    out.put_u32(snapshot.history.len() as u32);
    for (zxid, hash) in &snapshot.history {
        out.put_i64(zxid.0);
        out.put_u64(*hash);
    }
    out.put_slice(&snapshot.tree);
    out.freeze()
}

pub fn decode_snapshot(bytes: &Bytes) -> Option<Snapshot> {
    let mut reader = &bytes[..];
    if reader.remaining() < 12 {
        return None;
    }
    let zxid = Zxid(reader.get_i64());
    let count = reader.get_u32() as usize;
    if reader.remaining() < count.checked_mul(16)? {
        return None;
    }
    let history: Vec<TxnId> =
        (0..count).map(|_| (Zxid(reader.get_i64()), reader.get_u64())).collect();
    let tree = bytes.slice(bytes.len() - reader.remaining()..);
    Some(Snapshot { zxid, tree, history })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_short_input_is_refused() {
        let tag = RequestTag { client: 7, seq: 99 };
        let payload = encode_payload(tag, b"txn");
        assert_eq!(decode_payload(&payload), Some((tag, Bytes::from_static(b"txn"))));
        assert_eq!(decode_payload(&Bytes::from_static(&[0; TAG_BYTES - 1])), None);
    }

    #[test]
    fn snapshot_round_trips_and_truncated_input_is_refused() {
        let snapshot = Snapshot {
            zxid: Zxid::new(2, 3),
            tree: Bytes::from_static(b"tree"),
            history: vec![(Zxid::new(1, 1), 5), (Zxid::new(2, 3), 6)],
        };
        let bytes = encode_snapshot(&snapshot);
        assert_eq!(decode_snapshot(&bytes), Some(snapshot));
        assert_eq!(decode_snapshot(&bytes.slice(..20)), None);
    }
}
