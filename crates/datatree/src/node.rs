//! One znode and the ZooKeeper encodings of its kind in `ephemeralOwner`.

use proto::Stat;

use crate::acl_cache::SharedAcl;
use crate::children::Children;

/// `ephemeralOwner` of a container node (`EphemeralType.CONTAINER`).
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// High byte of `ephemeralOwner` marking a TTL node; the low bits hold the TTL.
pub const TTL_OWNER_MASK: i64 = 0xFF00_0000_0000_0000u64 as i64;
/// Largest TTL a node may have, in milliseconds (`EphemeralType.TTL` max).
pub const TTL_MS_MAX: i64 = 0x00FF_FFFF_FFFF;

/// What `ephemeralOwner` says a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    Ephemeral { session: i64 },
    Container,
    Ttl { ttl_ms: i64 },
}

impl NodeKind {
    pub fn of_owner(ephemeral_owner: i64) -> NodeKind {
        if ephemeral_owner == 0 {
            NodeKind::Persistent
        } else if ephemeral_owner == CONTAINER_OWNER {
            NodeKind::Container
        } else if ephemeral_owner & TTL_OWNER_MASK == TTL_OWNER_MASK {
            NodeKind::Ttl { ttl_ms: ephemeral_owner & !TTL_OWNER_MASK }
        } else {
            NodeKind::Ephemeral { session: ephemeral_owner }
        }
    }

    pub fn ttl_owner(ttl_ms: i64) -> i64 {
        TTL_OWNER_MASK | ttl_ms
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// The node's own copy, not a `Bytes` shared with the txn: a shared
    /// `Bytes` carries a separate header allocation and is twice the size.
    pub data: Box<[u8]>,
    /// Shared between nodes with equal ACLs, as ZooKeeper's ACL cache.
    pub acl: SharedAcl,
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    /// Children ever created (ZooKeeper's persisted cversion). It is the next
    /// sequential suffix; the cversion clients see also counts deletes.
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
    pub children: Children,
}

impl Node {
    pub fn new(
        data: Box<[u8]>,
        acl: SharedAcl,
        zxid: i64,
        time_ms: i64,
        ephemeral_owner: i64,
    ) -> Node {
        Node {
            data,
            acl,
            czxid: zxid,
            mzxid: zxid,
            ctime: time_ms,
            mtime: time_ms,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            pzxid: zxid,
            children: Children::default(),
        }
    }

    /// This node with no children: what a snapshot view keeps of a parent.
    pub fn without_children(&self) -> Node {
        Node {
            data: self.data.clone(),
            acl: self.acl.clone(),
            children: Children::default(),
            ..*self
        }
    }

    pub fn kind(&self) -> NodeKind {
        NodeKind::of_owner(self.ephemeral_owner)
    }

    /// The Stat clients see. cversion is reported as creates + deletes, which
    /// is 2 × creates − children still present (ZooKeeper's `DataNode.copyStat`).
    pub fn stat(&self) -> Stat {
        let num_children = self.children.len() as i32;
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            // Clients see a session only: containers and TTL nodes report 0,
            // as ZooKeeper's `DataNode.getClientEphemeralOwner`.
            ephemeral_owner: match self.kind() {
                NodeKind::Ephemeral { session } => session,
                _ => 0,
            },
            data_length: self.data.len() as i32,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_with_its_arc_header_fits_a_128_byte_allocation() {
        // Every znode is one `Arc<Node>`: 16 bytes of counts, then the node.
        // A field more would move every znode into the next size class.
        assert!(std::mem::size_of::<Node>() + 16 <= 128, "{}", std::mem::size_of::<Node>());
    }

    #[test]
    fn owner_encodings() {
        assert_eq!(NodeKind::of_owner(0), NodeKind::Persistent);
        assert_eq!(NodeKind::of_owner(0x1234), NodeKind::Ephemeral { session: 0x1234 });
        assert_eq!(NodeKind::of_owner(CONTAINER_OWNER), NodeKind::Container);
        assert_eq!(NodeKind::of_owner(NodeKind::ttl_owner(5_000)), NodeKind::Ttl { ttl_ms: 5_000 });
        assert_eq!(
            NodeKind::of_owner(NodeKind::ttl_owner(TTL_MS_MAX)),
            NodeKind::Ttl { ttl_ms: TTL_MS_MAX }
        );
    }
}
