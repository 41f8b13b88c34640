//! Txns: the replicated, deterministic changes to the tree, and their
//! encoding (jute, as ZooKeeper logs its txns).

use bytes::Bytes;
use proto::{Acl, DecodeError, Reader, Record, SessionId, Writer, Zxid};

/// One change to the tree, with everything `apply` needs to make it
/// deterministically on every server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub zxid: Zxid,
    /// Wall-clock milliseconds at prepare time; becomes ctime/mtime.
    pub time_ms: i64,
    /// The session that issued it (0 for server-issued txns).
    pub session: SessionId,
    pub body: TxnBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    CreateSession {
        timeout_ms: i32,
        password: [u8; 16],
    },
    /// Deletes the txn's session and every ephemeral it owns.
    CloseSession,
    /// `path` is final (any sequential suffix already appended); `ephemeral_owner`
    /// is the owning session, the container marker, the TTL encoding, or 0.
    Create {
        path: String,
        data: Bytes,
        acl: Vec<Acl>,
        ephemeral_owner: i64,
    },
    Delete {
        path: String,
    },
    /// `version` is the node's new data version.
    SetData {
        path: String,
        data: Bytes,
        version: i32,
    },
    /// `version` is the node's new ACL version.
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    /// A multi's version check; changes nothing.
    Check {
        path: String,
    },
    Multi(Vec<TxnBody>),
}

mod tag {
    pub const CREATE_SESSION: i32 = 1;
    pub const CLOSE_SESSION: i32 = 2;
    pub const CREATE: i32 = 3;
    pub const DELETE: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const SET_ACL: i32 = 6;
    pub const CHECK: i32 = 7;
    pub const MULTI: i32 = 8;
}

/// The length of `acl`'s entries as jute encodes them (each one's perms, scheme and id),
/// without the count before them. Txns and snapshots both size their buffers with it.
pub(crate) fn acl_entries_encoded_len(acl: &[Acl]) -> usize {
    acl.iter().map(|entry| 4 + 4 + entry.id.scheme.len() + 4 + entry.id.id.len()).sum()
}

/// The length of `acl` as jute encodes it: a count, then the entries.
fn acl_encoded_len(acl: &[Acl]) -> usize {
    4 + acl_entries_encoded_len(acl)
}

impl TxnBody {
    /// Exactly what [`TxnBody::encode`] writes, so a txn's buffer is sized once: grown
    /// from empty, a create's took three reallocations on the leader's request path.
    fn encoded_len(&self) -> usize {
        const TAG: usize = 4;
        let string = |text: &str| 4 + text.len();
        TAG + match self {
            TxnBody::CreateSession { password, .. } => 4 + 4 + password.len(),
            TxnBody::CloseSession => 0,
            TxnBody::Create { path, data, acl, .. } => {
                string(path) + 4 + data.len() + acl_encoded_len(acl) + 8
            }
            TxnBody::Delete { path } | TxnBody::Check { path } => string(path),
            TxnBody::SetData { path, data, .. } => string(path) + 4 + data.len() + 4,
            TxnBody::SetAcl { path, acl, .. } => string(path) + acl_encoded_len(acl) + 4,
            TxnBody::Multi(bodies) => 4 + bodies.iter().map(TxnBody::encoded_len).sum::<usize>(),
        }
    }

    fn encode(&self, writer: &mut Writer) {
        match self {
            TxnBody::CreateSession { timeout_ms, password } => {
                writer.write_i32(tag::CREATE_SESSION);
                writer.write_i32(*timeout_ms);
                writer.write_buffer(password);
            }
            TxnBody::CloseSession => writer.write_i32(tag::CLOSE_SESSION),
            TxnBody::Create { path, data, acl, ephemeral_owner } => {
                writer.write_i32(tag::CREATE);
                writer.write_string(path);
                writer.write_buffer(data);
                writer.write_records(acl);
                writer.write_i64(*ephemeral_owner);
            }
            TxnBody::Delete { path } => {
                writer.write_i32(tag::DELETE);
                writer.write_string(path);
            }
            TxnBody::SetData { path, data, version } => {
                writer.write_i32(tag::SET_DATA);
                writer.write_string(path);
                writer.write_buffer(data);
                writer.write_i32(*version);
            }
            TxnBody::SetAcl { path, acl, version } => {
                writer.write_i32(tag::SET_ACL);
                writer.write_string(path);
                writer.write_records(acl);
                writer.write_i32(*version);
            }
            TxnBody::Check { path } => {
                writer.write_i32(tag::CHECK);
                writer.write_string(path);
            }
            TxnBody::Multi(bodies) => {
                writer.write_i32(tag::MULTI);
                writer.write_i32(bodies.len() as i32);
                for body in bodies {
                    body.encode(writer);
                }
            }
        }
    }

