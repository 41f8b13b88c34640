//! ZooKeeper's wire protocol, without I/O.
//!
//! - [`jute`]: the primitive encoding (big-endian ints, length-prefixed
//!   buffers, strings and vectors) and the [`jute::Record`] trait.
//! - [`field`]: per-type field codecs and the `record!` macro that declares
//!   a record as its list of fields, so each record is written once.
//! - [`codes`]: opcodes, error codes, reserved xids, create modes, events.
//! - [`types`]: records shared by requests, replies and the data tree
//!   (`Stat`, `Acl`, `Id`) and the `Zxid`/`SessionId` newtypes.
//! - [`records`]: every other jute record a client sends or receives.
//! - [`request`] / [`response`]: a request or reply body per opcode,
//!   including multi's framing of ops and results.
//! - [`frame`]: the length-prefixed framing with its size bound.
//!
//! Everything here is a pure function of bytes, so it is property-tested
//! (encode then decode returns the same value) and fuzzable.

pub mod codes;
pub mod field;
pub mod frame;
pub mod jute;
pub mod records;
pub mod request;
pub mod response;
pub mod types;

pub use codes::{AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, WatcherType};
pub use jute::{DecodeError, Reader, Record, Writer};
pub use request::{MultiOp, Request};
pub use response::{MultiReadResult, MultiResult, Response};
pub use types::{Acl, Id, SessionId, Stat, Zxid};
