//! Versioned configuration built from znodes, usable against Herald or Apache ZooKeeper.
//!
//! Module map:
//! - [`settings`]: limits (history length, value size), named constants and a checked struct.
//! - [`layout`]: znode paths and name checks (pure).
//! - [`plan`]: pure decisions: may this write proceed given the expected version, and
//!   which history entry falls out of the window.
//! - [`schema`]: optional JSON Schema per namespace.
//! - [`store`]: reads, compare-and-set writes, history.
//! - [`stream`]: the change stream that delivers every version in order and resumes.
//! - [`error`]: typed errors a gateway maps to HTTP statuses.
//!
//! Layout under `{root}/{namespace}` (the namespace node's data is its settings, e.g.
//! its schema): `keys/{key}` holds the current JSON value, its znode version is the
//! key's version; `history/{key}/v-{version}` holds each version's value, written in
//! the same multi as the change itself, so a version exists if and only if its
//! history entry was written. Streams read history entries by exact name, which is
//! what makes them gap-free across bursts and reconnects.

pub mod error;
pub mod layout;
pub mod plan;
pub mod schema;
pub mod settings;
pub mod store;
pub mod stream;

pub use error::ConfigError;
pub use plan::Expected;
pub use settings::ConfigSettings;
pub use store::{ConfigStore, Versioned};
pub use stream::ChangeStream;
