//! ZooKeeper's wire protocol, without I/O.
//!
//! - [`jute`]: the primitive encoding (big-endian ints, length-prefixed
//!   buffers, strings and vectors) and the [`jute::Record`] trait.
//! - [`codes`]: opcodes, error codes, reserved xids, create modes, events.
//! - [`types`]: records shared by requests, replies and the data tree
//!   (`Stat`, `Acl`, `Id`) and the `Zxid`/`SessionId` newtypes.
//!
//! Everything here is a pure function of bytes, so it is property-tested
//! (encode then decode returns the same value) and fuzzable.

pub mod codes;
pub mod jute;
pub mod types;

pub use codes::{AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, WatcherType};
pub use jute::{DecodeError, Reader, Record, Writer};
pub use types::{Acl, Id, SessionId, Stat, Zxid};