    fn decode(reader: &mut Reader<'_>, depth: usize) -> Result<Self, DecodeError> {
        Ok(match reader.read_i32()? {
            tag::CREATE_SESSION => {
                let timeout_ms = reader.read_i32()?;
                let password = read_session_password(reader)?;
                TxnBody::CreateSession { timeout_ms, password }
            }
            tag::CLOSE_SESSION => TxnBody::CloseSession,
            tag::CREATE => TxnBody::Create {
                path: reader.read_string()?,
                data: Bytes::from(reader.read_buffer()?),
                acl: reader.read_records()?,
                ephemeral_owner: reader.read_i64()?,
            },
            tag::DELETE => TxnBody::Delete { path: reader.read_string()? },
            tag::SET_DATA => TxnBody::SetData {
                path: reader.read_string()?,
                data: Bytes::from(reader.read_buffer()?),
                version: reader.read_i32()?,
            },
            tag::SET_ACL => TxnBody::SetAcl {
                path: reader.read_string()?,
                acl: reader.read_records()?,
                version: reader.read_i32()?,
            },
            tag::CHECK => TxnBody::Check { path: reader.read_string()? },
            // A multi never nests; refusing depth > 0 also bounds recursion on hostile input.
            tag::MULTI if depth == 0 => {
                let bodies = reader.read_vec(4, |reader| TxnBody::decode(reader, depth + 1))?;
                TxnBody::Multi(bodies)
            }
            other => {
                return Err(DecodeError::InvalidValue { field: "txn type", value: other as i64 });
            }
        })
    }
}

/// A session password: a jute buffer that must hold exactly 16 bytes.
pub(crate) fn read_session_password(reader: &mut Reader<'_>) -> Result<[u8; 16], DecodeError> {
    let password = reader.read_buffer()?;
    password.as_slice().try_into().map_err(|_| DecodeError::InvalidValue {
        field: "session password length",
        value: password.len() as i64,
    })
}

impl Record for Txn {
    const MIN_ENCODED_BYTES: usize = 28;

    fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::with_capacity(8 + 8 + 8 + self.body.encoded_len());
        self.encode(&mut writer);
        writer.into_bytes()
    }

    fn encode(&self, writer: &mut Writer) {
        writer.write_i64(self.zxid.0);
        writer.write_i64(self.time_ms);
        writer.write_i64(self.session.0);
        self.body.encode(writer);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Txn {
            zxid: Zxid(reader.read_i64()?),
            time_ms: reader.read_i64()?,
            session: SessionId(reader.read_i64()?),
            body: TxnBody::decode(reader, 0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use proto::types::Id;

    use super::*;

    #[test]
    fn the_encoded_length_is_exact_for_every_kind_of_txn() {
        let acl = vec![
            Acl { perms: 31, id: Id::new("digest", "alice:c2VjcmV0") },
            Acl::open_unsafe()[0].clone(),
        ];
        let create = TxnBody::Create {
            path: "/a/b".into(),
            data: Bytes::from_static(b"some data"),
            acl: acl.clone(),
            ephemeral_owner: 7,
        };
        let bodies = vec![
            TxnBody::CreateSession { timeout_ms: 5_000, password: [3; 16] },
            TxnBody::CloseSession,
            create.clone(),
            TxnBody::Delete { path: "/a".into() },
            TxnBody::SetData { path: "/a".into(), data: Bytes::from_static(&[1; 300]), version: 2 },
            TxnBody::SetAcl { path: "/a".into(), acl, version: 1 },
            TxnBody::Check { path: "/check".into() },
            TxnBody::Multi(vec![create, TxnBody::Check { path: "/c".into() }]),
            TxnBody::Multi(Vec::new()),
        ];
        for body in bodies {
            let txn = Txn { zxid: Zxid(9), time_ms: 1, session: SessionId(2), body };
            let bytes = txn.to_bytes();
            assert_eq!(bytes.len(), 24 + txn.body.encoded_len(), "{:?}", txn.body);
            assert_eq!(Txn::from_bytes(&bytes).unwrap(), txn);
        }
    }
}
