//! Snapshots: the whole replicated state (nodes and sessions) as one jute
//! blob. Watches are per server and never saved.
//!
//! Layout: magic, format version, last zxid, sessions (by id), then nodes in
//! no particular order. Children lists are not stored: they are rebuilt from
//! the paths once every node is read, so no order is needed, and none is
//! imposed: sorting 300,000 paths took half of a snapshot's encoding (58 of
//! 110 ms), chasing a pointer into a path at every comparison.

use std::sync::Arc;

use proto::{DecodeError, Reader, SessionId, Writer, Zxid};

use crate::node::Node;
use crate::path;
use crate::tree::{DataTree, SessionInfo};
use crate::txn::{acl_entries_encoded_len, read_session_password};

const MAGIC: i64 = i64::from_be_bytes(*b"HRLDSNAP");
const FORMAT_VERSION: i32 = 1;
/// Smallest encoding of one node: empty path and data, empty ACL, the fields.
const NODE_MIN_BYTES: usize = 4 + 4 + 4 + 6 * 8 + 4 * 4;
/// One session: id, timeout, 16-byte password with its length.
const SESSION_MIN_BYTES: usize = 8 + 4 + 4 + 16;

/// The tree's replicated state frozen at one zxid, cheap to take: leaves are
/// shared with the live tree (a node changed afterwards is copied on write),
/// so a server takes the view on its request path and encodes it elsewhere.
pub struct SnapshotView {
    last_zxid: Zxid,
    sessions: Vec<(SessionId, SessionInfo)>,
    nodes: Vec<FrozenNode>,
}

/// One node of a view: its path, the node, and its number of children.
///
/// A node with children is not shared but copied without their names (a
/// snapshot stores only the count): shared, the next create or delete under
/// it would copy the live node's whole set of names on the request path,
/// 12 ms for a parent of 300,000 children, and the view would later free
/// that copy.
type FrozenNode = (Arc<str>, Arc<Node>, u32);

fn freeze(path: &Arc<str>, node: &Arc<Node>) -> FrozenNode {
    let children = node.children.len() as u32;
    let node = if children == 0 { node.clone() } else { Arc::new(node.without_children()) };
    (path.clone(), node, children)
}

impl SnapshotView {
    /// The zxid the view is as of.
    pub fn zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// The snapshot's bytes: the same for equal trees, whatever their history.
    pub fn encode(self) -> Vec<u8> {
        gather(|sink| self.encode_in_pieces(usize::MAX, sink))
    }

    /// The same bytes as [`SnapshotView::encode`], handed to `sink` in pieces of about
    /// `piece_bytes` (a piece may exceed it by one node), so the whole snapshot is never
    /// in memory at once. Stops at the first error `sink` returns.
    pub fn encode_in_pieces<E>(
        self,
        piece_bytes: usize,
        mut sink: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let nodes = self.nodes.iter().map(|(path, node, children)| (&**path, &**node, *children));
        let sessions = self.sessions.iter().map(|(id, info)| (*id, info)).collect();
        encode_state(self.last_zxid, sessions, nodes, piece_bytes, &mut sink)
    }
}

/// The whole of what `encode` hands its sink, in one buffer.
fn gather(
    encode: impl FnOnce(&mut dyn FnMut(&[u8]) -> Result<(), ()>) -> Result<(), ()>,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    let gathered = encode(&mut |piece| {
        bytes.extend_from_slice(piece);
        Ok(())
    });
    debug_assert!(gathered.is_ok(), "gathering pieces cannot fail");
    bytes
}

/// A node to encode: its path, the node, and its number of children.
type NodeParts<'a> = (&'a str, &'a Node, u32);

