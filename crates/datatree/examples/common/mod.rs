//! What the examples share: the txn `herald bench --workload create` makes.

use bytes::Bytes;
use datatree::{Txn, TxnBody};
use proto::types::Acl;
use proto::{SessionId, Zxid};

/// A create of a 100-byte persistent znode at `path` as txn `zxid`.
pub fn create(zxid: i64, path: String) -> Txn {
    Txn {
        zxid: Zxid(zxid),
        time_ms: 1_700_000_000_000 + zxid,
        session: SessionId(1),
        body: TxnBody::Create {
            path,
            data: Bytes::from(vec![b'x'; 100]),
            acl: Acl::open_unsafe(),
            ephemeral_owner: 0,
        },
    }
}
