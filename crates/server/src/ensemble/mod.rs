//! Ensemble mode: what a node needs beyond standalone to replicate.
//!
//! - [`frames`]: everything one node sends another (ZAB's packets plus the
//!   node's own forwarding of client writes, syncs and session touches).
//! - [`epochs`]: ZAB's accepted/current epochs, kept durable in one file.
//! - [`core_config`]: the replication core's configuration from the node's.
//!
//! The replication logic itself is the sans-IO `broadcast::Peer`; the
//! processor drives it (see `processor::replication`).

pub mod core_config;
pub mod epochs;
pub mod frames;
pub mod transport;

pub use frames::{ForwardedOp, PeerFrame, Refusal};

use broadcast::ServerId;

/// Sends frames to other members. Implemented by the peer transport; a test
/// can substitute a channel.
pub trait PeerLink: Send {
    /// Never blocks: a frame that cannot be queued is dropped and the
    /// connection reset, which the replication core recovers from.
    fn send(&self, to: ServerId, frame: PeerFrame);

    /// Whether frames sent to `peer` now can reach it (a connection is up).
    fn is_connected(&self, peer: ServerId) -> bool;
}
