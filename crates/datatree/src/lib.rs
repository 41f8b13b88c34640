//! The znode tree: the deterministic state machine every Herald node
//! replicates. No I/O, no clock: time comes in with each request.
//!
//! - [`path`]: path validation and navigation.
//! - [`acl`]: the auth schemes and ACL checks.
//! - [`txn`]: the replicated changes and their encoding.
//! - `prepare`: validating a client write into a txn, ZooKeeper's checks in ZooKeeper's order.
//! - [`pending`]: a leader's proposed-but-uncommitted changes, seen by `prepare`.
//! - `tree`: the state and `apply`, the only place txns change it.
//! - `reads`: reads and watch registration.
//! - [`watches`]: who watches what, and which events a change fires.
//! - [`sessions`]: timeout negotiation and expiry bookkeeping.
//! - `snapshot`: the state as one blob and back.

pub mod acl;
mod acl_cache;
mod children;
mod node;
pub mod path;
pub mod pending;
mod prepare;
mod reads;
pub mod sessions;
mod snapshot;
pub use snapshot::SnapshotView;
mod tree;
pub mod txn;
pub mod watches;

pub use acl::{AuthContext, digest_id};
pub use node::{CONTAINER_OWNER, NodeKind, TTL_MS_MAX, TTL_OWNER_MASK};
pub use pending::PendingChanges;
pub use prepare::{MultiFailure, RequestContext, WriteOp};
pub use sessions::{SessionTracker, negotiate_timeout};
pub use tree::{
    ApplyOutcome, CONFIG_PATH, DataTree, QUOTA_PATH, SessionInfo, TxnResult, ZOOKEEPER_PATH,
};
pub use txn::{Txn, TxnBody};
pub use watches::{WATCHES_PER_SESSION_MAX, WatchEvent, WatchSet};
