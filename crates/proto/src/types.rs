//! Records shared by requests, replies, the data tree and its txns:
//! identities, ACLs, `Stat`, and the `Zxid`/`SessionId` newtypes.

use crate::jute::{DecodeError, Reader, Record, Writer};

/// A ZooKeeper transaction id: epoch in the high 32 bits, counter in the low 32.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Zxid(pub i64);

impl Zxid {
    pub const ZERO: Zxid = Zxid(0);

    pub fn new(epoch: u32, counter: u32) -> Self {
        Zxid(((epoch as i64) << 32) | counter as i64)
    }

    pub fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub fn counter(self) -> u32 {
        self.0 as u32
    }

    /// The next zxid in the same epoch, or `None` when the counter is exhausted
    /// (a new epoch must then be started).
    pub fn next(self) -> Option<Zxid> {
        self.counter().checked_add(1).map(|counter| Zxid::new(self.epoch(), counter))
    }
}

impl std::fmt::Display for Zxid {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "0x{:x}", self.0)
    }
}

/// A client session id (`sessionId` on the wire).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct SessionId(pub i64);

impl std::fmt::Display for SessionId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "0x{:x}", self.0)
    }
}

/// `data.Id`: an authentication scheme and the identity within it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Id { scheme: scheme.into(), id: id.into() }
    }

    /// `world:anyone`.
    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }
}

impl Record for Id {
    const MIN_ENCODED_BYTES: usize = 8;

    fn encode(&self, writer: &mut Writer) {
        writer.write_string(&self.scheme);
        writer.write_string(&self.id);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Id { scheme: reader.read_string()?, id: reader.read_string()? })
    }
}

/// `data.ACL`: permission bits (see [`crate::codes::perms`]) granted to an id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    /// `ZooDefs.Ids.OPEN_ACL_UNSAFE`: everything for everyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl { perms: crate::codes::perms::ALL, id: Id::anyone() }]
    }
}

impl Record for Acl {
    const MIN_ENCODED_BYTES: usize = 12;

    fn encode(&self, writer: &mut Writer) {
        writer.write_i32(self.perms);
        self.id.encode(writer);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Acl { perms: reader.read_i32()?, id: Id::decode(reader)? })
    }
}

/// `data.Stat`: the metadata of a znode as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Stat {
    /// Zxid of the txn that created the node.
    pub czxid: i64,
    /// Zxid of the txn that last modified the node's data.
    pub mzxid: i64,
    /// Creation time, milliseconds since the epoch (the leader's clock at prep).
    pub ctime: i64,
    /// Last data modification time.
    pub mtime: i64,
    /// Number of data changes.
    pub version: i32,
    /// Number of child changes (creates and deletes).
    pub cversion: i32,
    /// Number of ACL changes.
    pub aversion: i32,
    /// Owning session for an ephemeral node, 0 otherwise.
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    /// Zxid of the txn that last changed the node's children.
    pub pzxid: i64,
}

impl Record for Stat {
    const MIN_ENCODED_BYTES: usize = 68;

    fn encode(&self, writer: &mut Writer) {
        writer.write_i64(self.czxid);
        writer.write_i64(self.mzxid);
        writer.write_i64(self.ctime);
        writer.write_i64(self.mtime);
        writer.write_i32(self.version);
        writer.write_i32(self.cversion);
        writer.write_i32(self.aversion);
        writer.write_i64(self.ephemeral_owner);
        writer.write_i32(self.data_length);
        writer.write_i32(self.num_children);
        writer.write_i64(self.pzxid);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Stat {
            czxid: reader.read_i64()?,
            mzxid: reader.read_i64()?,
            ctime: reader.read_i64()?,
            mtime: reader.read_i64()?,
            version: reader.read_i32()?,
            cversion: reader.read_i32()?,
            aversion: reader.read_i32()?,
            ephemeral_owner: reader.read_i64()?,
            data_length: reader.read_i32()?,
            num_children: reader.read_i32()?,
            pzxid: reader.read_i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_splits_epoch_and_counter() {
        let zxid = Zxid::new(3, 7);
        assert_eq!(zxid.0, 0x0000_0003_0000_0007);
        assert_eq!((zxid.epoch(), zxid.counter()), (3, 7));
        assert_eq!(Zxid::new(3, u32::MAX).next(), None);
        assert_eq!(Zxid::new(3, 7).next(), Some(Zxid::new(3, 8)));
    }

    #[test]
    fn stat_is_68_bytes() {
        assert_eq!(Stat::default().to_bytes().len(), Stat::MIN_ENCODED_BYTES);
    }
}
