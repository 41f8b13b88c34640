//! The frames ensemble members exchange, one ordered stream per pair.

use broadcast::PeerMessage;
use proto::Zxid;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerFrame {
    /// Election and ZAB packets, for the replication core.
    Zab(PeerMessage),
    /// Follower → leader: a client write (or session change, or sync) to
    /// order. `request` identifies it on the follower.
    Forward {
        request: u64,
        session: i64,
        /// The identities the client's connection proved (scheme, id).
        auth: Vec<(String, String)>,
        is_super: bool,
        op: ForwardedOp,
    },
    /// Leader → follower: the forwarded request became the proposal `zxid`;
    /// the follower answers its client when it applies that zxid. Sent on
    /// the same stream, before the proposal's COMMIT, so it always arrives first.
    Accepted { request: u64, zxid: Zxid },
    /// Leader → follower: the forwarded request failed validation. The
    /// follower answers once it has applied `barrier`, everything the leader
    /// had proposed when it judged the request.
    Refused { request: u64, refusal: Refusal, barrier: Zxid },
    /// Follower → leader: these sessions had traffic; keep them alive.
    Touch { sessions: Vec<i64> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardedOp {
    /// A client request as its opcode and jute body.
    Request {
        op_code: i32,
        body: Vec<u8>,
    },
    CreateSession {
        timeout_ms: i32,
        password: [u8; 16],
    },
    CloseSession,
    Sync,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// One ZooKeeper error code.
    Error(i32),
    /// A failed multi: one code per op.
    Multi(Vec<i32>),
}
