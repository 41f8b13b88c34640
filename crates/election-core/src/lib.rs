//! Fast leader election, as ZooKeeper's `FastLeaderElection` runs it, with no
//! sockets and no clock: the driver feeds [`Election`] notifications and
//! ticks and carries out the [`ElectionAction`]s it returns, in order.
//!
//! API CONTRACT (shared with `broadcast`): the public types and signatures
//! re-exported here are what other crates code against; they change only
//! together with their callers.
//!
//! Module map (each file has one job):
//! - `types`: the nouns of a notification (`ServerId`, `PeerState`, `Vote`, ...).
//! - `quorum`: ensemble membership and the majority rule.
//! - `config`: the election's configuration, its validation and the error type.
//! - `vote`: how votes are ordered (`total_order_predicate`).
//! - `tally`: counting votes and ZooKeeper's `checkLeader` guard.
//! - `action`: what the election asks the driver to do.
//! - `election`: the state machine tying them together.

mod action;
mod config;
mod election;
mod quorum;
mod tally;
mod types;
mod vote;

pub use action::ElectionAction;
pub use config::{ElectionConfig, ElectionError, NOTIFICATION_TIMEOUT_TICKS_FLOOR};
pub use election::Election;
pub use quorum::QuorumConfig;
pub use types::{LearnerType, Notification, PeerState, ServerId, Vote};
pub use vote::total_order_predicate;

#[cfg(test)]
mod election_tests;