/// The one encoding of a snapshot, from borrowed parts: a view's, or the live
/// tree's when nothing changes it meanwhile (no key or node is copied, and the
/// nodes are walked where they are, twice: once to size the buffer). The bytes
/// go to `sink` whenever at least `piece_bytes` are ready, and at the end.
fn encode_state<'a, E>(
    last_zxid: Zxid,
    mut sessions: Vec<(SessionId, &SessionInfo)>,
    nodes: impl ExactSizeIterator<Item = NodeParts<'a>> + Clone,
    piece_bytes: usize,
    sink: &mut (impl FnMut(&[u8]) -> Result<(), E> + ?Sized),
) -> Result<(), E> {
    let total = encoded_len(&sessions, nodes.clone());
    // Sized once: exactly when the snapshot goes in one piece, else one piece and slack
    // for the node that crosses the threshold.
    let mut writer = Writer::with_capacity(total.min(piece_bytes.saturating_add(piece_bytes / 4)));
    writer.write_i64(MAGIC);
    writer.write_i32(FORMAT_VERSION);
    writer.write_i64(last_zxid.0);
    sessions.sort_by_key(|(id, _)| *id);
    writer.write_vec(&sessions, |writer, (id, info)| {
        writer.write_i64(id.0);
        writer.write_i32(info.timeout_ms);
        writer.write_buffer(&info.password);
    });
    writer.write_i32(nodes.len() as i32);
    for (path, node, children) in nodes {
        writer.write_string(path);
        writer.write_buffer(&node.data);
        writer.write_records(&node.acl);
        for value in
            [node.czxid, node.mzxid, node.ctime, node.mtime, node.ephemeral_owner, node.pzxid]
        {
            writer.write_i64(value);
        }
        for value in [node.version, node.cversion, node.aversion] {
            writer.write_i32(value);
        }
        writer.write_i32(children as i32);
        if writer.len() >= piece_bytes {
            sink(writer.as_bytes())?;
            writer.clear();
        }
    }
    if !writer.is_empty() {
        sink(writer.as_bytes())?;
    }
    Ok(())
}

/// The exact length [`encode_state`] writes, so its buffer is allocated once. Grown by
/// doubling from an estimate, the buffer of a 100,000-znode snapshot peaked at twice the
/// snapshot's size (measured with heaptrack) beside the tree it was taken of.
fn encoded_len<'a>(
    sessions: &[(SessionId, &SessionInfo)],
    nodes: impl Iterator<Item = NodeParts<'a>>,
) -> usize {
    let header = 8 + 4 + 8;
    let sessions_len = 4 + sessions.len() * SESSION_MIN_BYTES;
    let nodes_len: usize = nodes
        .map(|(path, node, _)| {
            NODE_MIN_BYTES + path.len() + node.data.len() + acl_entries_encoded_len(&node.acl)
        })
        .sum();
    header + sessions_len + 4 + nodes_len
}

impl DataTree {
    /// Freezes the replicated state: two pointer copies per leaf (its path and
    /// itself, both shared) and a copy of each parent without its children's
    /// names (see [`FrozenNode`]), no encoding.
    pub fn snapshot_view(&self) -> SnapshotView {
        SnapshotView {
            last_zxid: self.last_zxid,
            sessions: self.sessions.iter().map(|(id, info)| (*id, info.clone())).collect(),
            nodes: self.nodes.iter().map(|(path, node)| freeze(path, node)).collect(),
        }
    }

    pub fn serialize_snapshot(&self) -> Vec<u8> {
        let sessions = self.sessions.iter().map(|(id, info)| (*id, info)).collect();
        gather(|sink| encode_state(self.last_zxid, sessions, self.node_parts(), usize::MAX, sink))
    }

