//! A lease's shared record in the ensemble: one ephemeral znode per lease, owned by the
//! lease's own session (so the ensemble deletes it when the lease ends, and it never
//! leaks), holding the lease's deadline and which gateway replica keeps the session.
//!
//! Every replica reads and writes it through its shared session, so a keepalive through
//! any replica is seen by all of them: a replica whose local timer fires re-reads the
//! deadline before closing anything, and a replica that is no longer the keeper lets go
//! of its connection (without closing the session).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError, Stat};

use crate::auth::Identity;

/// Parent of every lease marker; owned by the gateway.
pub const LEASE_MARKERS_PATH: &str = "/herald/gateway/leases";

/// What a lease's marker holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerRecord {
    /// The replica holding the session's connection (see [`replica_id`]).
    pub keeper: u64,
    /// When the lease ends unless kept alive, in ms since the Unix epoch. Replicas
    /// compare it with their own wall clock, so their clocks must roughly agree.
    pub deadline_unix_ms: u64,
    /// A replica that asked the keeper to let go of the session so that it can take the
    /// lease over (see [`crate::lease_handover`]). Absent in markers written before it
    /// existed, hence the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover_to: Option<u64>,
}

impl MarkerRecord {
    /// A record naming `keeper`, with nobody waiting to take the lease over.
    pub fn kept_by(keeper: u64, deadline_unix_ms: u64) -> MarkerRecord {
        MarkerRecord { keeper, deadline_unix_ms, handover_to: None }
    }
}

/// The marker path of the lease whose session is `session_id`.
pub fn marker_path(session_id: i64) -> String {
    format!("{LEASE_MARKERS_PATH}/{session_id:016x}")
}

/// Milliseconds since the Unix epoch now.
pub fn now_unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

/// A deadline `ttl` from now.
pub fn deadline_after(ttl: Duration) -> u64 {
    now_unix_ms().saturating_add(ttl.as_millis() as u64)
}

/// A random id for one gateway replica (one `AppState`): `RandomState` is seeded from
/// the OS per process and advanced per instance, so ids differ across replicas.
pub fn replica_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(now_unix_ms());
    hasher.finish()
}

fn encode(record: &MarkerRecord) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

/// Creates the marker through the lease's own session. The identity's digest (if any)
/// owns it, so other identities cannot move another's lease.
pub async fn create(
    lease_client: &Client,
    identity: &Identity,
    session_id: i64,
    record: &MarkerRecord,
) -> Result<(), ZkError> {
    match lease_client
        .mkdir(LEASE_MARKERS_PATH, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
    {
        Ok(()) | Err(ZkError::NodeExists) => {}
        Err(error) => return Err(error),
    }
    let acls = if identity.0.is_some() { Acls::creator_all() } else { Acls::anyone_all() };
    let options = CreateMode::Ephemeral.with_acls(acls);
    match lease_client.create(&marker_path(session_id), &encode(record), &options).await {
        Ok(_) => Ok(()),
        // Created earlier by this session (a retried open or a resume): overwrite.
        Err(ZkError::NodeExists) => write(lease_client, session_id, record).await,
        Err(error) => Err(error),
    }
}

/// Overwrites the marker. `NoNode` means the lease has ended.
pub async fn write(client: &Client, session_id: i64, record: &MarkerRecord) -> Result<(), ZkError> {
    write_if(client, session_id, record, None).await
}

/// Overwrites the marker if it is still at `version` (`BadVersion` if it moved on);
/// `None` overwrites whatever is there.
pub async fn write_if(
    client: &Client,
    session_id: i64,
    record: &MarkerRecord,
    version: Option<i32>,
) -> Result<(), ZkError> {
    client.set_data(&marker_path(session_id), &encode(record), version).await.map(|_: Stat| ())
}

/// How often [`extend`] retries when other writers keep moving the marker on.
pub const EXTEND_ATTEMPTS_MAX: usize = 8;

/// Moves the lease's deadline, leaving who keeps it (and a pending handover) as they are:
/// a keepalive racing a handover must not name its replica keeper again after the keeper
/// handed the lease on. A marker that is not a record is rewritten as kept by `me`.
/// `NoNode` means the lease has ended.
pub async fn extend(
    client: &Client,
    session_id: i64,
    me: u64,
    deadline_unix_ms: u64,
) -> Result<(), ZkError> {
    let path = marker_path(session_id);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (bytes, stat) = client.get_data(&path).await?;
        let extended = match decode(&bytes) {
            Some(record) => MarkerRecord { deadline_unix_ms, ..record },
            None => MarkerRecord::kept_by(me, deadline_unix_ms),
        };
        match write_if(client, session_id, &extended, Some(stat.version)).await {
            Err(ZkError::BadVersion) if attempts < EXTEND_ATTEMPTS_MAX => continue,
            done => return done,
        }
    }
}

/// Decodes a marker's bytes; `None` if they are not a marker record.
pub fn decode(bytes: &[u8]) -> Option<MarkerRecord> {
    serde_json::from_slice(bytes).ok()
}

/// Reads the marker; `None` if it is gone (the lease ended) or unreadable.
pub async fn read(client: &Client, session_id: i64) -> Result<Option<MarkerRecord>, ZkError> {
    match client.get_data(&marker_path(session_id)).await {
        Ok((bytes, _)) => Ok(decode(&bytes)),
        Err(ZkError::NoNode) => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_get_distinct_ids_and_markers_round_trip() {
        assert_ne!(replica_id(), replica_id());
        let record = MarkerRecord::kept_by(7, 1_700_000_000_000);
        assert_eq!(decode(&encode(&record)), Some(record));
        let asked = MarkerRecord { handover_to: Some(9), ..record };
        assert_eq!(decode(&encode(&asked)), Some(asked));
        assert_eq!(marker_path(0x1f), format!("{LEASE_MARKERS_PATH}/000000000000001f"));
    }

    #[test]
    fn markers_without_a_handover_field_still_decode() {
        let written_before = br#"{"keeper":7,"deadline_unix_ms":1700000000000}"#;
        assert_eq!(decode(written_before), Some(MarkerRecord::kept_by(7, 1_700_000_000_000)));
        assert_eq!(encode(&MarkerRecord::kept_by(7, 1)), br#"{"keeper":7,"deadline_unix_ms":1}"#);
        assert_eq!(decode(b"not json"), None);
    }
}
