//! A work queue built from znodes, usable against Herald or Apache ZooKeeper.
//!
//! Module map:
//! - [`config`]: the limits a queue runs with, each a named constant and a validated field.
//! - [`clock`]: where "now" comes from, so delay logic is testable without waiting.
//! - [`layout`]: znode paths and item identifiers (pure string work).
//! - [`records`]: the JSON stored in znodes (item, queue state).
//! - [`plan`]: the pure decision of what a claimer may do with one item.
//! - [`queue`]: the handle, opening a queue and its statistics.
//! - [`enqueue`], [`claim`], [`settle`]: the operations, one file per phase of an
//!   item's life (in, out to a consumer, and back: ack, nack, extend).
//! - [`bulk`]: loading many items in one multi each (same layout as `enqueue`).
//! - [`error`]: the typed errors a gateway maps to HTTP statuses.
//!
//! Layout under `{root}/{queue}`:
//! `state` (sequence counters, the compare-and-set point of enqueues),
//! `lanes/p{priority}/b-{bucket}/i-{seq}` (items, sharded so no getChildren approaches
//! the packet limit), `claims/{item}` (ephemeral, owned by the claimer's session),
//! `tally/{item}` (one entry per live item: its parent's child count is the depth),
//! `dead/b-{bucket}/i-{seq}` (dead letters), `keys/{idempotency key}` (points at the
//! item it created). `claims` and `tally` are counted from their Stat, never listed.

pub mod bulk;
pub mod claim;
pub mod clock;
pub mod config;
pub mod enqueue;
pub mod error;
pub mod layout;
pub mod plan;
pub mod queue;
pub mod records;
pub mod settle;

pub use claim::{ClaimRequest, Claimed};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::QueueConfig;
pub use enqueue::{EnqueueRequest, Enqueued};
pub use error::QueueError;
pub use layout::{ItemId, Receipt};
pub use queue::{DeadLetter, Queue, QueueStats};
pub use settle::{Extended, NackOutcome};