    fn node_parts(&self) -> impl ExactSizeIterator<Item = NodeParts<'_>> + Clone {
        let parts = self.nodes.iter();
        parts.map(|(path, node)| (&**path, &**node, node.children.len() as u32))
    }

    /// Rebuilds a tree from `serialize_snapshot`'s bytes. Refuses anything
    /// inconsistent (a node without its parent, a wrong child count) rather
    /// than serve a damaged tree.
    pub fn from_snapshot(bytes: &[u8]) -> Result<DataTree, DecodeError> {
        let mut reader = Reader::new(bytes);
        let magic = reader.read_i64()?;
        if magic != MAGIC {
            return Err(DecodeError::InvalidValue { field: "snapshot magic", value: magic });
        }
        let version = reader.read_i32()?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::InvalidValue {
                field: "snapshot format version",
                value: version as i64,
            });
        }
        let mut tree = DataTree::new();
        tree.nodes.clear();
        tree.expirable.clear();
        tree.data_size = 0;
        tree.last_zxid = Zxid(reader.read_i64()?);
        let sessions = reader.read_vec(SESSION_MIN_BYTES, |reader| {
            let id = SessionId(reader.read_i64()?);
            let timeout_ms = reader.read_i32()?;
            let password = read_session_password(reader)?;
            Ok((id, SessionInfo { timeout_ms, password }))
        })?;
        tree.sessions.extend(sessions);
        let acl_cache = &mut tree.acl_cache;
        let nodes = reader.read_vec(NODE_MIN_BYTES, |reader| {
            let path = reader.read_string()?;
            let data = reader.read_buffer()?.into_boxed_slice();
            let acl = acl_cache.intern(&reader.read_records::<proto::Acl>()?);
            let mut longs = [0i64; 6];
            for value in &mut longs {
                *value = reader.read_i64()?;
            }
            let [czxid, mzxid, ctime, mtime, ephemeral_owner, pzxid] = longs;
            let (version, cversion, aversion) =
                (reader.read_i32()?, reader.read_i32()?, reader.read_i32()?);
            let children = reader.read_i32()?;
            let mut node = Node::new(data, acl, czxid, ctime, ephemeral_owner);
            node.mzxid = mzxid;
            node.mtime = mtime;
            node.pzxid = pzxid;
            node.version = version;
            node.cversion = cversion;
            node.aversion = aversion;
            Ok((path, node, children))
        })?;
        reader.finish()?;
        // Sized once: grown insert by insert, the map rehashed every node again at
        // each doubling.
        tree.nodes.reserve(nodes.len());
        let mut child_counts = Vec::with_capacity(nodes.len());
        for (path, node, children) in nodes {
            if path::validate(&path).is_err() || tree.nodes.contains_key(path.as_str()) {
                return Err(DecodeError::InvalidValue {
                    field: "snapshot node path",
                    value: path.len() as i64,
                });
            }
            // The map's own key, shared: no copy of the path per node.
            child_counts.push((tree.insert_node(path, node), children));
        }
        if !tree.nodes.contains_key("/") {
            return Err(DecodeError::InvalidValue { field: "snapshot root", value: 0 });
        }
        for (path, _) in child_counts.iter().filter(|(path, _)| &**path != "/") {
            let parent = tree.nodes.get_mut(path::parent(path)).map(Arc::make_mut).ok_or(
                DecodeError::InvalidValue {
                    field: "snapshot node without parent",
                    value: path.len() as i64,
                },
            )?;
            parent.children.insert(path::name(path));
        }
        for (path, expected) in child_counts {
            if tree.nodes[&*path].children.len() != expected as usize {
                return Err(DecodeError::InvalidValue {
                    field: "snapshot child count",
                    value: expected as i64,
                });
            }
        }
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    use proto::types::{Acl, Id};

    use super::*;
    use crate::txn::{Txn, TxnBody};

    fn apply(tree: &mut DataTree, zxid: i64, session: i64, body: TxnBody) {
        let txn = Txn { zxid: Zxid(zxid), time_ms: zxid, session: SessionId(session), body };
        assert!(tree.apply(&txn).result.is_ok());
    }

    #[test]
    fn pieces_concatenated_are_the_whole_encoding() {
        let mut tree = DataTree::new();
        apply(&mut tree, 1, 7, TxnBody::CreateSession { timeout_ms: 5_000, password: [3; 16] });
        for zxid in 2..200 {
            let body = TxnBody::Create {
                path: format!("/n{zxid}"),
                data: vec![zxid as u8; zxid as usize].into(),
                acl: Acl::open_unsafe(),
                ephemeral_owner: 0,
            };
            apply(&mut tree, zxid, 7, body);
        }
        let whole = tree.snapshot_view().encode();
        for piece_bytes in [1, 100, 4096, whole.len(), usize::MAX] {
            let mut pieces: Vec<Vec<u8>> = Vec::new();
            let encoded = tree.snapshot_view().encode_in_pieces::<()>(piece_bytes, |piece| {
                pieces.push(piece.to_vec());
                Ok(())
            });
            assert!(encoded.is_ok());
            assert_eq!(pieces.concat(), whole, "pieces of {piece_bytes}");
            let (last, full) = pieces.split_last().unwrap();
            assert!(!last.is_empty());
            assert!(full.iter().all(|piece| piece.len() >= piece_bytes), "pieces of {piece_bytes}");
        }
        // The sink's first error stops the encoding and is returned.
        let mut calls = 0;
        let stopped = tree.snapshot_view().encode_in_pieces(100, |_| {
            calls += 1;
            if calls == 2 { Err("disk full") } else { Ok(()) }
        });
        assert_eq!((stopped, calls), (Err("disk full"), 2));
    }

    #[test]
    fn a_view_shares_leaves_but_not_parents_and_keeps_their_child_counts() {
        let mut tree = DataTree::new();
        for (zxid, path) in ["/p", "/p/a", "/p/b", "/leaf"].into_iter().enumerate() {
            let body = TxnBody::Create {
                path: path.into(),
                data: b"x".to_vec().into(),
                acl: Acl::open_unsafe(),
                ephemeral_owner: 0,
            };
            apply(&mut tree, zxid as i64 + 1, 7, body);
        }
        let before = tree.serialize_snapshot();
        let view = tree.snapshot_view();
        // A parent stays the live tree's own: changing its children copies nothing.
        assert_eq!(Arc::strong_count(&tree.nodes["/p"]), 1);
        assert_eq!(Arc::strong_count(&tree.nodes["/"]), 1);
        assert_eq!(Arc::strong_count(&tree.nodes["/leaf"]), 2, "a leaf is shared");
        let body = TxnBody::Create {
            path: "/p/c".into(),
            data: Vec::new().into(),
            acl: Acl::open_unsafe(),
            ephemeral_owner: 0,
        };
        apply(&mut tree, 9, 7, body);
        let encoded = view.encode();
        assert_eq!(encoded, before, "the view is the tree as it was, child counts included");
        let restored = DataTree::from_snapshot(&encoded).unwrap();
        assert_eq!(restored.stat("/p").unwrap().num_children, 2);
    }

    #[test]
    fn the_buffer_is_sized_exactly_for_sessions_acls_and_data() {
        let mut tree = DataTree::new();
        apply(&mut tree, 1, 7, TxnBody::CreateSession { timeout_ms: 5_000, password: [3; 16] });
        let digest = vec![Acl { perms: 31, id: Id::new("digest", "alice:c2VjcmV0") }];
        let bodies = [
            ("/a", &b"some data"[..], Acl::open_unsafe(), 0),
            ("/a/b", &[][..], digest, 7),
            ("/a/longer-name-than-inline", &[9; 300][..], Acl::open_unsafe(), 0),
        ];
        for (zxid, (path, data, acl, owner)) in bodies.into_iter().enumerate() {
            let body = TxnBody::Create {
                path: path.into(),
                data: data.to_vec().into(),
                acl,
                ephemeral_owner: owner,
            };
            apply(&mut tree, zxid as i64 + 2, 7, body);
        }
        let sessions: Vec<_> = tree.sessions.iter().map(|(id, info)| (*id, info)).collect();
        let expected = encoded_len(&sessions, tree.node_parts());
        let bytes = tree.serialize_snapshot();
        assert_eq!(bytes.len(), expected);
        assert_eq!(DataTree::from_snapshot(&bytes).unwrap().digest(), tree.digest());
    }
}
